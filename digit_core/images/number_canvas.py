"""Numbers written on a wide canvas, composed from single digits: for tests and benchmarks.

A digit comes as ink coverage (uint8, 255 = full ink) cropped to its strokes: pen strokes drawn with
a round brush (``strokes_ink``) or an MNIST digit enlarged into crisp strokes (``mnist_ink``).
``compose_number`` sets such digits side by side on the Draw page's Number canvas, each gap given in
pixels or as ``TOUCHING`` (the right digit slid left until its ink meets its neighbour's), and
returns the canvas with each digit's box. Everything is deterministic given its arguments.

``make_numbers`` writes random 2-5 digit numbers this way, by pendigits writers and from MNIST
digits, varied as people write them: ``bench/number_accuracy.py`` measures reading them (held-out
writers), and ``digit_core.inference.number_split`` learns from them how to cut touching digits (training
writers only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from digit_core.data.synthetic import Background, Strokes, mnist_as_canvas, render_strokes

# The Draw page's Number canvas: (height, width) in pixels.
NUMBER_CANVAS = (280, 700)
# A gap of this value means "touching": the digit's ink meets its left neighbour's.
TOUCHING = None

# Random numbers (``make_numbers``): how many digits, and how they are written.
LENGTHS = (2, 3, 4, 5)
HEIGHT_RANGE = (0.25, 0.8)  # of the canvas height
BRUSH_RANGE = (6.0, 40.0)  # the Draw page's slider
BRUSH_PER_HEIGHT = 0.25  # at most this fraction of the digit height
GAP_RANGE = (0.04, 0.5)  # of the digit height
TOUCHING_CHANCE = 1 / 7
WRITERS = ("held-out", "training")


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


@dataclass(frozen=True)
class WrittenNumber:
    """A number written on a Number canvas, and what it says."""

    canvas: np.ndarray  # (280, 700, 4) RGBA, as the Draw page's canvas gives it
    digits: str
    source: str  # "pen" or "mnist"
    inks: tuple[np.ndarray, ...]  # each digit's ink as drawn, alone
    boxes: tuple[tuple[int, int, int, int], ...]  # each digit's (x, y, width, height) on the canvas
    touching: int  # how many neighbours touch


def digit_sources(writers: str) -> dict[str, list[dict[int, list]]]:
    """Pen writers (each a {label: [PenDigit]}) and one MNIST pool ({label: [28×28 images]}).

    ``writers`` is "held-out" (pendigits writers 25-30, MNIST test: people in no training set) or
    "training" (pendigits' other writers, MNIST train).
    """
    if writers not in WRITERS:
        raise ValueError(f"writers must be one of {WRITERS}, got {writers!r}")
    from digit_core import data
    from digit_core.data.writers import split_pen_writers

    training, held_out = split_pen_writers(data.load_pendigits())
    pen_digits = held_out if writers == "held-out" else training
    by_writer: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for digit in pen_digits:
        by_writer[digit.writer][digit.label].append(digit)
    mnist = data.load_mnist(allow_download=False)
    images, labels = (mnist.x_test, mnist.y_test) if writers == "held-out" else (mnist.x_train, mnist.y_train)
    pool = {label: list(images[labels == label]) for label in range(10)}
    return {"pen": [dict(writer) for writer in by_writer.values()], "mnist": [pool]}


def random_number(source: str, pools: list[dict[int, list]], length: int, rng: np.random.Generator,
                  touching_chance: float = TOUCHING_CHANCE) -> WrittenNumber:
    """One number of ``length`` random digits, by one writer (pen) or from MNIST, on a Number canvas;
    each two neighbours touch with ``touching_chance``."""
    from digit_core.data.pendigits import strokes_in_unit_box

    pool = pools[rng.integers(len(pools))]
    labels = [int(rng.integers(10)) for _ in range(length)]
    samples = [pool[label][rng.integers(len(pool[label]))] for label in labels]
    height = rng.uniform(*HEIGHT_RANGE) * NUMBER_CANVAS[0]
    brush = float(np.exp(rng.uniform(*np.log(BRUSH_RANGE))))
    sizes = rng.uniform(0.9, 1.1, length)
    gaps = [TOUCHING if rng.random() < touching_chance else rng.uniform(*GAP_RANGE) for _ in range(length - 1)]
    lifts = rng.uniform(-0.06, 0.06, length)
    stroke_changes = rng.uniform(-0.04, 0.04, length)
    background = "white" if rng.random() < 0.7 else "transparent"
    while True:
        width = min(brush, BRUSH_PER_HEIGHT * height)
        if source == "pen":
            inks = [strokes_ink(strokes_in_unit_box(sample.strokes), height * size, width)
                    for sample, size in zip(samples, sizes)]
        else:
            inks = [mnist_ink(sample, height * size, int(round(change * height)))
                    for sample, size, change in zip(samples, sizes, stroke_changes)]
        try:
            canvas, boxes = compose_number(inks, [gap if gap is TOUCHING else gap * height for gap in gaps],
                                           raise_by=[int(lift * height) for lift in lifts], background=background,
                                           place=tuple(rng.uniform(0, 1, 2)))
        except ValueError:  # too wide (or tall) for the canvas: write it smaller
            height *= 0.85
            continue
        return WrittenNumber(canvas, "".join(map(str, labels)), source, tuple(inks), tuple(boxes),
                             sum(gap is TOUCHING for gap in gaps))


def make_numbers(writers: str, count: int, seed: int, lengths: tuple[int, ...] = LENGTHS,
                 touching_chance: float = TOUCHING_CHANCE) -> list[WrittenNumber]:
    """``count`` numbers, by pen writers and from MNIST digits in turn, of each length in turn."""
    return list(iter_numbers(writers, count, seed, lengths, touching_chance))


def iter_numbers(writers: str, count: int, seed: int, lengths: tuple[int, ...] = LENGTHS,
                 touching_chance: float = TOUCHING_CHANCE) -> Iterator[WrittenNumber]:
    """``make_numbers``' numbers one at a time (each canvas is 0.8 MB: thousands do not fit in memory)."""
    rng = np.random.default_rng(seed)
    sources = digit_sources(writers)
    for index in range(count):
        source = ("pen", "mnist")[index % 2]
        yield random_number(source, sources[source], lengths[(index // 2) % len(lengths)], rng, touching_chance)
