"""Tables and plotly figures of the comparison study (pure functions of its results, no Streamlit).

Every function takes the list of result entries ``digit_core.study.results.load_comparison`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.express as px
import plotly.graph_objects as go

from digit_core.study.results import notebook_difference
from digit_core.study.specs import NOTEBOOK_EXPERIMENT

Results = Sequence[dict[str, Any]]
FAMILY_COLORS = {"perceptron": "#9d755d", "mlp": "#4c78a8", "cnn": "#e45756", "classical": "#54a24b"}
_LAYOUT = dict(margin=dict(l=40, r=20, t=50, b=40), template="plotly_white")
# Leaderboard column -> header shown.
LEADERBOARD_COLUMNS = {
    "name": "model", "family": "family", "experiment": "experiment", "test_accuracy": "test accuracy %",
    "usps_scan_accuracy": "USPS scans %", "sklearn_digits_accuracy": "sklearn digits %",
    "test_loss": "test loss", "params": "parameters", "train_seconds": "train s",
    "predict_ms_per_image": "predict ms/image", "epochs": "epochs", "batch_size": "batch",
    "optimizer": "optimizer", "train_size": "train images", "same_run_as": "same run as",
}
AXIS_TITLES = {"params": "parameters (log scale)", "train_seconds": "training time, seconds (log scale)"}


# Notebook table column -> header shown; "difference" is measured here minus the notebook's figure.
NOTEBOOK_COLUMNS = {
    "name": "model", "notebook_test_accuracy": "notebook reported %", "test_accuracy": "measured here %",
    "difference": "difference, points", "usps_scan_accuracy": "USPS scans %",
    "sklearn_digits_accuracy": "sklearn digits %", "epochs": "epochs", "batch_size": "batch",
    "optimizer": "optimizer",
}
PERCENT_KEYS = ("test_accuracy", "notebook_test_accuracy", "usps_scan_accuracy", "sklearn_digits_accuracy")


def leaderboard_rows(results: Results) -> list[dict[str, Any]]:
    """One row per entry, most accurate first, accuracies in percent."""
    return [_row(entry, LEADERBOARD_COLUMNS)
            for entry in sorted(results, key=lambda entry: -(entry.get("test_accuracy") or 0.0))]


def notebook_rows(results: Results) -> list[dict[str, Any]]:
    """The notebook models in the study's order: what each notebook reported beside what was measured here
    (percent; blank where a notebook gave no figure), and the handwriting proxies."""
    return [_row({**entry, "difference": notebook_difference(entry)}, NOTEBOOK_COLUMNS)
            for entry in results if entry["experiment"] == NOTEBOOK_EXPERIMENT]


def _row(entry: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    row = {header: entry.get(key) for key, header in columns.items()}
    for key in PERCENT_KEYS:
        if key in columns and entry.get(key) is not None:
            row[columns[key]] = round(100 * entry[key], 2)
    return row


def accuracy_scatter(results: Results, x: str = "params") -> go.Figure:
    """Test accuracy against ``x`` ("params" or "train_seconds") on a log axis, coloured by family.

    An entry that reuses another's run (``same_run_as``) would sit on top of it, so it is left out.
    """
    if x not in AXIS_TITLES:
        raise ValueError(f"x must be one of {', '.join(AXIS_TITLES)}, got {x!r}.")
    points = [entry for entry in results if not entry.get("same_run_as")
              and entry.get(x) and entry.get("test_accuracy") is not None]
    figure = px.scatter(
        x=[entry[x] for entry in points], y=[100 * entry["test_accuracy"] for entry in points],
        color=[entry["family"] for entry in points], hover_name=[entry["name"] for entry in points],
        color_discrete_map=FAMILY_COLORS, log_x=True,
        labels={"x": AXIS_TITLES[x], "y": "test accuracy %", "color": "family"})
    figure.update_traces(marker=dict(size=11, line=dict(width=1, color="white")))
    figure.update_layout(title=f"Accuracy against {AXIS_TITLES[x].split(' (')[0]}", **_LAYOUT)
    return figure


def experiment_chart(results: Results, experiment: str) -> go.Figure:
    """Bars of test accuracy per setting of one experiment, in the study's order, coloured by family."""
    entries = [entry for entry in results if entry["experiment"] == experiment
               and entry.get("test_accuracy") is not None]
    if not entries:
        raise ValueError(f"No results for experiment {experiment!r}.")
    accuracies = [100 * entry["test_accuracy"] for entry in entries]
    figure = go.Figure(go.Bar(
        x=[str(entry.get("setting") or entry["name"]) for entry in entries], y=accuracies,
        text=[f"{value:.2f}%" for value in accuracies], textposition="outside",
        marker_color=[FAMILY_COLORS.get(entry["family"], "#888888") for entry in entries],
        customdata=[[entry.get("params"), entry.get("train_seconds")] for entry in entries],
        hovertemplate="%{x}: %{y:.2f}%<br>%{customdata[0]:,} parameters<br>%{customdata[1]:.1f} s training"
                      "<extra></extra>"))
    # Zoom the axis onto the bars: differences of a point matter here and would vanish on 0–100.
    low = max(0.0, min(accuracies) - 0.25 * (max(accuracies) - min(accuracies) + 2))
    figure.update_layout(title=f"Effect of {experiment}", yaxis_title="test accuracy %",
                         yaxis_range=[low, min(100.0, max(accuracies) + 1.5)], **_LAYOUT)
    return figure


def curve_choices(results: Results) -> list[str]:
    """Names of the entries that have a per-epoch history (networks trained by the study)."""
    return [entry["name"] for entry in results if entry.get("history") and not entry.get("same_run_as")]


def training_curves(results: Results, names: Sequence[str], metric: str = "val_accuracy") -> go.Figure:
    """Overlaid per-epoch ``metric`` of the chosen entries (epochs counted from 1)."""
    by_name = {entry["name"]: entry for entry in results}
    figure = go.Figure()
    for name in names:
        values = ((by_name.get(name) or {}).get("history") or {}).get(metric)
        if values:
            figure.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                                        name=name))
    figure.update_layout(title=f"{metric} per epoch", xaxis_title="epoch", yaxis_title=metric,
                         legend=dict(orientation="h", y=-0.2), **_LAYOUT)
    return figure
