"""A training process killed with SIGKILL mid-run leaves a loadable checkpoint and an honest status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digit_core.store import registry
from digit_core.training import runs

SCRIPT = """
import sys
from pathlib import Path
from digit_core import data
from digit_core.models import zoo
from digit_core.training.train import train
mnist = data.load_mnist(allow_download=False)
entry = zoo.get_entry("tiny")
training = zoo.with_overrides(entry.training, epochs=500, batch_size=100)
train(entry.network, training, mnist.x_train[:1000], mnist.y_train[:1000], mnist.x_test[:200], mnist.y_test[:200],
      run_dir=Path(sys.argv[1]), name="doomed")
"""


@pytest.mark.slow
def test_sigkill_mid_training_leaves_a_loadable_checkpoint(tmp_path, mnist, monkeypatch) -> None:
    run_dir = tmp_path / "runs" / "doomed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(run_dir)], env=env,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 120
        while runs.read_history(run_dir).get("loss", []).__len__() < 2 if run_dir.exists() else True:
            assert process.poll() is None, "the training process ended early"
            assert time.monotonic() < deadline, "training never reached two epochs"
            time.sleep(0.2)
        assert runs.read_run(run_dir).status == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    info = runs.read_run(run_dir)
    assert info.status == "interrupted"
    assert "best checkpoint is kept" in info.message
    model = registry.load_keras_model(run_dir / "best.keras")
    assert model.output_shape == (None, 10)
    monkeypatch.setenv("DIGIT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DIGIT_MODELS_DIR", str(tmp_path / "models"))
    listed = registry.list_models()
    assert [entry.model_id for entry in listed] == ["run:doomed"]
    assert registry.load("run:doomed").output_shape == (None, 10)
