"""Numbers composed on the Number canvas: gaps, touching neighbours and the boxes reported."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digit_core.images.number_canvas import NUMBER_CANVAS, TOUCHING, compose_number, mnist_ink, strokes_ink
from digit_core.data.synthetic import digit_styles


def _parts(canvas: np.ndarray) -> int:
    """Connected ink parts of a white-background canvas."""
    return cv2.connectedComponents((canvas[..., 0] < 128).astype(np.uint8))[0] - 1


def _inks(digits: str, height: float = 100, stroke_width: float = 10) -> list[np.ndarray]:
    return [strokes_ink(digit_styles(int(digit))[0], height, stroke_width) for digit in digits]


def test_strokes_are_drawn_as_tall_as_asked() -> None:
    ink = strokes_ink(digit_styles(7)[0], 120, 10)
    # The strokes' centre lines span 120 px; the round brush adds half its width above and below,
    # and its anti-aliased edge a pixel more.
    assert 130 <= ink.shape[0] <= 134 and ink.max() == 255
    assert np.flatnonzero(ink.any(axis=1))[[0, -1]].tolist() == [0, ink.shape[0] - 1]  # cropped to the ink


def test_mnist_digits_are_redrawn_as_tall_as_asked(mnist) -> None:
    ink = mnist_ink(mnist.x_test[0], 150)
    assert abs(ink.shape[0] - 150) <= 10 and ink.max() == 255


def test_digits_with_gaps_stay_apart_and_boxes_hold_their_ink() -> None:
    canvas, boxes = compose_number(_inks("307"), [25, 40])
    assert canvas.shape == (*NUMBER_CANVAS, 4) and _parts(canvas) == 3
    (x0, _, w0, _), (x1, _, w1, _), (x2, _, _, _) = boxes
    assert x1 - (x0 + w0) == 25 and x2 - (x1 + w1) == 40
    ink = canvas[..., 0] < 128
    assert sum(ink[y:y + h, x:x + w].sum() for x, y, w, h in boxes) == ink.sum()


def test_touching_neighbours_meet_without_overlapping_much() -> None:
    canvas, boxes = compose_number(_inks("42"), [TOUCHING])
    assert _parts(canvas) == 1
    apart, _ = compose_number(_inks("42"), [2])
    assert _parts(apart) == 2
    (x0, _, w0, _), (x1, _, _, _) = boxes
    assert x1 < x0 + w0  # their boxes overlap where the strokes meet


def test_a_number_too_wide_for_the_canvas_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        compose_number(_inks("12345", height=200), [40] * 4)


def test_a_transparent_canvas_carries_the_ink_in_its_alpha() -> None:
    canvas, _ = compose_number(_inks("5"), [], background="transparent")
    assert canvas[..., :3].max() == 0 and canvas[..., 3].max() == 255
