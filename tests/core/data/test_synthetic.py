"""Synthetic handwriting: stroke styles, canvas rendering and MNIST re-drawing."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.data.synthetic import (DIGIT_STROKES, digit_styles, lit_from_the_right, mnist_as_canvas,
                                  render_strokes, stroke_points_on_canvas)


def _ink_mask(canvas: np.ndarray) -> np.ndarray:
    return canvas[..., 0] < 128


def test_every_digit_has_two_dense_styles_in_the_unit_box() -> None:
    assert sorted(DIGIT_STROKES) == list(range(10))
    for digit in range(10):
        styles = digit_styles(digit)
        assert len(styles) >= 2, digit
        for strokes in styles:
            points = np.concatenate([np.asarray(stroke) for stroke in strokes])
            assert points.min() >= -0.02 and points.max() <= 1.02, digit
            for stroke in strokes:
                steps = np.linalg.norm(np.diff(np.asarray(stroke), axis=0), axis=1)
                # Dense enough to look smooth and to replay with a mouse.
                assert steps.max() < 0.08, (digit, steps.max())


def test_styles_of_a_digit_differ() -> None:
    for digit in range(10):
        first, second = (render_strokes(style, canvas_size=56, stroke_width=4)
                         for style in digit_styles(digit)[:2])
        assert np.abs(first.astype(int) - second.astype(int)).mean() > 1.0, digit


def test_unknown_digit_is_refused() -> None:
    with pytest.raises(ValueError, match="0–9"):
        digit_styles(10)


def test_render_backgrounds_and_ink() -> None:
    strokes = digit_styles(7)[0]
    white = render_strokes(strokes)
    assert white.shape == (280, 280, 4) and white.dtype == np.uint8
    assert (white[..., 3] == 255).all() and white[0, 0, :3].tolist() == [255, 255, 255]
    black = render_strokes(strokes, background="black", ink=(255, 255, 255))
    assert black[0, 0, :3].tolist() == [0, 0, 0] and black[..., 0].max() == 255
    clear = render_strokes(strokes, background="transparent", ink=(0, 0, 255))
    assert clear[0, 0, 3] == 0
    drawn = clear[..., 3] == 255
    assert drawn.any() and (clear[drawn][:, :3] == [0, 0, 255]).all()
    # Anti-aliased edges: some partly covered pixels, as a browser draws them.
    assert ((clear[..., 3] > 0) & (clear[..., 3] < 255)).any()
    # Same strokes, same pixels, whatever the colours.
    assert np.array_equal(_ink_mask(white), black[..., 0] >= 128)
    with pytest.raises(ValueError):
        render_strokes(strokes, background="blue")  # type: ignore[arg-type]


def test_rendering_is_deterministic_and_jitter_needs_an_rng() -> None:
    strokes = digit_styles(2)[0]
    assert np.array_equal(render_strokes(strokes), render_strokes(strokes))
    first = render_strokes(strokes, jitter=0.02, rng=np.random.default_rng(5))
    again = render_strokes(strokes, jitter=0.02, rng=np.random.default_rng(5))
    other = render_strokes(strokes, jitter=0.02, rng=np.random.default_rng(6))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    with pytest.raises(ValueError, match="rng"):
        render_strokes(strokes, jitter=0.02)


def test_box_brush_and_placement() -> None:
    strokes = digit_styles(1)[0]  # a vertical bar from (0.5, 0) to (0.5, 1)
    canvas = render_strokes(strokes, box=(100, 40, 120), stroke_width=10)
    rows, columns = np.nonzero(_ink_mask(canvas))
    # Round caps add half the brush at each end.
    assert abs(rows.min() - 35) <= 1 and abs(rows.max() - 165) <= 1
    assert abs(columns.min() - 155) <= 1 and abs(columns.max() - 165) <= 1
    thick = render_strokes(strokes, box=(100, 40, 120), stroke_width=30)
    assert _ink_mask(thick).sum() > 2.5 * _ink_mask(canvas).sum()


def test_stroke_points_follow_box_slant_and_rotation() -> None:
    strokes = (((0.5, 0.0), (0.5, 1.0)),)
    points = stroke_points_on_canvas(strokes, 280, box=(40, 40, 200))[0]
    assert np.allclose(points, [[140, 40], [140, 240]])
    slanted = stroke_points_on_canvas(strokes, 280, box=(40, 40, 200), slant=0.5)[0]
    assert slanted[0, 0] > 140 > slanted[1, 0]  # the top leans right
    turned = stroke_points_on_canvas(strokes, 280, box=(40, 40, 200), rotation_deg=90)[0]
    assert np.allclose(turned, [[40, 140], [240, 140]], atol=1e-6)  # anticlockwise: top goes left
    centred = stroke_points_on_canvas(strokes, 100, scale=0.5, center=(0.25, 0.5))[0]
    assert np.allclose(centred, [[25, 25], [25, 75]])


def test_mnist_as_canvas_redraws_a_digit() -> None:
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a crude "1"
    canvas = mnist_as_canvas(digit)
    assert canvas.shape == (280, 280, 4) and canvas.dtype == np.uint8
    ink = _ink_mask(canvas)
    rows, columns = np.nonzero(ink)
    # 28 px map to 0.8 × 280 = 224 px, so the 20 px bar is 160 px tall, centred.
    assert abs((rows.max() - rows.min()) - 160) <= 4 and abs(columns.mean() - 140) <= 3
    thicker = _ink_mask(mnist_as_canvas(digit, stroke_width_change=10))
    thinner = _ink_mask(mnist_as_canvas(digit, stroke_width_change=-10))
    assert thicker.sum() > ink.sum() > thinner.sum() > 0
    moved = _ink_mask(mnist_as_canvas(digit, offset=(30, -20)))
    assert np.nonzero(moved)[1].mean() == pytest.approx(columns.mean() + 30, abs=1)
    transparent = mnist_as_canvas(digit, background="transparent")
    assert transparent[0, 0, 3] == 0 and (transparent[..., 3] > 127).sum() == pytest.approx(
        ink.sum(), rel=0.02)
    with pytest.raises(ValueError, match="28, 28"):
        mnist_as_canvas(np.zeros((20, 20), np.uint8))


def test_light_falls_off_from_right_to_left() -> None:
    page = np.full((4, 11, 3), 200, np.uint8)
    lit = lit_from_the_right(page, 0.5)
    assert lit.shape == page.shape and lit.dtype == np.uint8
    assert lit[0, 0].tolist() == [100, 100, 100] and lit[0, -1].tolist() == [200, 200, 200]
    assert (np.diff(lit[..., 0].astype(int), axis=1) >= 0).all()  # brighter towards the right
