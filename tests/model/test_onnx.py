"""The predictor runs a model's ONNX export: it reads like Keras for an MLP, a CNN and an ensemble; the
export saved beside a model is used as it is, and a missing or damaged one is made again in memory."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digit_core.store import registry
from digit_core.store import model_files
from digit_core.models import zoo
from digit_core.inference.predict import Predictor

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _randomise_batch_norm(model, rng: np.random.Generator) -> None:
    """Give every batch norm non-trivial statistics, so an export that dropped or misplaced one shows."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            channels = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.3, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.2, 2.0, channels)])


def _mlp():
    return zoo.build_network(zoo.MLPConfig((32, 16), activation="tanh"), name="mlp")


def _cnn():
    model = zoo.build_network(zoo.get_entry("best").network, name="cnn")
    _randomise_batch_norm(model, np.random.default_rng(1))
    return model


def _ensemble():
    from digit_core.models.ensemble import average_models

    return average_models([_cnn(), _mlp(), zoo.build_network(zoo.get_entry("fast").network)])


def _keras_reading(model, images: np.ndarray, normalization: str = "scale") -> np.ndarray:
    """Keras' probabilities for uint8 images (N, 28, 28), prepared here, not by the code under test."""
    from digit_core.data.scaling import normalize_l2

    x = images.astype(np.float32) / 255  # (N, 28, 28)
    x = normalize_l2(x) if normalization == "l2" else x
    return np.asarray(model(x[..., np.newaxis], training=False))


@pytest.mark.parametrize("build", [_mlp, _cnn, _ensemble], ids=["mlp", "cnn", "ensemble"])
def test_onnx_reads_like_keras(build, mnist) -> None:
    model = build()
    predictor = Predictor(model)
    images = mnist.x_test[:64]  # uint8, as the app's callers pass them
    expected = _keras_reading(model, images)
    # Readings that differ from image to image, so an export answering anything else would show.
    assert np.ptp(expected, axis=0).max() > 0.01
    got = predictor.probabilities(images)
    assert got.shape == (64, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(predictor.probabilities(images[0]), expected[:1], atol=1e-5)  # one drawing
    assert predictor.onnx_file is None  # exported in memory


def test_batches_larger_than_a_chunk_and_l2_normalisation(mnist) -> None:
    model = _cnn()
    predictor = Predictor(model, normalization="l2", batch_size=16)
    images = mnist.x_test[:40]
    np.testing.assert_allclose(predictor.probabilities(images), _keras_reading(model, images, "l2"), atol=1e-5)
    assert predictor.probabilities(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


def test_a_saved_model_is_served_from_its_export_and_loads_keras_only_when_asked(tiny_models_dir, mnist) -> None:
    path = tiny_models_dir / "default.keras"
    predictor = Predictor.from_file(path)
    assert predictor.onnx_file == path.with_suffix(".onnx")
    assert predictor.onnx_model == path.with_suffix(".onnx").read_bytes()
    got = predictor.probabilities(mnist.x_test[:200])
    assert predictor._model is None  # no Keras model loaded to predict
    expected = _keras_reading(predictor.model, mnist.x_test[:200])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (got.argmax(axis=1) == mnist.y_test[:200]).mean() > 0.5  # the trained tiny network, not noise


def test_predicting_from_a_saved_export_never_imports_tensorflow(tiny_models_dir) -> None:
    # What makes the app and the CLI start fast: TensorFlow is imported only for the Keras layers.
    script = ("import sys, numpy as np\n"
              "from digit_core.inference.predict import Predictor\n"
              f"predictor = Predictor.from_file({str(tiny_models_dir / 'default.keras')!r})\n"
              "print(predictor.probabilities(np.zeros((28, 28), np.uint8)).shape, 'tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(1,", "10)", "False"]


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "another model's export",
                                    "sidecar without its digest"])
def test_an_export_that_is_not_the_saved_one_is_made_again_in_memory(damage, isolated_dirs, mnist,
                                                                    caplog) -> None:
    path = isolated_dirs["models"] / "default.keras"
    onnx_path, sidecar = path.with_suffix(".onnx"), path.with_suffix(".json")
    good_export = onnx_path.read_bytes()
    if damage == "missing":
        onnx_path.unlink()
    elif damage == "garbage":
        onnx_path.write_bytes(b"not an onnx graph " * 50)
    elif damage == "truncated":
        onnx_path.write_bytes(good_export[: len(good_export) // 2])
    elif damage == "another model's export":
        from digit_core.models.export import export_bytes

        onnx_path.write_bytes(export_bytes(_mlp(), "onnx"))  # a valid ONNX graph, of another network
    else:  # as a save from before exports left it, beside an export it does not vouch for
        metadata = json.loads(sidecar.read_text())
        del metadata[model_files.ONNX_DIGEST_KEY]
        sidecar.write_text(json.dumps(metadata))
    with caplog.at_level(logging.INFO, logger="digit_core.inference.predict"):
        predictor = Predictor.from_file(path)
    assert predictor.onnx_file is None
    (record,) = [record for record in caplog.records if record.name == "digit_core.inference.predict"]
    assert "exporting the model to ONNX again in memory" in record.getMessage()
    # A file that is there but unusable is worth a warning; no file at all is what older models have.
    assert record.levelno == (logging.INFO if damage == "missing" else logging.WARNING)
    images = mnist.x_test[:100]
    np.testing.assert_allclose(predictor.probabilities(images), _keras_reading(predictor.model, images), atol=1e-5)
    assert onnx_path.exists() == (damage != "missing")  # loading writes nothing beside the model


def test_an_export_onnx_runtime_cannot_run_is_made_again(isolated_dirs, mnist, caplog) -> None:
    # The sidecar vouches for the bytes (the digests match), yet the graph does not load.
    models = isolated_dirs["models"]
    path = models / "default.keras"
    path.with_suffix(".onnx").write_bytes(b"\x08\x07 garbage the sidecar vouches for")
    metadata = json.loads(path.with_suffix(".json").read_text())
    metadata[model_files.ONNX_DIGEST_KEY] = model_files.file_sha256(path.with_suffix(".onnx"))
    path.with_suffix(".json").write_text(json.dumps(metadata))
    with caplog.at_level(logging.INFO, logger="digit_core.inference.predict"):
        predictor = Predictor.from_file(path)
    assert predictor.onnx_file is None and "ONNX Runtime cannot run default.onnx" in caplog.text
    assert predictor.probabilities(mnist.x_test[:3]).shape == (3, 10)


def test_a_run_checkpoint_without_export_is_exported_on_load(tmp_path, tiny_models_dir, mnist) -> None:
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    shutil.copyfile(tiny_models_dir / "default.keras", run_dir / "best.keras")
    predictor = Predictor.from_file(run_dir / "best.keras")
    assert predictor.onnx_file is None and list(run_dir.iterdir()) == [run_dir / "best.keras"]
    images = mnist.x_test[:50]
    np.testing.assert_allclose(predictor.probabilities(images), _keras_reading(predictor.model, images), atol=1e-5)


def test_a_corrupt_keras_file_beside_a_good_export_is_still_reported_as_corrupt(isolated_dirs) -> None:
    path = isolated_dirs["models"] / "default.keras"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(registry.ModelLoadError, match="the file is corrupt"):
        Predictor.from_file(path)
