"""Finding each digit of a written number: the ink's parts, grouped into digits, left to right.

    any image → ink map (``locate.image_ink``, the pipeline's first step) → stroke mask, ruled lines
    left out (``crop``) → connected parts → parts that share columns grouped (a 5's bar, a 4 or a 7
    written in two strokes) → specks and dots beside the digits dropped

Each group is then cut out of the ink (``piece_ink``) for ``digit_core.images.preprocess`` to read like a
digit on its own. A group may be digits written touching; ``cuts.cut_paths`` proposes where to cut it,
and ``digit_core.inference.number`` decides whether to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from digit_core.images import crop, locate

# Two parts belong to one digit when their columns overlap by at least this fraction of the
# narrower one's width: a 5's bar over its body, a 4's or a 7's second stroke across the first.
SHARED_COLUMNS_FRACTION = 0.5
# A part smaller than this fraction of the largest part's ink is a speck, and a group whose height
# and width are both under DOT_FRACTION of the tallest group's height is a dot: neither is a digit.
SPECK_AREA_FRACTION = 0.05
DOT_FRACTION = 0.25
# A number is read up to this many digits; more is an error, not a reading.
MAX_DIGITS = 20
# More parts than this of a digit's size are no number (a page of text, a noisy photo): refused
# before grouping them (which compares every pair).
MAX_PARTS = 200
# Room around a digit cut out of the ink, as a fraction of the line's height (and at least 2 px),
# so the pipeline finds paper all round it.
MARGIN_FRACTION = 0.1


class TooManyDigitsError(ValueError):
    """The image holds more digits than a number is read for (MAX_DIGITS)."""


@dataclass(frozen=True)
class Group:
    """The parts of the ink that make up one digit (or several written touching)."""

    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the ink map, exclusive ends
    strokes: np.ndarray = field(repr=False, compare=False)  # bool (height, width): stroke pixels in the box

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class Piece:
    """A group, or the part of it between two cuts: what is read as one digit."""

    group: Group
    strokes: np.ndarray = field(repr=False, compare=False)  # bool, in the group's box
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of its strokes in the ink map


@dataclass(frozen=True)
class Layout:
    """The ink of an image and its digit groups, left to right."""

    ink: np.ndarray  # uint8 ink map, light on dark (possibly smaller than the image: see ``scale``)
    groups: tuple[Group, ...]
    scale: float  # image pixels per ink-map pixel
    message: str = ""  # why no group was found, when none was

    @functools.cached_property
    def line_height(self) -> float:
        """The median group height: how tall a digit of this number is."""
        return float(np.median([group.height for group in self.groups])) if self.groups else 0.0

    def image_box(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """An ink-map box (x0, y0, x1, y1) as (x, y, width, height) in the image's pixels."""
        x0, y0, x1, y1 = (int(round(value * self.scale)) for value in box)
        return x0, y0, x1 - x0, y1 - y0


def _merge(box: tuple[int, ...], other: tuple[int, ...]) -> tuple[int, int, int, int]:
    return min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3])


def _share_columns(box: tuple[int, ...], other: tuple[int, ...]) -> bool:
    overlap = min(box[2], other[2]) - max(box[0], other[0])
    narrower = min(box[2] - box[0], other[2] - other[0])
    return overlap >= SHARED_COLUMNS_FRACTION * narrower


def _group_parts(boxes: dict[int, tuple[int, int, int, int]]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(labels, box) of the groups of parts whose columns overlap enough, merged until no two
    groups do; left to right."""
    groups = [([label], box) for label, box in sorted(boxes.items(), key=lambda item: item[1][0])]
    merged = True
    while merged:
        merged = False
        for first in range(len(groups)):
            for second in range(first + 1, len(groups)):
                if _share_columns(groups[first][1], groups[second][1]):
                    labels, box = groups.pop(second)
                    groups[first] = (groups[first][0] + labels, _merge(groups[first][1], box))
                    merged = True
                    break
            if merged:
                break
    groups.sort(key=lambda group: group[1][0])
    return [(tuple(sorted(labels)), box) for labels, box in groups]


def find_digits(image: np.ndarray) -> Layout:
    """The ink of any image and its digit groups, left to right (none, with a message, when blank)."""
    ink, noise_sigma, _ = locate.image_ink(image)
    scale = image.shape[1] / ink.shape[1]
    empty = Layout(ink, (), scale,
                   "No digit found: the image is empty (no strokes stand out from the background).")
    level = crop.stroke_level(ink, noise_sigma)
    if level is None:
        return empty
    blurred, threshold = level
    _, mask = cv2.threshold(blurred, threshold, 1, cv2.THRESH_BINARY)
    if min(mask.shape) >= locate.MIN_PAGE_SIDE:
        lines = crop.ruled_lines(mask)
        if lines is not None:
            mask = cv2.bitwise_and(mask, 1 - lines)
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return empty
    areas = stats[1:, cv2.CC_STAT_AREA]
    big_enough = 1 + np.flatnonzero(areas >= SPECK_AREA_FRACTION * areas.max())
    small = 1 + np.flatnonzero(areas < SPECK_AREA_FRACTION * areas.max())

    def box_of(label: int) -> tuple[int, int, int, int]:
        x, y, width, height = stats[label, :4]
        return int(x), int(y), int(x + width), int(y + height)

    if len(big_enough) > MAX_PARTS:
        raise TooManyDigitsError(f"The image holds {len(big_enough)} separate marks the size of digits, "
                                 f"too many for a number of at most {MAX_DIGITS} digits.")
    groups = _group_parts({int(label): box_of(label) for label in big_enough})
    tallest = max(box[3] - box[1] for _, box in groups)
    groups = [(labels, box) for labels, box in groups
              if max(box[2] - box[0], box[3] - box[1]) >= DOT_FRACTION * tallest]
    # Small parts inside a digit's box (a broken stroke's piece) stay with it, for the pipeline's own
    # crop to keep or drop; specks elsewhere are dropped.
    small_boxes = stats[small, :4]
    small_boxes[:, 2:] += small_boxes[:, :2]
    digits = []
    for labels, (x0, y0, x1, y1) in groups:
        inside = ((small_boxes[:, 0] >= x0) & (small_boxes[:, 1] >= y0) & (small_boxes[:, 2] <= x1)
                  & (small_boxes[:, 3] <= y1))
        ours = np.zeros(count, bool)  # a lookup by part label: much faster than np.isin
        ours[list(labels)] = True
        ours[small[inside]] = True
        digits.append(Group((x0, y0, x1, y1), ours[parts[y0:y1, x0:x1]]))
    return Layout(ink, tuple(digits), scale)


def joined(first: Group, second: Group) -> Group:
    """Two groups taken as one digit: the strokes of a digit written apart (an open 4's stem beside
    its bar) that share no columns."""
    box = _merge(first.box, second.box)
    strokes = np.zeros((box[3] - box[1], box[2] - box[0]), bool)
    for group in (first, second):
        x0, y0, x1, y1 = group.box
        strokes[y0 - box[1]:y1 - box[1], x0 - box[0]:x1 - box[0]] |= group.strokes
    return Group(box, strokes)


def piece_group(piece: Piece) -> Group:
    """A piece taken as a group of its own, to be cut again (two touching digits beside a third)."""
    group_x, group_y = piece.group.box[:2]
    x0, y0, x1, y1 = piece.box
    return Group(piece.box, piece.strokes[y0 - group_y:y1 - group_y, x0 - group_x:x1 - group_x])


def _between(shape: tuple[int, int], left: np.ndarray | None, right: np.ndarray | None) -> np.ndarray:
    """Pixels of a group's box right of the cut ``left`` and left of the cut ``right`` (None: the box's edge)."""
    columns = np.arange(shape[1])[np.newaxis, :]
    inside = np.ones(shape, bool)
    if left is not None:
        inside &= columns >= left[:, np.newaxis]
    if right is not None:
        inside &= columns < right[:, np.newaxis]
    return inside


def _strokes_between(strokes: np.ndarray, left: np.ndarray | None, right: np.ndarray | None) -> np.ndarray:
    """The strokes between two cuts: those pixels on the cuts, and every stroke the cuts leave apart
    that lies mostly between them (a 4's bar reaching past the cut stays with the 4)."""
    inside = _between(strokes.shape, left, right)
    columns = np.arange(strokes.shape[1])[np.newaxis, :]
    on_cuts = np.zeros(strokes.shape, bool)
    for path in (left, right):
        if path is not None:
            # From each row's column to the next row's, and a pixel either side: no stroke slips
            # through a cut that steps sideways.
            before = np.concatenate((path[:1], path[:-1]))
            low, high = np.minimum(path, before) - 1, np.maximum(path, before) + 1
            on_cuts |= (columns >= low[:, np.newaxis]) & (columns <= high[:, np.newaxis])
    count, parts = cv2.connectedComponents((strokes & ~on_cuts).view(np.uint8), connectivity=8)
    pixels = np.bincount(parts.ravel(), minlength=count)
    pixels_inside = np.bincount(parts[inside], minlength=count)
    mostly_inside = 2 * pixels_inside > pixels
    mostly_inside[0] = False  # the background and the cuts' own pixels
    return mostly_inside[parts] | (strokes & on_cuts & inside)


def piece(group: Group, left: np.ndarray | None = None, right: np.ndarray | None = None) -> Piece | None:
    """The group, or the piece of it between two cuts (``cuts.cut_paths``; None: the group's side); None
    when that holds no stroke."""
    strokes = group.strokes if left is None and right is None else _strokes_between(group.strokes, left, right)
    rows, columns = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        return None
    x0, y0 = group.box[:2]
    return Piece(group, strokes, (x0 + int(columns[0]), y0 + int(rows[0]), x0 + int(columns[-1]) + 1,
                                  y0 + int(rows[-1]) + 1))


def piece_ink(layout: Layout, piece: Piece) -> np.ndarray:
    """A piece's ink alone (other strokes blanked) on a margin of background: uint8, light on dark,
    ready for ``preprocess``."""
    group_x, group_y = piece.group.box[:2]
    x0, y0, x1, y1 = piece.box
    # The strokes' anti-aliased fringe, below the stroke level, lies a pixel around them.
    mask = cv2.dilate(piece.strokes[y0 - group_y:y1 - group_y, x0 - group_x:x1 - group_x].view(np.uint8),
                      np.ones((3, 3), np.uint8))
    cut = cv2.multiply(layout.ink[y0:y1, x0:x1], mask)
    margin = max(2, int(MARGIN_FRACTION * layout.line_height))
    return cv2.copyMakeBorder(cut, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)


