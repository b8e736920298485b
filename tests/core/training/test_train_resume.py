"""`train --resume` continues a run with its own recipe; `train --tensorboard` logs open in TensorBoard."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from digit_core import cli
from digit_core.training import runs

pytestmark = pytest.mark.slow


def _train(capsys, *args: str) -> dict:
    assert cli.main(["train", "--quiet", *args]) == cli.EXIT_OK, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_resume_keeps_the_runs_name_network_and_data(isolated_dirs, mnist, capsys, tmp_path) -> None:
    first = _train(capsys, "--preset", "mlp_64_64", "--subset", "600", "--epochs", "1", "--name", "mine",
                   "--no-augment")
    run_dir = isolated_dirs["runs"] / first["run_id"]
    before = runs.read_run(run_dir).config
    assert before["data"] == {"subset": 600, "extra_usps": False, "extra_writers": False}

    out = tmp_path / "resumed.keras"
    resumed = _train(capsys, "--resume", first["run_id"], "--epochs", "2", "--out", str(out))
    after = runs.read_run(run_dir).config
    # Not the default preset ("fast") on all of MNIST, as the resumed run once became.
    assert resumed["run_id"] == first["run_id"] and resumed["name"] == "mine"
    assert resumed["epochs"] == 2 and resumed["train_size"] == first["train_size"] == 540
    assert after["network"] == before["network"] and after["network"]["hidden_units"] == [64, 64]
    assert after["data"] == before["data"] and after["train_size"] == 540 and after["name"] == "mine"
    assert after["training"] == {**before["training"], "epochs": 2}  # only the epochs changed
    assert after["created"] == before["created"]
    assert len(runs.read_history(run_dir)["loss"]) == 2
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["name"] == "mine" and saved["network"]["hidden_units"] == [64, 64]


@pytest.mark.parametrize("extra", [["--preset", "fast"], ["--subset", "2000"], ["--seed", "1"],
                                   ["--name", "other"], ["--augment"], ["--extra-usps"], ["--extra-writers"],
                                   ["--extra-data", "drawings.csv"], ["--usps-rescans", "3"]])
def test_resume_refuses_a_recipe_option(isolated_dirs, capsys, extra) -> None:
    assert cli.main(["train", "--resume", "any-run", *extra]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert f"{extra[0]} cannot go with --resume" in error and "keeps its own recipe" in error
    assert "Only --epochs, --distribute, --out, --tensorboard, --data-dir and --quiet" in error


@pytest.mark.parametrize("extra, message", [
    (["--usps-rescans", "2"], "--usps-rescans only applies with --extra-writers."),
    (["--extra-writers", "--usps-rescans", "11"], "--usps-rescans must be between 0 and 10, got 11."),
])
def test_usps_rescans_out_of_place_or_range_is_refused(isolated_dirs, capsys, extra, message) -> None:
    assert cli.main(["train", "--preset", "tiny", "--subset", "100", *extra]) != cli.EXIT_OK
    assert message in capsys.readouterr().err
    assert not list(isolated_dirs["runs"].glob("*"))  # refused before a run was made


def test_resume_keeps_the_extra_data_csv(isolated_dirs, mnist, capsys, tmp_path, monkeypatch) -> None:
    from digit_core.data.csv_import import write_digits_csv

    write_digits_csv(tmp_path / "drawings.csv", mnist.x_test[:30], mnist.y_test[:30])
    monkeypatch.chdir(tmp_path)
    first = _train(capsys, "--preset", "tiny", "--subset", "300", "--epochs", "1", "--extra-data", "drawings.csv")
    run_dir = isolated_dirs["runs"] / first["run_id"]
    recorded = runs.read_run(run_dir).config["data"]
    # The full path, so that --resume finds the file from any directory.
    assert recorded == {"subset": 300, "extra_usps": False, "extra_writers": False,
                        "extra_data": str((tmp_path / "drawings.csv").resolve())}
    monkeypatch.chdir(isolated_dirs["runs"])
    resumed = _train(capsys, "--resume", first["run_id"], "--epochs", "2")
    assert resumed["train_size"] == first["train_size"] == 270 + 30 and resumed["epochs"] == 2
    assert runs.read_run(run_dir).config["data"] == recorded


def test_resume_of_an_unknown_or_finished_run_is_a_clear_error(isolated_dirs, mnist, capsys) -> None:
    assert cli.main(["train", "--resume", "nope"]) == cli.EXIT_FAILED
    assert "No run 'nope'" in capsys.readouterr().err
    first = _train(capsys, "--preset", "tiny", "--subset", "300", "--epochs", "1")
    assert cli.main(["train", "--quiet", "--resume", first["run_id"]]) == cli.EXIT_FAILED
    assert "already has 1 epochs" in capsys.readouterr().err


def test_an_older_run_without_a_data_recipe_resumes_on_its_subset(isolated_dirs, mnist, capsys) -> None:
    first = _train(capsys, "--preset", "tiny", "--subset", "300", "--epochs", "1")
    config_path = isolated_dirs["runs"] / first["run_id"] / "config.json"
    older = json.loads(config_path.read_text())
    del older["data"]
    config_path.write_text(json.dumps(older))
    resumed = _train(capsys, "--resume", first["run_id"], "--epochs", "2")
    assert resumed["train_size"] == first["train_size"] == 270 and resumed["epochs"] == 2
    assert json.loads(config_path.read_text())["data"]["subset"] == 300  # recorded now


def test_a_run_whose_data_changed_is_not_continued(isolated_dirs, mnist, capsys) -> None:
    first = _train(capsys, "--preset", "tiny", "--subset", "300", "--epochs", "1")
    config_path = isolated_dirs["runs"] / first["run_id"] / "config.json"
    recorded = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**recorded, "train_size": 999}))
    assert cli.main(["train", "--quiet", "--resume", first["run_id"], "--epochs", "2"]) == cli.EXIT_FAILED
    assert "trained on 999 images" in capsys.readouterr().err
    assert len(runs.read_history(config_path.parent)["loss"]) == 1  # not trained on


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url: str, timeout_s: float, until=lambda payload: True) -> object:
    """The JSON at ``url`` once the server answers and ``until(payload)`` holds (TensorBoard loads logs lazily)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                payload = json.loads(response.read())
            if until(payload) or time.monotonic() > deadline:
                return payload
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_tensorboard_logs_open_in_tensorboard(isolated_dirs, mnist, capsys) -> None:
    summary = _train(capsys, "--preset", "tiny", "--subset", "300", "--epochs", "2", "--tensorboard")
    history = runs.read_history(isolated_dirs["runs"] / summary["run_id"])
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(isolated_dirs["runs"]),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/data/plugin/scalars"
        run = f"{summary['run_id']}/tensorboard/validation"
        tags = _get_json(f"{base}/tags", timeout_s=90, until=lambda payload: run in payload)
        assert {"epoch_accuracy", "epoch_loss"} <= set(tags[run])
        points = _get_json(f"{base}/scalars?run={run}&tag=epoch_accuracy", timeout_s=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [step for _, step, _ in points] == [0, 1]
    assert [value for _, _, value in points] == pytest.approx(history["val_accuracy"], abs=1e-6)


def test_tensorboard_is_in_the_requirements() -> None:
    import tensorboard

    requirements = (Path(__file__).resolve().parents[3] / "requirements.txt").read_text().splitlines()
    assert f"tensorboard=={tensorboard.__version__}" in requirements
