"""Learning how to read groups of strokes (``number_split.WayScorer``) from numbers of known digits.

    python -m digit_core.inference.number_split_training [--numbers 2000] [--validation-numbers 600] [--seed 1000]
                                               [--out models/number_split.json] [--dry-run]

Numbers are written by training writers only (``number_canvas.make_numbers("training", ...)``:
pendigits writers 1-24, MNIST train), exactly as ``bench/number_accuracy.py`` writes its held-out
ones. Each is read the way ``number.read_number`` reads it (``number.read_ways``: each group whole
and cut every way tried), and each way is labelled right when the model's readings of its pieces
spell the digits whose strokes the group holds. A conditional logistic regression (a softmax over
each group's ways, L2-penalised) learns the weights that put the right ways on top; a logistic
regression learns the gate (does a group hold several digits?) and its threshold is set to let
GATE_RECALL of the fit numbers' groups of several digits through. Validation numbers, by the same
writers with another seed, say how often the chosen way is right and what the gate lets through;
the held-out writers are for ``bench/number_accuracy.py`` alone.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digit_core.inference.number_split import FEATURES, GATE_RECALL, WayScorer, save_way_scorer, scorer_path

if TYPE_CHECKING:
    from digit_core.images.number_canvas import WrittenNumber
    from digit_core.inference.predict import Predictor


@dataclass(frozen=True)
class GroupExample:
    """One group's ways of reading: their summed features and which of them read right."""

    features: np.ndarray  # (ways, len(FEATURES)) float; the whole first
    right: np.ndarray  # (ways,) bool
    digits: int  # how many digits the group holds
    gate_features: np.ndarray | None = None  # ``GroupWays.gate_features``: None for a group never cut


def group_owners(layout: Any, number: "WrittenNumber") -> list[list[int]]:
    """For each group of ``segment.find_digits``' layout of the number's canvas, the indices of the
    digits whose strokes lie mostly in it, left to right ([] for a piece of a digit written apart)."""
    if layout.scale != 1:
        raise ValueError("numbers for learning are read on their canvas as it is (ink map scale 1)")
    height, width = number.canvas.shape[:2]
    owners: list[list[int]] = [[] for _ in layout.groups]
    for index, (ink, (x, y, box_width, box_height)) in enumerate(zip(number.inks, number.boxes)):
        digit_strokes = np.zeros((height, width), bool)
        digit_strokes[y:y + box_height, x:x + box_width] = ink > 127
        shared = [int((digit_strokes[group.box[1]:group.box[3], group.box[0]:group.box[2]] & group.strokes).sum())
                  for group in layout.groups]
        if shared and max(shared) > 0:
            owners[int(np.argmax(shared))].append(index)
    return [sorted(owned) for owned in owners]


def group_truths(layout: Any, number: "WrittenNumber") -> list[str]:
    """For each group of the layout, the digits whose strokes lie mostly in it, left to right ("" for
    a piece of a digit written apart)."""
    return ["".join(number.digits[index] for index in owned) for owned in group_owners(layout, number)]


def number_examples(predictor: "Predictor", number: "WrittenNumber") -> list[GroupExample]:
    """The examples of one number's groups that hold at least one digit and have a readable way."""
    from digit_core.images import segment
    from digit_core.inference.number_ways import read_ways

    layout = segment.find_digits(number.canvas)
    examples = []
    for group, truth in zip(read_ways(predictor, layout), group_truths(layout, number)):
        readable = [way for way in group.ways if way.readable]
        # A group whose whole did not read is always tried cut: the gate does not see it.
        if truth and readable and len(readable[0].pieces) == 1:
            examples.append(GroupExample(np.stack([way.features for way in readable]),
                                         np.array([way.digits == truth for way in readable]), len(truth),
                                         group.gate_features))
    return examples


def _negative_log_likelihood(weights: np.ndarray, groups: Sequence[GroupExample], l2: float
                             ) -> tuple[float, np.ndarray]:
    """Minus the log-probability of the right ways under a softmax over each group's ways, plus the
    L2 penalty; and its gradient."""
    total, gradient = 0.5 * l2 * float(weights @ weights), l2 * weights
    for group in groups:
        scores = group.features @ weights
        odds = np.exp(scores - scores.max())
        right_odds = odds[group.right]
        total -= float(np.log(right_odds.sum()) - np.log(odds.sum()))
        gradient = gradient - (right_odds @ group.features[group.right] / right_odds.sum()
                               - odds @ group.features / odds.sum())
    return total, gradient


def fit_choice(groups: Sequence[GroupExample], l2: float = 1.0) -> np.ndarray:
    """Weights under which each group's right ways score highest (conditional logistic regression).

    Groups with a single way, or none right, teach nothing and are left out. Features are scaled to
    unit spread for the fit (so ``l2`` weighs each alike) and the weights scaled back.
    """
    from scipy.optimize import minimize

    useful = [group for group in groups if len(group.right) > 1 and group.right.any()]
    if not useful:
        raise ValueError("no group has both a way that reads right and another way to tell apart")
    spread = np.concatenate([group.features for group in useful]).std(axis=0)
    spread[spread == 0] = 1.0
    scaled = [GroupExample(group.features / spread, group.right, group.digits) for group in useful]
    result = minimize(_negative_log_likelihood, np.zeros(len(FEATURES)), args=(scaled, l2), jac=True,
                      method="L-BFGS-B")
    return result.x / spread


def fit_gate(groups: Sequence[GroupExample], recall: float = GATE_RECALL, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """(weights, threshold) of a logistic regression telling groups of several digits from single
    digits by their gate features; the threshold lets ``recall`` of those of several digits through."""
    from sklearn.linear_model import LogisticRegression

    gated = [group for group in groups if group.gate_features is not None]
    features = np.stack([group.gate_features for group in gated])
    several = np.array([group.digits > 1 for group in gated])
    if several.all() or not several.any():
        raise ValueError("the gate needs groups of one digit and of several among the groups with cuts")
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    # The features hold a constant ("piece" is 1 for a whole), so no separate intercept.
    regression = LogisticRegression(C=1.0 / l2, fit_intercept=False, max_iter=5000).fit(features / spread, several)
    weights = regression.coef_[0] / spread
    # The lower order statistic: at most (1 - recall) of the groups of several digits fall below.
    threshold = float(np.quantile(features[several] @ weights, 1.0 - recall, method="lower"))
    return weights, threshold


def fit(groups: Sequence[GroupExample], l2: float = 1.0) -> WayScorer:
    """The gate and the choice of ways, fitted on the same groups."""
    gate_weights, gate_threshold = fit_gate(groups, l2=l2)
    return WayScorer(fit_choice(groups, l2), gate_weights, gate_threshold,
                     {"l2": l2, "gate_recall_fitted": GATE_RECALL, "groups_fitted": len(groups)})


def _chosen_right(scorer: WayScorer, group: GroupExample) -> tuple[bool, bool]:
    """(whether the scorer tries the group cut, whether the way it chooses reads right)."""
    cut = group.gate_features is not None and scorer.worth_cutting(group.gate_features)
    features = group.features if cut else group.features[:1]
    return cut, bool(group.right[int(np.argmax(scorer.score(features)))])


def evaluate(scorer: WayScorer, groups: Sequence[GroupExample]) -> dict[str, float]:
    """For groups of one digit and of two touching digits: what share the gate lets through to be
    cut, and how often the way chosen reads right. (A group of three or more is cut once here;
    ``number.read_number`` cuts its pieces again, so whole numbers are for the benchmark to count.)"""
    figures: dict[str, float] = {}
    for digits, kind in ((1, "one digit"), (2, "two digits")):
        chosen = [_chosen_right(scorer, group) for group in groups if group.digits == digits]
        if chosen:
            figures[f"groups of {kind} tried cut"] = round(float(np.mean([tried for tried, _ in chosen])), 4)
            figures[f"groups of {kind} read right"] = round(float(np.mean([ok for _, ok in chosen])), 4)
    return figures


def learn(predictor: "Predictor", fit_numbers: Sequence["WrittenNumber"],
          validation_numbers: Sequence["WrittenNumber"], l2: float = 1.0) -> WayScorer:
    """Fit on ``fit_numbers``; the scorer carries its validation figures beside the hand-tuned rule's."""
    from digit_core.inference.number_split import HAND_TUNED

    fit_groups = [group for number in fit_numbers for group in number_examples(predictor, number)]
    validation = [group for number in validation_numbers for group in number_examples(predictor, number)]
    scorer = fit(fit_groups, l2)
    about = {**scorer.about, "validation": evaluate(scorer, validation),
             "validation with the hand-tuned rule": evaluate(HAND_TUNED, validation)}
    return WayScorer(scorer.weights, scorer.gate_weights, scorer.gate_threshold, about)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=2000, help="numbers fitted on")
    parser.add_argument("--validation-numbers", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1000, help="the fit numbers' seed; validation's is seed + 1")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the (unit-spread) weights")
    parser.add_argument("--model", default=None, help="a .keras path or registry id (default: active model)")
    parser.add_argument("--out", type=Path, default=None, help=f"where to save (default: {scorer_path()})")
    parser.add_argument("--dry-run", action="store_true", help="20 + 10 numbers, nothing saved")
    args = parser.parse_args(argv)

    from digit_core import workflows
    from digit_core.images.number_canvas import make_numbers

    fit_count, validation_count = (20, 10) if args.dry_run else (args.numbers, args.validation_numbers)
    predictor = workflows.load_predictor(args.model)
    scorer = learn(predictor, make_numbers("training", fit_count, args.seed),
                   make_numbers("training", validation_count, args.seed + 1), args.l2)
    recipe = {"writers": "training (pendigits 1-24, MNIST train)", "numbers": fit_count,
              "validation_numbers": validation_count, "seed": args.seed, "model": args.model or "active",
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    scorer = WayScorer(scorer.weights, scorer.gate_weights, scorer.gate_threshold,
                       {**scorer.about, "fitted_on": recipe})
    print(f"{'feature':<26} {'way':>8} {'gate':>8}")
    for name, weight, gate_weight in zip(FEATURES, scorer.weights, scorer.gate_weights):
        print(f"{name:<26} {weight:+8.3f} {gate_weight:+8.3f}")
    print(f"gate threshold {scorer.gate_threshold:+.3f}")
    for key in ("validation with the hand-tuned rule", "validation"):
        print(key + ": " + ", ".join(f"{name} {value:.2%}" for name, value in scorer.about[key].items()))
    if not args.dry_run:
        print(f"saved {save_way_scorer(scorer, args.out or scorer_path())}")


if __name__ == "__main__":
    main()
