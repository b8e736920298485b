"""Reading a written number: each digit found (``digit_core.images.segment``), cut out, and read through the
one pipeline (``preprocess``) and model, left to right.

A group of strokes may be one digit, digits written touching, or part of a digit whose strokes
were written apart. The model alone cannot tell: squeezed into its 20×20 box, two touching digits
often read as one digit, surely, and the halves of one digit as two. So a learned
``number_split.WayScorer`` decides, from data rather than rules:

- whether a group is worth cutting (its gate: the group's shape and whole reading, and how little
  stroke its cheapest cut crosses); if so, it is also read cut in two along each of
  ``cuts.cut_paths``;
- which way of reading it is right: each way scores by how surely the model reads each piece, how
  each piece is shaped for the line, and how much stroke each cut crosses.

A piece of the way chosen that is itself wide enough is tried cut again (three or four digits
touching). Each group is read its best way, or two neighbouring groups as one digit (``_joins``)
when that scores better. The scorer was learned on numbers by pendigits' training writers and
MNIST's training digits (``number_split_training``); it is measured on held-out writers
(``bench/number_accuracy.py``, ``bench/README.md``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from digit_core.inference import number_split
from digit_core.images import cuts, segment
from digit_core.inference.number_split import WayScorer, cut_features, default_way_scorer, gate_features, piece_features
from digit_core.inference.predict import LOW_CONFIDENCE, SECOND_LOOK_BELOW
from digit_core.images.preprocess import preprocess
from digit_core.images.segment import MAX_DIGITS, TooManyDigitsError

if TYPE_CHECKING:
    from digit_core.inference.predict import Predictor

__all__ = ["MAX_DIGITS", "TooManyDigitsError", "DigitReading", "NumberReading", "Way", "GroupWays",
           "read_number", "read_ways", "count_digits"]

# A group at least this many line heights wide may be digits written touching, and is tried cut in
# two along each of CUTS_TRIED paths when the gate (``WayScorer.worth_cutting``) finds it worth it.
# A piece of the way chosen that is as wide is tried cut again, up to CUT_AGAIN times: three or
# four digits written touching. On numbers by pendigits' training writers and MNIST train, a
# touching pair's group was a median 1.34 line heights wide and one in a hundred under 0.70 (a
# single digit's, a median 0.71; bench/NOTES.md).
SPLIT_FROM_WIDTH = 0.7
CUT_AGAIN = 2
CUTS_TRIED = 4
# A group under DIGIT_MIN_HEIGHT line heights tall is no digit of its own (``count_digits``), and
# may be the part of one written apart (``_joins``), as may a group read under LOW_CONFIDENCE.
DIGIT_MIN_HEIGHT = 0.7
# Two neighbouring groups at most JOIN_GAP line heights apart and DIGIT_MAX_WIDTH wide together
# may be one digit written in strokes apart (see ``_joins``).
JOIN_GAP = 0.2
DIGIT_MAX_WIDTH = 1.1


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
    height: float  # in line heights
    width: float  # in line heights
    ink: np.ndarray | None = None  # cut out for ``preprocess``
    image: np.ndarray | None = None  # the (28, 28) model input; None when the pipeline found no digit
    message: str = ""
    probabilities: np.ndarray | None = None

    @property
    def features(self) -> np.ndarray:
        """``number_split.piece_features``; only for a piece that was read."""
        return piece_features(self.height, self.width, self.probabilities)


@dataclass
class Way:
    """One way of reading a group of strokes: its pieces left to right, and what its cuts cross."""

    pieces: list[_Reading]
    cut_features: np.ndarray  # ``number_split.cut_features`` summed over the cuts; zeros for none

    @property
    def readable(self) -> bool:
        """Whether the pipeline found a digit in each piece (and the model read it)."""
        return all(piece.probabilities is not None for piece in self.pieces)

    @property
    def features(self) -> np.ndarray:
        """Its pieces' and cuts' features summed (``number_split.FEATURES``); only for a readable way."""
        return sum((piece.features for piece in self.pieces), self.cut_features)

    @property
    def digits(self) -> str | None:
        """What the model reads, e.g. "42"; None when a piece was not readable."""
        if not self.readable:
            return None
        return "".join(str(int(np.argmax(piece.probabilities))) for piece in self.pieces)


def _reading(layout: segment.Layout, group: segment.Group, left: np.ndarray | None = None,
             right: np.ndarray | None = None) -> _Reading | None:
    """A piece of a group, not yet read; None when it holds no stroke."""
    piece = segment.piece(group, left, right)
    if piece is None:
        return None
    x0, y0, x1, y1 = piece.box
    return _Reading(piece, (y1 - y0) / layout.line_height, (x1 - x0) / layout.line_height)


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


def _stroke_width(group: segment.Group) -> float:
    """The group's stroke width in pixels: twice its strokes' area over their outline's length."""
    inner = cv2.erode(group.strokes.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    return 2.0 * float(group.strokes.sum()) / max(1, int((group.strokes & ~inner).sum()))


@dataclass
class GroupWays:
    """A group of strokes, the cuts found across it, and the ways of reading it tried so far (whole first)."""

    group: segment.Group
    ways: list[Way]
    paths: list[np.ndarray] = field(default_factory=list)  # ``cuts.cut_paths``, once looked for
    path_features: list[np.ndarray] = field(default_factory=list)  # ``number_split.cut_features`` of each

    @property
    def whole(self) -> _Reading | None:
        return self.ways[0].pieces[0] if self.ways and len(self.ways[0].pieces) == 1 else None

    @property
    def gate_features(self) -> np.ndarray | None:
        """What ``WayScorer.worth_cutting`` weighs; None for a group with no cut, or not read whole."""
        if not self.paths or self.whole is None or self.whole.probabilities is None:
            return None
        return gate_features(self.whole.features, self.path_features)


def _group_ways(layout: segment.Layout, group: segment.Group, whole: _Reading | None = None) -> GroupWays:
    """The group read whole: ``whole``, or a reading not yet read."""
    whole = whole or _reading(layout, group)
    return GroupWays(group, [Way([whole], np.zeros(len(number_split.FEATURES)))] if whole is not None else [])


def _find_cuts(layout: segment.Layout, group_ways: GroupWays) -> None:
    """Look for the paths along which the group might be cut (``cuts.cut_paths``), with their features."""
    group, line_height = group_ways.group, layout.line_height
    group_ways.paths = cuts.cut_paths(layout, group, CUTS_TRIED)
    stroke_width, rows = _stroke_width(group), np.arange(group.height)
    group_ways.path_features = [cut_features(float(group.strokes[rows, path].sum()), line_height, stroke_width)
                                for path in group_ways.paths]


def _cut_ways(layout: segment.Layout, group_ways: GroupWays) -> list[Way]:
    """The ways of cutting a group in two, one along each path; pieces not yet read."""
    ways = []
    for path, features in zip(group_ways.paths, group_ways.path_features):
        left, right = _reading(layout, group_ways.group, None, path), _reading(layout, group_ways.group, path, None)
        if left is not None and right is not None:
            ways.append(Way([left, right], features))
    return ways


def _best_way(scorer: WayScorer, group_ways: GroupWays) -> Way | None:
    return max((way for way in group_ways.ways if way.readable), key=lambda way: float(scorer.score(way.features)),
               default=None)


def _cut_and_read(predictor: Predictor, layout: segment.Layout, groups: list[GroupWays],
                  scorer: WayScorer | None, also: list[_Reading]) -> None:
    """Add the ways of cutting each group at least SPLIT_FROM_WIDTH wide that ``scorer`` finds worth
    cutting (every one without a scorer, and one whose whole did not read), and read their pieces
    and ``also`` in one batch."""
    unread = {id(reading): reading for reading in also}
    for group_ways in groups:
        whole = group_ways.whole
        if group_ways.group.width < SPLIT_FROM_WIDTH * layout.line_height:
            continue
        # A group whose whole reading alone keeps it under the gate is not cut whatever its cuts, so
        # they are not looked for.
        if (scorer is not None and whole is not None and whole.probabilities is not None
                and not scorer.might_cut(whole.features)):
            continue
        _find_cuts(layout, group_ways)
        features = group_ways.gate_features
        if group_ways.paths and (scorer is None or features is None or scorer.worth_cutting(features)):
            cut_ways = _cut_ways(layout, group_ways)
            group_ways.ways += cut_ways
            unread.update({id(piece): piece for way in cut_ways for piece in way.pieces})
    _read(predictor, layout, list(unread.values()))


def read_ways(predictor: Predictor, layout: segment.Layout, scorer: WayScorer | None = None) -> list[GroupWays]:
    """Each group's ways of reading it, every piece read by the model: whole, and, when it has cuts
    and ``scorer`` finds it worth cutting (every time without a scorer), cut in two.

    What ``read_number`` chooses among, and what ``number_split_training`` learns from.
    """
    groups = [_group_ways(layout, group) for group in layout.groups]
    _read(predictor, layout, [group.whole for group in groups if group.whole is not None])
    _cut_and_read(predictor, layout, groups, scorer, [])
    return groups


def read_number(predictor: Predictor, image: np.ndarray, scorer: WayScorer | None = None) -> NumberReading:
    """Find each digit of a number in any image (drawing, photo, scan) and read them left to right.

    ``scorer`` decides which groups of strokes are tried cut and which way each is read (default:
    the saved one, ``number_split.default_way_scorer``). Raises TooManyDigitsError (a ValueError)
    for more than MAX_DIGITS digits, and ValueError for an array that is no image. A blank image
    gives a reading with no digits and a message.
    """
    scorer = scorer or default_way_scorer()
    layout = segment.find_digits(image)
    if len(layout.groups) > MAX_DIGITS:
        raise _too_many(len(layout.groups))
    # Two batches for the model: every group whole; then the cut pieces of the groups worth cutting
    # (which takes the whole readings to decide) and the neighbours worth joining. Each round of
    # cutting pieces again (rare: digits touching in threes) reads one more.
    groups = [_group_ways(layout, group) for group in layout.groups]
    wholes = [group.whole for group in groups]
    _read(predictor, layout, [whole for whole in wholes if whole is not None])
    joins = _joins(layout, wholes)
    _cut_and_read(predictor, layout, groups, scorer, [join for join in joins if join is not None])
    bests = _cut_again(predictor, layout, scorer, [_best_way(scorer, group) for group in groups])
    chosen = _best_sequence(scorer, bests, joins)
    if len(chosen) > MAX_DIGITS:
        raise _too_many(len(chosen))
    if not chosen:
        messages = [whole.message for whole in wholes if whole is not None and whole.message]
        return NumberReading((), messages[0] if messages else layout.message or "No digit found.")
    return NumberReading(tuple(_digit_reading(predictor, layout, piece) for piece in chosen))


def _cut_again(predictor: Predictor, layout: segment.Layout, scorer: WayScorer, bests: list[Way | None]
               ) -> list[Way | None]:
    """The ways chosen, with each piece of a cut way that is itself wide enough to be digits touching
    tried cut again (as a group of its own, through the gate), up to CUT_AGAIN times."""
    tried: set[int] = set()
    for _ in range(CUT_AGAIN):
        # (index of the group, index of the piece in its way, the piece as a group of its own)
        pieces = [(group_index, piece_index, _group_ways(layout, segment.piece_group(piece.piece), piece))
                  for group_index, way in enumerate(bests) if way is not None and len(way.pieces) > 1
                  for piece_index, piece in enumerate(way.pieces)
                  if piece.width >= SPLIT_FROM_WIDTH and id(piece) not in tried]
        if not pieces:
            break
        tried.update(id(ways.whole) for _, _, ways in pieces)
        _cut_and_read(predictor, layout, [ways for _, _, ways in pieces], scorer, [])
        # From the right, so that the pieces left of one replaced keep their index.
        for group_index, piece_index, ways in reversed(pieces):
            best = _best_way(scorer, ways)
            if best is not None and len(best.pieces) > 1:
                way = bests[group_index]
                bests[group_index] = Way(way.pieces[:piece_index] + best.pieces + way.pieces[piece_index + 1:],
                                         way.cut_features + best.cut_features)
    return bests


def _joins(layout: segment.Layout, wholes: list[_Reading | None]) -> list[_Reading | None]:
    """For each two neighbouring groups, their strokes as one digit (not yet read) when that is worth
    a try: the two are at most JOIN_GAP line heights apart and DIGIT_MAX_WIDTH wide together, and
    one of them is shorter than DIGIT_MIN_HEIGHT or read under LOW_CONFIDENCE. Two digits the model
    reads surely apart are never joined."""
    line_height = layout.line_height
    joins: list[_Reading | None] = []
    for (first, second), (left, right) in zip(itertools.pairwise(layout.groups), itertools.pairwise(wholes)):
        close = (second.box[0] - first.box[2] <= JOIN_GAP * line_height
                 and max(first.box[2], second.box[2]) - first.box[0] <= DIGIT_MAX_WIDTH * line_height)
        unsure = any(whole is None or whole.probabilities is None or whole.height < DIGIT_MIN_HEIGHT
                     or whole.probabilities.max() < LOW_CONFIDENCE for whole in (left, right))
        joins.append(_reading(layout, segment.joined(first, second)) if close and unsure else None)
    return joins


def _best_sequence(scorer: WayScorer, bests: list[Way | None], joins: list[_Reading | None]) -> list[_Reading]:
    """The readings of the groups left to right, each group read its best way or two neighbours
    read as one digit, whichever sequence scores best (dynamic programming over the groups)."""
    # best[i]: (score, readings) of the best reading of the first i groups.
    best: list[tuple[float, list[_Reading]]] = [(0.0, [])]
    for index, way in enumerate(bests):
        score, readings = best[-1]
        candidate = (score, readings) if way is None else (score + float(scorer.score(way.features)),
                                                           readings + way.pieces)
        join = joins[index - 1] if index > 0 else None
        if join is not None and join.probabilities is not None:
            before_score, before = best[-2]
            join_score = before_score + float(scorer.score(join.features))
            if join_score > candidate[0]:
                candidate = (join_score, before + [join])
        best.append(candidate)
    return best[-1][1]


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
