"""The command line end to end, in real subprocesses, on real PNG files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_core.data.synthetic import digit_styles, render_strokes

PROJECT_ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def run_cli(*args: str, env_dirs: dict[str, Path], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIGIT_MODELS_DIR": str(env_dirs["models"]), "DIGIT_RUNS_DIR": str(env_dirs["runs"]),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "digit_core", *args], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=timeout)


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    good = tmp_path / "seven.png"
    cv2.imwrite(str(good), render_strokes(digit_styles(7)[0], background="white")[..., :3])
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100), 255, np.uint8))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:200])
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    return {"good": good, "blank": blank, "corrupt": corrupt, "text": text, "missing": tmp_path / "nope.png"}


def test_predict_json_reports_each_file_and_fails_only_for_bad_ones(isolated_dirs, images) -> None:
    paths = [str(images[k]) for k in ("good", "corrupt", "blank", "text", "missing")]
    result = run_cli("predict", "--json", *paths, env_dirs=isolated_dirs)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == paths
    good, corrupt, blank, text, missing = lines
    assert set(good) >= {"path", "digit", "confidence", "probabilities"}
    assert isinstance(good["digit"], int) and len(good["probabilities"]) == 10
    assert abs(sum(good["probabilities"]) - 1) < 1e-3 and good["confidence"] == max(good["probabilities"])
    assert blank["digit"] is None and "error" not in blank
    for bad in (corrupt, text, missing):
        assert set(bad) == {"path", "error"} and bad["error"]


def test_predict_with_only_good_files_exits_zero(isolated_dirs, images) -> None:
    result = run_cli("predict", str(images["good"]), env_dirs=isolated_dirs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{images['good']}: ")


def test_predict_number_json_reads_each_digit_left_to_right(isolated_dirs, images, tmp_path,
                                                            shipped_model_path) -> None:
    from digit_core.images.number_canvas import TOUCHING, compose_number, strokes_ink

    inks = [strokes_ink(digit_styles(digit)[0], 120, 12) for digit in (4, 2, 7)]
    canvas, boxes = compose_number(inks, [TOUCHING, 50])  # the 4 and the 2 touch
    number = tmp_path / "427.png"
    cv2.imwrite(str(number), canvas[..., :3])
    paths = [str(number), str(images["blank"]), str(images["corrupt"]), str(images["good"])]
    result = run_cli("predict", "--json", "--number", "--model", str(shipped_model_path), *paths,
                     env_dirs=isolated_dirs)
    assert result.returncode == 1, result.stderr  # for the corrupt file, after reading the others
    assert "Traceback" not in result.stderr
    read, blank, corrupt, seven = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(read) == {"path", "number", "digits"} and read["path"] == paths[0]
    assert read["number"] == "427" and [digit["digit"] for digit in read["digits"]] == [4, 2, 7]
    for digit in read["digits"]:
        assert set(digit) == {"digit", "confidence", "box"} and 0.5 < digit["confidence"] <= 1
        assert len(digit["box"]) == 4 and all(isinstance(value, int) for value in digit["box"])
    assert abs(read["digits"][2]["box"][0] - boxes[2][0]) <= 3  # the 7 is where it was drawn
    assert blank == {"path": paths[1], "number": None, "digits": []}
    assert set(corrupt) == {"path", "error"} and corrupt["error"]
    assert seven["number"] == "7" and len(seven["digits"]) == 1


def test_explain_json_gives_saliency_maps_and_an_error_line_for_a_bad_file(isolated_dirs, images,
                                                                           shipped_model_path) -> None:
    paths = [str(images[k]) for k in ("good", "corrupt", "blank")]
    result = run_cli("explain", "--json", "--model", str(shipped_model_path), *paths, env_dirs=isolated_dirs)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    good, corrupt, blank = [json.loads(line) for line in result.stdout.splitlines()]
    assert good["path"] == paths[0] and good["digit"] == 7 and 0.5 < good["confidence"] <= 1
    for key in ("saliency", "runner_up_saliency"):
        saliency = np.array(good[key])
        assert saliency.shape == (28, 28) and saliency.min() >= 0 and saliency.max() > 0
    shipped_members = json.loads((PROJECT_ROOT / "models" / "default.json").read_text())["members"]
    assert good["runner_up"] != 7 and len(good["members"]) == len(shipped_members) > 1  # each network's reading
    assert set(corrupt) == {"path", "error"} and corrupt["error"]
    assert blank["digit"] is None and blank["saliency"] is None and "error" not in blank


def test_explain_as_text_draws_the_map(isolated_dirs, images) -> None:
    result = run_cli("explain", str(images["good"]), env_dirs=isolated_dirs)
    assert result.returncode == 0, result.stderr
    first, *rows = result.stdout.splitlines()
    assert first.startswith(f"{images['good']}: ") and "runner-up" in first
    assert len(rows) == 28 and any(set(row) & set(".:*#") for row in rows)


def test_evaluate_json_on_the_mnist_test_set(isolated_dirs) -> None:
    result = run_cli("evaluate", "--json", env_dirs=isolated_dirs)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 10_000
    assert 0.3 < report["test_accuracy"] <= 1.0 and report["test_loss"] > 0
    assert len(report["confusion_matrix"]) == 10 and sum(map(sum, report["confusion_matrix"])) == 10_000


def test_missing_model_is_one_clear_line(isolated_dirs) -> None:
    result = run_cli("evaluate", "--json", "--model", "nope", env_dirs=isolated_dirs)
    assert result.returncode == 1
    assert "No model with id 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_train_saves_a_run_and_a_model(isolated_dirs, tmp_path) -> None:
    out = tmp_path / "trained.keras"
    result = run_cli("train", "--preset", "tiny", "--subset", "600", "--epochs", "2", "--seed", "3",
                     "--out", str(out), env_dirs=isolated_dirs)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["epochs"] == 2 and summary["n"] == 10_000
    assert "epoch 2/2" in result.stderr and " left)" in result.stderr  # progress with the time left
    assert "\r" not in result.stderr  # not a terminal: whole lines, as a log file wants them
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert out.is_file() and out.with_suffix(".onnx").is_file() and sidecar["training"]["seed"] == 3
    assert (sidecar["extra_writers"], sidecar["usps_rescans"]) == (False, 1)  # the data recipe too
    listing = run_cli("models", "--json", env_dirs=isolated_dirs)
    ids = [row["id"] for row in json.loads(listing.stdout)]
    assert ids == ["default", f"run:{summary['run_id']}"]


def test_out_of_range_hyperparameter_is_a_clear_error(isolated_dirs) -> None:
    result = run_cli("train", "--preset", "tiny", "--learning-rate", "-1", env_dirs=isolated_dirs)
    assert result.returncode == 1
    assert "Learning rate must be in (0, 10]" in result.stderr and "Traceback" not in result.stderr


def test_help_shows_defaults() -> None:
    result = subprocess.run([sys.executable, "-m", "digit_core", "train", "--help"], capture_output=True,
                            text=True, cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0
    assert "(default: fast)" in result.stdout and "--epochs" in result.stdout
    assert "(default: None)" not in result.stdout and "examples:" in result.stdout
