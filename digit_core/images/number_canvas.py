"""Numbers written on a wide canvas, composed from single digits: for tests and benchmarks.

A digit comes as ink coverage (uint8, 255 = full ink) cropped to its strokes: pen strokes drawn with
a round brush (``strokes_ink``) or an MNIST digit enlarged into crisp strokes (``mnist_ink``).
``compose_number`` sets such digits side by side on the Draw page's Number canvas, each gap given in
pixels or as ``TOUCHING`` (the right digit slid left until its ink meets its neighbour's), and
returns the canvas with each digit's box. Everything is deterministic given its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from digit_core.data.synthetic import Background, Strokes, mnist_as_canvas, render_strokes

# The Draw page's Number canvas: (height, width) in pixels.
NUMBER_CANVAS = (280, 700)
# A gap of this value means "touching": the digit's ink meets its left neighbour's.
TOUCHING = None


def _cropped_to_ink(coverage: np.ndarray) -> np.ndarray:
    rows, columns = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
    if rows.size == 0:
        raise ValueError("the digit left no ink")
    return coverage[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]


def strokes_ink(strokes: Strokes, height: float, stroke_width: float) -> np.ndarray:
    """Strokes in the unit box (``digit_core.data.synthetic``'s format) drawn ``height`` px tall: the ink
    coverage (uint8) cropped to the strokes, brush ``stroke_width`` px wide."""
    points = np.concatenate([np.asarray(stroke, np.float64).reshape(-1, 2) for stroke in strokes])
    span = max(float(np.ptp(points[:, 1])), float(np.ptp(points[:, 0])) / 2, 1e-6)
    box_side = height / span  # the unit box's side in pixels, so that the strokes are `height` tall
    margin = stroke_width + 2
    low = points.min(axis=0)
    side = int(np.ceil(box_side * float(np.ptp(points, axis=0).max()) + 2 * margin))
    canvas = render_strokes(strokes, canvas_size=side, box=(margin - low[0] * box_side, margin - low[1] * box_side,
                                                            box_side), stroke_width=stroke_width,
                            background="transparent")
    return _cropped_to_ink(canvas[..., 3])


def mnist_ink(digit28: np.ndarray, height: float, stroke_width_change: int = 0) -> np.ndarray:
    """An MNIST digit (28×28, light on dark) re-drawn ``height`` px tall as crisp strokes (see
    ``synthetic.mnist_as_canvas``): the ink coverage (uint8) cropped to the strokes."""
    rows = np.flatnonzero(np.asarray(digit28).max(axis=1) > 127)
    digit_rows = max(1, int(rows[-1] - rows[0] + 1)) if rows.size else 20
    side = max(8, round(height * 28 / digit_rows))
    canvas = mnist_as_canvas(digit28, canvas_size=side, scale=1.0, stroke_width_change=stroke_width_change,
                             background="transparent")
    return _cropped_to_ink(canvas[..., 3])


def _touching_offset(line: np.ndarray, ink: np.ndarray, top: int) -> int:
    """The leftmost x at which ``ink`` (placed at row ``top``) meets the ink already on ``line``.

    Row by row, the new digit may come as far left as the line's rightmost ink; the row where the
    two come closest decides, so the strokes meet there and cross nowhere else.
    """
    height, width = ink.shape
    band = line[top:top + height] > 127
    solid = ink > 127
    offsets = []
    for row in range(height):
        placed, new = np.flatnonzero(band[row]), np.flatnonzero(solid[row])
        if placed.size and new.size:
            offsets.append(placed[-1] - new[0])
    if not offsets:  # no row shared: set it just right of everything
        return int(np.flatnonzero(line.any(axis=0))[-1]) + 1
    return int(max(offsets))


def compose_number(inks: Sequence[np.ndarray], gaps: Sequence[float | None], *,
                   canvas: tuple[int, int] = NUMBER_CANVAS, place: tuple[float, float] = (0.5, 0.5),
                   raise_by: Sequence[int] | None = None, background: Background = "white",
                   ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Digits' ink set left to right on a canvas: (RGBA canvas (H, W, 4) uint8, each digit's box).

    ``gaps[i]`` is the space in pixels between digit i and digit i + 1 (negative: they overlap),
    or ``TOUCHING``. The digits stand on one baseline, each raised by ``raise_by[i]`` pixels. The
    number sits at ``place`` in the room around it (x, y fractions: 0 left or top, 1 right or
    bottom; centred by default). Boxes are (x, y, width, height) of each digit's ink. Raises
    ValueError when the number does not fit.
    """
    if len(gaps) != len(inks) - 1:
        raise ValueError(f"{len(inks)} digits need {len(inks) - 1} gaps, got {len(gaps)}")
    raise_by = list(raise_by) if raise_by is not None else [0] * len(inks)
    tallest = max(ink.shape[0] + lift for ink, lift in zip(inks, raise_by))
    lowest = min(raise_by)
    line_height = tallest - lowest
    line = np.zeros((line_height, sum(ink.shape[1] for ink in inks) + int(sum(abs(g or 0) for g in gaps)) + 2),
                    np.uint8)
    boxes, right = [], 0
    for index, (ink, lift) in enumerate(zip(inks, raise_by)):
        height, width = ink.shape
        top = line_height - height - (lift - lowest)
        if index == 0:
            left = 0
        elif gaps[index - 1] is TOUCHING:
            left = _touching_offset(line, ink, top)
        else:
            left = right + int(round(gaps[index - 1]))
        left = max(0, left)
        if left + width > line.shape[1]:
            line = np.pad(line, ((0, 0), (0, left + width - line.shape[1])))
        np.maximum(line[top:top + height, left:left + width], ink, out=line[top:top + height, left:left + width])
        boxes.append((left, top, width, height))
        right = max(right, left + width)
    line = line[:, :right]
    canvas_height, canvas_width = canvas
    if line.shape[0] > canvas_height or line.shape[1] > canvas_width:
        raise ValueError(f"a number {line.shape[1]}×{line.shape[0]} px does not fit a "
                         f"{canvas_width}×{canvas_height} canvas")
    x = int(round(place[0] * (canvas_width - line.shape[1])))
    y = int(round(place[1] * (canvas_height - line.shape[0])))
    coverage = np.zeros(canvas, np.uint8)
    coverage[y:y + line.shape[0], x:x + line.shape[1]] = line
    boxes = [(left + x, top + y, width, height) for left, top, width, height in boxes]
    return as_canvas(coverage, background), boxes


def as_canvas(coverage: np.ndarray, background: Background = "white") -> np.ndarray:
    """Ink coverage (uint8) as a browser canvas returns it: RGBA, black ink on white or on nothing."""
    rgba = np.zeros((*coverage.shape, 4), np.uint8)
    if background == "transparent":
        rgba[..., 3] = coverage  # black ink carrying its coverage
    elif background == "white":
        rgba[..., :3] = (255 - coverage)[..., None]
        rgba[..., 3] = 255
    else:
        raise ValueError(f"background must be 'white' or 'transparent', got {background!r}")
    return rgba
