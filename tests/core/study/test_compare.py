"""The comparison study: its spec list covers the issue, a small real run writes the promised JSON, and
the conclusions and the loader behave."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from digit_core import cli
from digit_core.study import compare, specs as study
from digit_core.models import zoo
from digit_core.study.results import ComparisonFileError, conclusions, load_comparison, notebook_differences
from digit_core.study.specs import FULL, QUICK, StudyScale

# Small enough that the real run below takes well under a minute on two busy cores.
TEST_SCALE = StudyScale("test", train_size=800, validation_size=200, test_size=300, base_epochs=1,
                        epoch_settings=(1, 2), mlp_epoch_cap=1, cnn_epoch_cap=1,
                        classical_sizes={name: 300 for name in study.CLASSICAL_MODELS}, best_epoch_cap=1,
                        best_train_size=300, timing_images=50, proxy_size=100)
ENTRY_KEYS = {"name", "family", "experiment", "setting", "optimizer", "test_accuracy", "test_loss", "params",
              "train_seconds", "predict_ms_per_image", "epochs", "batch_size", "train_size", "subset_reason",
              "history", "test_size", "network", "training", "classical", "source", "note", "same_run_as",
              "mode", "seed", "description", "notebook_test_accuracy", "usps_scan_accuracy",
              "sklearn_digits_accuracy"}
NOTEBOOK_FIGURES = {"slp": 0.9216, "mlp_128_128": 0.9716, "mlp_128_dropout": 0.9719, "mlp_512_dropout": 0.9826,
                    "cnn_32_64_64": 0.9890}
HISTORY_KEYS = {"loss", "accuracy", "val_loss", "val_accuracy"}


def _by_experiment(specs: list[study.ModelSpec]) -> dict[str, list[study.ModelSpec]]:
    grouped: dict[str, list[study.ModelSpec]] = {}
    for spec in specs:
        grouped.setdefault(spec.experiment, []).append(spec)
    return grouped


@pytest.mark.parametrize("scale", [FULL, QUICK], ids=["full", "quick"])
def test_the_spec_list_covers_every_item_of_the_issue(scale: StudyScale) -> None:
    specs = study.experiment_specs(scale)
    grouped = _by_experiment(specs)
    assert len({spec.name for spec in specs}) == len(specs), "entry names must be unique"
    assert [spec.name for spec in grouped["notebook models"]] == [
        "slp", "mlp_128_128", "mlp_300_100", "mlp_64_64", "mlp_128_dropout", "mlp_512_dropout", "cnn_32_64",
        "cnn_32_64_64", "best"]
    assert {spec.training.optimizer for spec in grouped["optimizer"]} == {
        "sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"}
    assert {spec.network.hidden_units for spec in grouped["hidden width"]} == {(64, 64), (128, 128), (512, 512)}
    assert {len(spec.network.hidden_units) for spec in grouped["depth"]} == {1, 2, 3}
    assert {spec.training.batch_size for spec in grouped["batch size"]} == {32, 128, 512}
    assert {spec.network.dropout_rate for spec in grouped["dropout"]} == {0.0, 0.3}
    assert len({spec.training.epochs for spec in grouped["epochs"]}) == 3
    assert [spec.classical for spec in grouped["classical baselines"]] == [
        "logistic_regression", "svm_rbf", "random_forest", "knn"]
    families = {spec.family for spec in specs}
    assert families == {"perceptron", "mlp", "cnn", "classical"}


def test_each_experiment_changes_one_thing_from_the_base() -> None:
    base_network = study.BASE_NETWORK
    base_training = dataclasses.replace(study.BASE_TRAINING, epochs=FULL.base_epochs)
    for experiment, specs in _by_experiment(study.experiment_specs(FULL)).items():
        if experiment in ("notebook models", "classical baselines"):
            continue
        changed = set()
        for spec in specs:
            changed |= {f"network.{field.name}" for field in dataclasses.fields(base_network)
                        if getattr(spec.network, field.name) != getattr(base_network, field.name)}
            changed |= {f"training.{field.name}" for field in dataclasses.fields(base_training)
                        if getattr(spec.training, field.name) != getattr(base_training, field.name)}
        assert len(changed) == 1, f"{experiment} changes {changed}"


def test_full_study_trains_the_notebook_recipes_and_uses_a_shipped_best(tmp_path: Path) -> None:
    shipped = tmp_path / "default.keras"
    shipped.with_suffix(".json").write_text('{"architecture": "ensemble of 3 × CNN 32-64-64 / dense 128"}')
    specs = {spec.name: spec for spec in study.experiment_specs(FULL, shipped_best=shipped)}
    assert specs["best"].saved_model == str(shipped) and "not retrained" in specs["best"].note
    assert specs["best"].note.startswith("The shipped default.keras (ensemble of 3 × CNN 32-64-64 / dense 128), ")
    trained_best = {spec.name: spec for spec in study.experiment_specs(FULL)}["best"]
    assert trained_best.saved_model is None and trained_best.train_size is None
    assert trained_best.training.epochs == FULL.best_epoch_cap and "capped" in trained_best.note
    for name in study.NOTEBOOK_MODELS[:-1]:
        recipe = zoo.get_entry(name).training
        assert dataclasses.replace(specs[name].training, seed=recipe.seed) == recipe, name
        assert "capped" not in specs[name].note and specs[name].train_size is None
        assert specs[name].notebook_test_accuracy == NOTEBOOK_FIGURES.get(name), name
    assert '"98%"' in specs["cnn_32_64"].note
    assert specs["svm_rbf"].train_size == 10_000 and specs["svm_rbf"].subset_reason
    assert specs["knn"].train_size is None and not specs["knn"].subset_reason
    assert all(spec.training.validation_split == study.VALIDATION_FRACTION
               for spec in specs.values() if spec.training is not None)


@pytest.mark.slow
def test_a_small_real_run_writes_every_key(tmp_path: Path, mnist) -> None:
    out = tmp_path / "results" / "comparison.json"
    seen: list[str] = []
    results = compare.run_comparison(out=out, only=["dropout", "depth", "classical baselines"], scale=TEST_SCALE,
                                     on_result=lambda entry: seen.append(entry["name"]))
    assert json.loads(out.read_text()) == results == load_comparison(out)
    assert not (tmp_path / "results" / "comparison.partial.json").exists()
    assert seen == [entry["name"] for entry in results] and len(results) == 2 + 3 + 4
    for entry in results:
        assert ENTRY_KEYS <= set(entry), ENTRY_KEYS - set(entry)
        # One epoch on 800 images is a weak network but far above chance (0.1); baselines do better.
        floor = 0.6 if entry["family"] == "classical" else 0.2
        assert floor < entry["test_accuracy"] <= 1 and entry["test_loss"] > 0 and entry["test_size"] == 300
        # Other writers' scans are harder than MNIST, but every model reads some of them.
        assert 0.1 < entry["usps_scan_accuracy"] <= 1 and 0.1 < entry["sklearn_digits_accuracy"] <= 1
        assert entry["notebook_test_accuracy"] is None
        assert entry["params"] > 0 and entry["predict_ms_per_image"] > 0 and entry["train_seconds"] > 0
    networks = [entry for entry in results if entry["family"] != "classical"]
    for entry in networks:
        assert HISTORY_KEYS <= set(entry["history"]) and len(entry["history"]["loss"]) == entry["epochs"] == 1
        assert (entry["optimizer"], entry["batch_size"], entry["train_size"]) == ("adam", 128, 800)
    for entry in results[-4:]:
        assert entry["family"] == "classical" and entry["history"] is None and entry["optimizer"] is None
        assert entry["train_size"] == 300 and entry["subset_reason"]
    # The base (no dropout, two layers of 128) appears in both experiments but is trained once.
    shared = {entry["name"]: entry for entry in results}["depth: 2 hidden layers"]
    assert shared["same_run_as"] == "dropout: no dropout"
    assert set(conclusions(results)) == {"dropout", "depth", "classical baselines"}


def test_identical_configurations_are_measured_once_and_partial_results_survive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist) -> None:
    calls: list[str] = []

    def fake_measure(spec, data, scale, seed):
        calls.append(spec.name)
        if spec.experiment == "depth" and len(spec.network.hidden_units) == 3:
            raise RuntimeError("killed")
        return {"test_accuracy": 0.9, "params": 1}

    monkeypatch.setattr(compare, "measure", fake_measure)
    out = tmp_path / "comparison.json"
    with pytest.raises(RuntimeError):
        compare.run_comparison(out=out, only=["dropout", "depth"], scale=TEST_SCALE)
    assert calls == ["dropout: no dropout", "dropout: dropout 0.3", "depth: 1 hidden layer", "depth: 3 hidden layers"]
    partial = json.loads((tmp_path / "comparison.partial.json").read_text())
    assert [entry["name"] for entry in partial] == ["dropout: no dropout", "dropout: dropout 0.3",
                                                   "depth: 1 hidden layer", "depth: 2 hidden layers"]
    assert not out.exists()


def test_resume_keeps_finished_entries_and_measures_only_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist) -> None:
    calls: list[str] = []
    killed = {"yes": True}

    def fake_measure(spec, data, scale, seed):
        calls.append(spec.name)
        if killed["yes"] and spec.name == "depth: 3 hidden layers":
            raise RuntimeError("killed")
        return {"test_accuracy": 0.5 + len(calls) / 100, "params": len(calls)}

    monkeypatch.setattr(compare, "measure", fake_measure)
    out = tmp_path / "comparison.json"
    with pytest.raises(RuntimeError):
        compare.run_comparison(out=out, only=["dropout", "depth"], scale=TEST_SCALE)
    first = {entry["name"]: entry for entry in json.loads((tmp_path / "comparison.partial.json").read_text())}
    killed["yes"], calls[:] = False, []
    results = compare.run_comparison(out=out, only=["dropout", "depth"], scale=TEST_SCALE, resume=True)
    assert calls == ["depth: 3 hidden layers"]
    by_name = {entry["name"]: entry for entry in results}
    for name, entry in first.items():
        assert by_name[name] == entry
    assert by_name["depth: 2 hidden layers"]["same_run_as"] == "dropout: no dropout"
    assert json.loads(out.read_text()) == results and not (tmp_path / "comparison.partial.json").exists()
    # A changed setting (here the seed) is measured again rather than taken from the old run.
    (tmp_path / "comparison.partial.json").write_text(out.read_text())
    calls[:] = []
    compare.run_comparison(out=out, only=["dropout"], scale=TEST_SCALE, resume=True, seed=7)
    assert calls == ["dropout: no dropout", "dropout: dropout 0.3"]


def test_resume_without_a_partial_file_is_a_clear_error(tmp_path: Path, mnist) -> None:
    with pytest.raises(FileNotFoundError, match="Nothing to resume"):
        compare.run_comparison(out=tmp_path / "c.json", only=["dropout"], scale=TEST_SCALE, resume=True)


def test_unknown_experiments_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Unknown experiment.*choose from notebook models"):
        compare.run_comparison(quick=True, out=Path("unused.json"), only=["dropuot"])


def test_the_cli_prints_how_many_results_it_wrote(tmp_path: Path, monkeypatch, capsys) -> None:
    received = {}

    def fake_run(quick, out, data_dir, resume, on_start=None, on_result=None):
        received.update(quick=quick, out=out, resume=resume)
        return [{"name": "a"}, {"name": "b"}]

    monkeypatch.setattr(compare, "run_comparison", fake_run)
    assert cli.main(["compare", "--quick", "--out", str(tmp_path / "c.json")]) == 0
    assert received == {"quick": True, "out": tmp_path / "c.json", "resume": False}
    assert f"Wrote 2 results to {tmp_path / 'c.json'}" in capsys.readouterr().out
    # Without --out, a quick run writes beside the full study's results, never over them.
    monkeypatch.setenv("DIGIT_RESULTS_DIR", str(tmp_path))
    assert cli.main(["compare", "--quick", "--resume"]) == 0
    assert received == {"quick": True, "out": tmp_path / "comparison-quick.json", "resume": True}


def _entry(experiment: str, setting: str, accuracy: float | None) -> dict:
    return {"name": f"{experiment}: {setting}", "experiment": experiment, "setting": setting, "family": "mlp",
            "test_accuracy": accuracy}


def test_conclusions_name_the_winner_the_worst_and_the_margin() -> None:
    results = [_entry("optimizer", "SGD", 0.9512), _entry("optimizer", "Adam", 0.9781),
               _entry("optimizer", "Adadelta", 0.9118), _entry("optimizer", "Nadam", None),
               _entry("dropout", "no dropout", 0.9757), _entry("dropout", "dropout 0.3", 0.9790),
               _entry("epochs", "1 epoch", 0.95), _entry("epochs", "3 epochs", 0.9501),
               _entry("classical baselines", "knn", 0.97)]
    assert conclusions(results) == {
        "optimizer": "Adam won: 97.8% vs 91.2% for the worst (Adadelta), +6.6 points.",
        "dropout": "dropout 0.3 won: 97.9% vs 97.6% for no dropout, +0.3 points.",
        "epochs": "No difference at this precision: all 2 settings reached 95.0%.",
        "classical baselines": "Only knn was run: 97.0%.",
    }


def test_the_notebook_models_conclusion_says_how_far_each_is_from_its_notebook() -> None:
    results = [{**_entry("notebook models", "slp", 0.9231), "name": "slp", "notebook_test_accuracy": 0.9216},
               {**_entry("notebook models", "mlp_128_dropout", 0.9650), "name": "mlp_128_dropout",
                "notebook_test_accuracy": 0.9719},
               {**_entry("notebook models", "cnn_32_64", 0.99), "name": "cnn_32_64", "notebook_test_accuracy": None}]
    assert conclusions(results)["notebook models"] == (
        "cnn_32_64 won: 99.0% vs 92.3% for the worst (slp), +6.7 points. Against the notebooks' own "
        "figures: slp 92.31% here vs 92.16% in its notebook (+0.15 points); mlp_128_dropout 96.50% here vs "
        "97.19% in its notebook (-0.69 points, more than 0.3 below).")
    assert notebook_differences(results[2:]) == ""


def test_a_proxy_image_without_a_digit_counts_as_wrong() -> None:
    import numpy as np

    inputs = np.zeros((4, 28, 28), np.uint8)
    inputs[:3, 10:18, 12:16] = 255  # the pipeline found no digit in the fourth
    labels = np.array([1, 2, 3, 0])
    assert compare.proxy_accuracy(np.array([1, 2, 0, 0]), inputs, labels) == 0.5


def test_conclusions_follow_the_numbers_not_the_order() -> None:
    results = [_entry("batch size", "batch 32", 0.96), _entry("batch size", "batch 512", 0.99)]
    assert conclusions(results)["batch size"].startswith("batch 512 won: 99.0% vs 96.0%")


def test_loading_a_missing_or_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m digit_core compare"):
        load_comparison(tmp_path / "missing.json")
    cases = {"broken.json": "[{not json", "dict.json": '{"name": "x"}', "keys.json": '[{"name": "x"}]',
             "types.json": '[{"name": "x", "experiment": "e", "family": "mlp", "test_accuracy": "high"}]',
             "proxy.json": '[{"name": "x", "experiment": "e", "family": "mlp", "test_accuracy": 0.9, '
                           '"usps_scan_accuracy": 93.1}]',
             "binary.json": b"\xff\xfe\x00".decode("latin-1")}
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="latin-1")
        with pytest.raises(ComparisonFileError):
            load_comparison(tmp_path / name)
    good = [_entry("depth", "1 hidden layer", 0.97)]
    (tmp_path / "good.json").write_text(json.dumps(good))
    assert load_comparison(tmp_path / "good.json") == good


def test_results_default_to_the_results_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_RESULTS_DIR", str(tmp_path))
    (tmp_path / "comparison.json").write_text(json.dumps([_entry("depth", "1 hidden layer", 0.97)]))
    assert load_comparison()[0]["setting"] == "1 hidden layer"
    assert zoo.get_entry("best").family == "cnn"  # the study's best entry exists in the zoo


def test_the_shipped_results_were_trained_with_today_s_recipes_and_reach_the_notebooks_figures() -> None:
    # results/comparison.json is one full run: each notebook model in it was trained with its zoo
    # entry's recipe as it stands, and each with a notebook figure is within 0.3 points of it.
    shipped = {entry["name"]: entry for entry in load_comparison(Path(__file__).parents[3] / "results"
                                                                 / "comparison.json")}
    for name, figure in NOTEBOOK_FIGURES.items():
        entry, training = shipped[name], zoo.get_entry(name).training
        assert (entry["epochs"], entry["batch_size"], entry["optimizer"]) == (
            training.epochs, training.batch_size, training.optimizer), name
        assert entry["mode"] == "full" and entry["notebook_test_accuracy"] == figure
        assert abs(entry["test_accuracy"] - figure) <= 0.003, (name, entry["test_accuracy"])
