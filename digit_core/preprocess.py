"""One preprocessing pipeline from any image to the model's 28×28 input, the MNIST way.

MNIST digits are light on dark, fitted into a 20×20 box with their aspect ratio kept (anti-aliased),
then placed in a 28×28 field so that their centre of mass sits at the centre. Canvas drawings,
uploaded photos and the CLI all go through `preprocess`, so every caller sees the same numbers:

    grey → ink map (digit light on dark, background removed) → keep the digit's strokes, drop
    specks → crop → (stroke width normalised) → 20×20 box → centred 28×28, float32 in [0, 1].

Stroke-width normalisation is on by default because it pays: with a CNN trained on plain MNIST,
MNIST test digits redrawn as 280 px canvases with brushes from thin to fat were read 90.8% right
after crop-and-centre alone and 95.7% with it (synthetic stroke digits: 92.5% → 96.9%), while
MNIST itself stayed at 99.1%. Deskewing changed those by at most 0.3 points, so it is optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

FIELD_SIZE = 28  # MNIST's image side.
BOX_SIZE = 20  # MNIST fits each digit into a 20×20 box inside the field.
# MNIST's mean centre of mass in pixel-index coordinates (measured on its test set: 14.01, 13.99).
CENTRE_OF_MASS = 14.0
# Stroke width (pixels at 28×28) that strokes are thickened or thinned to. Calibrated on drawn
# digits so their output matches MNIST's test set: stroke width 2.35 px (median of 4 × mean
# distance-to-edge − 2) and ink mass about 95 of 784.
TARGET_STROKE_WIDTH = 2.15

# The digit is scaled and centred on a grid this many times finer than the output, then block-
# averaged: anti-aliased like MNIST, and centred to a quarter pixel.
SUBPIXELS = 4

# Photos larger than this (longest side) are shrunk to WORKING_SIDE before the expensive steps.
MAX_WORKING_SIDE = 1024
WORKING_SIDE = 640
# The cropped digit is resampled so its longer side is this many pixels (4× the 20 px box), so
# stroke-width changes have a fine step (a quarter output pixel) and cost the same at any size.
WORK_SIDE = 80
WORK_MARGIN = 12  # room around it for thickened strokes
# The digit's parts are outlined on a copy of the ink mask at most this large (longest side).
DETECT_SIDE = 160
# A border whose grey levels spread more than this (interquartile range) is uneven: a photo.
UNIFORM_BORDER_SPREAD = 12
# Ink must stand out from the background by this many grey levels (of 255) to be a digit.
MIN_CONTRAST = 24
# Specks smaller than this fraction of the biggest stroke are dropped, as are parts further from
# the digit than this fraction of its size.
SPECK_AREA_FRACTION = 0.05
NEAR_FRACTION = 0.25
# A digit's longer side must be at least this fraction of the image's longer side (and 4 px),
# and at least this many stroke widths (a lone dot is not a digit).
MIN_DIGIT_FRACTION = 0.03
MIN_DIGIT_PIXELS = 4
MIN_STROKES_ACROSS = 2.0

_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as OpenCV uses


@dataclass(frozen=True)
class Preprocessed:
    """The model's input and how it was made.

    image: (28, 28) float32 in [0, 1], light digit on dark, max 1.0; None when no digit was found.
    message: "" when found, else why not (starts with "No digit found").
    steps: named intermediate images (uint8 or float) in pipeline order, for display.
    """

    image: np.ndarray | None
    found: bool
    message: str = ""
    steps: tuple[tuple[str, np.ndarray], ...] = field(default=(), repr=False)


def _to_uint8_channels(image: np.ndarray) -> np.ndarray:
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


def _split_alpha(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
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


def _shrink_by(image: np.ndarray, factor: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
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


def _resize_longest(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side`, keeping the aspect ratio (block-averaged to shrink)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    size = (max(1, round(width * side / longest)), max(1, round(height * side / longest)))
    # Integer block averaging does the bulk of a big shrink; bilinear does the last step (< 2×).
    image = _shrink_by(image, longest // side, cv2.BORDER_CONSTANT)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def _shrink_large(pixels: np.ndarray) -> np.ndarray:
    """Shrink photos with a side over MAX_WORKING_SIDE to about WORKING_SIDE."""
    longest = max(pixels.shape[:2])
    if longest <= MAX_WORKING_SIDE:
        return pixels
    shrunk = _shrink_by(pixels, int(np.ceil(longest / WORKING_SIDE)))
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
    """Ink for photos: subtract a smooth background estimate, then keep the ink's polarity."""
    height, width = grey.shape
    small = _shrink_by(grey, max(1, max(height, width) // 48))
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

    ink = darker if signal(darker) >= signal(lighter) else lighter
    return cv2.GaussianBlur(ink, (3, 3), 0), noise_sigma


def _ink_map(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """(ink, noise_sigma): ink is uint8, digit light on a background near 0."""
    border = _border(pixels)  # (N, C)
    border_grey = border[:, 0] if pixels.shape[2] == 1 else border.astype(np.float32) @ _LUMINANCE
    order = np.argsort(border_grey)
    # Quartiles, so strokes touching the border (up to a quarter of it) are not unevenness.
    low, high = border_grey[order[len(order) // 4]], border_grey[order[len(order) * 3 // 4]]
    if high - low <= UNIFORM_BORDER_SPREAD:
        # The border pixel of median brightness is the background colour; the interquartile range
        # of Gaussian noise is 1.35 sigma.
        background = border[order[len(order) // 2]]
        return _colour_distance(pixels, background), float(high - low) / 1.35
    return _ink_on_uneven_background(_grey(pixels))


def _grey(pixels: np.ndarray) -> np.ndarray:
    """Luminance as uint8 (H, W)."""
    return pixels[..., 0] if pixels.shape[2] == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def _box_gap(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> int:
    """Pixels between two (x0, y0, x1, y1) boxes; 0 when they touch or overlap."""
    return max(0, other[0] - box[2], box[0] - other[2], other[1] - box[3], box[1] - other[3])


def _keep_digit_parts(mask: np.ndarray) -> tuple[list[np.ndarray], int, tuple[int, int, int, int]]:
    """Outlines of the digit's parts in a binary mask, how many parts there were, and their box.

    Keeps the biggest part and the big parts near it; specks and far-away marks are dropped.
    Outlines (findContours) are several times faster here than connectedComponentsWithStats.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return [], 0, (0, 0, 0, 0)
    # A blob's pixel count is about its outline's area plus half its perimeter plus one.
    areas = [cv2.contourArea(c) + cv2.arcLength(c, True) / 2 + 1 for c in contours]
    boxes = [cv2.boundingRect(c) for c in contours]
    order = sorted(range(len(contours)), key=areas.__getitem__, reverse=True)
    x, y, width, height = boxes[order[0]]
    box = (x, y, x + width, y + height)
    kept = [contours[order[0]]]
    for index in order[1:]:
        if areas[index] < SPECK_AREA_FRACTION * areas[order[0]]:
            break  # sorted by area, so the rest are specks too
        x, y, width, height = boxes[index]
        part = (x, y, x + width, y + height)
        if _box_gap(box, part) <= NEAR_FRACTION * max(box[2] - box[0], box[3] - box[1]):
            kept.append(contours[index])
            box = (min(box[0], part[0]), min(box[1], part[1]), max(box[2], part[2]),
                   max(box[3], part[3]))
    return kept, len(contours), box


def _digit_crop(ink: np.ndarray, noise_sigma: float) -> tuple[np.ndarray | None, str]:
    """The digit's ink cropped to its box, uint8 with 255 = full stroke, or (None, why not).

    Its parts are told apart on a copy of the ink mask shrunk to about DETECT_SIDE (fast), and
    the digit is cut out of the full-resolution ink, so small digits in big photos keep detail.
    """
    empty = "No digit found: the image is empty (no strokes stand out from the background)."
    height, width = ink.shape
    # On a noisy photo single pixels are not strokes; on a clean canvas blurring would only
    # weaken hairlines.
    blurred = cv2.GaussianBlur(ink, (3, 3), 0) if noise_sigma >= 1 else ink
    peak = float(blurred.max())
    floor = 3 * noise_sigma
    if peak - floor < MIN_CONTRAST:
        return None, empty
    # Otsu needs only the histogram, which a quarter of the pixels gives as well.
    otsu, _ = cv2.threshold(blurred[::2, ::2], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu separates ink from paper; the bounds keep it above the noise and low enough that thin,
    # anti-aliased strokes (which never reach full strength) still count.
    low = max(floor + 2 * noise_sigma, 0.15 * peak)
    threshold = min(max(otsu, low), max(low, 0.35 * peak))
    _, mask = cv2.threshold(blurred, threshold, 255, cv2.THRESH_BINARY)
    # The parts are outlined on a smaller copy of the mask; any ink in a block marks the block,
    # so thin strokes survive the shrinking.
    factor = int(np.ceil(max(height, width) / DETECT_SIDE))
    _, mask = cv2.threshold(_shrink_by(mask, factor, cv2.BORDER_CONSTANT), 0, 1,
                            cv2.THRESH_BINARY)
    kept, part_count, (x0, y0, x1, y1) = _keep_digit_parts(mask)
    if not kept:
        return None, empty
    if max(x1 - x0, y1 - y0) < max(MIN_DIGIT_PIXELS, MIN_DIGIT_FRACTION * max(mask.shape)):
        return None, "No digit found: only specks, too small to be a digit."
    # Back to full resolution, one detection pixel wider on each side for the anti-aliased fringe.
    x0, y0 = max(0, x0 - 1), max(0, y0 - 1)
    x1, y1 = min(mask.shape[1], x1 + 1), min(mask.shape[0], y1 + 1)
    left, top = x0 * factor, y0 * factor
    right, bottom = min(width, x1 * factor), min(height, y1 * factor)
    ink_crop = ink[top:bottom, left:right]
    _, strokes = cv2.threshold(ink_crop, threshold, 1, cv2.THRESH_BINARY)
    if len(kept) < part_count:
        # Blank out the dropped specks: keep only pixels near the kept parts (outlines filled,
        # so the strokes mask restores the holes, e.g. inside a 0).
        region = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.drawContours(region, kept, -1, 1, thickness=-1, offset=(-x0, -y0))
        region = cv2.dilate(cv2.bitwise_and(region, mask[y0:y1, x0:x1]), np.ones((3, 3), np.uint8))
        region = cv2.resize(region, (region.shape[1] * factor, region.shape[0] * factor),
                            interpolation=cv2.INTER_NEAREST)[:bottom - top, :right - left]
        ink_crop = cv2.multiply(ink_crop, region)
        strokes = cv2.bitwise_and(strokes, region)
    # Strokes saturate like MNIST's: the typical strong stroke level becomes full ink (255).
    counts = np.cumsum(cv2.calcHist([ink_crop[::2, ::2]], [0], strokes[::2, ::2], [256],
                                    [0, 256]).ravel())
    full = float(np.searchsorted(counts, 0.9 * counts[-1])) if counts[-1] else peak
    full = max(full, floor + 1)
    return cv2.multiply(cv2.subtract(ink_crop, floor), 255 / (full - floor)), ""


def _stroke_width(work: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(ink mask, distance inside the ink, stroke width in pixels) of a uint8 digit.

    The width is twice the typical distance to the edge along the strokes' ridge: unlike ink
    area / length it ignores blobs where strokes merge. A band 2k+1 pixels wide has ridge k+1.
    """
    _, ink = cv2.threshold(work, 127, 255, cv2.THRESH_BINARY)
    inside = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    ridge = (inside >= cv2.dilate(inside, np.ones((3, 3), np.uint8))) & (ink > 0)
    if not ridge.any():
        return ink, inside, 0.0
    ridge_distances = inside[ridge]
    middle = len(ridge_distances) // 2
    median = float(np.partition(ridge_distances, middle)[middle])  # np.median is 10× slower
    return ink, inside, max(1.0, 2 * median - 1)


def _normalise_stroke(work: np.ndarray, ink: np.ndarray, inside: np.ndarray, width: float,
                      digit_side: float) -> np.ndarray:
    """Thicken or thin the strokes so they are TARGET_STROKE_WIDTH once the digit is 20 px tall.

    Growing strokes by 2r also grows the digit by 2r, so r solves
    (width + 2r) / (digit_side + 2r) = TARGET_STROKE_WIDTH / BOX_SIZE. The new edge is drawn from
    distances to the old one (grey erosion would smear any dark gap across the stroke).
    """
    ratio = TARGET_STROKE_WIDTH / BOX_SIZE
    # Never thin by more than a third of the width, or strokes could break apart.
    radius = max((ratio * digit_side - width) / (2 * (1 - ratio)), -width / 3)
    if abs(radius) < 0.5:
        return work
    if radius < 0:
        parts_before = cv2.connectedComponents(ink)[0]
        # Thinning must not break a stroke apart (that changes the digit): thin less, or not at all.
        for thinning in (-radius, -radius / 2):
            coverage = np.clip(inside - thinning, 0.0, 1.0)
            if cv2.connectedComponents((coverage > 0.5).view(np.uint8))[0] <= parts_before:
                break
        else:
            return work
    else:
        outside = cv2.distanceTransform(cv2.bitwise_not(ink), cv2.DIST_L2, 3)
        coverage = np.clip(radius + 1 - outside, 0.0, 1.0)
    rendered = (coverage * 255).astype(np.uint8)
    # Growing keeps faint strokes the mask missed; thinning drops them with the edge.
    return cv2.max(work, rendered) if radius > 0 else rendered


def _deskew(work: np.ndarray) -> np.ndarray:
    """Shear rows so the digit's principal axis is vertical (skew = mu11 / mu02)."""
    moments = cv2.moments(work)
    if moments["mu02"] < 1e-3 or moments["m00"] < 1e-6:
        return work
    skew = moments["mu11"] / moments["mu02"]
    centre_y = moments["m01"] / moments["m00"]
    height, width = work.shape
    extra = int(np.ceil(abs(skew) * height))  # the most any row can move
    matrix = np.float32([[1, -skew, skew * centre_y + extra], [0, 1, 0]])
    return cv2.warpAffine(work, matrix, (width + 2 * extra, height), flags=cv2.INTER_LINEAR)


def _fit_box(work: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Scale the digit so its longer side is SUBPIXELS × the 20 px box, keeping the aspect ratio.

    The digit's extent is where its ink is at least half strength (the edge of a crisp stroke);
    the fainter anti-aliased fringe is kept around it. Returns float32 in [0, 1] and the box's
    (x, y, width, height) in the result.
    """
    _, solid = cv2.threshold(work, 127, 255, cv2.THRESH_BINARY)
    x, y, width, height = cv2.boundingRect(solid if solid.any() else work)
    factor = BOX_SIZE * SUBPIXELS / max(width, height)
    margin = 2
    left, top = max(0, x - margin), max(0, y - margin)
    right = min(work.shape[1], x + width + margin)
    bottom = min(work.shape[0], y + height + margin)
    size = (max(1, round((right - left) * factor)), max(1, round((bottom - top) * factor)))
    fine = cv2.resize(work[top:bottom, left:right], size, interpolation=cv2.INTER_LINEAR)
    box = (round((x - left) * factor), round((y - top) * factor), round(width * factor),
           round(height * factor))
    return fine.astype(np.float32) * (1 / 255), box


def _centre(fine_digit: np.ndarray) -> np.ndarray:
    """Place the digit in the 28×28 field with its centre of mass at MNIST's.

    The shift is chosen on the fine grid (a quarter pixel), then blocks are averaged: a digit
    moved by a fraction of a pixel comes out as if drawn there, without bilinear blur.
    """
    moments = cv2.moments(fine_digit)
    height, width = fine_digit.shape
    centre_x = moments["m10"] / moments["m00"] if moments["m00"] > 0 else (width - 1) / 2
    centre_y = moments["m01"] / moments["m00"] if moments["m00"] > 0 else (height - 1) / 2
    # Output pixel i covers fine pixels SUBPIXELS·i … SUBPIXELS·i + SUBPIXELS − 1.
    target = SUBPIXELS * CENTRE_OF_MASS + (SUBPIXELS - 1) / 2
    left, top = int(round(target - centre_x)), int(round(target - centre_y))
    # Paste into a padded field so a lopsided digit is clipped at the edge instead of failing.
    field_side, pad = FIELD_SIZE * SUBPIXELS, BOX_SIZE * SUBPIXELS
    padded = np.zeros((field_side + 2 * pad,) * 2, dtype=np.float32)
    padded[top + pad:top + pad + height, left + pad:left + pad + width] = fine_digit
    return _shrink_by(padded[pad:pad + field_side, pad:pad + field_side], SUBPIXELS)


def _shape_digit(crop: np.ndarray, normalize_stroke: bool, deskew: bool,
                 steps: list[tuple[str, np.ndarray]] | None) -> np.ndarray | None:
    """Cropped ink → centred (28, 28) float32; None when it is a dot or blob, not a digit."""
    work = _resize_longest(crop, WORK_SIDE)
    # A margin gives thickened strokes and sheared rows room.
    work = cv2.copyMakeBorder(work, *(WORK_MARGIN,) * 4, cv2.BORDER_CONSTANT, value=0)
    ink_mask, inside, stroke_width = _stroke_width(work)
    if WORK_SIDE < MIN_STROKES_ACROSS * stroke_width:
        return None
    if normalize_stroke:
        work = _normalise_stroke(work, ink_mask, inside, stroke_width, WORK_SIDE)
        if steps is not None:
            steps.append(("stroke width normalised", work))
    if deskew:
        work = _deskew(work)
        if steps is not None:
            steps.append(("deskewed", work))
    fine_digit, (x, y, width, height) = _fit_box(work)
    field_image = _centre(fine_digit)
    field_image *= 1 / float(field_image.max())
    if steps is not None:
        box = _shrink_by(fine_digit[y:y + height, x:x + width], SUBPIXELS)
        steps += [("20×20 box", box), ("centred 28×28", field_image)]
    return field_image


def preprocess(image: np.ndarray, *, keep_steps: bool = True, normalize_stroke: bool = True,
               deskew: bool = False) -> Preprocessed:
    """Turn any digit image into the model's (28, 28) float32 input, the MNIST way.

    Accepts (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or float, either polarity;
    transparent pixels count as background. Returns found=False with a message when there is
    no digit to read (blank canvas, uniform image, specks, a blob), never a made-up digit.
    normalize_stroke thickens or thins strokes to MNIST's width; deskew straightens slanted
    digits by their second moments.
    """
    pixels = _to_uint8_channels(image)
    clear_ink = None
    if pixels.shape[2] == 4:
        pixels, clear_ink = _split_alpha(pixels)
    if clear_ink is not None:
        # A clear background is noise-free; the strokes' coverage is the ink.
        ink, noise_sigma = _shrink_large(clear_ink[..., None])[..., 0], 0.0
        grey = 255 - ink if keep_steps else None
    else:
        pixels = _shrink_large(pixels)
        ink, noise_sigma = _ink_map(pixels)
        grey = _grey(pixels) if keep_steps else None
    steps = [("grey", grey), ("ink (digit light on dark)", ink)] if keep_steps else None
    crop, message = _digit_crop(ink, noise_sigma)
    if crop is not None:
        if steps is not None:
            steps.append(("cropped", crop))
        field_image = _shape_digit(crop, normalize_stroke, deskew, steps)
        if field_image is not None:
            return Preprocessed(field_image, True, "", tuple(steps or ()))
        message = ("No digit found: only a dot or a blob. Draw the digit larger or with a "
                   "thinner brush.")
    return Preprocessed(None, False, message, tuple(steps or ()))


def preprocess_batch(images: Sequence[np.ndarray], *, normalize_stroke: bool = True,
                     deskew: bool = False) -> list[Preprocessed]:
    """`preprocess` each image (without keeping the intermediate steps)."""
    return [preprocess(image, keep_steps=False, normalize_stroke=normalize_stroke, deskew=deskew)
            for image in images]
