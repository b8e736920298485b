"""The Explore page: MNIST, USPS and uploaded CSVs, good and bad."""

from __future__ import annotations

import numpy as np

import app_state


def _table_values(at) -> dict[str, str]:
    frame = at.table[0].value
    return dict(zip(frame["quantity"], frame["value"]))


def test_mnist_train_is_summarised_with_all_the_figures(open_page, mnist) -> None:
    at = open_page("explore").run()
    assert not at.exception
    assert at.title[0].value == "Explore the data"
    summary = _table_values(at)
    assert summary["images"] == "60,000" and summary["image shape"] == "28×28"
    assert summary["value range"] == "0 – 255" and summary["missing values"] == "0"
    charts = at.get("plotly_chart")
    assert len(charts) == 5  # label counts, pixel heatmap, mean images, histogram, ink
    assert '"name":"train"' in charts[0].proto.spec and '"name":"test"' in charts[0].proto.spec
    assert len(at.get("image")) == 1 and at.get("download_button")


def test_samples_follow_the_chosen_digit_and_count(open_page, mnist) -> None:
    at = open_page("explore").run()
    at.selectbox[0].set_value(4)
    at.slider[0].set_value(20).run()
    assert not at.exception
    index = int(at.number_input[0].value)
    assert mnist.y_train[index] == 4  # the heatmap shows the first sample by default
    assert f"Image {index}: a 4" in at.get("plotly_chart")[1].proto.spec


def test_usps_source(open_page, mnist) -> None:
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value("USPS test").run()
    assert not at.exception
    summary = _table_values(at)
    assert summary["images"] == "2,007" and summary["image shape"] == "16×16"


def test_other_writers_sources(open_page, mnist) -> None:
    from digit_core import data

    try:
        data.load_pendigits(), data.load_optdigits("cv")
    except data.DataNotFoundError as error:
        import pytest

        pytest.skip(str(error))
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value("pendigits held-out writers").run()
    assert not at.exception and not at.error
    summary = _table_values(at)
    # Writers 25-30, each digit drawn on a canvas and read into the model's 28×28 input.
    assert summary["images"] == "1,498" and summary["image shape"] == "28×28"
    assert '"name":"train"' in at.get("plotly_chart")[0].proto.spec  # both groups of writers counted
    at.radio(key=app_state.EXPLORE_SOURCE).set_value("optdigits cv").run()
    assert not at.exception
    summary = _table_values(at)
    assert summary["images"] == "946" and summary["image shape"] == "32×32"


def test_an_uploaded_csv_is_explored(open_page, mnist) -> None:
    rows = np.column_stack([mnist.y_test[:30], mnist.x_test[:30].reshape(30, -1)])
    content = "label," + ",".join(f"pixel{i}" for i in range(784)) + "\n" + "\n".join(
        ",".join(map(str, row)) for row in rows) + "\n"
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    assert "Upload a CSV" in at.info[0].value
    at.file_uploader[0].set_value(("mine.csv", content.encode(), "text/csv")).run()
    assert not at.exception and not at.error
    assert _table_values(at)["images"] == "30"


def test_a_bad_csv_lists_its_problems(open_page, mnist) -> None:
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    bad = b"label,pixel0,pixel1\n3,12,abc\n11,0,0\n"
    at.file_uploader[0].set_value(("bad.csv", bad, "text/csv")).run()
    assert not at.exception
    (error,) = at.error
    assert "bad.csv" in error.value and "line 2" in error.value and "line 3" in error.value
    assert "upload it" in error.value
    assert not at.table  # nothing is analysed
