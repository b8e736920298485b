"""Finding the digit in any image, first step: colours to an ink map.

The start of ``digit_core.images.preprocess``'s pipeline. Any image (canvas, photo, scan; RGB, RGBA or
grey; either polarity; evenly lit or not; cropped tight or with paper around it) becomes an ink
map, uint8 with the digit light on a background near 0. ``digit_core.images.crop`` then cuts the digit's
strokes out of it.
"""

from __future__ import annotations

import cv2
import numpy as np

# Photos larger than this (longest side) are shrunk to WORKING_SIDE before the expensive steps.
MAX_WORKING_SIDE = 1024
WORKING_SIDE = 640
# A border whose grey levels spread more than this (interquartile range) is uneven: a photo.
UNIFORM_BORDER_SPREAD = 12
# Ink must stand out from the background by this many grey levels (of 255) to be a digit.
MIN_CONTRAST = 24
# An image with a shorter side under this is a crop of one digit rather than a piece of a page:
# too small for a shadow or a ruled line to cross it.
MIN_PAGE_SIDE = 32

_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as OpenCV uses


def to_uint8_channels(image: np.ndarray) -> np.ndarray:
    """Validate and convert to uint8 (H, W, C) with C in {1, 3, 4}.

    Floats are read as [0, 1], or as [0, 255] when any value exceeds 1; uint16 is scaled down.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                         f"got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image is empty: shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if values.max() <= 1.0:
            values = values * 255.0
        return np.rint(np.clip(values, 0, 255)).astype(np.uint8)
    if array.dtype == np.uint16:
        return np.rint(array / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {array.dtype}")


def split_alpha(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB flattened onto a backdrop, and the ink map straight away if the background is clear.

    Transparent pixels are background. A canvas may be transparent with black, white or
    coloured strokes, so the backdrop is white under dark ink and black under light ink. When
    the border is transparent, ink = coverage (alpha) × colour distance from the backdrop: the
    same as flattening first, but without full-size RGB arithmetic (the costly part).
    """
    rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    alpha = cv2.extractChannel(rgba, 3)
    if cv2.minMaxLoc(alpha)[0] == 255:
        return rgb, None
    # Every eighth pixel each way is plenty to tell light ink from dark.
    opaque = alpha[::8, ::8] > 127
    ink_level = float(rgb[::8, ::8][opaque].mean()) if opaque.any() else 0.0
    backdrop = np.full(3, 0.0 if ink_level > 127 else 255.0)
    if np.median(_border(alpha)) == 0:
        return rgb, cv2.multiply(_colour_distance(rgb, backdrop), alpha, scale=1 / 255)
    alpha3 = cv2.merge([alpha, alpha, alpha])
    # In place (dst=rgb): fresh full-size temporaries cost page faults, which dominate here.
    if ink_level > 127:
        return cv2.multiply(rgb, alpha3, dst=rgb, scale=1 / 255), None  # light ink over black
    # Dark ink over white: 255 - (255 - rgb) × alpha.
    cv2.bitwise_not(rgb, dst=rgb)
    cv2.multiply(rgb, alpha3, dst=rgb, scale=1 / 255)
    return cv2.bitwise_not(rgb, dst=rgb), None


def shrink_by(image: np.ndarray, factor: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Average factor × factor blocks; the image is padded to a multiple of factor first.

    OpenCV's area resize is fast only for exact integer ratios (about 10× faster than otherwise).
    """
    if factor <= 1:
        return image
    height, width = image.shape[:2]
    pad_bottom, pad_right = -height % factor, -width % factor
    if pad_bottom or pad_right:
        image = cv2.copyMakeBorder(image, 0, pad_bottom, 0, pad_right, border, value=0)
    size = ((width + pad_right) // factor, (height + pad_bottom) // factor)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resize_longest(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side`, keeping the aspect ratio (block-averaged to shrink)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    size = (max(1, round(width * side / longest)), max(1, round(height * side / longest)))
    # Integer block averaging does the bulk of a big shrink; bilinear does the last step (< 2×).
    image = shrink_by(image, longest // side, cv2.BORDER_CONSTANT)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def shrink_large(pixels: np.ndarray) -> np.ndarray:
    """Shrink photos with a side over MAX_WORKING_SIDE to about WORKING_SIDE."""
    longest = max(pixels.shape[:2])
    if longest <= MAX_WORKING_SIDE:
        return pixels
    shrunk = shrink_by(pixels, int(np.ceil(longest / WORKING_SIDE)))
    return shrunk if shrunk.ndim == 3 else shrunk[..., None]


def _border(array: np.ndarray) -> np.ndarray:
    """Pixels of a thin frame around the image, (N, ...) — the background on almost any input."""
    height, width = array.shape[:2]
    thickness = max(1, min(height, width) // 128)
    if 2 * thickness >= min(height, width):
        return array.reshape(height * width, *array.shape[2:])
    parts = [array[:thickness], array[-thickness:], array[thickness:-thickness, :thickness],
             array[thickness:-thickness, -thickness:]]
    return np.concatenate([part.reshape(-1, *array.shape[2:]) for part in parts])


def _colour_distance(pixels: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Ink = how far each pixel's colour is from the background colour (any polarity, any hue)."""
    if pixels.shape[2] == 1:
        return cv2.absdiff(pixels[..., 0], float(background[0]))
    red, green, blue = cv2.split(cv2.absdiff(pixels, tuple(float(v) for v in background) + (0.0,)))
    return cv2.max(cv2.max(red, green), blue)


def _ink_on_uneven_background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Ink for photos: compare with a smooth background estimate, in the ink's polarity."""
    height, width = grey.shape
    small = shrink_by(grey, max(1, max(height, width) // 48))
    # A median over a third of the image ignores thin strokes but follows shadows and gradients.
    kernel = 2 * (min(small.shape) // 6) + 1
    background_small = cv2.GaussianBlur(cv2.medianBlur(small, max(3, kernel)), (0, 0), 2)
    background = cv2.resize(background_small, (width, height), interpolation=cv2.INTER_LINEAR)
    residual = grey.astype(np.int16) - background.astype(np.int16)
    sample = residual[:: max(1, height // 128), :: max(1, width // 128)]
    noise_sigma = max(1.0, 1.4826 * float(np.median(np.abs(sample - np.median(sample)))))
    darker = np.clip(-residual, 0, 255).astype(np.uint8)
    lighter = np.clip(residual, 0, 255).astype(np.uint8)

    # Whichever side has more signal above the noise is the ink (dark pen or chalk on a board).
    def signal(ink: np.ndarray) -> float:
        return float(np.maximum(ink[::2, ::2].astype(np.float32) - 3 * noise_sigma, 0).sum())

    if signal(darker) < signal(lighter):
        return cv2.GaussianBlur(lighter, (3, 3), 0), noise_sigma
    # Paper reflects the light that falls on it and ink little of it, so dark ink's contrast
    # follows the light: it is measured as a fraction of the paper's brightness (full light: 255).
    ink = cv2.divide(darker, cv2.max(background, 1), scale=255)
    noise_sigma *= 255 / max(1.0, float(np.median(background_small)))
    return cv2.GaussianBlur(ink, (3, 3), 0), noise_sigma


def image_ink(image: np.ndarray, keep_grey: bool = False) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(ink, noise_sigma, grey) of any image: the pipeline's first step.

    Photos larger than MAX_WORKING_SIDE are shrunk first (``shrink_large``), so the ink map may be
    smaller than the image. ``grey`` is the image's luminance at that size, for display, when
    ``keep_grey``; else None.
    """
    pixels = to_uint8_channels(image)
    clear_ink = None
    if pixels.shape[2] == 4:
        pixels, clear_ink = split_alpha(pixels)
    if clear_ink is not None:
        # A clear background is noise-free; the strokes' coverage is the ink.
        ink = shrink_large(clear_ink[..., None])[..., 0]
        return ink, 0.0, (255 - ink if keep_grey else None)
    pixels = shrink_large(pixels)
    ink, noise_sigma = ink_map(pixels)
    return ink, noise_sigma, (grey(pixels) if keep_grey else None)


def ink_map(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """(ink, noise_sigma): ink is uint8, digit light on a background near 0."""
    border = _border(pixels)  # (N, C)
    border_levels = _luminance(border)
    background = _even_background(border, border_levels)
    if background is None:
        # A tightly cropped digit (a USPS-style scan) touches more than a quarter of the border, so
        # the border is paper and ink rather than uneven paper. The border alone cannot tell that
        # from a shadow across the paper; the whole image (about 4,096 pixels of it) can.
        step = max(1, int(np.sqrt(pixels.shape[0] * pixels.shape[1] / 4096)))
        sample = pixels[::step, ::step].reshape(-1, pixels.shape[2])
        background = _even_background_beside_ink(sample, _luminance(sample), border_levels,
                                                  any_spread=min(pixels.shape[:2]) < MIN_PAGE_SIDE)
        if background is not None:
            # The paper is even; the border's own paper, where there is some, is the closer match.
            background = _even_background_beside_ink(border, border_levels, border_levels) or background
    if background is not None:
        colour, noise_sigma = background
        return _colour_distance(pixels, colour), noise_sigma
    return _ink_on_uneven_background(grey(pixels))


def _luminance(values: np.ndarray) -> np.ndarray:
    """Grey levels (N,) of pixels (N, C)."""
    if values.shape[1] == 1:
        return values[:, 0].astype(np.float32)
    return values.astype(np.float32) @ _LUMINANCE


def _even_background(values: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(colour of the median pixel, noise sigma) when the pixels are even, else None.

    Quartiles, so strokes touching the border (up to a quarter of it) are not unevenness; the
    interquartile range of Gaussian noise is 1.35 sigma.
    """
    order = np.argsort(levels)
    low, high = levels[order[len(order) // 4]], levels[order[len(order) * 3 // 4]]
    if high - low > UNIFORM_BORDER_SPREAD:
        return None
    return values[order[len(order) // 2]], float(high - low) / 1.35


def _even_background_beside_ink(values: np.ndarray, levels: np.ndarray, border_levels: np.ndarray,
                                any_spread: bool = False) -> tuple[np.ndarray, float] | None:
    """The even paper among an image's pixels when the rest is ink standing out from it, else None.

    Otsu splits the grey levels in two; the side most of the border falls on is the paper (a
    small, thick digit can cover half the image, but not half its frame). It is the paper if it
    is even and the other side differs from it by at least MIN_CONTRAST. Its evenness is judged
    on the half away from the ink (twice the distance from its median to its outer quartile),
    since the strokes' anti-aliased edges fall on the inner half. A shadow or a gradient across
    the paper leaves the outer half uneven too, and falls through to the uneven-background path.
    ``any_spread`` waives evenness, for images too small for the light to vary across them.
    """
    order = np.argsort(levels)
    ascending = np.rint(levels[order]).astype(np.uint8)
    otsu, _ = cv2.threshold(ascending[None, :], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    split = int(np.searchsorted(ascending, otsu, side="right"))  # [:split] is the dark side
    if split in (0, len(order)):
        return None
    paper_is_light = 2 * np.count_nonzero(border_levels > otsu) >= len(border_levels)
    paper, ink = (order[split:], order[:split]) if paper_is_light else (order[:split], order[split:])
    median = float(levels[paper[len(paper) // 2]])
    outer = float(levels[paper[len(paper) * 3 // 4] if paper_is_light else paper[len(paper) // 4]])
    spread = 2 * abs(outer - median)
    contrast = abs(float(np.median(levels[ink])) - median)
    # Even enough: within the spread of an even border, or small beside the ink's contrast.
    if contrast < MIN_CONTRAST or (spread > max(UNIFORM_BORDER_SPREAD, contrast / 8) and not any_spread):
        return None
    return values[paper[len(paper) // 2]], spread / 1.35


def grey(pixels: np.ndarray) -> np.ndarray:
    """Luminance as uint8 (H, W)."""
    return pixels[..., 0] if pixels.shape[2] == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
