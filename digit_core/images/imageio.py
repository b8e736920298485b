"""Decode uploaded or on-disk image files into numpy arrays, refusing bad input with clear messages.

Limits are checked before any pixel is decoded: the byte size first, then the pixel count read
from the header, so a small file that would expand into gigabytes is refused without allocating.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digit_core import config

# Formats we decode; other Pillow plugins (EPS, PSD, FITS, ...) are refused as not an image.
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "BMP", "TIFF", "WEBP")
ACCEPTED_NAMES = "PNG/JPEG/GIF/BMP/TIFF/WebP"
# File name extensions of those formats, for upload widgets.
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp")


class ImageDecodeError(ValueError):
    """The bytes are not a usable image; the message says why and names the file."""


def _readable_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(name: str, size: int, limit: int) -> ImageDecodeError:
    """"name is 6.0 MB; the limit is 5.0 MB", in exact bytes when the rounded sizes would look equal."""
    size_text, limit_text = _readable_size(size), _readable_size(limit)
    if size_text == limit_text:
        size_text, limit_text = f"{size:,} bytes", f"{limit:,} bytes ({limit_text})"
    return ImageDecodeError(f"{name} is {size_text}; the limit is {limit_text}.")


# Leading bytes of the formats we accept: a file that starts like one but cannot be opened is cut
# short or damaged, not of the wrong kind.
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
               b"MM\x00*")


def _not_an_image(data: bytes, name: str) -> ImageDecodeError:
    """A specific message for common non-images (a PDF, an iPhone HEIC photo, text)."""
    if data.startswith(_SIGNATURES) or (data.startswith(b"RIFF") and data[8:12] == b"WEBP"):
        return ImageDecodeError(f"{name} is truncated or corrupt: its header cannot be read.")
    if data.startswith(b"%PDF"):
        kind = "a PDF document"
    elif data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        kind = "a HEIC photo (export it as JPEG or PNG)"
    elif data.lstrip()[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in data[:256].lower():
        kind = "an SVG drawing (export it as PNG)"
    else:
        kind = ""
    detail = f" (it looks like {kind})" if kind else ""
    return ImageDecodeError(f"{name} is not a {ACCEPTED_NAMES} image{detail}.")


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open the header only and check the pixel count before anything is decoded."""
    Image.init()  # registers every plugin once, so unavailable formats can be left out
    formats = [image_format for image_format in ACCEPTED_FORMATS if image_format in Image.OPEN]
    try:
        # Pillow's own bomb check warns above its limit and raises above twice that; both mean
        # "too many pixels", so treat the warning as an error too. (Pillow's global limits are
        # left alone: our own, lower check follows.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageDecodeError(f"{name} has too many pixels; the limit is "
                               f"{max_pixels / 1e6:g} megapixels.") from error
    except UnidentifiedImageError as error:
        raise _not_an_image(data, name) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"{name} is truncated or corrupt and cannot be decoded "
                               f"({error}).") from error
    width, height = image.size
    if width * height > max_pixels:
        raise ImageDecodeError(f"{name} is {width}×{height} pixels ({width * height / 1e6:g} "
                               f"megapixels); the limit is {max_pixels / 1e6:g} megapixels.")
    if width == 0 or height == 0:
        raise ImageDecodeError(f"{name} has no pixels ({width}×{height}).")
    return image


def _sixteen_bit_to_uint8(image: Image.Image) -> np.ndarray:
    """Scale 16/32-bit integer or float grey to 0–255 (65535 → 255), not clip it."""
    values = np.asarray(image)
    if image.mode == "F":
        values = values.astype(np.float64)
        if np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1:
            return np.rint(values * 255).astype(np.uint8)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        return np.rint(np.nan_to_num(scaled)).astype(np.uint8)
    values = values.astype(np.int64)
    if values.min() >= 0 and values.max() <= 65535:
        return np.rint(values / 257).astype(np.uint8)
    # Wider than 16 bits (rare 32-bit TIFFs): stretch the range that is there.
    low, high = int(values.min()), int(values.max())
    return np.rint((values - low) / max(1, high - low) * 255).astype(np.uint8)


def _to_array(image: Image.Image) -> np.ndarray:
    """uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA from any Pillow mode."""
    mode = image.mode
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"))
    if mode.startswith("I") or mode == "F":
        return _sixteen_bit_to_uint8(image)
    if mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in image.info
        return np.asarray(image.convert("RGBA" if has_transparency else "RGB"))
    if mode in ("LA", "La", "RGBA", "RGBa"):
        return np.asarray(image.convert("RGBA"))
    # RGB, CMYK (Pillow undoes Adobe's inverted CMYK), YCbCr, LAB, HSV, ...
    return np.asarray(image.convert("RGB"))


def decode_image(data: bytes, *, name: str = "image", max_bytes: int = config.MAX_UPLOAD_BYTES,
                 max_pixels: int = config.MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode image bytes into uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    Animated images give their first frame; EXIF rotation is applied. Raises ImageDecodeError
    (a ValueError) naming `name` for empty, oversized, non-image, truncated or corrupt data.
    """
    if len(data) == 0:
        raise ImageDecodeError(f"{name} is empty (0 bytes).")
    if len(data) > max_bytes:
        raise _too_large(name, len(data), max_bytes)
    image = _open(data, name, max_pixels)
    try:
        # Decode everything now, inside the try: truncated data fails here, not later.
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return np.ascontiguousarray(_to_array(image))
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as error:
        raise ImageDecodeError(f"{name} is truncated or corrupt and cannot be decoded "
                               f"({error}).") from error
    finally:
        image.close()


def read_image_file(path: str | os.PathLike[str], *, max_bytes: int = config.MAX_UPLOAD_BYTES,
                    max_pixels: int = config.MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read and decode an image file; its size is checked before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(path.name, size, max_bytes)
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ImageDecodeError(f"{path} does not exist.") from error
    except IsADirectoryError as error:
        raise ImageDecodeError(f"{path} is a directory, not an image file.") from error
    except OSError as error:
        raise ImageDecodeError(f"{path} cannot be read: {error.strerror or error}.") from error
    return decode_image(data, name=path.name, max_bytes=max_bytes, max_pixels=max_pixels)
