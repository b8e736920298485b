"""tf.distribute training: mirrored on two logical CPUs; multi-worker only from a fresh process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digit_core import runs

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _test_accuracy(model_path: Path, mnist) -> float:
    from digit_core.evaluate import evaluate
    from digit_core.predict import Predictor

    return evaluate(Predictor.from_file(model_path).probabilities, mnist.x_test, mnist.y_test).accuracy


MIRRORED_SCRIPT = """
import json, sys
from pathlib import Path
import tensorflow as tf
# Two logical CPU devices, before TensorFlow initialises: the mirrored strategy's two replicas.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from digit_core import data, zoo
from digit_core.train import train
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

    from digit_core import distribute

    tf.constant(1.0) + 1  # TensorFlow has run an operation in this process: too late for collectives
    port = _free_ports(1)[0]
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}"]},
                                                "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ValueError, match="multi-worker training must start before TensorFlow runs anything"):
        distribute.start("multi-worker")
