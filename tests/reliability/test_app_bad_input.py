"""Bad input and broken models through the app's pages (Streamlit AppTest): an error or "no digit
found" on the page for each bad file, never an exception, and the good files and models still work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_TIMEOUT_S = 120  # a page's first run may import TensorFlow and load a model

pytestmark = pytest.mark.skipif(not (PROJECT_ROOT / "pages" / "draw.py").is_file()
                                or not (PROJECT_ROOT / "pages" / "explore.py").is_file(),
                                reason="the app's Draw and Explore pages are not written yet")


def _open_page(name: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(PROJECT_ROOT / "pages" / f"{name}.py"), default_timeout=APP_TIMEOUT_S)


def _predictions(at) -> list[str]:
    return [metric.value for metric in at.metric if metric.label == "Prediction"]


def _as_uploadable(name: str) -> str:
    """The uploader takes PNG and JPEG names only, so other files come renamed, as users do (x.pdf → x.png)."""
    return name if name.endswith((".png", ".jpg")) else name.rsplit(".", 1)[0] + ".png"


def test_the_draw_page_answers_every_file_of_the_matrix(isolated_dirs, bad_inputs) -> None:
    at = _open_page("draw").run()
    assert not at.exception
    uploads = [(_as_uploadable(case.name), case.data, "image/png") for case in bad_inputs.values()]
    uploads.append(("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(6 * 1024 * 1024), "image/png"))
    at.file_uploader[0].set_value(uploads).run()
    assert not at.exception
    assert [subheader.value for subheader in at.subheader] == [name for name, _, _ in uploads]
    errors = [error.value for error in at.error]
    assert any("document.png is not a PNG/JPEG/GIF/BMP/TIFF/WebP image (it looks like a PDF" in error
               for error in errors)
    for case in bad_inputs.values():
        if case.expect == "error":
            assert any(_as_uploadable(case.name) in error for error in errors), case.name
    assert any("huge.png is 6.0 MB; the limit is 5.0 MB" in error for error in errors)
    assert len(errors) == sum(case.expect == "error" for case in bad_inputs.values()) + 1
    no_digit = [info.value for info in at.info if info.value.startswith("No digit found")]
    assert len(no_digit) == sum(case.expect == "no_digit" for case in bad_inputs.values())
    predictions = _predictions(at)
    assert len(predictions) == sum(case.expect == "digit" for case in bad_inputs.values())
    assert all(0 <= int(value) <= 9 for value in predictions)


def _csv(rows: np.ndarray, header: bool = True) -> bytes:
    lines = (["label," + ",".join(f"pixel{i}" for i in range(784))] if header else []) + [
        ",".join(map(str, row)) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _bad_csvs(good: bytes, bomb: bytes) -> dict[str, bytes]:
    header = good.split(b"\n", 1)[0] + b"\n"
    return {
        "empty.csv": b"",
        "picture.csv": bomb,  # binary data named .csv
        "latin1.csv": header + "7,".encode() + "é".encode("latin-1") + b"\n",
        "short-rows.csv": b"label,pixel0,pixel1\n3,12,200\n",
        "out-of-range.csv": header + b"12," + b",".join([b"999"] * 784) + b"\n",
        "words.csv": header + b"7," + b",".join([b"dark"] * 784) + b"\n",
        "header-only.csv": header,
        "one-column.csv": b"\n".join([b"5"] * 1000) + b"\n",
    }


@pytest.fixture(scope="module")
def good_csv(mnist) -> bytes:
    return _csv(np.column_stack([mnist.y_test[:20], mnist.x_test[:20].reshape(20, -1)]))


@pytest.mark.slow  # the page's first run profiles all of MNIST train, its default source
def test_the_explore_page_refuses_each_bad_csv_then_reads_a_good_one(isolated_dirs, bad_inputs, good_csv) -> None:
    import app_state

    at = _open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    for name, content in _bad_csvs(good_csv, bad_inputs["bomb.png"].data).items():
        at.file_uploader[0].set_value((name, content, "text/csv")).run()
        assert not at.exception, name
        assert len(at.error) == 1 and name in at.error[0].value, (name, [e.value for e in at.error])
        assert not at.table, name  # nothing was analysed
    at.file_uploader[0].set_value(("good.csv", good_csv, "text/csv")).run()
    assert not at.exception and not at.error
    assert at.table  # the summary of the 20 digits


@pytest.fixture
def corrupt_models(isolated_dirs: dict[str, Path]) -> dict[str, Path]:
    models = isolated_dirs["models"]
    good = (models / "default.keras").read_bytes()
    (models / "truncated.keras").write_bytes(good[: len(good) // 3])
    (models / "garbage.keras").write_bytes(b"not a zip archive " * 20)
    (models / ".default.keras.k2j4x8.keras").write_bytes(good[:1000])  # a save killed half-way
    return isolated_dirs


def test_the_draw_page_works_with_the_default_beside_corrupt_models(corrupt_models, bad_inputs) -> None:
    at = _open_page("draw").run()
    assert not at.exception and not at.error
    picker = at.selectbox[0]
    assert picker.value == "default"
    # Two broken models, marked unavailable; the temporary file of the killed save is not listed.
    assert len(picker.options) == 3 and sum(option.endswith(": unavailable") for option in picker.options) == 2
    good = bad_inputs["good.png"]
    at.file_uploader[0].set_value((good.name, good.data, "image/png")).run()
    assert not at.exception and len(_predictions(at)) == 1
    # Picking a broken model explains itself instead of failing.
    at.selectbox[0].set_value("truncated").run()
    assert not at.exception and _predictions(at) == []
    assert any("truncated cannot be used" in error.value for error in at.error)
