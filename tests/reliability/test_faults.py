"""Faults: a killed training, corrupt model files, a full disk or an unwritable directory during a save.

Each leaves the project usable: the best checkpoint loads, the run says it was interrupted or failed
(never "running" forever), the registry and the CLI keep working, the previous model is byte for byte
intact, and no temporary file is left behind.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digit_core import cli
from digit_core.store import registry
from digit_core.training import runs

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _cli_env(dirs: dict[str, Path]) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DIGIT_MODELS_DIR": str(dirs["models"]),
            "DIGIT_RUNS_DIR": str(dirs["runs"])}


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


# --- A training process killed with SIGKILL in the middle of an epoch. ---

def _wait_until_mid_second_epoch(process: subprocess.Popen, runs_dir: Path, progress: Path) -> Path:
    """The run directory, once epoch 1 is checkpointed and its line logged: epoch 2 is then under way."""
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, f"training ended early: {progress.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"training never reached epoch 2: {progress.read_text()[-2000:]}"
        run_dirs = [path for path in runs_dir.iterdir() if path.is_dir()] if runs_dir.is_dir() else []
        if run_dirs and (run_dirs[0] / "best.keras").is_file() and "epoch 1/50 done" in progress.read_text():
            return run_dirs[0]
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_mid_epoch_through_the_cli_leaves_a_usable_interrupted_run(tmp_path: Path, mnist) -> None:
    dirs = {"models": tmp_path / "models", "runs": tmp_path / "runs"}
    progress = tmp_path / "progress.txt"
    with progress.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "digit_core", "train", "--preset", "tiny", "--subset", "3000", "--epochs",
             "50", "--name", "doomed"], env=_cli_env(dirs), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
            stderr=stderr)
        try:
            run_dir = _wait_until_mid_second_epoch(process, dirs["runs"], progress)
            assert runs.read_run(run_dir).status == "running"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    info = runs.read_run(run_dir)
    assert info.status == "interrupted" and info.epochs_done >= 1
    assert "best checkpoint is kept" in info.message
    assert registry.load_keras_model(run_dir / "best.keras").output_shape == (None, 10)

    listed = subprocess.run([sys.executable, "-m", "digit_core", "models", "--json"], env=_cli_env(dirs),
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["id"] == f"run:{run_dir.name}" and row["name"] == "doomed" and not row["broken"]
    assert [entry.model_id for entry in registry.list_models(dirs["models"], dirs["runs"])] == [row["id"]]
    assert registry.load(row["id"], runs_dir=dirs["runs"]).output_shape == (None, 10)


# --- Corrupt model files in models/. ---

@pytest.fixture
def corrupt_models(isolated_dirs: dict[str, Path]) -> dict[str, Path]:
    """Beside the good default: a truncated copy, garbage, an empty file, a folder named like a model,
    a model with unreadable metadata, and the temporary file of a save that was killed half-way."""
    models = isolated_dirs["models"]
    good = (models / "default.keras").read_bytes()
    (models / "truncated.keras").write_bytes(good[: len(good) // 3])
    (models / "garbage.keras").write_bytes(b"this is not a zip archive " * 20)
    (models / "empty.keras").write_bytes(b"")
    (models / "folder.keras").mkdir()
    (models / "bad-metadata.keras").write_bytes(good)
    (models / "bad-metadata.json").write_text("{ not json")
    (models / ".default.keras.k2j4x8.keras").write_bytes(good[:1000])
    return isolated_dirs


BROKEN_IDS = {"truncated", "garbage", "empty", "folder", "bad-metadata"}


def test_the_cli_lists_corrupt_models_as_broken_and_hides_a_killed_saves_temporary_file(corrupt_models,
                                                                                      capsys) -> None:
    assert cli.main(["models", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == BROKEN_IDS | {"default"}
    assert not rows["default"]["broken"]
    for model_id in BROKEN_IDS:
        assert rows[model_id]["broken"], model_id
    assert "Unreadable metadata" in rows["bad-metadata"]["broken"]


def test_the_cli_still_predicts_with_the_default_beside_corrupt_models(corrupt_models, bad_input_dir: Path,
                                                                       capsys) -> None:
    assert cli.main(["predict", "--json", str(bad_input_dir / "good.png")]) == 0
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert isinstance(line["digit"], int)
    for model_id in BROKEN_IDS:
        assert cli.main(["predict", "--model", model_id, str(bad_input_dir / "good.png")]) == 1
        error = capsys.readouterr().err
        assert error.startswith("error: ") and "Traceback" not in error
        assert ("corrupt or not a Keras model" in error or "No model with id" in error
                or "bad-metadata.keras: its metadata is unreadable" in error), error


def test_a_corrupt_default_model_is_one_clear_line(isolated_dirs, bad_input_dir: Path, capsys) -> None:
    default = isolated_dirs["models"] / "default.keras"
    default.write_bytes(default.read_bytes()[:5000])
    assert cli.main(["predict", str(bad_input_dir / "good.png")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: Cannot load model default.keras: the file is corrupt"), error
    assert error.count("\n") == 1


# --- A save that fails: full disk, a directory that is not one. ---

@pytest.fixture
def saved(isolated_dirs: dict[str, Path]) -> dict:
    """The default model loaded, and the bytes of every file in models/ before anything is tried."""
    return {"models": isolated_dirs["models"], "model": registry.load("default"),
            "before": _files(isolated_dirs["models"])}


def _fail_with_enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _write_half_then_fill_the_disk(original):
    def save(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        Path(filepath).write_bytes(Path(filepath).read_bytes()[:2000])
        _fail_with_enospc()
    return save


@pytest.mark.parametrize("failing", ["rename", "write"])
def test_a_full_disk_during_a_save_keeps_the_previous_model(saved: dict, monkeypatch: pytest.MonkeyPatch,
                                                           failing: str) -> None:
    """The disk fills while the new model is written, or when it is renamed into place."""
    import keras

    with monkeypatch.context() as patch, pytest.raises(OSError) as failure:
        if failing == "rename":
            patch.setattr(os, "replace", _fail_with_enospc)
        else:
            patch.setattr(keras.Model, "save", _write_half_then_fill_the_disk(keras.Model.save))
        registry.save(saved["model"], "default", {"name": "replacement"}, models_dir=saved["models"])
    message = str(failure.value)
    assert str(saved["models"] / "default.keras") in message and "No space left on device" in message
    assert _files(saved["models"]) == saved["before"]  # same names (no temporary file), same bytes
    assert registry.load("default").output_shape == (None, 10)


def test_saving_into_a_path_whose_parent_is_a_file_is_a_clear_error(saved: dict, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "models-file"
    not_a_directory.write_text("a file where a directory should be")
    for models_dir in (not_a_directory, not_a_directory / "models"):
        with pytest.raises(OSError) as failure:
            registry.save(saved["model"], "default", {"name": "replacement"}, models_dir=models_dir)
        message = str(failure.value)
        assert message.startswith(f"Cannot write {models_dir / 'default.keras'}: "), message
        assert "not a directory" in message.lower(), message
    assert not_a_directory.read_text() == "a file where a directory should be"
    assert _files(saved["models"]) == saved["before"]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``mount(size_bytes)`` → a directory on a RAM disk of that size (skipped where mounting is refused)."""
    mounted: list[Path] = []

    def mount(size_bytes: int) -> Path:
        target = tmp_path / f"disk{len(mounted)}"
        target.mkdir()
        size_kb = -(-size_bytes // 4096) * 4
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(target)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", str(target)], check=False)


def test_a_really_full_disk_keeps_the_previous_model(saved: dict, small_tmpfs) -> None:
    old = saved["before"]["default.keras"]
    # Room for the old model and its metadata, not for a second copy beside it.
    disk = small_tmpfs(len(old) + len(old) // 2)
    registry.save(saved["model"], "default", {"name": "old"}, models_dir=disk)
    before = _files(disk)
    with pytest.raises(OSError) as failure:
        registry.save(saved["model"], "default", {"name": "new"}, models_dir=disk)
    assert f"Cannot write {disk / 'default.keras'}: No space left on device" in str(failure.value)
    assert _files(disk) == before
    assert registry.load("default", models_dir=disk).output_shape == (None, 10)


# --- Training whose run directory cannot be written. ---

def test_training_into_an_unwritable_runs_dir_is_one_clear_error(isolated_dirs, tmp_path: Path, capsys,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "runs-file"
    blocker.write_text("a file where the runs directory should be")
    monkeypatch.setenv("DIGIT_RUNS_DIR", str(blocker / "runs"))
    code = cli.main(["train", "--preset", "tiny", "--subset", "100", "--epochs", "1", "--quiet"])
    error = capsys.readouterr().err
    assert code == 1 and error.startswith("error: ") and "Traceback" not in error
    assert str(blocker) in error and "not a directory" in error.lower(), error


def _tiny_request(name: str):
    from digit_core.models import zoo
    from digit_core.training.jobs import TrainingRequest

    entry = zoo.get_entry("tiny")
    training = zoo.with_overrides(entry.training, epochs=3)
    return TrainingRequest(name=name, network=entry.network, training=training, owner="tests", subset=600)


@pytest.mark.slow
def test_a_checkpoint_that_cannot_be_written_fails_the_run_clearly(isolated_dirs, mnist,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's background job: the run ends "failed" with the reason, not "running" forever."""
    import keras

    from digit_core.training.jobs import TrainingManager

    monkeypatch.setattr(keras.Model, "save", _write_half_then_fill_the_disk(keras.Model.save))
    manager = TrainingManager(runs_root=isolated_dirs["runs"])
    manager.start(_tiny_request("full-disk"))
    snapshot = manager.wait(timeout=240)
    assert snapshot.status == "failed"
    assert "best.keras: No space left on device" in snapshot.error
    info = runs.read_run(snapshot.run_dir)
    assert info.status == "failed" and "No space left on device" in info.message
    assert sorted(path.name for path in snapshot.run_dir.iterdir()) == ["config.json", "status.json"]


@pytest.mark.slow
def test_training_onto_a_really_full_disk_fails_clearly(isolated_dirs, mnist, small_tmpfs) -> None:
    from digit_core.models import zoo
    from digit_core.training.train import train

    disk = small_tmpfs(64 * 1024)  # room for the run's JSON files, not for a checkpoint
    entry = zoo.get_entry("tiny")
    training = zoo.with_overrides(entry.training, epochs=2)
    with pytest.raises(OSError, match=r"Cannot write .*best\.keras: No space left on device"):
        train(entry.network, training, mnist.x_train[:300], mnist.y_train[:300], mnist.x_test[:100],
              mnist.y_test[:100], run_dir=disk / "run", name="full")
    info = runs.read_run(disk / "run")
    assert info.status == "failed" and "No space left on device" in info.message
    assert sorted(path.name for path in (disk / "run").iterdir()) == ["config.json", "status.json"]
