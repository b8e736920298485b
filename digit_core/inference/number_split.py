"""Which way of reading a group of strokes is right, learned: one digit, or touching digits cut apart.

A group of strokes (``segment.Group``) may be one digit or digits written touching. ``digit_core.inference.number``
reads it whole; a ``WayScorer`` first decides whether it is worth cutting (its *gate*: a logistic
regression on the whole group's reading and shape and on the cheapest cut ``cuts.cut_paths``
finds), and if so, the group is also read cut along each cut tried, and the scorer scores each way
of reading it as a weighted sum of features of its pieces (how surely the model reads each, how
tall and wide each is for the line) and of its cuts (how much stroke each crosses). The best-scoring
way is read.

The weights are learned (``number_split_training``) on numbers written by training writers only
(pendigits writers 1-24, MNIST train, ``number_canvas.make_numbers``) and read with the default
model: the gate by logistic regression (does the group hold several digits?), its threshold so that
it lets through GATE_RECALL of the groups that do; the choice by conditional logistic regression
(among each group's ways, the one that reads right should score highest). They are saved as JSON
beside the default model, ``models/number_split.json``: small enough to read, loaded without
pickle. Regenerate it with

    python -m digit_core.inference.number_split_training --out models/number_split.json

When the file is missing or damaged, the number reader warns and falls back to ``HAND_TUNED``, the
rule shipped before: groups at least 0.8 line heights wide are cut, and ways are scored by the
model's log-confidence with fixed costs for pieces too short or too wide.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digit_core import config
from digit_core.store.atomic import atomic_write_json, read_json

FILE_NAME = "number_split.json"
FORMAT = "digit_core.number_split/1"
# A probability is floored here before its logarithm: a reading at 1e-6 is as wrong as at 0.
PROBABILITY_FLOOR = 1e-6

# What a way's score weighs, summed over its pieces (heights and widths in line heights) and cuts.
PIECE_FEATURES = (
    "piece",  # 1 for each piece: more pieces, more digits
    "log_confidence",  # log of the model's top probability
    "log_margin",  # log of the top probability over the second
    "shorter_than_0.6", "shorter_than_0.7",  # by how much the piece is shorter than that
    "wider_than_0.7", "wider_than_0.9", "wider_than_1.1",  # by how much it is wider than that
    "narrower_than_0.2",
    "width_per_height",
)
CUT_FEATURES = (
    "crossed_per_line_height",  # stroke pixels the cut crosses, over the line's height
    "strokes_crossed",  # stroke pixels the cut crosses, over the group's stroke width
)
FEATURES = PIECE_FEATURES + CUT_FEATURES
# The gate weighs the same features, of the group read whole and of its cheapest cut; it lets
# through this share of the groups of several digits in the numbers it is fitted on.
GATE_RECALL = 0.995

logger = logging.getLogger(__name__)


class WayScorerError(ValueError):
    """A scorer file that cannot be used: unreadable, of another format, or of other features."""


def piece_features(height: float, width: float, probabilities: np.ndarray) -> np.ndarray:
    """A piece's features (PIECE_FEATURES, then zeros for CUT_FEATURES); height and width in line heights."""
    top, second = np.sort(np.maximum(probabilities, PROBABILITY_FLOOR))[-1:-3:-1]
    log_confidence = math.log(float(top))
    return np.array([1.0, log_confidence, log_confidence - math.log(float(second)),
                     max(0.0, 0.6 - height), max(0.0, 0.7 - height),
                     max(0.0, width - 0.7), max(0.0, width - 0.9), max(0.0, width - 1.1),
                     max(0.0, 0.2 - width), width / max(height, 1e-3),
                     0.0, 0.0])


def cut_features(crossed: float, line_height: float, stroke_width: float) -> np.ndarray:
    """A cut's features (zeros for PIECE_FEATURES, then CUT_FEATURES): ``crossed`` stroke pixels."""
    features = np.zeros(len(FEATURES))
    features[len(PIECE_FEATURES):] = crossed / max(line_height, 1.0), crossed / max(stroke_width, 1.0)
    return features


def gate_features(whole: np.ndarray, cuts: Sequence[np.ndarray]) -> np.ndarray:
    """What the gate weighs: a group's features read whole (``piece_features``) with those of its
    cheapest cut (``cut_features``, the one crossing the fewest stroke pixels)."""
    crossed = FEATURES.index("crossed_per_line_height")
    return whole + min(cuts, key=lambda cut: float(cut[crossed]))


@dataclass(frozen=True)
class WayScorer:
    """Weights of FEATURES: whether a group is worth cutting (the gate), and how each way of reading
    it scores (the dot product of the weights with the way's summed features)."""

    weights: np.ndarray  # (len(FEATURES),) float: a way's score
    gate_weights: np.ndarray  # (len(FEATURES),) float: of the whole group's features and its cheapest cut's
    gate_threshold: float  # a group is cut when its gate score reaches this
    about: dict[str, Any] = field(default_factory=dict, compare=False)  # how they were learned

    def score(self, features: np.ndarray) -> np.ndarray:
        """Scores of features (..., len(FEATURES)): higher is likelier the right way."""
        return np.asarray(features) @ self.weights

    def worth_cutting(self, features: np.ndarray) -> bool:
        """Whether a group whose whole reading and cheapest cut have these features may be digits touching."""
        return float(np.asarray(features) @ self.gate_weights) >= self.gate_threshold

    def might_cut(self, whole: np.ndarray) -> bool:
        """Whether some cut could bring a group read whole (``piece_features``) to the gate's threshold.

        Cut features are never negative, so while the gate weighs none of them positively, the
        whole's own gate score bounds the group's, and a group under it needs no cut looked for.
        """
        if (self.gate_weights[len(PIECE_FEATURES):] > 0).any():
            return True
        return float(np.asarray(whole) @ self.gate_weights) >= self.gate_threshold

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": list(FEATURES),
                "weights": [round(float(weight), 6) for weight in self.weights],
                "gate_weights": [round(float(weight), 6) for weight in self.gate_weights],
                "gate_threshold": round(float(self.gate_threshold), 6), **self.about}

    @classmethod
    def from_json(cls, payload: Any) -> "WayScorer":
        """A scorer from ``to_json``'s dictionary; WayScorerError when it is not one for these features."""
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise WayScorerError(f"not a number-split scorer of format {FORMAT!r}")
        if payload.get("features") != list(FEATURES):
            raise WayScorerError("its features are not the ones this version of Digit Studio computes")
        weights, gate_weights = (_weights_in(payload, key) for key in ("weights", "gate_weights"))
        gate_threshold = payload.get("gate_threshold")
        if not _finite(gate_threshold):
            raise WayScorerError("its gate_threshold is not a finite number")
        about = {key: value for key, value in payload.items()
                 if key not in ("format", "features", "weights", "gate_weights", "gate_threshold")}
        return cls(weights, gate_weights, float(gate_threshold), about)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _weights_in(payload: dict[str, Any], key: str) -> np.ndarray:
    values = payload.get(key)
    if not isinstance(values, list) or len(values) != len(FEATURES) or not all(map(_finite, values)):
        raise WayScorerError(f"its {key} are not {len(FEATURES)} finite numbers")
    return np.array(values, np.float64)


def _weights(**by_name: float) -> np.ndarray:
    return np.array([by_name.get(name, 0.0) for name in FEATURES])


# The rule shipped before the learned weights (87.83% of held-out numbers read exactly,
# bench/NOTES.md): a group at least 0.8 line heights wide (0.1 wider than 0.7) is cut; a way scores
# the model's log-confidence in each piece, minus 5 for each line height a piece is shorter than 0.7
# of the line, minus 2 for each it is wider than 1.1 of it.
HAND_TUNED = WayScorer(_weights(log_confidence=1.0, **{"shorter_than_0.7": -5.0, "wider_than_1.1": -2.0}),
                       _weights(**{"wider_than_0.7": 1.0}), 0.1, {"fitted_on": "hand-tuned rule (fallback)"})


def scorer_path() -> Path:
    """Where the scorer is read from: the models directory's, else the one shipped in the project's."""
    return config.shipped_or_own(FILE_NAME)


def load_way_scorer(path: str | Path) -> WayScorer:
    """The scorer saved at ``path``; WayScorerError (a ValueError) when it is missing or damaged."""
    try:
        payload = read_json(path)
    except (OSError, ValueError) as error:
        raise WayScorerError(f"Cannot read the number-split scorer {path}: {error}") from error
    try:
        return WayScorer.from_json(payload)
    except WayScorerError as error:
        raise WayScorerError(f"Cannot use the number-split scorer {path}: {error}") from error


@functools.lru_cache(maxsize=4)
def _scorer_at(path: Path, modified: float) -> WayScorer:
    try:
        return load_way_scorer(path)
    except WayScorerError as error:
        logger.warning("%s. Numbers are read with the hand-tuned rule instead (fewer touching digits "
                       "are cut apart); regenerate it with python -m digit_core.inference.number_split_training.", error)
        return HAND_TUNED


def default_way_scorer() -> WayScorer:
    """The saved scorer (``scorer_path``), loaded once per version of the file; HAND_TUNED, with a
    warning, when it is missing or damaged."""
    path = scorer_path()
    return _scorer_at(path, config.file_version(path))


def save_way_scorer(scorer: WayScorer, path: str | Path) -> Path:
    """Write the scorer as JSON, atomically."""
    return atomic_write_json(path, scorer.to_json())
