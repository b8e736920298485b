"""The Evaluate and Model pages on the tiny test model, and without any model."""

from __future__ import annotations

import numpy as np
import pytest

import app_state
from digit_core.store import registry
from digit_core.inference.evaluate import evaluate
from digit_core.inference.predict import Predictor


@pytest.mark.parametrize("page", ["evaluate", "model"])
def test_without_any_model_the_page_says_how_to_get_one(open_page, no_models, page: str) -> None:
    at = open_page(page).run()
    assert not at.exception
    assert "python -m digit_core train --preset best" in at.error[0].value


def test_evaluate_shows_the_numbers_of_the_model(open_page, tiny_model: str, mnist) -> None:
    at = open_page("evaluate").run()
    assert not at.exception
    expected = evaluate(Predictor.from_file(registry.resolve(tiny_model)).probabilities, mnist.x_test, mnist.y_test)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Test accuracy"] == f"{expected.accuracy:.2%}"
    assert metrics["Test loss"] == f"{expected.loss:.4f}"
    assert metrics["Mistakes (of 10,000)"] == f"{len(expected.misclassified):,}"
    assert metrics["USPS accuracy"].endswith("%")
    report = at.dataframe[0].value
    assert report["label"].tolist()[-2:] == ["macro avg", "weighted avg"] and len(report) == 12
    assert len(at.get("plotly_chart")) == 1  # the confusion matrix


def test_a_confusion_cell_shows_its_test_images(open_page, tiny_model: str, mnist) -> None:
    at = open_page("evaluate").run()
    at.selectbox(key=app_state.EVALUATE_TRUE).set_value(4)
    at.selectbox(key=app_state.EVALUATE_PREDICTED).set_value(4).run()
    assert not at.exception
    count = int(np.sum(mnist.y_test == 4))
    caption = next(text.value for text in at.caption if "test images are 4s read as 4" in text.value)
    assert 0 < int(caption.split()[0]) <= count
    gallery = at.get("image")[0]
    assert len(gallery.proto.imgs) == 30  # the first 30 of that cell


def test_model_page_explains_the_layers(open_page, tiny_model: str) -> None:
    at = open_page("model").run()
    assert not at.exception
    assert at.title[0].value == "Inside a model"
    how = at.dataframe[0].value["how"].tolist()
    assert how[0] == "3×3×1×4 + 4 = 40" and "676×16 + 16 = 10,832" in how
    assert len(at.get("plotly_chart")) == 2  # kernel and bias of the first layer
    assert any("4 filters of 3×3 pixels" in caption.value for caption in at.caption)
    at.selectbox[1].set_value(at.selectbox[1].options[-1]).run()  # the output layer
    assert not at.exception and len(at.get("plotly_chart")) == 2


def test_a_picked_test_image_is_explained(open_page, tiny_model: str) -> None:
    at = open_page("evaluate").run()
    assert not at.exception
    (why,) = [expander for expander in at.expander if expander.label == "Why this answer"]
    assert not why.get("image")  # nothing is explained until an image is picked
    pills = why.button_group[0]
    assert pills.options[0].startswith("#")  # the gallery's test images by number
    pills.set_value(int(pills.options[0].lstrip("#"))).run()
    assert not at.exception and not at.error
    (why,) = [expander for expander in at.expander if expander.label == "Why this answer"]
    captions = [image.caption for element in why.get("image") for image in element.proto.imgs]
    assert captions[0].startswith("What makes it a ") and "the runner-up" in captions[1]
    assert any("feature maps of" in caption for caption in captions[2:])


def test_model_page_offers_the_model_for_keras_onnx_and_litert(open_page, tiny_model: str, app_dirs, mnist) -> None:
    from digit_core.models.export import litert_reader

    at = open_page("model").run()
    assert not at.exception
    buttons = at.get("download_button")
    assert [button.proto.label for button in buttons] == [".keras file", ".onnx file", ".tflite file"]
    # Each file is made when its button is clicked: the page holds the functions that make them.
    files = app_state.model_files(tiny_model)
    keras_file = app_dirs["models"] / "default.keras"
    assert files[".keras"]() == keras_file.read_bytes()
    assert files[".onnx"]() == keras_file.with_suffix(".onnx").read_bytes()
    tflite = files[".tflite"]()
    assert tflite[4:8] == b"TFL3" and files[".tflite"]() == tflite  # the second click is served from the cache
    x = mnist.x_test[:50, ..., np.newaxis].astype(np.float32) / 255
    served = app_state.predictor(tiny_model).probabilities(mnist.x_test[:50])
    np.testing.assert_allclose(litert_reader(tflite)(x), served, atol=1e-5)


def test_evaluate_offers_the_report_and_the_mistakes_to_download(open_page, tiny_model: str, mnist,
                                                                  downloaded) -> None:
    import csv
    import io
    import zipfile

    from PIL import Image

    at = open_page("evaluate").run()
    assert not at.exception
    expected = evaluate(Predictor.from_file(registry.resolve(tiny_model)).probabilities, mnist.x_test, mnist.y_test)
    name, content = downloaded(at, "Download the report (CSV)")
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert name == f"classification-report-{tiny_model}.csv" and len(rows) == 12
    assert rows[-1]["label"] == "weighted avg" and float(rows[3]["recall"]) == pytest.approx(expected.recall[3])
    label = f"Download the {len(expected.misclassified):,} misclassified digits (zip of PNGs)"
    name, content = downloaded(at, label)
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert name == f"misclassified-{tiny_model}.zip" and len(archive.namelist()) == len(expected.misclassified)
    first = int(expected.misclassified[0])  # the most confident mistake comes first
    first_name = f"{first:05d}_true{mnist.y_test[first]}_predicted{expected.predictions[first]}.png"
    assert archive.namelist()[0] == first_name
    np.testing.assert_array_equal(np.asarray(Image.open(archive.open(first_name))), mnist.x_test[first])


def test_evaluate_settings_live_in_the_url(open_page, tiny_model: str, mnist) -> None:
    at = open_page("evaluate")
    at.query_params.update(model=tiny_model, true="4", predicted="9", first="300")
    at.run()
    assert not at.exception
    assert at.selectbox(key=app_state.EVALUATE_TRUE).value == 4
    assert at.selectbox(key=app_state.EVALUATE_PREDICTED).value == 9
    assert at.number_input(key=app_state.EVALUATE_FIRST).value == 300
    at.selectbox(key=app_state.EVALUATE_TRUE).set_value(7).run()
    assert dict(at.query_params) == {"model": tiny_model, "true": "7", "predicted": "9", "first": "300"}


def test_the_model_and_its_layer_come_from_the_url(open_page, tiny_model: str, app_dirs) -> None:
    import shutil

    shutil.copy(app_dirs["models"] / "default.keras", app_dirs["models"] / "second.keras")
    shutil.copy(app_dirs["models"] / "default.json", app_dirs["models"] / "second.json")
    at = open_page("model")
    layers = ["conv2d", "dense", "dense_1"]
    at.query_params.update(model="second", layer="dense")
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "second" and at.session_state[app_state.MODEL_ID] == "second"
    assert at.selectbox(key=app_state.MODEL_LAYER).options[:len(layers)] == layers
    assert at.selectbox(key=app_state.MODEL_LAYER).value == "dense"
    at = open_page("model")
    at.query_params.update(model="nope")  # a model that does not exist is not chosen
    at.run()
    assert at.selectbox[0].value == "default" and at.query_params["model"] == "default"
