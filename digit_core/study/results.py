"""The study's results as the Compare page reads them: the checked results file, each notebook model's
difference from its notebook's figure, and the conclusions drawn from them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digit_core import config
from digit_core.store.atomic import read_json
from digit_core.study.specs import NOTEBOOK_EXPERIMENT

# The entry keys of the accuracies on other people's handwriting, in the order they are measured.
PROXY_KEYS = ("usps_scan_accuracy", "sklearn_digits_accuracy")


def conclusions(results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """One sentence per experiment, from the numbers: which setting won, against the worst, by how much.

    The notebook models' sentence goes on to say how each differs from its notebook's own figure.
    """
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for entry in results:
        if entry.get("test_accuracy") is not None:
            by_experiment.setdefault(entry["experiment"], []).append(entry)
    summary = {experiment: _conclusion(entries) for experiment, entries in by_experiment.items()}
    against = notebook_differences(results)
    if against:
        summary[NOTEBOOK_EXPERIMENT] = " ".join(filter(None, [summary.get(NOTEBOOK_EXPERIMENT), against]))
    return summary


# A model "reaches" its notebook's figure when it scores at most this much below it (0.3 points).
NOTEBOOK_TOLERANCE = 0.003


def notebook_difference(entry: dict[str, Any]) -> float | None:
    """Points measured here minus its notebook's figure, from both rounded to two decimals (so the
    difference adds up as printed); None without both figures."""
    reported, measured = entry.get("notebook_test_accuracy"), entry.get("test_accuracy")
    if reported is None or measured is None:
        return None
    return round(round(100 * measured, 2) - round(100 * reported, 2), 2)


def notebook_differences(results: Sequence[dict[str, Any]]) -> str:
    """How each model with a notebook figure differs from it, e.g. ``slp 92.31% here vs 92.16% in its
    notebook (+0.15 points)``; "" when no entry has both figures."""
    parts = []
    for entry in results:
        difference = notebook_difference(entry)
        if difference is None:
            continue
        measured, reported = entry["test_accuracy"], entry["notebook_test_accuracy"]
        short = ", more than 0.3 below" if measured < reported - NOTEBOOK_TOLERANCE else ""
        parts.append(f"{entry['name']} {100 * measured:.2f}% here vs {100 * reported:.2f}% in its notebook "
                     f"({difference:+.2f} points{short})")
    return f"Against the notebooks' own figures: {'; '.join(parts)}." if parts else ""


def _conclusion(entries: list[dict[str, Any]]) -> str:
    ranked = sorted(entries, key=lambda entry: -entry["test_accuracy"])
    winner, worst = ranked[0], ranked[-1]
    best_percent, worst_percent = (round(100 * entry["test_accuracy"], 1) for entry in (winner, worst))
    if len(ranked) == 1:
        return f"Only {_label(winner)} was run: {best_percent:.1f}%."
    # The margin is taken from the rounded figures, so the sentence adds up as printed.
    margin = round(best_percent - worst_percent, 1)
    if margin == 0:
        return f"No difference at this precision: all {len(ranked)} settings reached {best_percent:.1f}%."
    against = f"for the worst ({_label(worst)})" if len(ranked) > 2 else f"for {_label(worst)}"
    return f"{_label(winner)} won: {best_percent:.1f}% vs {worst_percent:.1f}% {against}, +{margin:.1f} points."


def _label(entry: dict[str, Any]) -> str:
    return str(entry.get("setting") or entry["name"])


class ComparisonFileError(ValueError):
    """The comparison results file exists but is not a list of result entries."""


TEXT_KEYS = ("name", "experiment", "family")  # what the page needs of every entry, with test_accuracy


# Accuracies an entry may carry (older files lack them): each a number in [0, 1] or null.
OPTIONAL_ACCURACY_KEYS = ("notebook_test_accuracy", *PROXY_KEYS)


def load_comparison(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a comparison file (default ``results/comparison.json``).

    Raises ``FileNotFoundError`` when it is missing and ``ComparisonFileError`` when it is corrupt.
    """
    path = Path(path) if path is not None else config.results_dir() / "comparison.json"
    if not path.is_file():
        raise FileNotFoundError(f"No comparison results at {path}. Run `python -m digit_core compare` to "
                                "create them (`--quick` for a small version).")
    try:
        payload = read_json(path)
    except (ValueError, OSError) as error:
        raise ComparisonFileError(f"Cannot read {path}: {error}") from error
    if not isinstance(payload, list) or not all(isinstance(entry, dict) for entry in payload):
        raise ComparisonFileError(f"{path} is not a list of result entries.")
    for index, entry in enumerate(payload):
        missing = [key for key in (*TEXT_KEYS, "test_accuracy") if key not in entry]
        if missing:
            raise ComparisonFileError(f"{path}: entry {index} lacks {', '.join(missing)}.")
        accuracies_ok = all(_is_accuracy(entry.get(key)) for key in ("test_accuracy", *OPTIONAL_ACCURACY_KEYS))
        if not accuracies_ok or not all(isinstance(entry[key], str) for key in TEXT_KEYS):
            raise ComparisonFileError(f"{path}: entry {index} needs text name, experiment and family, and "
                                      f"test_accuracy and any of {', '.join(OPTIONAL_ACCURACY_KEYS)} between 0 "
                                      "and 1 (or null).")
    return payload


def _is_accuracy(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1)
