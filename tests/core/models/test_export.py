"""``python -m digit_core export``: a model written for ONNX Runtime or LiteRT, checked on MNIST test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digit_core import cli

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _keras_accuracy(models_dir: Path, mnist) -> float:
    from digit_core.store import registry

    model = registry.load("default", models_dir=models_dir)
    x = mnist.x_test[..., np.newaxis].astype(np.float32) / 255  # the tiny model's "scale" normalisation
    return float(np.mean(np.asarray(model.predict(x, batch_size=1000, verbose=0)).argmax(axis=1) == mnist.y_test))


def test_onnx_export_writes_the_served_export_and_reports_agreement(isolated_dirs, mnist, tmp_path, capsys) -> None:
    out = tmp_path / "exports" / "tiny.onnx"
    assert cli.main(["export", "--format", "onnx", "--out", str(out), "--json"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert out.read_bytes() == (isolated_dirs["models"] / "default.onnx").read_bytes()  # what the predictor runs
    assert report["size_bytes"] == out.stat().st_size and report["format"] == "onnx" and report["n"] == 10_000
    assert report["keras_accuracy"] == pytest.approx(_keras_accuracy(isolated_dirs["models"], mnist))
    assert report["export_accuracy"] == report["keras_accuracy"] > 0.5
    assert report["digits_read_differently"] == 0 and report["max_probability_difference"] < 1e-5

    assert cli.main(["export", "--model", "default", "--format", "onnx", "--out", str(out)]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith(f"Wrote {out} (") and " MB). On 10,000 MNIST test digits it reads " in text


@pytest.mark.slow
def test_litert_export_in_a_subprocess_prints_one_json_object(isolated_dirs, mnist, tmp_path) -> None:
    out = tmp_path / "tiny.tflite"
    env = {**os.environ, "DIGIT_MODELS_DIR": str(isolated_dirs["models"]),
           "DIGIT_RUNS_DIR": str(isolated_dirs["runs"])}
    result = subprocess.run([sys.executable, "-m", "digit_core", "export", "--format", "litert", "--out", str(out),
                             "--json"], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()  # the converters' chatter goes to stderr, if anywhere
    report = json.loads(line)
    assert out.read_bytes()[4:8] == b"TFL3"  # a FlatBuffer with LiteRT's file identifier
    assert report["size_bytes"] == out.stat().st_size and report["format"] == "litert"
    assert report["keras_accuracy"] == pytest.approx(_keras_accuracy(isolated_dirs["models"], mnist))
    assert abs(report["export_accuracy"] - report["keras_accuracy"]) <= 2 / 10_000
    assert report["max_probability_difference"] < 1e-4


@pytest.mark.parametrize("arguments, message", [
    (["--model", "nope", "--out", "{tmp}/x.onnx"], "No model with id 'nope'"),
    (["--format", "onnx", "--out", "{tmp}/x.tflite"], "--out must end in .onnx for --format onnx"),
    (["--format", "litert", "--out", "{tmp}/x.onnx"], "--out must end in .tflite for --format litert"),
])
def test_bad_export_requests_are_one_clear_line(arguments, message, isolated_dirs, tmp_path, capsys) -> None:
    argv = ["export", *[argument.format(tmp=tmp_path) for argument in arguments]]
    assert cli.main(argv) == cli.EXIT_FAILED
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1, error
    assert list(tmp_path.glob("x.*")) == []
