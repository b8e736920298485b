"""Training: callbacks, stopping, resuming, early stopping and the run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digit_core.training import runs
from digit_core.models import zoo
from digit_core.store.registry import load_keras_model
from digit_core.training.train import train

TINY = zoo.get_entry("tiny")


@pytest.fixture(scope="module")
def small(mnist):
    return mnist.x_train[:1200], mnist.y_train[:1200], mnist.x_test[:300], mnist.y_test[:300]


def test_callbacks_report_every_batch_and_epoch(small, tmp_path) -> None:
    x, y, x_val, y_val = small
    batches, epochs = [], []
    training = zoo.with_overrides(TINY.training, epochs=2, batch_size=200)
    result = train(TINY.network, training, x, y, x_val, y_val, run_dir=tmp_path / "run",
                   on_batch_end=lambda b, n, m: batches.append((b, n)), on_epoch_end=lambda e, m: epochs.append(e))
    assert result.status == "completed"
    assert epochs == [0, 1]
    assert batches[:6] == [(i, 6) for i in range(6)] and len(batches) == 12
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert len(result.history["val_accuracy"]) == 2
    assert result.history["val_accuracy"][-1] > 0.3  # learnt something, far above chance (0.1)
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved["val_accuracy"] == pytest.approx(result.history["val_accuracy"])
    info = runs.read_run(tmp_path / "run")
    assert info.status == "completed" and info.epochs_done == 2
    assert info.config["training"]["epochs"] == 2 and info.config["network"]["kind"] == "cnn"
    for checkpoint in ("best.keras", "last.keras", "final.keras"):
        assert load_keras_model(tmp_path / "run" / checkpoint).output_shape == (None, 10)


def test_stop_request_is_honoured_at_the_next_batch(small, tmp_path) -> None:
    x, y, x_val, y_val = small
    seen = []
    training = zoo.with_overrides(TINY.training, epochs=5, batch_size=100)
    result = train(TINY.network, training, x, y, x_val, y_val, run_dir=tmp_path / "run",
                   on_batch_end=lambda b, n, m: seen.append(b), should_stop=lambda: len(seen) >= 3)
    assert result.status == "stopped"
    assert len(seen) == 3  # no batch ran after the one that saw the request
    assert runs.read_run(tmp_path / "run").status == "stopped"
    assert load_keras_model(tmp_path / "run" / "best.keras").output_shape == (None, 10)


def test_resume_continues_from_the_last_epoch(small, tmp_path) -> None:
    x, y, x_val, y_val = small
    run_dir = tmp_path / "run"
    first = train(TINY.network, zoo.with_overrides(TINY.training, epochs=2), x, y, x_val, y_val, run_dir=run_dir,
                  should_stop=lambda: False)
    resumed_epochs = []
    second = train(TINY.network, zoo.with_overrides(TINY.training, epochs=4), x, y, x_val, y_val, run_dir=run_dir,
                   resume=True, on_epoch_end=lambda e, m: resumed_epochs.append(e))
    assert resumed_epochs == [2, 3]
    assert len(second.history["loss"]) == 4
    assert second.history["loss"][:2] == pytest.approx(first.history["loss"])
    # The optimizer state came back too: the step counter continued rather than restarting.
    assert int(second.model.optimizer.iterations.numpy()) == 4 * int(np.ceil(len(x) / 64))
    with pytest.raises(ValueError, match="already has 4 epochs"):
        train(TINY.network, zoo.with_overrides(TINY.training, epochs=4), x, y, x_val, y_val, run_dir=run_dir,
              resume=True)


def test_resume_without_a_checkpoint_is_a_clear_error(small, tmp_path) -> None:
    x, y, x_val, y_val = small
    with pytest.raises(ValueError, match="no last.keras checkpoint"):
        train(TINY.network, TINY.training, x, y, x_val, y_val, run_dir=tmp_path, resume=True)


def test_early_stopping_ends_training_and_restores_the_best(small) -> None:
    x, y, x_val, y_val = small
    # A huge learning rate makes validation accuracy stop improving almost at once.
    training = zoo.TrainConfig(optimizer="sgd", learning_rate=5.0, epochs=30, early_stopping_patience=1,
                               batch_size=200)
    result = train(zoo.MLPConfig(hidden_units=(16,)), training, x, y, x_val, y_val)
    assert len(result.history["loss"]) < 30


def test_augmented_training_runs_and_learns(small) -> None:
    x, y, x_val, y_val = small
    result = train(TINY.network, zoo.with_overrides(TINY.training, epochs=2, augment=True), x, y, x_val, y_val)
    assert result.history["val_accuracy"][-1] > 0.3


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((10, 28, 27), np.uint8), np.zeros(10, np.uint8), "shape"),
    (np.zeros((10, 28, 28), np.uint8), np.zeros(9, np.uint8), "as many labels"),
    (np.zeros((10, 28, 28), np.uint8), np.full(10, 12, np.uint8), "digits 0–9"),
])
def test_bad_training_data_is_a_clear_error(images, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        train(TINY.network, TINY.training, images, labels)


def test_l2_normalisation_is_honoured(small) -> None:
    x, y, x_val, y_val = small
    training = zoo.with_overrides(TINY.training, normalization="l2", epochs=1)
    result = train(zoo.MLPConfig(hidden_units=(32,)), training, x, y, x_val, y_val)
    assert np.isfinite(result.history["loss"][0])
