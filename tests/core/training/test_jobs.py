"""The background training manager: one run at a time, live snapshots, stop, and a recorded run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from digit_core import workflows
from digit_core.store import registry
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.store.atomic import read_json
from digit_core.training.jobs import TrainingBusyError, TrainingManager, TrainingRequest, make_active

pytestmark = pytest.mark.slow  # real (tiny) training runs

TINY = zoo.get_entry("tiny")
TIMEOUT_S = 240


def _request(epochs: int, subset: int = 640, owner: str = "Ada") -> TrainingRequest:
    training = zoo.with_overrides(TINY.training, epochs=epochs, batch_size=64, validation_split=0.1)
    return TrainingRequest(name="tiny", network=TINY.network, training=training, owner=owner, owner_id="ada-1",
                           subset=subset)


def _wait_until(manager: TrainingManager, condition, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        snapshot = manager.snapshot()
        if condition(snapshot):
            return snapshot
        time.sleep(0.02)
    raise AssertionError(f"timed out; last snapshot: {manager.snapshot()}")


def test_a_run_trains_in_the_background_and_is_recorded(mnist, tmp_path: Path) -> None:
    manager = TrainingManager(runs_root=tmp_path / "runs")
    assert manager.snapshot() is None
    first = manager.start(_request(epochs=2))
    assert first.active and first.owner == "Ada" and first.epochs == 2
    with pytest.raises(TrainingBusyError, match="started by Ada is in progress; watch it or wait"):
        manager.start(_request(epochs=1, owner="Bob"))

    after_one_epoch = _wait_until(manager, lambda snapshot: snapshot.epoch >= 1)
    assert len(after_one_epoch.history["loss"]) == after_one_epoch.epoch
    final = manager.wait(TIMEOUT_S)
    assert final.status == "completed", final.error
    assert final.epoch == 2 and len(final.history["loss"]) == 2 and len(final.history["val_accuracy"]) == 2
    assert final.batches_per_epoch == 9  # 576 training images in batches of 64

    metrics = read_json(final.run_dir / "metrics.json")
    assert set(metrics) >= {"test_accuracy", "test_loss", "n", "params", "train_seconds"}
    assert metrics["n"] == 10_000
    # What the run records is what evaluating its model on MNIST test gives, and better than chance.
    evaluated = workflows.evaluate_model(final.run_dir / "best.keras")
    assert metrics["test_accuracy"] == pytest.approx(evaluated["test_accuracy"], abs=1e-4)
    assert metrics["test_accuracy"] > 0.3
    assert dict(final.metrics) == metrics
    assert runs.read_run(final.run_dir).status == "completed"
    listed = {info.model_id: info for info in registry.list_models(tmp_path / "models", tmp_path / "runs")}
    assert listed[f"run:{final.run_id}"].test_accuracy == metrics["test_accuracy"]

    assert final.promotable
    make_active(final.run_id, "my-tiny", models_dir=tmp_path / "models", runs_dir=tmp_path / "runs")
    assert registry.active_model_id(tmp_path / "models") == "my-tiny"
    assert (tmp_path / "models" / "my-tiny.keras").is_file()

    # Once the run is over, the next one may start.
    manager.start(_request(epochs=1, subset=5))
    assert manager.wait(TIMEOUT_S).status == "failed"


def test_a_run_records_its_data_and_writes_tensorboard_logs_when_asked(mnist, tmp_path: Path) -> None:
    from dataclasses import replace

    manager = TrainingManager(runs_root=tmp_path / "runs")
    manager.start(replace(_request(epochs=1, subset=320), tensorboard=True))
    final = manager.wait(TIMEOUT_S)
    assert final.status == "completed", final.error
    assert runs.read_run(final.run_dir).config["data"] == {"subset": 320, "extra_usps": False,
                                                          "extra_writers": False}
    assert list((final.run_dir / "tensorboard" / "train").glob("events.out.tfevents.*"))


def test_stop_is_honoured_at_the_next_batch(mnist, tmp_path: Path) -> None:
    manager = TrainingManager(runs_root=tmp_path)
    manager.start(_request(epochs=30, subset=2000))
    _wait_until(manager, lambda snapshot: snapshot.batch >= 1)
    manager.request_stop()
    assert manager.snapshot().stop_requested
    final = manager.wait(TIMEOUT_S)
    assert final.status == "stopped", final.error
    assert final.epoch == 1  # the interrupted epoch is recorded, the other 29 never start
    assert runs.read_run(final.run_dir).status == "stopped"
    assert (final.run_dir / "best.keras").is_file() and (final.run_dir / "metrics.json").is_file()


def test_a_failed_run_says_why(mnist, tmp_path: Path) -> None:
    manager = TrainingManager(runs_root=tmp_path)
    manager.start(_request(epochs=1, subset=5))
    final = manager.wait(TIMEOUT_S)
    assert final.status == "failed" and not final.active
    assert "at least 10 images" in final.error
    assert not final.promotable


def test_snapshots_are_immutable(mnist, tmp_path: Path) -> None:
    manager = TrainingManager(runs_root=tmp_path)
    manager.start(_request(epochs=1, subset=5))
    snapshot = manager.wait(TIMEOUT_S)
    with pytest.raises(TypeError):
        snapshot.history["loss"] = (1.0,)  # type: ignore[index]
    with pytest.raises(AttributeError):
        snapshot.status = "completed"  # type: ignore[misc]
