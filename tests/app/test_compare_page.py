"""The Compare page on a small handcrafted results file, a missing one and a corrupt one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digit_core.study import figures as compare_figures
from digit_core.config import RESULTS_DIR_ENV


def _entry(name: str, experiment: str, setting: str, family: str, accuracy: float, params: int,
           seconds: float, history: dict | None = None, **extra) -> dict:
    return {"name": name, "experiment": experiment, "setting": setting, "family": family,
            "test_accuracy": accuracy, "test_loss": 0.1, "params": params, "train_seconds": seconds,
            "predict_ms_per_image": 0.02, "epochs": len(history["loss"]) if history else None,
            "batch_size": 128 if history else None, "optimizer": "adam" if history else None,
            "train_size": 54000, "subset_reason": None, "history": history, "same_run_as": None,
            "mode": "full", **extra}


def _history(accuracies: list[float]) -> dict:
    return {"loss": [1 - a for a in accuracies], "accuracy": accuracies,
            "val_loss": [1.1 - a for a in accuracies], "val_accuracy": [a - 0.01 for a in accuracies]}


RESULTS = [
    _entry("slp", "notebook models", "slp", "perceptron", 0.921, 7850, 20.0, _history([0.88, 0.91]),
           notebook_test_accuracy=0.9216, usps_scan_accuracy=0.7512, sklearn_digits_accuracy=0.6603),
    _entry("cnn_32_64", "notebook models", "cnn_32_64", "cnn", 0.989, 232650, 300.0, _history([0.97, 0.985]),
           notebook_test_accuracy=None, usps_scan_accuracy=0.9203, sklearn_digits_accuracy=0.8811),
    _entry("optimizer: Adam", "optimizer", "Adam", "mlp", 0.978, 118282, 30.0, _history([0.95, 0.97])),
    _entry("optimizer: Adadelta", "optimizer", "Adadelta", "mlp", 0.912, 118282, 31.0, _history([0.6, 0.8])),
    _entry("depth: 2 hidden layers", "depth", "2 hidden layers", "mlp", 0.978, 118282, 30.0,
           _history([0.95, 0.97]), same_run_as="optimizer: Adam"),
    _entry("depth: 1 hidden layer", "depth", "1 hidden layer", "mlp", 0.975, 101770, 25.0, _history([0.94, 0.96])),
    _entry("knn", "classical baselines", "knn", "classical", 0.9747, 2739200, 7.9),
    _entry("svm_rbf", "classical baselines", "svm_rbf", "classical", 0.9702, 400000, 22.9,
           subset_reason="RBF kernels are quadratic"),
]


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    return tmp_path


def test_the_page_shows_leaderboard_charts_curves_and_conclusions(open_page, results_dir: Path) -> None:
    (results_dir / "comparison.json").write_text(json.dumps(RESULTS))
    at = open_page("compare").run()
    assert not at.exception
    assert at.title[0].value == "Compare models"
    notebooks, leaderboard = at.dataframe[0].value, at.dataframe[1].value
    assert list(notebooks["model"]) == ["slp", "cnn_32_64"]
    assert list(notebooks.columns[1:4]) == ["notebook reported %", "measured here %", "difference, points"]
    assert list(notebooks.iloc[0, 1:6]) == [92.16, 92.1, -0.06, 75.12, 66.03]
    assert notebooks.isna().iloc[1, 1] and notebooks.isna().iloc[1, 3]  # its notebook gave no figure
    assert len(leaderboard) == len(RESULTS) and leaderboard["model"].iloc[0] == "cnn_32_64"
    assert leaderboard["USPS scans %"].iloc[0] == 92.03
    text = " ".join(markdown.value for markdown in at.markdown)
    assert "Adam won: 97.8% vs 91.2% for Adadelta, +6.6 points." in text
    assert "slp 92.10% here vs 92.16% in its notebook (-0.06 points)" in text
    assert "knn won: 97.5% vs 97.0% for svm_rbf, +0.5 points." in text
    # Two scatters, one chart per experiment (4), and the curves of the first three networks.
    assert len(at.get("plotly_chart")) == 2 + 4 + 1
    assert at.multiselect[0].value == ["slp", "cnn_32_64", "optimizer: Adam"]
    at.multiselect[0].set_value([]).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2 + 4
    assert not at.warning  # full-run results carry no "reduced run" warning


def test_without_results_the_page_says_how_to_make_them(open_page, results_dir: Path) -> None:
    at = open_page("compare").run()
    assert not at.exception and not at.error
    assert "python -m digit_core compare" in at.info[0].value


@pytest.mark.parametrize("content", ["[{not json", '{"a": 1}', '[{"name": "x"}]'])
def test_a_corrupt_file_is_an_error_not_a_traceback(open_page, results_dir: Path, content: str) -> None:
    (results_dir / "comparison.json").write_text(content)
    at = open_page("compare").run()
    assert not at.exception
    assert "Cannot show the comparison" in at.error[0].value


def test_quick_results_are_flagged(open_page, results_dir: Path) -> None:
    quick = [{**entry, "mode": "quick"} for entry in RESULTS]
    (results_dir / "comparison.json").write_text(json.dumps(quick))
    at = open_page("compare").run()
    assert not at.exception and "--quick" in at.warning[0].value


def test_figures_leave_out_reused_runs_and_reject_unknown_axes() -> None:
    scatter = compare_figures.accuracy_scatter(RESULTS, "train_seconds")
    assert sum(len(trace.x) for trace in scatter.data) == len(RESULTS) - 1
    assert scatter.layout.xaxis.type == "log"
    assert {trace.name for trace in scatter.data} == {"perceptron", "cnn", "mlp", "classical"}
    with pytest.raises(ValueError):
        compare_figures.accuracy_scatter(RESULTS, "color")
    chart = compare_figures.experiment_chart(RESULTS, "optimizer")
    assert list(chart.data[0].x) == ["Adam", "Adadelta"] and chart.layout.title.text == "Effect of optimizer"
    curves = compare_figures.training_curves(RESULTS, ["slp", "knn", "nope"], "val_accuracy")
    assert [trace.name for trace in curves.data] == ["slp"]


def test_the_curves_metric_comes_from_the_url(open_page, results_dir: Path) -> None:
    import app_state

    (results_dir / "comparison.json").write_text(json.dumps(RESULTS))
    at = open_page("compare")
    at.query_params.update(metric="loss")
    at.run()
    assert not at.exception and at.radio(key=app_state.COMPARE_METRIC).value == "loss"
    at.radio(key=app_state.COMPARE_METRIC).set_value("accuracy").run()
    assert at.query_params["metric"] == "accuracy"
