"""Evaluation as data, and the fast predictor."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.inference.evaluate import evaluate_probabilities
from digit_core.data.synthetic import digit_styles, render_strokes


def test_evaluation_on_handcrafted_probabilities() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.full((5, 10), 0.01)
    for row, predicted in enumerate([0, 1, 1, 1, 2]):
        probabilities[row, predicted] = 0.91
    result = evaluate_probabilities(probabilities, labels)
    assert result.accuracy == pytest.approx(0.8)
    assert result.confusion[0, 1] == 1 and result.confusion[1, 1] == 2 and result.confusion.sum() == 5
    assert result.precision[1] == pytest.approx(2 / 3) and result.recall[0] == pytest.approx(0.5)
    assert result.f1[2] == pytest.approx(1.0)
    assert list(result.misclassified) == [1]
    assert result.loss == pytest.approx(-(4 * np.log(0.91) + np.log(0.01)) / 5)
    rows = result.report_rows()
    assert rows[1]["support"] == 2 and rows[-1]["label"] == "weighted avg"


def test_evaluation_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_probabilities(np.zeros((3, 9)), np.zeros(3, int))


@pytest.fixture(scope="module")
def predictor(tiny_models_dir):
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(tiny_models_dir / "default.keras")


def test_probabilities_are_batched_consistently(predictor, mnist) -> None:
    images = mnist.x_test[:700]
    batched = predictor.probabilities(images)
    assert batched.shape == (700, 10)
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-4)
    one_by_one = np.stack([predictor.probabilities(image)[0] for image in images[:5]])
    assert np.allclose(one_by_one, batched[:5], atol=1e-5)
    # uint8 input means 0–255; float input means 0–1: both give the same answer.
    assert np.allclose(predictor.probabilities(images[:5].astype(np.float32) / 255), batched[:5], atol=1e-5)


def test_predictor_agrees_with_keras_predict(predictor, mnist) -> None:
    x = mnist.x_test[:64].astype(np.float32)[..., None] / 255
    assert np.allclose(predictor.model.predict(x, verbose=0), predictor.probabilities(mnist.x_test[:64]), atol=1e-5)


def test_empty_canvas_gives_no_prediction(predictor) -> None:
    prediction = predictor.predict_image(np.zeros((280, 280, 4), np.uint8))
    assert prediction.digit is None and not prediction.found
    assert "No digit" in prediction.preprocessed.message
    assert prediction.to_json("x.png")["digit"] is None


@pytest.mark.parametrize("digit", [1, 4, 7])
def test_drawn_digit_gives_a_full_prediction(shipped_model_path, digit: int) -> None:
    from digit_core.inference.predict import Predictor

    canvas = render_strokes(digit_styles(digit)[0], background="white")
    prediction = Predictor.from_file(shipped_model_path).predict_image(canvas, keep_steps=True)
    assert prediction.found and prediction.digit == digit
    assert prediction.probabilities.shape == (10,) and prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.confidence == pytest.approx(float(prediction.probabilities.max()))
    assert prediction.preprocessed.steps[-1][1].shape == (28, 28)


def test_an_unsure_reading_averages_a_second_look(predictor, mnist, monkeypatch) -> None:
    from digit_core.inference import predict
    from digit_core.images.preprocess import preprocess

    canvas = render_strokes(digit_styles(7)[0], background="white")
    readings = np.stack([predictor.probabilities(preprocess(canvas, keep_steps=False, **way).image)[0]
                         for way in [{}, *predict.SECOND_LOOKS.values()]])
    assert not np.allclose(readings[0], readings[1]) and not np.allclose(readings[0], readings[2])
    first_only = predictor.predict_image(canvas, second_look=False)
    assert first_only.looks == 1 and np.allclose(first_only.probabilities, readings[0], atol=1e-6)

    monkeypatch.setattr(predict, "SECOND_LOOK_BELOW", 1.01)  # every reading counts as unsure
    second = predictor.predict_image(canvas, keep_steps=True)
    assert second.second_looks == ("deskewed", "with its strokes as drawn") and second.looks == 3
    np.testing.assert_allclose(second.probabilities, readings.mean(axis=0), atol=1e-6)
    assert second.digit == int(readings.mean(axis=0).argmax())
    assert second.confidence == pytest.approx(float(readings.mean(axis=0).max()))
    # What the page shows is still the first look's input.
    np.testing.assert_allclose(second.preprocessed.image, preprocess(canvas).image)

    monkeypatch.setattr(predict, "SECOND_LOOK_BELOW", 0.0)  # no reading is unsure
    assert predictor.predict_image(canvas).looks == 1


def test_a_way_that_gives_the_same_pixels_is_not_another_look(predictor, mnist, monkeypatch) -> None:
    from digit_core.inference import predict
    from digit_core.images.preprocess import preprocess

    monkeypatch.setattr(predict, "SECOND_LOOK_BELOW", 1.01)  # every reading counts as unsure
    # An MNIST digit is used as it is, so every way gives its own pixels: one reading, one look.
    digit = mnist.x_test[0]
    reading = predictor.predict_image(digit)
    assert reading.looks == 1 and reading.second_looks == ()
    np.testing.assert_allclose(reading.probabilities, predictor.probabilities(digit)[0], atol=1e-6)

    # A way that repeats the first look's preparation is dropped; the other one is averaged in.
    monkeypatch.setattr(predict, "SECOND_LOOKS", {"deskewed": {"deskew": True}, "again": {}})
    canvas = render_strokes(digit_styles(4)[0], background="white")
    readings = np.stack([predictor.probabilities(preprocess(canvas, keep_steps=False, **way).image)[0]
                         for way in ({}, {"deskew": True})])
    assert not np.allclose(readings[0], readings[1])
    second = predictor.predict_image(canvas)
    assert second.second_looks == ("deskewed",) and second.looks == 2
    np.testing.assert_allclose(second.probabilities, readings.mean(axis=0), atol=1e-6)


def test_wrong_input_shape_is_a_clear_error(predictor) -> None:
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        predictor.probabilities(np.zeros((2, 32, 32)))
