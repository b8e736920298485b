"""Decoding image files: every supported mode, and a specific error for every bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from digit_core import config
from digit_core.images.imageio import ImageDecodeError, decode_image, read_image_file


def _encode(image: Image.Image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _blank_one_bit_png(side: int) -> bytes:
    """A valid, all-black 1-bit PNG of side × side pixels, as Pillow's mode "1" writes it.

    Pillow takes seconds to encode 30000², so the identical zlib stream is built here: the rows
    are all the same, and after a full flush deflate encodes each equal block identically.
    """
    rows_per_block = 1000
    assert side % rows_per_block == 0
    block = (b"\x00" * (1 + (side + 7) // 8)) * rows_per_block  # filter byte + packed bits
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(side // rows_per_block):
        checksum = zlib.adler32(block, checksum)
    stream = (b"\x78\xda" + encoded_block * (side // rows_per_block) + b"\x03\x00"
              + struct.pack(">I", checksum))
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", stream)
            + _png_chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    rng = np.random.default_rng(0)
    return _encode(Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)))


# --- Bad input: each kind gets its own clear message naming the file. ---

def test_empty_file() -> None:
    with pytest.raises(ImageDecodeError, match=r"^digit\.png is empty"):
        decode_image(b"", name="digit.png")


def test_text_named_png() -> None:
    with pytest.raises(ImageDecodeError, match=r"notes\.png is not a PNG/JPEG/.* image\.$"):
        decode_image(b"Remember to buy milk.\n" * 5, name="notes.png")


def test_pdf() -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
    with pytest.raises(ImageDecodeError, match=r"x\.pdf is not a PNG/JPEG/.*PDF document"):
        decode_image(pdf, name="x.pdf")


def test_truncated_png(photo_bytes: bytes) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(ImageDecodeError, match=r"half\.png is truncated or corrupt"):
        decode_image(photo_bytes[: len(photo_bytes) // 2], name="half.png")
    with pytest.raises(ImageDecodeError, match=r"head\.png is truncated or corrupt"):
        decode_image(photo_bytes[:30], name="head.png")


def test_truncated_jpeg_and_corrupt_png(photo_bytes: bytes) -> None:
    rng = np.random.default_rng(1)
    jpeg = _encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(ImageDecodeError, match=r"cut\.jpg is truncated or corrupt"):
        decode_image(jpeg[: len(jpeg) // 2], name="cut.jpg")
    # (Garbage inside a JPEG's entropy-coded data decodes to garbage pixels, as in browsers.)
    damaged = bytearray(photo_bytes)
    damaged[len(damaged) // 2:len(damaged) // 2 + 64] = b"\x00" * 64
    with pytest.raises(ImageDecodeError, match=r"bad\.png is truncated or corrupt"):
        decode_image(bytes(damaged), name="bad.png")


def test_too_many_bytes_is_refused_before_decoding(photo_bytes: bytes) -> None:
    with pytest.raises(ImageDecodeError, match=r"big\.png is \d+\.\d KB; the limit is 100 bytes\."):
        decode_image(photo_bytes, name="big.png", max_bytes=100)
    # Even garbage is refused for its size, before anyone tries to read it.
    with pytest.raises(ImageDecodeError, match=r"the limit is 5,242,880 bytes \(5\.0 MB\)"):
        decode_image(b"x" * (config.MAX_UPLOAD_BYTES + 1), name="huge.png")


def test_too_many_pixels(photo_bytes: bytes) -> None:
    with pytest.raises(ImageDecodeError, match=r"wide\.png is 80×60 pixels .* limit is 0\.001 "
                                               r"megapixels"):
        decode_image(photo_bytes, name="wide.png", max_pixels=1000)


def test_decompression_bomb_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _blank_one_bit_png(30_000)
    # 900 megapixels in ~110 KB (deflate's limit is about 1000:1), far under the byte limit.
    assert len(bomb) < 150_000
    with monkeypatch.context() as patch:
        patch.setattr(Image, "MAX_IMAGE_PIXELS", None)
        with Image.open(io.BytesIO(bomb)) as header:
            assert (header.format, header.mode, header.size) == ("PNG", "1", (30_000, 30_000))

    def fail_if_decoded(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail_if_decoded)
    with pytest.raises(ImageDecodeError, match=r"bomb\.png has too many pixels; the limit is 40 "
                                               r"megapixels"):
        decode_image(bomb, name="bomb.png")
    # Below Pillow's own limit, our pixel check refuses it from the header alone.
    small_bomb = _blank_one_bit_png(8_000)
    with pytest.raises(ImageDecodeError, match=r"8000×8000 pixels \(64 megapixels\)"):
        decode_image(small_bomb, name="bomb.png")


def test_blank_one_bit_png_helper_writes_a_valid_png() -> None:
    decoded = decode_image(_blank_one_bit_png(1_000))
    assert decoded.shape == (1_000, 1_000) and decoded.max() == 0


def test_missing_directory_and_oversized_files(tmp_path: Path, photo_bytes: bytes) -> None:
    with pytest.raises(ImageDecodeError, match="does not exist"):
        read_image_file(tmp_path / "nope.png")
    with pytest.raises(ImageDecodeError, match="is a directory"):
        read_image_file(tmp_path)
    path = tmp_path / "photo.png"
    path.write_bytes(photo_bytes)
    with pytest.raises(ImageDecodeError, match=r"photo\.png is \d+\.\d KB; the limit is 10 bytes\."):
        read_image_file(path, max_bytes=10)
    assert read_image_file(path).shape == (60, 80, 3)


def test_error_is_a_value_error() -> None:
    assert issubclass(ImageDecodeError, ValueError)


# --- Modes: each comes back as uint8 grey, RGB or RGBA with the right values. ---

def test_grey_and_one_bit() -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(decode_image(_encode(Image.fromarray(grey))), grey)
    bits = Image.fromarray(grey > 127).convert("1")
    decoded = decode_image(_encode(bits))
    assert decoded.dtype == np.uint8 and decoded.shape == (16, 16)
    assert set(np.unique(decoded)) == {0, 255}


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.linspace(0, 65535, 16 * 64).reshape(16, 64).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode.startswith("I")
    decoded = decode_image(_encode(image))
    assert decoded.dtype == np.uint8 and decoded.min() == 0 and decoded.max() == 255
    assert np.abs(decoded.astype(int) - np.rint(ramp / 257)).max() <= 1
    # A mid-grey 16-bit value must stay mid-grey (clipping would make it white).
    mid = decode_image(_encode(Image.fromarray(np.full((4, 4), 32768, np.uint16))))
    assert (mid == 128).all()


def test_rgb_rgba_and_la() -> None:
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0] = 200
    assert np.array_equal(decode_image(_encode(Image.fromarray(rgb))), rgb)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[2:6, 2:6] = (0, 0, 255, 255)  # a blue square on a transparent background
    decoded = decode_image(_encode(Image.fromarray(rgba)))
    assert decoded.shape == (8, 8, 4) and np.array_equal(decoded, rgba)
    grey_alpha = decode_image(_encode(Image.new("LA", (5, 5), (40, 100))))
    assert grey_alpha.shape == (5, 5, 4) and grey_alpha[0, 0].tolist() == [40, 40, 40, 100]


def test_palette_png_with_transparency_becomes_rgba() -> None:
    palette = Image.new("P", (6, 6), 0)
    palette.putpalette([255, 255, 255, 10, 20, 30] + [0] * 762)
    palette.putpixel((3, 3), 1)
    decoded = decode_image(_encode(palette, transparency=0))
    assert decoded.shape == (6, 6, 4)
    assert decoded[0, 0, 3] == 0 and decoded[3, 3].tolist() == [10, 20, 30, 255]
    opaque = decode_image(_encode(palette))
    assert opaque.shape == (6, 6, 3) and opaque[3, 3].tolist() == [10, 20, 30]


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # full magenta + yellow = red
    decoded = decode_image(_encode(cmyk, "JPEG", quality=95), name="print.jpg")
    assert decoded.shape == (16, 16, 3)
    red, green, blue = decoded[8, 8].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("L", (10, 10), level) for level in (30, 220, 120)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    decoded = decode_image(buffer.getvalue(), name="anim.gif")
    assert decoded.shape[:2] == (10, 10)
    assert np.all(np.abs(decoded.astype(int) - 30) <= 2)


def test_animated_png_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), name="anim.png")
    assert decoded[5, 5].tolist() == [255, 0, 0]


def test_exif_orientation_is_applied() -> None:
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:10] = 255  # white band at the top
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    decoded = decode_image(_encode(Image.fromarray(tall), "JPEG", exif=exif.tobytes()))
    assert decoded.shape[:2] == (20, 40)
    assert decoded[:, -10:].mean() > 200 and decoded[:, :10].mean() < 50  # the band is now right


@pytest.mark.parametrize("image_format", ["BMP", "TIFF", "WEBP"])
def test_other_formats(image_format: str) -> None:
    rgb = np.full((12, 12, 3), (10, 120, 240), np.uint8)
    decoded = decode_image(_encode(Image.fromarray(rgb), image_format, **(
        {"lossless": True} if image_format == "WEBP" else {})))
    assert np.array_equal(decoded, rgb)
