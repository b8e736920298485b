"""The Draw page: model picker, empty canvas, uploads (good and bad), and the prediction card."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from digit_core import config
from digit_core.data import synthetic
from digit_core.images.number_canvas import TOUCHING, compose_number, strokes_ink

NO_MODEL_HINT = "python -m digit_core train --preset best --out models/default.keras"


def _png_of_digit(digit: int, image_format: str = "PNG") -> bytes:
    drawing = synthetic.render_strokes(synthetic.digit_styles(digit)[0])  # (280, 280, 4) black on white
    buffer = io.BytesIO()
    Image.fromarray(drawing[..., :3]).save(buffer, format=image_format)
    return buffer.getvalue()


def _prediction_labels(at: AppTest) -> list[str]:
    return [metric.label for metric in at.metric if metric.label == "Prediction"]


def test_without_any_model_the_page_says_how_to_get_one(open_page, no_models) -> None:
    at = open_page("draw").run()
    assert not at.exception
    assert any(NO_MODEL_HINT in error.value for error in at.error)
    assert _prediction_labels(at) == []


def test_an_empty_canvas_is_not_predicted(open_page, tiny_model: str) -> None:
    at = open_page("draw").run()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    assert at.selectbox[0].options == ["tiny (saved)"]  # the registry entry, by its name
    assert any("canvas is empty" in info.value for info in at.info)
    assert _prediction_labels(at) == [] and not at.error
    assert at.slider(key="brush_width").value == 20


def _shown_digits(at: AppTest) -> list[int]:
    return [int(metric.value) for metric in at.metric if metric.label == "Prediction"]


def _core_reading(app_dirs: dict, image_bytes: bytes) -> int:
    from digit_core.images.imageio import decode_image
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(app_dirs["models"] / "default.keras").predict_image(decode_image(image_bytes)).digit


def test_uploads_get_a_card_each_and_a_bad_file_an_error(open_page, tiny_model: str, app_dirs) -> None:
    at = open_page("draw").run()
    at.file_uploader[0].set_value([("seven.png", _png_of_digit(7), "image/png"),
                                   ("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png"),
                                   ("one.png", _png_of_digit(1), "image/png")]).run()
    assert not at.exception
    assert [subheader.value for subheader in at.subheader] == ["seven.png", "broken.png", "one.png"]
    (error,) = at.error
    assert "broken.png" in error.value and "(PNG/JPEG/GIF/BMP/TIFF/WebP)" in error.value
    assert _prediction_labels(at) == ["Prediction", "Prediction"]  # the good files still work
    # Each card shows what the core reads from the same bytes with the same model.
    assert _shown_digits(at) == [_core_reading(app_dirs, _png_of_digit(7)), _core_reading(app_dirs, _png_of_digit(1))]


def test_the_uploader_takes_every_format_the_core_decodes(open_page, tiny_model: str) -> None:
    from digit_core.images.imageio import ACCEPTED_EXTENSIONS

    at = open_page("draw").run()
    assert set(at.file_uploader[0].proto.type) == {f".{extension}" for extension in ACCEPTED_EXTENSIONS}
    at.file_uploader[0].set_value([("seven.webp", _png_of_digit(7, "WEBP"), "image/webp"),
                                   ("seven.bmp", _png_of_digit(7, "BMP"), "image/bmp")]).run()
    assert not at.exception and not at.error
    assert _prediction_labels(at) == ["Prediction", "Prediction"]


STEPS_KEY = "steps-test"  # the prediction card's "Preprocessing steps" expander (AppTest runs the function alone)


def _render_prediction(probabilities: list[float] | None, second_looks: tuple[str, ...] = (),
                       steps_key: str = "steps-test") -> None:
    import numpy as np

    from app_charts import show_prediction
    from digit_core.inference.predict import Prediction
    from digit_core.images.preprocess import Preprocessed

    if probabilities is None:
        prepared = Preprocessed(None, False, "No digit found: the image is blank.")
        show_prediction(Prediction(None, 0.0, np.zeros(10, np.float32), prepared))
    else:
        values = np.asarray(probabilities, np.float32)
        steps = (("grey", np.zeros((50, 50), np.uint8)), ("centred 28×28", np.ones((28, 28), np.float32)))
        prepared = Preprocessed(np.ones((28, 28), np.float32), True, "", steps)
        show_prediction(Prediction(int(values.argmax()), float(values.max()), values, prepared, second_looks),
                        steps_key=steps_key)


@pytest.mark.parametrize("top, low_confidence", [(0.91, False), (0.40, True)])
def test_prediction_card(top: float, low_confidence: bool) -> None:
    probabilities = [(1 - top) / 9] * 10
    probabilities[3] = top
    at = AppTest.from_function(_render_prediction, args=(probabilities,), default_timeout=30).run()
    assert not at.exception
    prediction = at.metric[0]
    assert prediction.label == "Prediction" and prediction.value == "3"
    assert at.metric[1].label == "Confidence" and at.metric[1].value == f"{top:.1%}"
    assert bool(at.warning) == low_confidence
    bars = at.get("progress")
    assert [bar.proto.text for bar in bars] == [
        f"**3: {top:.1%}**" if digit == 3 else f"{digit}: {(1 - top) / 9:.1%}" for digit in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)]
    assert [bar.proto.value for bar in bars] == [int(100 * p) for p in probabilities]  # whole percent
    assert not at.caption  # one look: nothing to explain
    (steps,) = at.expander
    assert steps.label == "Preprocessing steps, down to the 28×28 the model saw"
    assert not at.get("image")  # no images sent until the expander is opened

    at.session_state[STEPS_KEY] = True  # as opening it does
    at.run()
    assert not at.exception
    earlier_steps, model_input = at.get("image")  # the preprocessing steps, then the 28×28 itself
    assert [image.caption for image in earlier_steps.proto.imgs] == ["grey"]
    assert [image.caption for image in model_input.proto.imgs] == ["centred 28×28: what the model saw"]


@pytest.mark.parametrize("second_looks, says", [
    (("deskewed", "with its strokes as drawn"),
     "it also read the digit deskewed and with its strokes as drawn. These are the 3 readings averaged."),
    (("deskewed",), "it also read the digit deskewed. These are the 2 readings averaged."),
])
def test_prediction_card_says_when_readings_were_averaged(second_looks: tuple[str, ...], says: str) -> None:
    probabilities = [0.05] * 10
    probabilities[8] = 0.55
    at = AppTest.from_function(_render_prediction, args=(probabilities, second_looks), default_timeout=30).run()
    assert not at.exception
    assert at.metric[0].value == "8"
    assert at.caption[0].value.startswith("Unsure at first, the model took a second look")
    assert at.caption[0].value.endswith(says)


def test_prediction_card_without_a_digit_shows_no_prediction() -> None:
    at = AppTest.from_function(_render_prediction, args=(None,), default_timeout=30).run()
    assert not at.exception
    assert not at.metric
    assert "No digit found" in at.info[0].value


def _explanation_images(at: AppTest) -> list[str]:
    """Captions of the images inside the "Why this answer" expanders."""
    return [image.caption for expander in at.expander if expander.label == "Why this answer"
            for element in expander.get("image") for image in element.proto.imgs]


def test_why_this_answer_is_computed_only_when_switched_on(open_page, tiny_model: str) -> None:
    at = open_page("draw").run()
    at.file_uploader[0].set_value([("seven.png", _png_of_digit(7), "image/png")]).run()
    assert not at.exception
    (why,) = [expander for expander in at.expander if expander.label == "Why this answer"]
    assert _explanation_images(at) == []  # the reading alone, as fast as before
    why.toggle[0].set_value(True).run()
    assert not at.exception and not at.error
    digit = at.metric[0].value
    captions = _explanation_images(at)
    assert captions[0].startswith(f"What makes it a {digit} (")
    assert captions[1].startswith("What would make it a ") and "the runner-up" in captions[1]
    # Then the feature maps of the tiny network's one convolution layer.
    assert [caption for caption in captions[2:] if "feature maps of" in caption] == captions[2:] != []
    assert any("(occlusion)" in caption.value for caption in at.caption)


def _render_downloads(found: bool) -> None:
    import numpy as np

    from app_charts import drawing_downloads
    from digit_core.inference.predict import Prediction
    from digit_core.images.preprocess import Preprocessed

    drawing = np.full((280, 280, 4), 255, np.uint8)
    drawing[100:180, 130:150, :3] = 0  # a black stroke on white
    model_input = np.zeros((28, 28), np.float32)
    model_input[4:24, 13:15] = 1.0
    prepared = Preprocessed(model_input if found else None, found, "" if found else "No digit found.")
    probabilities = np.eye(10, dtype=np.float32)[1] if found else np.zeros(10, np.float32)
    drawing_downloads(drawing, Prediction(1 if found else None, 1.0 if found else 0.0, probabilities, prepared))


def test_the_drawing_and_its_28x28_can_be_downloaded(downloaded) -> None:
    import numpy as np

    at = AppTest.from_function(_render_downloads, args=(True,), default_timeout=30).run()
    assert not at.exception
    name, content = downloaded(at, "Download the drawing (PNG)")
    drawing = np.asarray(Image.open(io.BytesIO(content)))
    assert name == "drawing.png" and drawing.shape == (280, 280, 4) and (drawing[120, 140, :3] == 0).all()
    name, content = downloaded(at, "Download the 28×28 (PNG)")
    model_input = np.asarray(Image.open(io.BytesIO(content)))
    assert name == "drawing-28x28-read-as-1.png" and model_input.shape == (28, 28)
    assert model_input[10, 13] == 255 and model_input[10, 10] == 0
    at = AppTest.from_function(_render_downloads, args=(False,), default_timeout=30).run()
    assert [button.proto.label for button in at.get("download_button")] == ["Download the drawing (PNG)"]


def test_the_brush_width_comes_from_the_url_and_goes_back(open_page, tiny_model: str) -> None:
    at = open_page("draw")
    at.query_params.update(brush="32")
    at.run()
    assert not at.exception and at.slider(key="brush_width").value == 32
    assert at.query_params["model"] == tiny_model
    at.slider(key="brush_width").set_value(12).run()
    assert at.query_params["brush"] == "12"


def test_image_uploads_keep_their_5_mb_limit(open_page, tiny_model: str) -> None:
    at = open_page("draw").run()
    assert at.file_uploader[0].proto.max_upload_size_mb == 5


def _png_of_number(digits: str, gaps: list[float | None], height: float = 100) -> bytes:
    """A number drawn in the digits' first stroke style, black on white; gaps in pixels or TOUCHING."""
    inks = [strokes_ink(synthetic.digit_styles(int(digit))[0], height, 10) for digit in digits]
    canvas, _ = compose_number(inks, gaps, canvas=(280, max(700, int(len(digits) * height * 1.5))))
    buffer = io.BytesIO()
    Image.fromarray(canvas[..., :3]).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def shipped_model(tmp_path, monkeypatch, shipped_model_path) -> str:
    """The app pointed at a copy of the shipped model, which reads numbers well enough to check the digits."""
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(shipped_model_path.with_suffix(suffix), models / f"default{suffix}")
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models))
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(tmp_path / "runs"))
    return config.DEFAULT_MODEL_ID


def _digit_captions(at: AppTest) -> list[str]:
    """Captions of the digits shown under a number's reading."""
    return [image.caption for element in at.get("image") for image in element.proto.imgs if " · " in image.caption]


def test_number_mode_reads_an_uploaded_number_digit_by_digit(open_page, shipped_model: str) -> None:
    at = open_page("draw").run()
    assert at.radio(key="draw_mode").value == "One digit"
    at.radio(key="draw_mode").set_value("A number").run()
    assert any("draw a number" in info.value for info in at.info)  # the empty wide canvas
    at.file_uploader[0].set_value([("2026.png", _png_of_number("2026", [TOUCHING, 40, 12]), "image/png")]).run()
    assert not at.exception and not at.error
    assert [metric.value for metric in at.metric if metric.label == "Prediction"] == ["2026"]
    captions = _digit_captions(at)
    assert [caption.split(" · ")[0] for caption in captions] == ["2", "0", "2", "6"]
    assert all(caption.split(" · ")[1].endswith("%") for caption in captions)
    assert not [caption for caption in captions if caption.endswith("unsure")] and not at.warning


def test_several_digits_in_one_digit_mode_offer_number_mode(open_page, shipped_model: str) -> None:
    at = open_page("draw").run()
    at.file_uploader[0].set_value([("42.png", _png_of_number("42", [60]), "image/png")]).run()
    assert not at.exception
    assert _prediction_labels(at) == []  # no confident single digit
    assert any("looks like 2 digits" in info.value for info in at.info)
    (offer,) = [button for button in at.button if button.label == "Read it as a number"]
    offer.click().run()
    assert not at.exception
    assert at.radio(key="draw_mode").value == "A number"
    assert [metric.value for metric in at.metric if metric.label == "Prediction"] == ["42"]


def test_number_mode_says_when_there_is_no_digit_or_too_many(open_page, tiny_model: str) -> None:
    blank = io.BytesIO()
    Image.fromarray(np.full((280, 700), 255, np.uint8)).save(blank, format="PNG")
    at = open_page("draw").run()
    at.radio(key="draw_mode").set_value("A number").run()
    at.file_uploader[0].set_value([("blank.png", blank.getvalue(), "image/png"),
                                   ("long.png", _png_of_number("0123456789" * 2 + "7", [12] * 20, height=40),
                                    "image/png")]).run()
    assert not at.exception
    assert any(info.value.startswith("No digit found") for info in at.info)
    (error,) = at.error
    assert "Found 21 digits" in error.value and "up to 20" in error.value
    assert _prediction_labels(at) == []
