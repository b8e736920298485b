"""Reading a written number: each digit found (``digit_core.images.segment``), cut out, and read through the
one pipeline (``preprocess``) and model, left to right.

A group of strokes may be one digit, digits written touching, or part of a digit whose strokes
were written apart. The digit model alone cannot tell: squeezed into its 20×20 box, two touching
digits often read as one digit, surely, and the halves of one digit as two. So a network trained to
read whole groups (``group_reader``) scans each group wide enough to hold several digits: where it
finds several, the group is cut between their middles along the cheapest path (``cuts.cuts_between``)
and each piece takes the group reader's reading; every other group is read whole by the digit model.
Each group is read so, or two neighbouring groups as one digit (``_joins``: a digit written in
strokes apart) when the learned ``number_split.WayScorer`` scores that better.

Without the group reader's file, the scorer also decides which groups to cut, along which of
``cuts.cut_paths``, and cuts a wide piece again (three or four digits touching), reading each piece
with the digit model: fewer touching digits are read right that way (``bench/NOTES.md``). Both were
learned on numbers by pendigits' training writers and MNIST's training digits
(``group_reader_training``, ``number_split_training``) and are measured on held-out writers
(``bench/number_accuracy.py``, ``bench/README.md``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from digit_core.images import cuts, segment
from digit_core.inference.group_reader import (FoundDigit, GroupReader, acceptance_features, default_group_reader,
                                               group_image)
from digit_core.inference.number_split import WayScorer, default_way_scorer
from digit_core.inference.predict import LOW_CONFIDENCE, SECOND_LOOK_BELOW
from digit_core.images.segment import MAX_DIGITS, TooManyDigitsError
from digit_core.inference.number_ways import (SPLIT_FROM_WIDTH, GroupWays, PieceReading, Way, best_way, cut_and_read,
                                              piece_reading, prepare_pieces, read_pieces, read_ways, way_between,
                                              ways_of_group)

if TYPE_CHECKING:
    from digit_core.inference.predict import Predictor

__all__ = ["MAX_DIGITS", "TooManyDigitsError", "DigitReading", "NumberReading", "Way", "GroupWays",
           "read_number", "read_ways", "count_digits"]

# A piece of the way chosen that is as wide as SPLIT_FROM_WIDTH is tried cut again, up to CUT_AGAIN
# times: three or four digits written touching.
CUT_AGAIN = 2
# The group reader is asked about every group at least this many line heights wide: a touching
# "11" or "31" can be narrower than SPLIT_FROM_WIDTH, and the reader is cheap.
READ_FROM_WIDTH = 0.5
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
    image: np.ndarray = field(repr=False)  # the (28, 28) model input the pipeline made of its piece
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


def read_number(predictor: Predictor, image: np.ndarray, scorer: WayScorer | None = None,
                group_reader: GroupReader | None = None, *, use_group_reader: bool = True) -> NumberReading:
    """Find each digit of a number in any image (drawing, photo, scan) and read them left to right.

    ``group_reader`` finds the digits in each wide group of strokes (default: the saved one,
    ``group_reader.default_group_reader``); without one (``use_group_reader=False``, or the file
    missing) ``scorer`` decides which groups are tried cut and which way each is read (default: the
    saved one, ``number_split.default_way_scorer``). ``scorer`` also weighs reading two neighbouring
    groups as one digit. Raises TooManyDigitsError (a ValueError) for more than MAX_DIGITS digits,
    and ValueError for an array that is no image. A blank image gives a reading with no digits and
    a message.
    """
    scorer = scorer or default_way_scorer()
    if use_group_reader and group_reader is None:
        group_reader = default_group_reader()
    layout = segment.find_digits(image)
    if len(layout.groups) > MAX_DIGITS:
        raise _too_many(len(layout.groups))
    # Two batches for the model: every group whole; then the pieces of the groups found to hold
    # several digits (or worth cutting, for the scorer: which takes the whole readings to decide)
    # and the neighbours worth joining. The scorer's rounds of cutting pieces again (rare: digits
    # touching in threes) read one more each.
    groups = [ways_of_group(layout, group) for group in layout.groups]
    wholes = [group.whole for group in groups]
    read_pieces(predictor, layout, [whole for whole in wholes if whole is not None])
    joins = _joins(layout, wholes)
    to_join = [join for join in joins if join is not None]
    if use_group_reader and group_reader is not None:
        bests = _read_groups(predictor, layout, group_reader, groups, to_join)
    else:
        cut_and_read(predictor, layout, groups, scorer, to_join)
        bests = _cut_again(predictor, layout, scorer, [best_way(scorer, group) for group in groups])
    chosen = _best_sequence(scorer, bests, joins)
    if len(chosen) > MAX_DIGITS:
        raise _too_many(len(chosen))
    if not chosen:
        messages = [whole.message for whole in wholes if whole is not None and whole.message]
        return NumberReading((), messages[0] if messages else layout.message or "No digit found.")
    return NumberReading(tuple(_digit_reading(predictor, layout, piece) for piece in chosen))


def _read_groups(predictor: Predictor, layout: segment.Layout, reader: GroupReader, groups: list[GroupWays],
                 also: list[PieceReading]) -> list[Way | None]:
    """Each group's way of reading: a group in which the group reader finds several digits, and takes
    them (``GroupReader.accepts``), is cut between them (``cuts.cuts_between``) and each piece takes the
    group reader's reading; any other group is read whole by the model, as is ``also``."""
    for group_ways, digits, features in group_findings(layout, reader, groups):
        if features is None or not reader.accepts(features):
            continue
        group = group_ways.group
        middles = [digit.x - group.box[0] for digit in digits]
        way = way_between(layout, group, cuts.cuts_between(layout, group, middles))
        if way is None:
            continue
        # Each piece keeps its cut-out ink and 28×28 image, for the page to show; a piece the
        # pipeline finds no digit in (a sliver) leaves the group read whole.
        prepare_pieces(layout, way.pieces)
        if any(piece.image is None for piece in way.pieces):
            continue
        for piece, digit in zip(way.pieces, digits):
            piece.probabilities, piece.by_group_reader = digit.probabilities, True
        group_ways.ways.append(way)
    read_pieces(predictor, layout, also)
    return [group.ways[-1] if group.ways and group.ways[-1].readable else None for group in groups]


def group_findings(layout: segment.Layout, reader: GroupReader, groups: list[GroupWays]
                   ) -> list[tuple[GroupWays, list[FoundDigit], np.ndarray | None]]:
    """Each group at least READ_FROM_WIDTH line heights wide, the digits the group reader finds in it
    (one run for all of them), and, where it finds several, their ``acceptance_features``: what
    ``_read_groups`` decides on and ``group_reader_training`` fits the acceptance to. The groups'
    whole readings must have been read."""
    wide = [group for group in groups if group.group.width >= READ_FROM_WIDTH * layout.line_height]
    found = reader.read([group_image(layout.ink, group.group.strokes, group.group.box) for group in wide])
    findings = []
    for group_ways, digits in zip(wide, found):
        features = None
        if len(digits) > 1:
            whole = group_ways.whole.probabilities if group_ways.whole is not None else None
            features = acceptance_features(digits, whole, group_ways.group.width / layout.line_height)
        findings.append((group_ways, digits, features))
    return findings


def _cut_again(predictor: Predictor, layout: segment.Layout, scorer: WayScorer, bests: list[Way | None]
               ) -> list[Way | None]:
    """The ways chosen, with each piece of a cut way that is itself wide enough to be digits touching
    tried cut again (as a group of its own, through the gate), up to CUT_AGAIN times."""
    tried: set[int] = set()
    for _ in range(CUT_AGAIN):
        # (index of the group, index of the piece in its way, the piece as a group of its own)
        pieces = [(group_index, piece_index, ways_of_group(layout, segment.piece_group(piece.piece), piece))
                  for group_index, way in enumerate(bests) if way is not None and len(way.pieces) > 1
                  for piece_index, piece in enumerate(way.pieces)
                  if piece.width >= SPLIT_FROM_WIDTH and id(piece) not in tried]
        if not pieces:
            break
        tried.update(id(ways.whole) for _, _, ways in pieces)
        cut_and_read(predictor, layout, [ways for _, _, ways in pieces], scorer, [])
        # From the right, so that the pieces left of one replaced keep their index.
        for group_index, piece_index, ways in reversed(pieces):
            best = best_way(scorer, ways)
            if best is not None and len(best.pieces) > 1:
                way = bests[group_index]
                bests[group_index] = Way(way.pieces[:piece_index] + best.pieces + way.pieces[piece_index + 1:],
                                         way.cut_features + best.cut_features)
    return bests


def _joins(layout: segment.Layout, wholes: list[PieceReading | None]) -> list[PieceReading | None]:
    """For each two neighbouring groups, their strokes as one digit (not yet read) when that is worth
    a try: the two are at most JOIN_GAP line heights apart and DIGIT_MAX_WIDTH wide together, and
    one of them is shorter than DIGIT_MIN_HEIGHT or read under LOW_CONFIDENCE. Two digits the model
    reads surely apart are never joined."""
    line_height = layout.line_height
    joins: list[PieceReading | None] = []
    for (first, second), (left, right) in zip(itertools.pairwise(layout.groups), itertools.pairwise(wholes)):
        close = (second.box[0] - first.box[2] <= JOIN_GAP * line_height
                 and max(first.box[2], second.box[2]) - first.box[0] <= DIGIT_MAX_WIDTH * line_height)
        unsure = any(whole is None or whole.probabilities is None or whole.height < DIGIT_MIN_HEIGHT
                     or whole.probabilities.max() < LOW_CONFIDENCE for whole in (left, right))
        joins.append(piece_reading(layout, segment.joined(first, second)) if close and unsure else None)
    return joins


def _best_sequence(scorer: WayScorer, bests: list[Way | None], joins: list[PieceReading | None]) -> list[PieceReading]:
    """The readings of the groups left to right, each group read its best way or two neighbours
    read as one digit, whichever sequence scores best (dynamic programming over the groups)."""
    # best[i]: (score, readings) of the best reading of the first i groups.
    best: list[tuple[float, list[PieceReading]]] = [(0.0, [])]
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


def _digit_reading(predictor: Predictor, layout: segment.Layout, reading: PieceReading) -> DigitReading:
    """The piece's reading; an unsure one the model read alone is read again by the predictor, with
    its second look."""
    probabilities, second_looks = reading.probabilities, ()
    if probabilities.max() < SECOND_LOOK_BELOW and not reading.by_group_reader:
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
