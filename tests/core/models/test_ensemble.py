"""Averaging ensembles: built from saved models, measured, saved as one model and loaded back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_core import cli
from digit_core.store import registry
from digit_core.models import zoo
from digit_core.workflows.train import ensemble_and_record
from digit_core.inference.predict import Predictor


@pytest.fixture
def members(isolated_dirs) -> list[Path]:
    """The trained tiny model and an untrained CNN, each with its metadata sidecar."""
    trained = isolated_dirs["models"] / "default.keras"
    untrained = zoo.build_network(zoo.get_entry("fast").network, name="digit_model")
    second = registry.save(untrained, "untrained", {
        "name": "untrained", "network": zoo.network_to_dict(zoo.get_entry("fast").network),
        "training": {"normalization": "scale"}, "train_seconds": 1.5}, models_dir=isolated_dirs["models"])
    return [trained, second]


def test_ensemble_is_saved_measured_and_averages_its_members(members, mnist, tmp_path) -> None:
    out = tmp_path / "ensemble.keras"
    summary = ensemble_and_record([str(path) for path in members], out=out, name="pair")

    loaded = Predictor.from_file(out)
    assert loaded.onnx_file == out.with_suffix(".onnx")  # saved with its export, which is what runs
    images = mnist.x_test[:40]
    expected = np.mean([Predictor.from_file(path).probabilities(images) for path in members], axis=0)
    np.testing.assert_allclose(loaded.probabilities(images), expected, atol=2e-5)

    metadata = registry.metadata_beside(out)
    assert metadata["name"] == "pair"
    assert [member["file"] for member in metadata["members"]] == ["default.keras", "untrained.keras"]
    assert metadata["train_seconds"] == pytest.approx(1.5)  # the tiny fixture records no time
    assert metadata["architecture"].startswith("ensemble of 2 × ")
    # The recorded accuracy is the ensemble's own on the full MNIST test set.
    all_probabilities = loaded.probabilities(mnist.x_test)
    accuracy = float((all_probabilities.argmax(axis=1) == mnist.y_test).mean())
    assert metadata["test_accuracy"] == pytest.approx(accuracy) == pytest.approx(summary["test_accuracy"])
    assert summary["params"] == sum(Predictor.from_file(path).model.count_params() for path in members)


@pytest.mark.parametrize("arguments, message", [
    (["{first}"], "at least two models"),
    (["{first}", "{second}", "--out", "{first}"], "is one of the members"),
    (["{first}", "{missing}"], "Model file not found"),
    (["{first}", "{second}", "--out", "{out_txt}"], "must end in .keras"),
])
def test_bad_ensemble_requests_are_one_clear_line(arguments, message, members, tmp_path, capsys) -> None:
    values = {"first": members[0], "second": members[1], "missing": tmp_path / "nope.keras",
              "out_txt": tmp_path / "ensemble.txt"}
    argv = ["ensemble", *[argument.format(**values) for argument in arguments]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "ensemble.keras")]
    assert cli.main(argv) == cli.EXIT_FAILED
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "ensemble.keras").exists()


def test_members_with_different_normalisations_are_refused(members, isolated_dirs, tmp_path) -> None:
    l2_model = registry.save(Predictor.from_file(members[1]).model, "l2", {
        "name": "l2", "training": {"normalization": "l2"}}, models_dir=isolated_dirs["models"])
    with pytest.raises(ValueError, match="different input normalisations"):
        ensemble_and_record([str(members[0]), str(l2_model)], out=tmp_path / "mixed.keras", name="mixed")
    assert not (tmp_path / "mixed.keras").exists()


def test_members_sharing_a_recipe_record_it(members, isolated_dirs) -> None:
    from digit_core.models.ensemble import build_ensemble

    recipe = {"normalization": "scale", "epochs": 15, "optimizer": "adam", "augment": True}
    paths = []
    for seed, name in enumerate(("first", "second")):
        model = Predictor.from_file(members[1]).model
        paths.append(registry.save(model, name, {"name": name, "training": {**recipe, "seed": seed},
                                                 "train_seconds": 10.0}, models_dir=isolated_dirs["models"]))
    _, metadata = build_ensemble(paths, "pair")
    # The shared recipe without a seed; each member keeps its own.
    assert metadata["training"] == recipe and metadata["train_seconds"] == 20.0
    assert [member["training"]["seed"] for member in metadata["members"]] == [0, 1]
    _, mixed = build_ensemble([members[0], paths[0]], "mixed")  # the tiny model has another recipe
    assert mixed["training"] == {"normalization": "scale"}
