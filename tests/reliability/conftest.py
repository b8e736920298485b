"""The bad-input matrix: every kind of file a user might hand the app or the CLI, written to disk.

Each case says what must happen to it: a clear ``ImageDecodeError`` (``error``), "No digit found"
(``no_digit``), or a reading of the digit drawn in it (``digit``). The digit cases are the same
synthetic stroke drawing stored in unusual but valid ways (16-bit, CMYK, animated, transparent), so
they can also be compared with the plain 8-bit PNG of the same drawing.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_core import config
from digit_core.data.synthetic import digit_styles, render_strokes

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.keras"
BOMB_SIDE = 30_000  # 900 megapixels: 900 MB as 8-bit grey once decoded


@dataclass(frozen=True)
class BadInput:
    """One file of the matrix and the outcome it must get."""

    name: str  # the file name (its extension is part of the test: text named .png)
    data: bytes
    expect: str  # "error", "no_digit" or "digit"
    message: str = ""  # a regular expression the error message must match
    digit: int | None = None  # the digit drawn, for "digit" cases
    reference: str = ""  # the name of the plain PNG of the same drawing, for "digit" cases


def encode(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def digit_drawing(digit: int, background: str = "white") -> np.ndarray:
    """A clear digit drawn with the canvas brush: (280, 280, 4) uint8 RGBA."""
    return render_strokes(digit_styles(digit)[0], background=background)


def grey_digit(digit: int) -> np.ndarray:
    """The same drawing as (280, 280) uint8 grey, black ink on white."""
    return digit_drawing(digit)[..., 0].copy()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def one_bit_bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid all-black 1-bit PNG of side × side pixels, built in milliseconds.

    Pillow would need 900 MB and seconds to encode 30000² pixels, so the PNG chunks are written by
    hand: every row is the same, so one 1000-row block is deflated once (ending in a full flush, which
    makes its encoding independent of what came before) and repeated. Deflate cannot shrink more than
    about 1000:1, so the file is ~110 KB: far below the upload byte limit, so only the pixel check
    can stop it.
    """
    rows_per_block = 1000
    if side % rows_per_block:
        raise ValueError(f"side must be a multiple of {rows_per_block}, got {side}")
    block = (b"\x00" * (1 + (side + 7) // 8)) * rows_per_block  # filter byte + packed bits per row
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks = side // rows_per_block
    checksum = 1
    for _ in range(blocks):
        checksum = zlib.adler32(block, checksum)
    # zlib header, the repeated raw-deflate blocks, an empty final block, the Adler-32 checksum.
    stream = b"\x78\xda" + encoded_block * blocks + b"\x03\x00" + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", stream)
            + _png_chunk(b"IEND", b""))


def _animated_gif(first: int, second: int) -> bytes:
    frames = [Image.fromarray(grey_digit(first)), Image.fromarray(grey_digit(second))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


def _sixteen_bit_png(digit: int) -> bytes:
    # 0–255 spread over 0–65535, as a 16-bit scanner would store it.
    values = grey_digit(digit).astype(np.uint16) * 257
    image = Image.fromarray(values)  # mode "I;16"
    assert image.mode == "I;16"
    return encode(image)


def _cmyk_jpeg(digit: int) -> bytes:
    image = Image.fromarray(digit_drawing(digit)[..., :3]).convert("CMYK")
    return encode(image, "JPEG", quality=95)


def _pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages "
            b"/Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


@functools.cache
def build_matrix() -> tuple[BadInput, ...]:
    """Every case of the matrix, in a fixed order (the good file in the middle of the batch)."""
    good = encode(Image.fromarray(grey_digit(7)))
    transparent_digit = encode(Image.fromarray(digit_drawing(4, background="transparent")))
    empty_transparent = encode(Image.fromarray(np.zeros((280, 280, 4), np.uint8)))
    truncated_or_corrupt = r"is truncated or corrupt"
    return (
        BadInput("empty.png", b"", "error", r"empty\.png is empty \(0 bytes\)"),
        BadInput("notes.png", b"Remember: the digits are due on Friday.\n" * 20, "error",
                 r"notes\.png is not a PNG/JPEG/GIF/BMP/TIFF/WebP image\.$"),
        BadInput("truncated.png", good[: len(good) // 2], "error", r"truncated\.png " + truncated_or_corrupt),
        BadInput("document.pdf", _pdf(), "error", r"document\.pdf is not a .* image \(it looks like a PDF"),
        BadInput("white.png", encode(Image.new("L", (280, 280), 255)), "no_digit"),
        BadInput("black.png", encode(Image.new("L", (280, 280), 0)), "no_digit"),
        BadInput("one-pixel.png", encode(Image.new("L", (1, 1), 0)), "no_digit"),
        BadInput("empty-transparent.png", empty_transparent, "no_digit"),
        BadInput("good.png", good, "digit", digit=7, reference="good.png"),
        BadInput("sixteen-bit.png", _sixteen_bit_png(2), "digit", digit=2, reference="two.png"),
        BadInput("animated.gif", _animated_gif(3, 8), "digit", digit=3, reference="three.png"),
        BadInput("cmyk.jpg", _cmyk_jpeg(5), "digit", digit=5, reference="five.png"),
        BadInput("transparent-digit.png", transparent_digit, "digit", digit=4, reference="four.png"),
        BadInput("bomb.png", one_bit_bomb_png(), "error",
                 r"bomb\.png has too many pixels; the limit is 40 megapixels"),
    )


# Plain 8-bit PNGs of the drawings stored in unusual ways above, to compare the decodings with.
REFERENCE_DIGITS = {"good.png": 7, "two.png": 2, "three.png": 3, "five.png": 5, "four.png": 4}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``bad_input_name`` runs once per file of the matrix."""
    if "bad_input_name" in metafunc.fixturenames:
        metafunc.parametrize("bad_input_name", [case.name for case in build_matrix()])


@pytest.fixture(scope="session")
def bad_inputs() -> dict[str, BadInput]:
    """The matrix by file name; the files themselves are in ``bad_input_dir``."""
    return {case.name: case for case in build_matrix()}


@pytest.fixture(scope="session")
def bad_input_dir(tmp_path_factory: pytest.TempPathFactory, bad_inputs: dict[str, BadInput]) -> Path:
    """A directory holding every file of the matrix (and nothing else)."""
    directory = tmp_path_factory.mktemp("bad-inputs")
    for case in bad_inputs.values():
        (directory / case.name).write_bytes(case.data)
    return directory


@pytest.fixture(scope="session")
def reference_images() -> dict[str, np.ndarray]:
    """Plain 8-bit grey drawings of the digits in the matrix, by reference name."""
    return {name: grey_digit(digit) for name, digit in REFERENCE_DIGITS.items()}


@pytest.fixture(scope="session")
def tiny_predictor(tiny_models_dir: Path):
    """A predictor of the tiny test model (its readings may be wrong; it never crashes)."""
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(tiny_models_dir / "default.keras")


@pytest.fixture(scope="session")
def shipped_predictor():
    """A predictor of the shipped models/default.keras; skipped (with the reason) while it is absent."""
    from digit_core.inference.predict import Predictor

    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL} is not there yet (it is trained separately and committed); the "
                    "'good file still read right' check needs a real model, not the tiny test one.")
    return Predictor.from_file(SHIPPED_MODEL)


@pytest.fixture
def over_size_payload() -> bytes:
    """A PNG-looking payload one byte over the upload limit."""
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + b"\x00" * (config.MAX_UPLOAD_BYTES + 1 - len(signature))
