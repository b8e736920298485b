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


def _csv(images: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    pixels = images.reshape(len(images), -1)
    header = ",".join(f"pixel{i}" for i in range(784))
    if labels is not None:
        header, pixels = "label," + header, np.column_stack([labels, pixels])
    return (header + "\n" + "\n".join(",".join(map(str, row)) for row in pixels) + "\n").encode()


def _upload(at, name: str, content: bytes):
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    return at.file_uploader[0].set_value((name, content, "text/csv")).run()


def test_csv_uploads_have_their_own_larger_limit(open_page, mnist) -> None:
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.CSV_SOURCE).run()
    assert at.file_uploader[0].proto.max_upload_size_mb == 100 and "up to 100 MB" in at.info[0].value


def test_an_unlabelled_csv_is_explored_read_and_downloaded_as_a_kaggle_submission(
        open_page, tiny_model, mnist, downloaded) -> None:
    from digit_core.inference.predict import Predictor
    from digit_core.store import registry

    at = _upload(open_page("explore").run(), "test.csv", _csv(mnist.x_test[:40]))
    assert not at.exception and not at.error
    summary = _table_values(at)
    assert summary["images"] == "40" and summary["class balance (smallest / largest class)"] == "no labels"
    assert "no label column" in at.info[0].value
    assert not any(box.label == "Digit" for box in at.selectbox)  # no digit to pick samples by
    assert len(at.get("plotly_chart")) == 2  # the pixel heatmap and the intensity histogram
    at.toggle(key=app_state.READ_CSV).set_value(True).run()
    assert not at.exception and not at.error
    name, content = downloaded(at, "Download a Kaggle submission (ImageId,Label)")
    expected = Predictor.from_file(registry.resolve(tiny_model)).probabilities(mnist.x_test[:40]).argmax(axis=1)
    lines = content.decode().splitlines()
    assert name == f"submission-{tiny_model}.csv" and lines[0] == "ImageId,Label" and len(lines) == 41
    assert lines[1:] == [f"{image_id},{digit}" for image_id, digit in enumerate(expected, start=1)]
    assert '"name":"read as"' in at.get("plotly_chart")[-1].proto.spec


def test_a_labelled_csv_is_read_against_its_labels(open_page, tiny_model, mnist) -> None:
    at = _upload(open_page("explore").run(), "train.csv", _csv(mnist.x_test[:50], mnist.y_test[:50]))
    at.toggle(key=app_state.READ_CSV).set_value(True).run()
    assert not at.exception
    (read_right,) = [metric for metric in at.metric if metric.label == "Read as labelled"]
    assert read_right.value.endswith("%") and 10 < float(read_right.value[:-1]) <= 100


def test_the_settings_live_in_the_url(open_page, mnist) -> None:
    at = open_page("explore")
    at.query_params.update(source="MNIST test", digit="3", count="20")
    at.run()
    assert not at.exception
    assert at.radio(key=app_state.EXPLORE_SOURCE).value == "MNIST test"
    assert _table_values(at)["images"] == "10,000"
    assert at.selectbox(key=app_state.EXPLORE_DIGIT).value == 3 and at.slider(key=app_state.EXPLORE_COUNT).value == 20
    assert mnist.y_test[int(at.number_input[0].value)] == 3
    at.slider(key=app_state.EXPLORE_COUNT).set_value(40).run()
    assert at.query_params["count"] == "40" and at.query_params["source"] == "MNIST test"
    at = open_page("explore")
    at.query_params.update(source="Nowhere", digit="12")  # a link that names nothing is ignored
    at.run()
    assert not at.exception and at.radio(key=app_state.EXPLORE_SOURCE).value == "MNIST train"
    assert at.query_params["digit"] == "any"
