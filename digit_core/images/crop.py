"""Finding the digit in any image, second step: the crop around the digit's strokes.

The ink map from ``digit_core.images.locate`` is thresholded, ruled lines are left out, and the digit's
parts are cropped out of it with specks and stray marks left behind.
"""

from __future__ import annotations

import cv2
import numpy as np

from digit_core.images.locate import MIN_CONTRAST, MIN_PAGE_SIDE, shrink_by

# The digit's parts are outlined on a copy of the ink mask at most this large (longest side).
DETECT_SIDE = 160
# Specks smaller than this fraction of the biggest stroke are dropped, as are parts further from
# the digit than this fraction of its size.
SPECK_AREA_FRACTION = 0.05
NEAR_FRACTION = 0.25
# A digit's longer side must be at least this fraction of the image's longer side (and 4 px).
MIN_DIGIT_FRACTION = 0.03
MIN_DIGIT_PIXELS = 4
# A thin straight run of ink across this fraction of the image, from within RULED_LINE_GAP of one
# edge to the other, is a ruled line, unless the rest of the ink comes as near an edge at either
# of its ends (a tight crop's bar).
RULED_LINE_FRACTION = 0.9
RULED_LINE_GAP = 0.05
RULED_LINE_THICKNESS = 0.06


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


def ruled_lines(mask: np.ndarray) -> np.ndarray | None:
    """The ruled lines in a binary mask (0/1), widened by a pixel, or None when there are none.

    A ruled line is a thin band (RULED_LINE_THICKNESS of the image at most) running straight
    across the image from edge to edge (within RULED_LINE_GAP), past the rest of the ink at both
    ends. A digit's own stroke can run as far in an image cropped tight to it, but it is thicker,
    or the rest of the digit reaches an end.
    """
    height, width = mask.shape
    lines = np.zeros_like(mask)
    for along, kernel in ((1, (1, max(1, int(RULED_LINE_FRACTION * width)))),
                          (0, (max(1, int(RULED_LINE_FRACTION * height)), 1))):
        if cv2.reduce(mask, along, cv2.REDUCE_SUM, dtype=cv2.CV_32S).max() < max(kernel):
            continue  # no row (column) has enough ink for a line: the usual case, and fast
        runs = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones(kernel, np.uint8))
        _, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        thickness = stats[1:, cv2.CC_STAT_HEIGHT if along == 1 else cv2.CC_STAT_WIDTH]
        start = stats[1:, cv2.CC_STAT_LEFT if along == 1 else cv2.CC_STAT_TOP]
        end = start + stats[1:, cv2.CC_STAT_WIDTH if along == 1 else cv2.CC_STAT_HEIGHT]
        across, length = mask.shape[1 - along], mask.shape[along]
        gap = max(1, round(RULED_LINE_GAP * length))
        # Printed across the page, a ruled line runs from edge to edge; a pen's bar seldom does.
        thin = 1 + np.flatnonzero((thickness <= max(1.0, RULED_LINE_THICKNESS * across))
                                  & (start < gap) & (end > length - gap))
        if thin.size == 0:
            continue
        found = cv2.dilate(np.isin(labels, thin).astype(np.uint8), np.ones((3, 3), np.uint8))
        rest = cv2.bitwise_and(mask, 1 - found)
        extent = np.flatnonzero(rest.any(axis=1 - along))
        if extent.size and extent[0] >= gap and extent[-1] < length - gap:
            # Where a stroke crosses the line, ink on both sides of it, the stroke goes on.
            band = int(thickness[thin - 1].max()) + 3
            bridge = cv2.morphologyEx(rest, cv2.MORPH_CLOSE,
                                      np.ones((band, 1) if along == 1 else (1, band), np.uint8))
            lines = cv2.bitwise_or(lines, cv2.bitwise_and(found, 1 - bridge))
    return lines if lines.any() else None


def _enlarge(mask: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """A detection-scale mask at full resolution (each pixel a factor × factor block), cut to shape."""
    enlarged = cv2.resize(mask, (mask.shape[1] * factor, mask.shape[0] * factor),
                          interpolation=cv2.INTER_NEAREST)
    return enlarged[:shape[0], :shape[1]]


def stroke_level(ink: np.ndarray, noise_sigma: float) -> tuple[np.ndarray, float] | None:
    """(the ink, blurred on a noisy photo, and the level strokes start at), or None when no stroke
    stands out from the background by MIN_CONTRAST."""
    # On a noisy photo single pixels are not strokes; on a clean canvas blurring would only
    # weaken hairlines.
    blurred = cv2.GaussianBlur(ink, (3, 3), 0) if noise_sigma >= 1 else ink
    peak = float(blurred.max())
    floor = 3 * noise_sigma
    if peak - floor < MIN_CONTRAST:
        return None
    # Otsu needs only the histogram, which a quarter of the pixels gives as well.
    otsu, _ = cv2.threshold(blurred[::2, ::2], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu separates ink from paper; the bounds keep it above the noise and low enough that thin,
    # anti-aliased strokes (which never reach full strength) still count.
    low = max(floor + 2 * noise_sigma, 0.15 * peak)
    return blurred, min(max(otsu, low), max(low, 0.35 * peak))


def digit_crop(ink: np.ndarray, noise_sigma: float) -> tuple[np.ndarray | None, str]:
    """The digit's ink cropped to its box, uint8 with 255 = full stroke, or (None, why not).

    Its parts are told apart on a copy of the ink mask shrunk to about DETECT_SIDE (fast), and
    the digit is cut out of the full-resolution ink, so small digits in big photos keep detail.
    """
    empty = "No digit found: the image is empty (no strokes stand out from the background)."
    height, width = ink.shape
    level = stroke_level(ink, noise_sigma)
    if level is None:
        return None, empty
    blurred, threshold = level
    peak, floor = float(blurred.max()), 3 * noise_sigma
    _, mask = cv2.threshold(blurred, threshold, 255, cv2.THRESH_BINARY)
    # The parts are outlined on a smaller copy of the mask; any ink in a block marks the block,
    # so thin strokes survive the shrinking.
    factor = int(np.ceil(max(height, width) / DETECT_SIDE))
    _, mask = cv2.threshold(shrink_by(mask, factor, cv2.BORDER_CONSTANT), 0, 1,
                            cv2.THRESH_BINARY)
    lines = ruled_lines(mask) if min(height, width) >= MIN_PAGE_SIDE else None
    if lines is not None:
        mask = cv2.bitwise_and(mask, 1 - lines)
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
    if lines is not None:
        ink_crop = cv2.multiply(ink_crop, _enlarge(1 - lines[y0:y1, x0:x1], factor, ink_crop.shape))
    _, strokes = cv2.threshold(ink_crop, threshold, 1, cv2.THRESH_BINARY)
    if len(kept) < part_count:
        # Blank out the dropped specks: keep only pixels near the kept parts (outlines filled,
        # so the strokes mask restores the holes, e.g. inside a 0).
        region = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.drawContours(region, kept, -1, 1, thickness=-1, offset=(-x0, -y0))
        region = cv2.dilate(cv2.bitwise_and(region, mask[y0:y1, x0:x1]), np.ones((3, 3), np.uint8))
        region = _enlarge(region, factor, ink_crop.shape)
        ink_crop = cv2.multiply(ink_crop, region)
        strokes = cv2.bitwise_and(strokes, region)
    # Strokes saturate like MNIST's: the typical strong stroke level becomes full ink (255).
    counts = np.cumsum(cv2.calcHist([ink_crop[::2, ::2]], [0], strokes[::2, ::2], [256],
                                    [0, 256]).ravel())
    full = float(np.searchsorted(counts, 0.9 * counts[-1])) if counts[-1] else peak
    full = max(full, floor + 1)
    return cv2.multiply(cv2.subtract(ink_crop, floor), 255 / (full - floor)), ""
