"""Reading a written number: each digit found (``digit_core.images.segment``), cut out, and read through the
one pipeline (``preprocess``) and model, left to right.

A group of strokes may be one digit, digits written touching, or part of a digit whose strokes
were written apart. Each way of reading the groups (each whole, cut once or twice along
``segment.cut_paths``, or two neighbours joined) is scored by how surely the model reads its pieces
(the sum of the log-probabilities of their readings) and by how much each piece is shaped like a
digit of this line: at least DIGIT_MIN_HEIGHT as tall as the line and at most DIGIT_MAX_WIDTH as
wide. The best-scoring way is kept. The model alone cannot decide it: squeezed into its 20×20 box,
two touching digits often read as one digit, surely, and the halves of one digit as two. The
weights were chosen on numbers by pendigits' training writers and MNIST's training digits
(``bench/number_accuracy.py --writers training``) and are measured on held-out writers
(``bench/README.md``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from digit_core.images import segment
from digit_core.inference.predict import LOW_CONFIDENCE, SECOND_LOOK_BELOW
from digit_core.images.preprocess import preprocess
from digit_core.images.segment import MAX_DIGITS, TooManyDigitsError

if TYPE_CHECKING:
    from digit_core.inference.predict import Predictor

__all__ = ["MAX_DIGITS", "TooManyDigitsError", "DigitReading", "NumberReading", "read_number", "count_digits"]

# A group at least this many line heights wide may be digits written touching and is tried cut;
# one at least THREE_FROM_WIDTH wide is also tried cut in three. (On numbers by pendigits' training
# writers, a single digit's group is a median 0.72 line heights wide, a touching pair's 1.35 and
# nine in ten of them over 0.85; trying from 0.6 read no more numbers, and took half as long again.)
SPLIT_FROM_WIDTH = 0.8
THREE_FROM_WIDTH = 1.4
CUTS_TRIED = 4
# A digit's shape, in line heights: each line height it falls short of DIGIT_MIN_HEIGHT costs
# SHORT_COST, each it is wider than DIGIT_MAX_WIDTH costs WIDE_COST, in log-probability (a tenth
# of a line height too short weighs as much as a reading at 0.6 instead of 1).
DIGIT_MIN_HEIGHT = 0.7
DIGIT_MAX_WIDTH = 1.1
SHORT_COST = 5.0
WIDE_COST = 2.0
# Two neighbouring groups at most this many line heights apart may be one digit written in
# strokes apart (see ``_joins``).
JOIN_GAP = 0.2


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: its reading, where it is, and what the model saw."""

    digit: int
    confidence: float
    probabilities: np.ndarray  # (10,) float32
    box: tuple[int, int, int, int]  # (x, y, width, height) in the image's pixels
    image: np.ndarray = field(repr=False)  # the (28, 28) input the model read first
    second_looks: tuple[str, ...] = ()  # as ``Prediction.second_looks``

    @property
    def low_confidence(self) -> bool:
        return self.confidence < LOW_CONFIDENCE

    def to_json(self) -> dict[str, Any]:
        return {"digit": self.digit, "confidence": round(self.confidence, 6), "box": list(self.box)}


@dataclass(frozen=True)
class NumberReading:
    """A number read left to right; no digits (and a message saying why) when none was found."""

    digits: tuple[DigitReading, ...]
    message: str = ""

    @property
    def found(self) -> bool:
        return bool(self.digits)

    @property
    def number(self) -> str | None:
        """The digits left to right, e.g. "042"; None when no digit was found."""
        return "".join(str(digit.digit) for digit in self.digits) if self.digits else None

    @property
    def unsure(self) -> bool:
        return any(digit.low_confidence for digit in self.digits)

    def to_json(self, path: str) -> dict[str, Any]:
        """``{"path", "number", "digits"}``: ``predict --json --number``'s line (the message is for people)."""
        return {"path": path, "number": self.number, "digits": [digit.to_json() for digit in self.digits]}


@dataclass
class _Reading:
    """A piece of the ink (``segment.Piece``) and how the model reads it."""

    piece: segment.Piece
    shape_cost: float  # SHORT_COST and WIDE_COST (≤ 0)
    ink: np.ndarray | None = None  # cut out for ``preprocess``
    image: np.ndarray | None = None  # the (28, 28) model input; None when the pipeline found no digit
    message: str = ""
    probabilities: np.ndarray | None = None

    @property
    def score(self) -> float:
        if self.probabilities is None:
            return -np.inf
        return float(np.log(max(float(self.probabilities.max()), 1e-12))) + self.shape_cost


def _reading(layout: segment.Layout, group: segment.Group, left: np.ndarray | None = None,
             right: np.ndarray | None = None) -> _Reading | None:
    """A piece of a group, not yet read, with the cost of its shape; None when it holds no stroke."""
    piece = segment.piece(group, left, right)
    if piece is None:
        return None
    x0, y0, x1, y1 = piece.box
    height, width = (y1 - y0) / layout.line_height, (x1 - x0) / layout.line_height
    return _Reading(piece, SHORT_COST * min(0.0, height - DIGIT_MIN_HEIGHT)
                    - WIDE_COST * max(0.0, width - DIGIT_MAX_WIDTH))


def _read(predictor: Predictor, layout: segment.Layout, readings: list[_Reading]) -> None:
    """Prepare each piece through the pipeline and read them all in one batch."""
    for reading in readings:
        reading.ink = segment.piece_ink(layout, reading.piece)
        prepared = preprocess(reading.ink, keep_steps=False)
        reading.image, reading.message = prepared.image, prepared.message
    found = [reading for reading in readings if reading.image is not None]
    if found:
        for reading, probabilities in zip(found, predictor.probabilities(np.stack([r.image for r in found]))):
            reading.probabilities = probabilities


def _ways_to_cut(layout: segment.Layout, group: segment.Group) -> list[list[_Reading]]:
    """Each way of cutting a group into two or three pieces (left to right) worth reading."""
    line_height = layout.line_height
    if group.width < SPLIT_FROM_WIDTH * line_height:
        return []
    cuts = [None, *segment.cut_paths(layout, group, CUTS_TRIED), None]
    last = len(cuts) - 1
    pieces: dict[tuple[int, int], _Reading | None] = {}

    def piece(first: int, second: int) -> _Reading | None:
        if (first, second) not in pieces:
            pieces[(first, second)] = _reading(layout, group, cuts[first], cuts[second])
        return pieces[(first, second)]

    ways = [[piece(0, middle), piece(middle, last)] for middle in range(1, last)]
    if group.width >= THREE_FROM_WIDTH * line_height:
        ways += [[piece(0, first), piece(first, second), piece(second, last)]
                 for first, second in itertools.combinations(range(1, last), 2)]
    return [way for way in ways if all(way)]


def read_number(predictor: Predictor, image: np.ndarray) -> NumberReading:
    """Find each digit of a number in any image (drawing, photo, scan) and read them left to right.

    Raises TooManyDigitsError (a ValueError) for more than MAX_DIGITS digits, and ValueError for
    an array that is no image. A blank image gives a reading with no digits and a message.
    """
    layout = segment.find_digits(image)
    if len(layout.groups) > MAX_DIGITS:
        raise _too_many(len(layout.groups))
    wholes = [_reading(layout, group) for group in layout.groups]
    _read(predictor, layout, [whole for whole in wholes if whole is not None])
    # A way of cutting whose shape costs alone score below the group read whole cannot win: it
    # is not read. The rest are read in one batch.
    ways_by_group = [[way for way in _ways_to_cut(layout, group)
                      if sum(piece.shape_cost for piece in way) > (whole.score if whole else -np.inf)]
                     for group, whole in zip(layout.groups, wholes)]
    joins = _joins(layout, wholes)
    unread = {id(piece): piece for ways in ways_by_group for way in ways for piece in way}
    unread.update({id(join): join for join in joins if join is not None})
    _read(predictor, layout, list(unread.values()))
    bests = [max(([[whole]] if whole else []) + ways, key=_score, default=[])
             for whole, ways in zip(wholes, ways_by_group)]
    chosen = _best_sequence(bests, joins)
    if len(chosen) > MAX_DIGITS:
        raise _too_many(len(chosen))
    if not chosen:
        messages = [whole.message for whole in wholes if whole is not None and whole.message]
        return NumberReading((), messages[0] if messages else layout.message or "No digit found.")
    return NumberReading(tuple(_digit_reading(predictor, layout, piece) for piece in chosen))


def _joins(layout: segment.Layout, wholes: list[_Reading | None]) -> list[_Reading | None]:
    """For each two neighbouring groups, their strokes read as one digit when that is worth a try:
    the two are at most JOIN_GAP line heights apart and DIGIT_MAX_WIDTH wide together, and one of
    them alone reads unsurely (under LOW_CONFIDENCE, its shape costs included). Two digits the
    model reads surely apart are never joined."""
    line_height = layout.line_height
    joins: list[_Reading | None] = []
    for (first, second), (left, right) in zip(itertools.pairwise(layout.groups), itertools.pairwise(wholes)):
        close = (second.box[0] - first.box[2] <= JOIN_GAP * line_height
                 and max(first.box[2], second.box[2]) - first.box[0] <= DIGIT_MAX_WIDTH * line_height)
        unsure = any(whole is None or whole.score < np.log(LOW_CONFIDENCE) for whole in (left, right))
        joins.append(_reading(layout, segment.joined(first, second)) if close and unsure else None)
    return joins


def _best_sequence(bests: list[list[_Reading]], joins: list[_Reading | None]) -> list[_Reading]:
    """The readings of the groups left to right, each group read its best way or two neighbours
    read as one digit, whichever sequence scores best (dynamic programming over the groups)."""
    # best[i]: (score, readings) of the best reading of the first i groups.
    best: list[tuple[float, list[_Reading]]] = [(0.0, [])]
    for index, way in enumerate(bests):
        readable = [piece for piece in way if piece.probabilities is not None]
        score, readings = best[-1]
        candidate = (score + _score(readable), readings + readable)
        join = joins[index - 1] if index > 0 else None
        if join is not None and join.probabilities is not None:
            before_score, before = best[-2]
            if before_score + join.score > candidate[0]:
                candidate = (before_score + join.score, before + [join])
        best.append(candidate)
    return best[-1][1]


def _score(way: list[_Reading]) -> float:
    return sum(piece.score for piece in way)


def _digit_reading(predictor: Predictor, layout: segment.Layout, reading: _Reading) -> DigitReading:
    """The piece's reading; an unsure one is read again by the predictor, with its second look."""
    probabilities, second_looks = reading.probabilities, ()
    if probabilities.max() < SECOND_LOOK_BELOW:
        prediction = predictor.predict_image(reading.ink)
        if prediction.found:
            probabilities, second_looks = prediction.probabilities, prediction.second_looks
    digit = int(np.argmax(probabilities))
    return DigitReading(digit, float(probabilities[digit]), probabilities, layout.image_box(reading.piece.box),
                        reading.image, second_looks)


def _too_many(count: int) -> TooManyDigitsError:
    return TooManyDigitsError(f"Found {count} digits; a number is read up to {MAX_DIGITS} digits. "
                              "Write fewer digits, or read the number in parts.")


def count_digits(image: np.ndarray) -> int:
    """How many digits clearly stand apart in an image, without reading them: groups of strokes
    side by side at least DIGIT_MIN_HEIGHT as tall as the tallest (a 5's bar drawn apart from its
    body is no digit), touching digits counted as one. Cheap. More than MAX_DIGITS for a page of marks."""
    try:
        groups = segment.find_digits(image).groups
    except TooManyDigitsError:
        return segment.MAX_PARTS + 1
    tallest = max((group.height for group in groups), default=0)
    return sum(group.height >= DIGIT_MIN_HEIGHT * tallest for group in groups)
