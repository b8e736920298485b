"""``collection add|list|export|delete`` and ``train --extra-data``, in real subprocesses, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_core.store.collection import Collection
from digit_core.data.csv_import import read_digits_csv, write_digits_csv
from digit_core.data.synthetic import digit_styles, render_strokes

PROJECT_ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


@pytest.fixture
def cli(isolated_dirs: dict[str, Path], tmp_path: Path):
    """``cli("collection", "list")`` runs the command line on a fresh SQLite collection and the tiny model."""
    database = tmp_path / "collection.db"
    env = {**os.environ, "DIGIT_MODELS_DIR": str(isolated_dirs["models"]), "DIGIT_RUNS_DIR": str(isolated_dirs["runs"]),
           "DIGIT_DB": str(database), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("DIGIT_DB_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "digit_core", *args], capture_output=True, text=True, env=env,
                              cwd=PROJECT_ROOT, timeout=300)

    run.database, run.runs = database, isolated_dirs["runs"]
    return run


def _listed(cli) -> list[dict]:
    result = cli("collection", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    seven, one = tmp_path / "seven.png", tmp_path / "one.png"
    cv2.imwrite(str(seven), render_strokes(digit_styles(7)[0], background="white")[..., :3])
    cv2.imwrite(str(one), render_strokes(digit_styles(1)[0], background="white")[..., :3])
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100), 255, np.uint8))
    notes = tmp_path / "notes.png"
    notes.write_text("this is not an image")
    return {"seven": seven, "one": one, "blank": blank, "notes": notes}


def test_add_stores_good_files_and_refuses_bad_ones(cli, files) -> None:
    paths = [str(files[name]) for name in ("seven", "notes", "blank", "one")]
    result = cli("collection", "add", "--label", "7", "--who", "Ada", "--json", *paths)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    stored = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in stored] == [paths[0], paths[3]]
    assert all(line["label"] == 7 and 0 <= line["predicted"] <= 9 for line in stored)
    assert f"{paths[1]}: error: notes.png is not a PNG" in result.stderr
    assert f"{paths[2]}: error: No digit found" in result.stderr and "Nothing was stored for it." in result.stderr

    listed = _listed(cli)
    assert [(row["id"], row["label"], row["who"]) for row in listed] == [(line["id"], 7, "Ada") for line in stored]
    assert [row["predicted"] for row in listed] == [line["predicted"] for line in stored]
    assert all({"id", "label", "predicted", "who", "created", "confidence", "model_id"} <= set(row) for row in listed)
    assert {row["model_id"] for row in listed} == {"default"}


@pytest.mark.parametrize("label", ["12", "x", "-1"])
def test_a_label_outside_0_to_9_stores_nothing(cli, files, label: str) -> None:
    result = cli("collection", "add", "--label", label, str(files["seven"]))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: The label must be one digit 0-9, got {label!r}."
    assert _listed(cli) == []


def test_export_writes_the_model_inputs_as_a_csv_explore_reads(cli, files, tmp_path: Path) -> None:
    assert cli("collection", "add", "--label", "7", str(files["seven"])).returncode == 0
    assert cli("collection", "add", "--label", "1", str(files["one"])).returncode == 0
    out = tmp_path / "export" / "mine.csv"
    result = cli("collection", "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Wrote 2 drawings to {out}."
    images, labels = read_digits_csv(out)
    collection = Collection.open(f"sqlite:///{cli.database}")
    collected = collection.images()
    collection.close()
    assert labels.tolist() == [7, 1]
    np.testing.assert_array_equal(images, collected.images)
    assert images.reshape(2, -1).max(axis=1).tolist() == [255, 255]  # real digits, not blank rows


def test_export_of_an_empty_collection_is_an_error(cli, tmp_path: Path) -> None:
    result = cli("collection", "export", "--out", str(tmp_path / "empty.csv"))
    assert result.returncode == 1 and "is empty: there is nothing to export" in result.stderr
    assert not (tmp_path / "empty.csv").exists()


def test_delete_removes_the_ids_given_and_names_the_missing_ones(cli, files) -> None:
    for name in ("seven", "one", "seven"):
        assert cli("collection", "add", "--label", "7", str(files[name])).returncode == 0
    first, second, third = (row["id"] for row in _listed(cli))
    result = cli("collection", "delete", str(first), str(third), "999")
    assert result.returncode == 1
    assert result.stdout.strip() == f"Deleted 2 drawings: #{first}, #{third}."
    assert result.stderr.strip() == "error: no drawing #999 in the collection."
    assert [row["id"] for row in _listed(cli)] == [second]


def test_a_corrupt_database_is_one_clear_line(cli) -> None:
    cli.database.write_bytes(b"\x00garbage" * 1000)
    for args in (("collection", "list"), ("collection", "delete", "1")):
        result = cli(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"error: The collection's database ({cli.database}) cannot be opened: "
                                        "file is not a database. Move the file aside")


def test_train_with_extra_data_adds_the_csv_images(cli, mnist, tmp_path: Path) -> None:
    from digit_core import data
    from digit_core.training import runs
    from digit_core.models import zoo

    extra = tmp_path / "extra.csv"
    write_digits_csv(extra, mnist.x_test[:30], mnist.y_test[:30])
    result = cli("train", "--preset", "tiny", "--subset", "200", "--epochs", "1", "--quiet", "--extra-data", str(extra))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    config = runs.read_run(cli.runs / summary["run_id"]).config
    split = zoo.get_entry("tiny").training.validation_split
    mnist_part, *_ = data.validation_split(mnist.x_train[:200], mnist.y_train[:200], split, 0)
    assert config["train_size"] == len(mnist_part) + 30


def test_train_with_a_bad_extra_csv_fails_before_training(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("label,pixel0\n3,12\n")
    result = cli("train", "--preset", "tiny", "--epochs", "1", "--quiet", "--extra-data", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: bad.csv: " in result.stderr and "line 1: the header has 2 columns" in result.stderr


def test_train_with_an_unlabelled_extra_csv_fails_before_training(cli, tmp_path: Path) -> None:
    unlabelled = tmp_path / "test.csv"  # Kaggle's test.csv layout: the pixels alone
    unlabelled.write_text(",".join(f"pixel{index}" for index in range(784)) + "\n" + ",".join(["0"] * 784) + "\n")
    result = cli("train", "--preset", "tiny", "--epochs", "1", "--quiet", "--extra-data", str(unlabelled))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has no label column" in result.stderr and not any(cli.runs.iterdir())
