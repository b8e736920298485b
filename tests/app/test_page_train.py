"""The Train page: settings and layer table, watching a run (one's own or another's), past runs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import MappingProxyType

import pytest

import app_state
from digit_core import config
from digit_core.store import registry
from digit_core.training import runs
from digit_core.store.atomic import atomic_write_json
from digit_core.training.jobs import TrainingBusyError, TrainingSnapshot


class StubManager:
    """Stands in for the server's training manager with a fixed snapshot."""

    def __init__(self, snapshot: TrainingSnapshot | None) -> None:
        self._snapshot, self.stops, self.requests = snapshot, 0, []

    def snapshot(self) -> TrainingSnapshot | None:
        return self._snapshot

    def request_stop(self) -> None:
        self.stops += 1

    def start(self, request) -> TrainingSnapshot:
        self.requests.append(request)
        raise TrainingBusyError("A training run started by Bob is in progress; watch it or wait for it to finish.")


def _running(owner: str, owner_id: str) -> TrainingSnapshot:
    return TrainingSnapshot(status="training", owner=owner, owner_id=owner_id, name="fast", epochs=3, epoch=1,
                            batch=120, batches_per_epoch=422, started=time.time(),
                            history=MappingProxyType({"accuracy": (0.91,), "val_accuracy": (0.95,),
                                                      "loss": (0.3,), "val_loss": (0.2,)}))


@pytest.fixture
def stub_manager(monkeypatch: pytest.MonkeyPatch):
    def install(snapshot: TrainingSnapshot | None) -> StubManager:
        manager = StubManager(snapshot)
        monkeypatch.setattr(app_state, "training_manager", lambda: manager)
        return manager

    return install


def test_the_page_shows_settings_and_the_layer_table(open_page, app_dirs, stub_manager) -> None:
    stub_manager(None)
    at = open_page("train").run()
    assert not at.exception
    assert at.title[0].value == "Train a model"
    layers = at.dataframe[0].value
    assert list(layers.columns) == ["layer", "type", "output shape", "params", "how"]
    assert "3×3×1×32 + 32 = 320" in layers["how"].tolist()  # the "fast" preset's first convolution
    assert any(button.label == "Start training" and not button.disabled for button in at.button)
    assert any("No run on this server yet" in info.value for info in at.info)


def test_a_composed_network_is_checked(open_page, app_dirs, stub_manager) -> None:
    stub_manager(None)
    at = open_page("train").run()
    at.radio[0].set_value("Compose a CNN").run()
    at.text_input[0].set_value("16, 16, 16, 16").run()
    assert not at.exception
    assert "shrinks below 1×1" in at.error[0].value and "Change the layer settings" in at.error[0].value
    at.radio[0].set_value("Compose an MLP").run()
    assert not at.error
    assert at.dataframe[0].value["how"].tolist()[1] == "784×128 + 128 = 100,480"


def test_another_sessions_run_can_be_watched_but_not_stopped(open_page, app_dirs, stub_manager) -> None:
    manager = stub_manager(_running("Bob", owner_id="bob-session"))
    at = open_page("train").run()
    assert not at.exception
    assert "**Bob** is training **fast**: at epoch 2 of 3." in at.info[0].value
    assert [bar.value for bar in at.get("progress")] == [28, 33]  # percent: batch 120 of 422, epoch 1 of 3
    assert len(at.get("plotly_chart")) >= 2  # live accuracy and loss
    assert not [button for button in at.button if button.label == "Stop"]
    start = next(button for button in at.button if button.label == "Start training")
    assert start.disabled and manager.stops == 0


def test_ones_own_run_can_be_stopped(open_page, app_dirs, stub_manager) -> None:
    manager = stub_manager(_running("me", owner_id="my-session"))
    at = open_page("train")
    at.session_state[app_state.SESSION_ID] = "my-session"
    at.run()
    assert "You are training **fast**" in at.info[0].value
    next(button for button in at.button if button.label == "Stop").click().run()
    assert not at.exception and manager.stops == 1


def test_a_busy_server_refuses_a_second_run_politely(open_page, app_dirs, stub_manager) -> None:
    # The page's snapshot says idle but the manager refuses (another session started just now).
    manager = stub_manager(None)
    at = open_page("train").run()
    next(button for button in at.button if button.label == "Start training").click().run()
    assert not at.exception and len(manager.requests) == 1
    assert "started by Bob is in progress" in at.error[0].value
    assert manager.requests[0].tensorboard is False


def test_tensorboard_logs_can_be_asked_for(open_page, app_dirs, stub_manager) -> None:
    manager = stub_manager(None)
    at = open_page("train").run()
    switch = next(box for box in at.checkbox if box.label == "TensorBoard logs")
    assert "tensorboard --logdir runs" in switch.help
    switch.check().run()
    next(button for button in at.button if button.label == "Start training").click().run()
    assert manager.requests[-1].tensorboard is True and manager.requests[-1].name == "fast"


def _fake_run(runs_root: Path, model_file: Path, status: str = "completed") -> Path:
    run_dir = runs.new_run_dir(runs_root, "tiny")
    atomic_write_json(run_dir / "config.json", {"name": "tiny", "created": runs.now_iso(),
                                                "network": {"kind": "mlp", "hidden_units": [16]},
                                                "training": {"optimizer": "adam", "batch_size": 64}})
    runs.write_history(run_dir, {"loss": [0.9, 0.5], "accuracy": [0.7, 0.85], "val_loss": [0.6, 0.4],
                                 "val_accuracy": [0.8, 0.88]})
    runs.write_status(run_dir, status)  # with this (live) process's pid, so "running" stays running
    atomic_write_json(run_dir / "metrics.json", {"test_accuracy": 0.87, "params": 12730, "train_seconds": 3.0})
    shutil.copyfile(model_file, run_dir / "best.keras")
    return run_dir


def test_past_runs_are_compared_and_one_made_active(open_page, tiny_model, app_dirs, stub_manager, tmp_path,
                                                    monkeypatch) -> None:
    stub_manager(None)
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(tmp_path / "runs"))
    run_dir = _fake_run(tmp_path / "runs", app_dirs["models"] / f"{tiny_model}.keras")
    _fake_run(tmp_path / "runs", app_dirs["models"] / f"{tiny_model}.keras", status="running")
    at = open_page("train").run()
    assert not at.exception
    past_runs = at.multiselect(key=app_state.PAST_RUNS)
    assert past_runs.options == [f"tiny · {run_dir.name} · completed"]  # the running one is not past yet
    assert past_runs.value == [run_dir.name]
    assert len(at.get("plotly_chart")) == 2  # its accuracy and loss curves
    runs_table = at.dataframe[1].value
    assert runs_table["test accuracy"].tolist() == [0.87] and runs_table["network"].tolist() == ["MLP 16"]
    model_id_input = next(box for box in at.text_input if box.label == "Save as model id")
    model_id_input.set_value("kept-tiny")
    next(button for button in at.button if button.label == "Make it the active model").click().run()
    assert not at.exception
    assert "made active" in at.success[0].value
    assert registry.active_model_id(tmp_path / "models") == "kept-tiny"
    assert at.session_state[app_state.MODEL_ID] == "kept-tiny"
