"""Bad input through the CLI: one ``predict --json`` over the whole matrix, in a real subprocess.

Every file gets one JSON line, bad ones an ``error`` or a null digit, the process exits 1 without a
traceback, and the good files in the same batch are still read, and read right by the shipped model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.keras"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(bad_inputs, bad_input_dir: Path, tiny_models_dir: Path, tmp_path_factory) -> dict:
    """The CLI's lines by file name, its exit code and stderr; the shipped model when there is one."""
    extra = tmp_path_factory.mktemp("extra")
    over_size = extra / "huge.png"
    over_size.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(6 * 1024 * 1024))
    paths = [str(bad_input_dir / name) for name in bad_inputs] + [str(over_size), str(extra / "missing.png")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DIGIT_MODELS_DIR": str(tiny_models_dir),
           "DIGIT_RUNS_DIR": str(extra / "runs")}
    model = ["--model", str(SHIPPED_MODEL)] if SHIPPED_MODEL.is_file() else []
    result = subprocess.run([sys.executable, "-m", "digit_core", "predict", "--json", *model, *paths],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return {"paths": paths, "lines": lines, "by_name": {Path(line["path"]).name: line for line in lines},
            "returncode": result.returncode, "stderr": result.stderr, "shipped": bool(model)}


def test_one_json_line_per_file_in_order_exit_1_and_no_traceback(batch) -> None:
    assert [line["path"] for line in batch["lines"]] == batch["paths"]
    assert batch["returncode"] == 1, batch["stderr"]
    assert "Traceback" not in batch["stderr"]


def test_each_bad_file_gets_a_clear_error_or_a_null_digit(batch, bad_inputs) -> None:
    for name, case in bad_inputs.items():
        line = batch["by_name"][name]
        if case.expect == "error":
            assert set(line) == {"path", "error"}, line
            assert re.search(case.message, line["error"]), line
        elif case.expect == "no_digit":
            assert line["digit"] is None and line["confidence"] == 0.0, line
            assert line["message"].startswith("No digit found"), line
        else:
            assert isinstance(line["digit"], int) and line["confidence"] > 0, line
    assert re.search(r"huge\.png is 6\.0 MB; the limit is 5\.0 MB", batch["by_name"]["huge.png"]["error"])
    assert "missing.png does not exist" in batch["by_name"]["missing.png"]["error"]


def test_the_good_files_are_still_read_right(batch, bad_inputs) -> None:
    if not batch["shipped"]:
        pytest.skip(f"{SHIPPED_MODEL} is not there yet; the batch ran with the tiny test model, whose "
                    "readings may be wrong, so only the shape of its answers was checked.")
    for name, case in bad_inputs.items():
        if case.expect == "digit":
            line = batch["by_name"][name]
            assert line["digit"] == case.digit, line
            assert line["confidence"] > 0.5, line
