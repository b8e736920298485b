"""The ways of reading one group of strokes: whole, or cut in two along each cheap path, each piece read
by the model; what read_number chooses among and number_split_training learns from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from digit_core.inference import number_split
from digit_core.images import cuts, segment
from digit_core.inference.number_split import WayScorer, cut_features, gate_features, piece_features
from digit_core.images.preprocess import preprocess

if TYPE_CHECKING:
    from digit_core.inference.predict import Predictor

# A group at least this many line heights wide may be digits written touching, and is tried cut in
# two along each of CUTS_TRIED paths when the gate (``WayScorer.worth_cutting``) finds it worth it.
# A piece of the way chosen that is as wide is tried cut again, up to CUT_AGAIN times: three or
# four digits written touching. On numbers by pendigits' training writers and MNIST train, a
# touching pair's group was a median 1.34 line heights wide and one in a hundred under 0.70 (a
# single digit's, a median 0.71; bench/NOTES.md).
SPLIT_FROM_WIDTH = 0.7
CUTS_TRIED = 4


@dataclass
class PieceReading:
    """A piece of the ink (``segment.Piece``) and how the model reads it."""

    piece: segment.Piece
    height: float  # in line heights
    width: float  # in line heights
    ink: np.ndarray | None = None  # cut out for ``preprocess``
    image: np.ndarray | None = None  # the (28, 28) model input; None when the pipeline found no digit
    message: str = ""
    probabilities: np.ndarray | None = None
    by_group_reader: bool = False  # read by ``group_reader`` within its group, not by the model alone

    @property
    def features(self) -> np.ndarray:
        """``number_split.piece_features``; only for a piece that was read."""
        return piece_features(self.height, self.width, self.probabilities)


@dataclass
class Way:
    """One way of reading a group of strokes: its pieces left to right, and what its cuts cross."""

    pieces: list[PieceReading]
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


def piece_reading(layout: segment.Layout, group: segment.Group, left: np.ndarray | None = None,
             right: np.ndarray | None = None) -> PieceReading | None:
    """A piece of a group, not yet read; None when it holds no stroke."""
    piece = segment.piece(group, left, right)
    if piece is None:
        return None
    x0, y0, x1, y1 = piece.box
    return PieceReading(piece, (y1 - y0) / layout.line_height, (x1 - x0) / layout.line_height)


def prepare_pieces(layout: segment.Layout, readings: list[PieceReading]) -> None:
    """Cut each piece out of the ink and prepare it through the pipeline (the model's 28×28 input)."""
    for reading in readings:
        reading.ink = segment.piece_ink(layout, reading.piece)
        prepared = preprocess(reading.ink, keep_steps=False)
        reading.image, reading.message = prepared.image, prepared.message


def read_pieces(predictor: Predictor, layout: segment.Layout, readings: list[PieceReading]) -> None:
    """Prepare each piece through the pipeline and read them all in one batch."""
    prepare_pieces(layout, readings)
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
    def whole(self) -> PieceReading | None:
        return self.ways[0].pieces[0] if self.ways and len(self.ways[0].pieces) == 1 else None

    @property
    def gate_features(self) -> np.ndarray | None:
        """What ``WayScorer.worth_cutting`` weighs; None for a group with no cut, or not read whole."""
        if not self.paths or self.whole is None or self.whole.probabilities is None:
            return None
        return gate_features(self.whole.features, self.path_features)


def ways_of_group(layout: segment.Layout, group: segment.Group, whole: PieceReading | None = None) -> GroupWays:
    """The group read whole: ``whole``, or a reading not yet read."""
    whole = whole or piece_reading(layout, group)
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
        left, right = piece_reading(layout, group_ways.group, None, path), piece_reading(layout, group_ways.group, path, None)
        if left is not None and right is not None:
            ways.append(Way([left, right], features))
    return ways


def way_between(layout: segment.Layout, group: segment.Group, paths: list[np.ndarray]) -> Way | None:
    """The group cut along each of ``paths`` (left to right), pieces not yet read; None when a piece
    would hold no stroke."""
    edges: list[np.ndarray | None] = [None, *paths, None]
    pieces = [piece_reading(layout, group, left, right) for left, right in zip(edges, edges[1:])]
    if any(piece is None for piece in pieces):
        return None
    return Way(pieces, np.zeros(len(number_split.FEATURES)))


def best_way(scorer: WayScorer, group_ways: GroupWays) -> Way | None:
    return max((way for way in group_ways.ways if way.readable), key=lambda way: float(scorer.score(way.features)),
               default=None)


def cut_and_read(predictor: Predictor, layout: segment.Layout, groups: list[GroupWays],
                  scorer: WayScorer | None, also: list[PieceReading]) -> None:
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
    read_pieces(predictor, layout, list(unread.values()))


def read_ways(predictor: Predictor, layout: segment.Layout, scorer: WayScorer | None = None) -> list[GroupWays]:
    """Each group's ways of reading it, every piece read by the model: whole, and, when it has cuts
    and ``scorer`` finds it worth cutting (every time without a scorer), cut in two.

    What ``read_number`` chooses among, and what ``number_split_training`` learns from.
    """
    groups = [ways_of_group(layout, group) for group in layout.groups]
    read_pieces(predictor, layout, [group.whole for group in groups if group.whole is not None])
    cut_and_read(predictor, layout, groups, scorer, [])
    return groups
