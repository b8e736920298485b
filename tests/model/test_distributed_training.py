"""tf.distribute training: two workers on localhost make one run, a killed worker's run resumes, mirrored on two CPUs.

Each worker is its own process (TensorFlow configures collective operations at start-up), given its
own TF_CONFIG with free ports on 127.0.0.1, and killed if it outlives its timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from digit_core.store import registry
from digit_core.training import runs

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240
# The tiny preset (one 4-filter convolution) for 2 epochs on 1,080 images reads about 75-80% of MNIST test.
TINY_ACCURACY_FLOOR = 0.6
TRAIN_ARGS = ["--preset", "tiny", "--subset", "1200", "--quiet"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start_workers(args: list[str], env_dirs: dict[str, Path], count: int = 2) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(count)]}
    workers = []
    for index in range(count):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        # TMPDIR: where a non-chief keeps its checkpoints (and leaves them, when killed).
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(env_dirs["tmp"]),
               "DIGIT_RUNS_DIR": str(env_dirs["runs"]), "DIGIT_MODELS_DIR": str(env_dirs["models"])}
        workers.append(subprocess.Popen([sys.executable, "-m", "digit_core", "train", "--distribute", "multi-worker",
                                         *args], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    return workers


def _finish(workers: list[subprocess.Popen]) -> list[dict]:
    """Each worker's JSON summary, once all have exited; a worker still running at the timeout is killed."""
    deadline = time.monotonic() + TIMEOUT_S
    outputs = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert worker.returncode == 0, f"worker exited with {worker.returncode}: {err[-2000:]}"
            outputs.append(json.loads(out))
    finally:
        _kill(workers)
    return outputs


def _kill(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()


def _only_run(runs_root: Path) -> Path:
    run_dirs = [path for path in runs_root.iterdir() if path.is_dir()]
    assert len(run_dirs) == 1, f"the workers made {len(run_dirs)} run directories: {run_dirs}"
    return run_dirs[0]


def _test_accuracy(model_path: Path, mnist) -> float:
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor

    return evaluate(Predictor.from_file(model_path).probabilities, mnist.x_test, mnist.y_test).accuracy


@pytest.fixture
def env_dirs(tmp_path) -> dict[str, Path]:
    dirs = {"runs": tmp_path / "runs", "models": tmp_path / "models", "tmp": tmp_path / "tmp"}
    for path in dirs.values():
        path.mkdir()
    return dirs


def test_two_localhost_workers_train_one_run(env_dirs, mnist) -> None:
    out = env_dirs["models"] / "two-workers.keras"
    chief, other = _finish(_start_workers([*TRAIN_ARGS, "--epochs", "2", "--tensorboard", "--out", str(out)],
                                          env_dirs))

    run_dir = _only_run(env_dirs["runs"])
    assert chief["run_id"] == run_dir.name and chief["status"] == "completed" and chief["epochs"] == 2
    assert other == {"worker": "worker 1 of 2 training processes", "status": "completed", "epochs": 2,
                     "train_size": 1080}
    info = runs.read_run(run_dir)
    assert info.status == "completed" and info.epochs_done == 2
    assert info.config["distribution"] == {"strategy": "multi-worker", "replicas": 2, "workers": 2}
    assert (run_dir / "tensorboard").is_dir()
    assert not list(env_dirs["tmp"].glob("digit-studio-*"))  # the other worker's checkpoints are gone
    for checkpoint in ("best.keras", "last.keras", "final.keras"):
        assert registry.load_keras_model(run_dir / checkpoint).output_shape == (None, 10)
    # Both workers saw the same global metrics: every step's gradients were averaged across them.
    assert chief["test_accuracy"] == pytest.approx(_test_accuracy(run_dir / "best.keras", mnist), abs=1e-4)
    assert _test_accuracy(out, mnist) > TINY_ACCURACY_FLOOR
    assert json.loads(out.with_suffix(".json").read_text())["from_run"] == run_dir.name


def test_a_killed_worker_leaves_a_run_that_resumes(env_dirs, mnist) -> None:
    workers = _start_workers([*TRAIN_ARGS, "--epochs", "50"], env_dirs)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not list(env_dirs["runs"].glob("*/history.json")):
            assert all(worker.poll() is None for worker in workers), "a worker ended before the first epoch"
            assert time.monotonic() < deadline, "the workers never finished an epoch"
            time.sleep(0.2)
        workers[1].send_signal(signal.SIGKILL)
        # The chief's next all-reduce fails once the dead worker misses its heartbeats.
        workers[0].wait(timeout=120)
    finally:
        _kill(workers)
    run_dir = _only_run(env_dirs["runs"])
    info = runs.read_run(run_dir)
    assert info.status in ("failed", "interrupted"), info.status
    assert info.epochs_done >= 1
    assert registry.load_keras_model(run_dir / "last.keras").output_shape == (None, 10)

    epochs = info.epochs_done + 1
    chief, other = _finish(_start_workers(["--resume", run_dir.name, "--epochs", str(epochs), "--quiet"], env_dirs))
    assert chief["run_id"] == run_dir.name and chief["status"] == "completed" and chief["epochs"] == epochs
    assert other["epochs"] == epochs
    assert runs.read_run(run_dir).status == "completed"
    assert _only_run(env_dirs["runs"]) == run_dir
    assert _test_accuracy(run_dir / "best.keras", mnist) > TINY_ACCURACY_FLOOR


MIRRORED_SCRIPT = """
import json, sys
from pathlib import Path
import tensorflow as tf
# Two logical CPU devices, before TensorFlow initialises: the mirrored strategy's two replicas.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from digit_core import data
from digit_core.models import zoo
from digit_core.training.train import train
mnist = data.load_mnist(allow_download=False)
entry = zoo.get_entry("tiny")
training = zoo.with_overrides(entry.training, epochs=2, augment=True)
result = train(entry.network, training, mnist.x_train[:1200], mnist.y_train[:1200], mnist.x_test[:300],
               mnist.y_test[:300], run_dir=Path(sys.argv[1]), name="mirrored", distribute="mirrored")
print(json.dumps({"status": result.status, "val_accuracy": result.history["val_accuracy"]}))
"""


def test_mirrored_trains_on_two_logical_cpus(tmp_path, mnist) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(run_dir)], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and len(result["val_accuracy"]) == 2
    info = runs.read_run(run_dir)
    assert info.config["distribution"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert info.config["training"]["augment"] is True  # augmented in the tf.data pipeline
    assert np.isfinite(info.history["loss"]).all() and result["val_accuracy"][-1] > 0.3
    assert _test_accuracy(run_dir / "best.keras", mnist) > 0.3


def test_multi_worker_refuses_to_start_after_tensorflow_has(monkeypatch) -> None:
    import tensorflow as tf

    from digit_core.training import distribute

    tf.constant(1.0) + 1  # TensorFlow has run an operation in this process: too late for collectives
    port = _free_ports(1)[0]
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}"]},
                                                "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ValueError, match="multi-worker training must start before TensorFlow runs anything"):
        distribute.start("multi-worker")
