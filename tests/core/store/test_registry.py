"""The registry: listing with metadata, loading by id, broken files, runs, the active model."""

from __future__ import annotations

import json

import pytest

from digit_core.store import registry
from digit_core.store import model_files


def test_lists_saved_models_with_metadata(isolated_dirs) -> None:
    entries = registry.list_models()
    assert [entry.model_id for entry in entries] == ["default"]
    default = entries[0]
    assert default.name == "tiny" and default.params == 11_042 and default.broken == ""
    assert default.created  # set by registry.save


def test_load_by_id_and_metadata(isolated_dirs) -> None:
    model = registry.load("default")
    assert model.output_shape == (None, 10)
    assert registry.read_metadata("default")["architecture"] == "CNN 4 / dense 16"


@pytest.mark.parametrize("model_id", ["../etc/passwd", "/tmp/x", "a b", ""])
def test_ids_never_act_as_paths(isolated_dirs, model_id: str) -> None:
    with pytest.raises(ValueError, match="Invalid model id"):
        registry.resolve(model_id)


def test_missing_model_is_a_clear_error(isolated_dirs) -> None:
    with pytest.raises(registry.ModelLoadError, match="No model with id 'nope'"):
        registry.load("nope")


def test_corrupt_model_is_listed_as_broken_and_others_still_load(isolated_dirs) -> None:
    models = isolated_dirs["models"]
    data = (models / "default.keras").read_bytes()
    (models / "truncated.keras").write_bytes(data[: len(data) // 3])
    (models / "garbage.keras").write_bytes(b"not a zip at all" * 20)
    by_id = {entry.model_id: entry for entry in registry.list_models()}
    assert by_id["truncated"].broken and by_id["garbage"].broken and not by_id["default"].broken
    for broken in ("truncated", "garbage"):
        with pytest.raises(registry.ModelLoadError, match="corrupt or not a Keras model"):
            registry.load(broken)
    assert registry.load("default").output_shape == (None, 10)


def test_save_is_atomic_and_keeps_the_old_model_on_failure(isolated_dirs, monkeypatch) -> None:
    models = isolated_dirs["models"]
    before = (models / "default.keras").read_bytes()
    model = registry.load("default")

    def failing_save(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(model), "save", failing_save)
    with pytest.raises(OSError, match="No space left on device"):
        registry.save(model, "default", {"name": "new"}, models_dir=models)
    assert (models / "default.keras").read_bytes() == before
    assert [p.name for p in models.iterdir() if p.name.endswith(".tmp") or ".default.keras" in p.name] == []


def test_runs_are_listed_and_promotable(isolated_dirs, mnist) -> None:
    from digit_core.models import zoo
    from digit_core.training.train import train

    entry = zoo.get_entry("tiny")
    run_dir = isolated_dirs["runs"] / "run-1"
    train(entry.network, entry.training, mnist.x_train[:500], mnist.y_train[:500], mnist.x_test[:100],
          mnist.y_test[:100], run_dir=run_dir, name="my tiny")
    ids = [e.model_id for e in registry.list_models()]
    assert ids == ["default", "run:run-1"]
    run_entry = registry.list_models()[1]
    assert run_entry.name == "my tiny" and run_entry.architecture == "CNN 4 / dense 16"
    registry.promote_run("run-1", "mine")
    mine = isolated_dirs["models"] / "mine.keras"
    assert model_files.onnx_beside(mine) == mine.with_suffix(".onnx")  # promoted with its export
    registry.set_active_model("mine")
    assert registry.active_model_id() == "mine"
    assert registry.load("mine").output_shape == (None, 10)
    assert registry.read_metadata("mine")["from_run"] == "run-1"


def test_a_fine_tuned_ensemble_s_run_is_listed_with_the_architecture_it_recorded(isolated_dirs) -> None:
    # A fine-tuning run of an ensemble has no one network to describe; it records the architecture.
    run_dir = isolated_dirs["runs"] / "run-2"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"name": "tuned", "network": {},
                                                     "architecture": "ensemble of 5 × CNN 32-64-64 / dense 128"}))
    (run_dir / "best.keras").write_bytes(b"")  # listed by its checkpoint's presence, not opened
    entry = {e.model_id: e for e in registry.list_models()}["run:run-2"]
    assert entry.name == "tuned" and entry.architecture == "ensemble of 5 × CNN 32-64-64 / dense 128"


def test_active_model_falls_back_to_default(isolated_dirs) -> None:
    (isolated_dirs["models"] / registry.ACTIVE_FILE).write_text("{broken json")
    assert registry.active_model_id() == "default"
    with pytest.raises(registry.ModelLoadError):
        registry.set_active_model("does-not-exist")


def test_describe_network() -> None:
    assert registry.describe_network({"kind": "mlp", "hidden_units": []}) == "Perceptron"
    assert registry.describe_network({"kind": "mlp", "hidden_units": [300, 100]}) == "MLP 300-100"
    assert registry.describe_network({"kind": "cnn", "blocks": [[32], [64]], "dense_units": [128, 64]}) \
        == "CNN 32-64 / dense 128-64"


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_sidecar_names_the_model_file_and_its_onnx_export_with_their_digests(isolated_dirs, mnist) -> None:
    import numpy as np

    from digit_core.models.export import onnx_reader

    models = isolated_dirs["models"]
    model = registry.load("default")
    registry.save(model, "copy", {"name": "copy"}, models_dir=models)
    keras_file, onnx_file = models / "copy.keras", models / "copy.onnx"
    metadata = registry.read_metadata("copy")
    assert metadata["model_file"] == "copy.keras" and metadata["model_sha256"] == _sha256(keras_file)
    assert metadata["onnx_file"] == "copy.onnx" and metadata["onnx_sha256"] == _sha256(onnx_file)
    assert model_files.onnx_beside(keras_file) == onnx_file
    x = mnist.x_test[:100, ..., np.newaxis].astype(np.float32) / 255
    np.testing.assert_allclose(onnx_reader(onnx_file.read_bytes())(x), np.asarray(model(x)), atol=1e-5)
    assert sorted(path.name for path in models.iterdir()) == [
        "copy.json", "copy.keras", "copy.onnx", "default.json", "default.keras", "default.onnx"]


def test_a_save_cut_off_before_its_model_file_lands_is_refused_not_misread(isolated_dirs) -> None:
    from digit_core.store import atomic

    models = isolated_dirs["models"]
    old_model = (models / "default.keras").read_bytes()
    real_replace = atomic.os.replace

    def crash_before_the_model_lands(source, target) -> None:
        if str(target).endswith(".keras"):
            raise KeyboardInterrupt  # the process dies after the sidecar went into place
        real_replace(source, target)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(atomic.os, "replace", crash_before_the_model_lands)
        registry.save(registry.load("default"), "default", {"name": "retrained"}, models_dir=models)

    assert (models / "default.keras").read_bytes() == old_model
    with pytest.raises(model_files.NoOnnxExport, match="describes another version"):
        model_files.onnx_beside(models / "default.keras")  # the new export is not served either
    with pytest.raises(ValueError, match=r"default\.json describes another version of default\.keras"):
        registry.read_metadata("default")
    (entry,) = registry.list_models()
    assert "describes another version" in entry.broken
    # The CLI's way in refuses it too, rather than guess the model's normalisation.
    from digit_core.inference.predict import Predictor

    with pytest.raises(registry.ModelLoadError, match="metadata is unreadable.*describes another version"):
        Predictor.from_file(models / "default.keras")


def test_a_sidecar_without_a_digest_is_still_read(isolated_dirs) -> None:
    import json

    sidecar = isolated_dirs["models"] / "default.json"
    metadata = json.loads(sidecar.read_text())
    del metadata[model_files.DIGEST_KEY]
    sidecar.write_text(json.dumps(metadata))
    assert registry.read_metadata("default")["name"] == "tiny"


def test_the_shipped_model_and_its_sidecar_belong_together(shipped_model_path) -> None:
    import hashlib

    metadata = registry.metadata_beside(shipped_model_path)
    assert metadata[model_files.DIGEST_KEY] == hashlib.sha256(shipped_model_path.read_bytes()).hexdigest()
    onnx_file = shipped_model_path.with_suffix(".onnx")
    assert metadata[model_files.ONNX_DIGEST_KEY] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert model_files.onnx_beside(shipped_model_path) == onnx_file


def test_a_save_cut_off_after_the_export_serves_the_old_model(isolated_dirs, monkeypatch, mnist) -> None:
    """The new .onnx is in place, the sidecar and .keras are not: the old model is served, whole."""
    import numpy as np

    from digit_core.models import zoo
    from digit_core.inference.predict import Predictor

    models = isolated_dirs["models"]
    old = Predictor.from_file(models / "default.keras").probabilities(mnist.x_test[:50])
    old_model = (models / "default.keras").read_bytes()

    def power_cut(path, payload):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(model_files, "atomic_write_json", power_cut)
    other = zoo.build_network(zoo.get_entry("tiny").network)
    with pytest.raises(OSError):
        registry.save(other, "default", {"name": "new"}, models_dir=models)
    monkeypatch.undo()
    assert (models / "default.keras").read_bytes() == old_model
    with pytest.raises(model_files.NoOnnxExport, match="not the export saved with default.keras"):
        model_files.onnx_beside(models / "default.keras")
    predictor = Predictor.from_file(models / "default.keras")
    assert predictor.onnx_file is None
    np.testing.assert_allclose(predictor.probabilities(mnist.x_test[:50]), old, atol=1e-5)

