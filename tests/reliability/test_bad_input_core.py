"""Bad input through the core: a clear error or "no digit found" for each file, never a made-up digit.

Limits are enforced before decoding: the decompression bomb is refused from its header in well under a
second without allocating its pixels, and an over-size payload never reaches Pillow at all.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_core import config
from digit_core.images.imageio import ImageDecodeError, decode_image, read_image_file
from digit_core.images.preprocess import preprocess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MEGABYTE = 1024 * 1024


def test_each_bad_input_gets_a_clear_error_or_no_digit(bad_input_name: str, bad_inputs, tiny_predictor,
                                                       reference_images) -> None:
    case = bad_inputs[bad_input_name]
    if case.expect == "error":
        with pytest.raises(ImageDecodeError, match=case.message) as refused:
            decode_image(case.data, name=case.name)
        assert case.name in str(refused.value)  # the message names the file
        return
    prediction = tiny_predictor.predict_image(decode_image(case.data, name=case.name))
    if case.expect == "no_digit":
        # A blank, uniform or one-pixel image is not read as some digit with a made-up confidence.
        assert not prediction.found and prediction.digit is None
        assert prediction.confidence == 0.0 and not prediction.probabilities.any()
        assert prediction.preprocessed.message.startswith("No digit found")
        return
    # A valid but unusual encoding of a drawing reads exactly like the plain PNG of that drawing.
    assert prediction.found and 0 <= prediction.digit <= 9
    reference = preprocess(reference_images[case.reference], keep_steps=False).image
    difference = np.abs(prediction.preprocessed.image - reference)
    assert difference.mean() < 0.005 and difference.max() < 0.05, case.name


def test_the_animated_gif_gives_its_first_frame(bad_inputs, reference_images) -> None:
    frame = decode_image(bad_inputs["animated.gif"].data, name="animated.gif")
    first = preprocess(frame, keep_steps=False).image
    assert np.abs(first - preprocess(reference_images["three.png"], keep_steps=False).image).max() < 0.05


def test_the_bomb_is_refused_in_under_a_second_without_allocating_its_pixels(bad_inputs) -> None:
    bomb = bad_inputs["bomb.png"].data
    assert len(bomb) < config.MAX_UPLOAD_BYTES / 40  # small enough to pass the byte limit easily
    decode_image(bad_inputs["good.png"].data)  # Pillow's plugins are registered once, outside the timing
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImageDecodeError, match="too many pixels"):
            decode_image(bomb, name="bomb.png")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f"refusing the bomb took {elapsed:.2f} s"
    assert peak < 50 * MEGABYTE, f"refusing the bomb allocated {peak / MEGABYTE:.0f} MB"


MEASURE_BOMB = """
import resource, sys
from digit_core.images.imageio import ImageDecodeError, decode_image
data = open(sys.argv[1], "rb").read()
decode_image(open(sys.argv[2], "rb").read())  # register Pillow's plugins before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    decode_image(data, name="bomb.png")
except ImageDecodeError:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux only")
def test_the_bomb_does_not_grow_a_fresh_process(bad_input_dir: Path) -> None:
    # tracemalloc does not see Pillow's own C allocations; the peak resident size of a process does.
    result = subprocess.run([sys.executable, "-c", MEASURE_BOMB, str(bad_input_dir / "bomb.png"),
                             str(bad_input_dir / "good.png")], capture_output=True, text=True, timeout=60,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    grown_kb = int(result.stdout.strip())
    assert grown_kb < 50 * 1024, f"the process grew by {grown_kb / 1024:.0f} MB while refusing the bomb"


class PillowCalled(AssertionError):
    """Raised by the patched Pillow: the bytes reached the decoder."""


@pytest.fixture
def pillow_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise PillowCalled("Pillow was called")

    monkeypatch.setattr(Image, "open", forbidden)
    monkeypatch.setattr(Image, "init", forbidden)


ONE_BYTE_OVER = r"huge\.png is 5,242,881 bytes; the limit is 5,242,880 bytes \(5\.0 MB\)\."


def test_an_over_size_payload_never_reaches_pillow(pillow_forbidden, over_size_payload: bytes) -> None:
    # One byte over: exact sizes, as "5.0 MB; the limit is 5.0 MB" would read as no difference at all.
    with pytest.raises(ImageDecodeError, match=ONE_BYTE_OVER):
        decode_image(over_size_payload, name="huge.png")
    with pytest.raises(ImageDecodeError, match=r"photo\.jpg is 12\.0 MB; the limit is 5\.0 MB"):
        decode_image(b"\xff\xd8\xff" + bytes(12 * MEGABYTE - 3), name="photo.jpg")
    # The limit is inclusive: a payload of exactly the limit is handed to the decoder.
    with pytest.raises(PillowCalled):
        decode_image(over_size_payload[:config.MAX_UPLOAD_BYTES], name="edge.png")


def test_an_over_size_file_is_refused_from_its_size_before_it_is_read(pillow_forbidden, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      over_size_payload: bytes) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(over_size_payload)

    def not_read(self: Path) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", not_read)
    with pytest.raises(ImageDecodeError, match=ONE_BYTE_OVER):
        read_image_file(path)


def _mutations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """Truncations, flipped bytes and overwritten runs of ``data``, ``count`` of each kind in turn."""
    mutated = []
    for index in range(count):
        kind = index % 3
        if kind == 0:
            mutated.append(data[:int(rng.integers(1, len(data)))])
            continue
        buffer = bytearray(data)
        if kind == 1:
            for position in rng.integers(0, len(buffer), int(rng.integers(1, 9))):
                buffer[position] ^= int(rng.integers(1, 256))
        else:
            start = int(rng.integers(0, len(buffer)))
            buffer[start:start + int(rng.integers(4, 64))] = bytes([int(rng.choice([0, 255]))]) * 64
        mutated.append(bytes(buffer))
    return mutated


@pytest.mark.parametrize("name", ["good.png", "cmyk.jpg", "animated.gif", "sixteen-bit.png"])
def test_damaged_files_never_raise_anything_but_a_decode_error(name: str, bad_inputs, tiny_predictor) -> None:
    """Any damage to a file ends in ImageDecodeError or a prediction; pages catch nothing else."""
    rng = np.random.default_rng(sum(name.encode()))
    unexpected = []
    for number, data in enumerate(_mutations(bad_inputs[name].data, rng, 60)):
        try:
            prediction = tiny_predictor.predict_image(decode_image(data, name=name))
        except ImageDecodeError as error:
            assert name in str(error)
            continue
        except Exception as error:  # noqa: BLE001 (collecting every unexpected failure is the point)
            unexpected.append(f"mutation {number}: {type(error).__name__}: {error}")
            continue
        assert prediction.digit is None or 0 <= prediction.digit <= 9
    assert not unexpected, "\n".join(unexpected)

