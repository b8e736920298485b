"""The one preprocessing pipeline: any image in, an MNIST-like 28×28 out (or a clear "no digit")."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from digit_core.images.preprocess import Preprocessed, preprocess, preprocess_batch
from digit_core.data.synthetic import digit_styles, lit_from_the_right, render_strokes

ALL_STYLES = [(digit, index) for digit in range(10) for index in range(len(digit_styles(digit)))]

# The same drawing, moved, resized, drawn with other brushes and other colours. Each keeps the
# whole digit on the canvas.
VARIANTS = {
    "shifted": dict(center=(0.4, 0.42)),
    "small": dict(scale=0.3, stroke_width=8, center=(0.7, 0.3)),
    "large": dict(scale=0.85, stroke_width=22),
    "thick brush": dict(stroke_width=40),
    "thin brush": dict(stroke_width=5),
    # Edge to edge with a thin brush: the strokes are long and thin, but not ruled lines.
    "whole canvas, thin brush": dict(scale=0.98, stroke_width=5),
    "small, fat brush": dict(scale=0.3, stroke_width=18, center=(0.3, 0.7)),
    "white on black": dict(background="black", ink=(255, 255, 255)),
    "blue on transparent": dict(background="transparent", ink=(20, 60, 230)),
    "white on transparent": dict(background="transparent", ink=(255, 255, 255)),
}


def _naive(canvas: np.ndarray) -> np.ndarray:
    """What a pipeline without cropping and centring gives: grey, polarity fixed, resized."""
    rgb = canvas[..., :3].astype(np.float32) / 255
    alpha = canvas[..., 3:].astype(np.float32) / 255
    grey = (rgb * alpha + (1 - alpha)).mean(axis=2)
    if grey[0, 0] > 0.5:
        grey = 1 - grey
    return cv2.resize(grey, (28, 28), interpolation=cv2.INTER_AREA)


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(image.shape)
    return float((image * columns).sum() / image.sum()), float((image * rows).sum() / image.sum())


def _found(image: np.ndarray, **options) -> np.ndarray:
    result = preprocess(image, **options)
    assert result.found, result.message
    assert result.image is not None and result.message == ""
    return result.image


@pytest.mark.parametrize("digit, style", ALL_STYLES)
def test_same_digit_drawn_differently_gives_the_same_input(digit: int, style: int) -> None:
    strokes = digit_styles(digit)[style]
    reference_canvas = render_strokes(strokes)
    reference = _found(reference_canvas)
    for name, options in VARIANTS.items():
        canvas = render_strokes(strokes, **options)
        output = _found(canvas)
        difference = float(np.abs(output - reference).mean())
        assert difference < 0.06, (name, difference)
        assert _correlation(output, reference) > 0.9, name
        if name in ("shifted", "small", "small, fat brush"):
            # The check can fail: resizing the whole canvas is far off for the same drawings.
            naive_difference = float(np.abs(_naive(canvas) - _naive(reference_canvas)).mean())
            assert naive_difference > 2.5 * difference and naive_difference > 0.05, name


@pytest.mark.parametrize("digit, style", ALL_STYLES[::3])
def test_output_follows_the_mnist_convention(digit: int, style: int) -> None:
    for options in ({}, VARIANTS["small"], VARIANTS["thick brush"]):
        image = _found(render_strokes(digit_styles(digit)[style], **options))
        assert image.shape == (28, 28) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() == pytest.approx(1.0)
        centre_x, centre_y = _centre_of_mass(image)
        assert abs(centre_x - 14) <= 0.5 and abs(centre_y - 14) <= 0.5
        rows, columns = np.nonzero(image > 0.1)
        longer_side = max(rows.max() - rows.min(), columns.max() - columns.min()) + 1
        assert 19 <= longer_side <= 21


@pytest.mark.parametrize("background", ["white", "black", "transparent"])
def test_empty_canvas_has_no_digit(background: str) -> None:
    canvas = render_strokes((), background=background)  # type: ignore[arg-type]
    result = preprocess(canvas)
    assert not result.found and result.image is None
    assert result.message.startswith("No digit found")
    assert "empty" in result.message


@pytest.mark.parametrize("image", [
    np.zeros((1, 1), np.uint8),
    np.full((1, 1, 3), 255, np.uint8),
    np.full((280, 280), 255, np.uint8),
    np.zeros((280, 280, 3), np.uint8),
    np.full((50, 70), 0.5, np.float32),
    np.array([[0, 255], [255, 0]], np.uint8),
], ids=["1×1 black", "1×1 white", "all white", "all black", "uniform grey float", "2×2"])
def test_blank_or_tiny_images_have_no_digit(image: np.ndarray) -> None:
    result = preprocess(image)
    assert not result.found and result.image is None and "No digit" in result.message


def test_a_few_specks_are_not_a_digit() -> None:
    rng = np.random.default_rng(3)
    canvas = np.full((280, 280), 255, np.uint8)
    for row, column in rng.integers(10, 270, size=(6, 2)):
        canvas[row:row + 2, column:column + 2] = 0
    result = preprocess(canvas)
    assert not result.found and "No digit" in result.message
    # A lone brush dot is not a digit either.
    dot = render_strokes((((0.5, 0.5),),), stroke_width=25)
    result = preprocess(dot)
    assert not result.found and "dot" in result.message


def test_pure_noise_is_not_a_digit() -> None:
    rng = np.random.default_rng(4)
    noise = np.clip(rng.normal(128, 12, (200, 200)), 0, 255).astype(np.uint8)
    assert not preprocess(noise).found


def test_stray_mark_away_from_the_digit_is_ignored() -> None:
    strokes = digit_styles(4)[0]
    clean = _found(render_strokes(strokes, center=(0.55, 0.5)))
    marked = render_strokes(strokes, center=(0.55, 0.5))
    cv2.circle(marked, (15, 265), 5, (0, 0, 0, 255), -1)  # a small slip of the brush, far away
    assert np.abs(_found(marked) - clean).mean() < 0.01


def _photo(digit_canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone-photo-like RGB image: dark ink on grey paper, uneven light, noise, JPEG."""
    coverage = 1 - digit_canvas[..., 0].astype(np.float32) / 255  # 1 = ink
    height, width = coverage.shape
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 120 + 90 * columns / width + 40 * rows / height  # light from the right
    grey = paper * (1 - 0.65 * coverage) + rng.normal(0, 9, coverage.shape)
    rgb = np.clip(np.stack([grey * 1.02, grey, grey * 0.93], axis=2), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)  # channel order does not matter for grey paper


@pytest.mark.parametrize("digit", [2, 5, 8])
def test_noisy_photo_of_a_digit_is_read_like_a_clean_drawing(digit: int) -> None:
    rng = np.random.default_rng(digit)
    strokes = digit_styles(digit)[0]
    clean = _found(render_strokes(strokes))
    photo = _photo(render_strokes(strokes, canvas_size=600, stroke_width=16), rng)
    output = _found(photo)
    assert _correlation(output, clean) > 0.85


def _scan(digit: int, side: int, margin: int, rng: np.random.Generator) -> np.ndarray:
    """A USPS-style grey scan: a thick digit cropped to its box, `side` pixels high, dark on light,
    with `margin` pixels of paper around it, slightly blurred and noisy."""
    canvas = render_strokes(digit_styles(digit)[0], stroke_width=30)
    ink = 255 - canvas[..., 0]
    x, y, width, height = cv2.boundingRect(cv2.findNonZero(ink))
    box = cv2.resize(ink[y:y + height, x:x + width], (max(1, round(side * width / height)), side),
                     interpolation=cv2.INTER_AREA)
    paper = cv2.copyMakeBorder(255 - box, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255)
    noisy = cv2.GaussianBlur(paper, (3, 3), 0.6) + rng.normal(0, 6, paper.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


# Not a 1: cropped tight, it is a bar with less paper than ink, which no pipeline can tell from
# a light bar on dark paper.
@pytest.mark.parametrize("side", [32, 48])
@pytest.mark.parametrize("digit", [0, 2, 3, 4, 5, 6, 7, 8, 9])
def test_tightly_cropped_scan_is_read_like_one_with_a_margin(digit: int, side: int) -> None:
    # The digit touches the image's edges, often on more than a quarter of the border.
    rng = np.random.default_rng(digit)
    with_margin = _found(_scan(digit, side, side // 4, rng))
    tight = _found(_scan(digit, side, 0, rng))
    assert _correlation(tight, with_margin) > 0.9


@pytest.mark.parametrize("darkest", [0.55, 0.8])
@pytest.mark.parametrize("digit", [0, 4, 7])
def test_uneven_light_leaves_the_strokes_even(digit: int, darkest: float) -> None:
    rng = np.random.default_rng(digit)
    scan = _scan(digit, 48, 12, rng)
    evenly_lit = _found(scan)
    output = _found(lit_from_the_right(scan, darkest))
    assert _correlation(output, evenly_lit) > 0.95
    # The strokes in the shade are as strong as those in the light.
    left, right = output[:, :14], output[:, 14:]
    assert left[left > 0.1].mean() == pytest.approx(right[right > 0.1].mean(), abs=0.1)


@pytest.mark.parametrize("where", ["along the foot", "through the middle", "down the margin"])
@pytest.mark.parametrize("digit", [1, 4, 7])
def test_ruled_line_is_left_out_of_the_digit(digit: int, where: str) -> None:
    rng = np.random.default_rng(digit)
    scan = _scan(digit, 48, 16, rng)  # 80 px high, the digit in rows 16-63
    plain = _found(scan)
    ruled = scan.copy()
    if where == "down the margin":
        ruled[:, 8:10] = 110
    else:
        row = 64 if where == "along the foot" else 40
        ruled[row:row + 2, :] = 110
    output = _found(ruled)
    assert _correlation(output, plain) > 0.9


def test_big_photo_is_shrunk_early_and_fast() -> None:
    rng = np.random.default_rng(7)
    # A 750×1000 photo with the digit in its upper middle, enlarged to 3000×4000 like a phone's.
    page = np.full((1000, 750, 4), 255, np.uint8)
    page[150:650, 125:625] = render_strokes(digit_styles(3)[0], canvas_size=500, stroke_width=22)
    photo = cv2.resize(_photo(page, rng), (3000, 4000), interpolation=cv2.INTER_LINEAR)
    assert photo.shape == (4000, 3000, 3)
    start = time.perf_counter()
    output = _found(photo, keep_steps=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert _correlation(output, _found(render_strokes(digit_styles(3)[0]))) > 0.85


def test_mnist_form_input_passes_through_unchanged() -> None:
    for digit in (0, 4, 6):
        once = _found(render_strokes(digit_styles(digit)[0]))
        assert _correlation(_found(once), once) > 0.95


def test_real_mnist_digits_are_used_exactly_as_they_are(mnist) -> None:
    for digit in mnist.x_test[:300]:
        expected = digit.astype(np.float32) / digit.max()
        assert np.allclose(_found(digit), expected, atol=1e-6)
        # Either polarity, and as an RGB image too: the same MNIST pixels.
        assert np.allclose(_found(255 - digit), expected, atol=1e-6)
        assert np.allclose(_found(np.repeat(digit[..., None], 3, axis=2)), expected, atol=1e-6)
    names = [name for name, _ in preprocess(mnist.x_test[0]).steps]
    assert names == ["grey", "ink (digit light on dark)", "already MNIST-shaped: used as it is"]


def test_a_28_pixel_image_that_is_not_mnist_shaped_is_reshaped(mnist) -> None:
    digit = mnist.x_test[0]
    small_in_a_corner = np.zeros((28, 28), np.uint8)
    small_in_a_corner[:14, :14] = cv2.resize(digit, (14, 14), interpolation=cv2.INTER_AREA)
    noisy = np.clip(digit + np.random.default_rng(0).normal(0, 8, digit.shape), 0, 255).astype(np.uint8)
    for image in (small_in_a_corner, noisy):
        output = _found(image)
        assert not np.allclose(output, image / image.max(), atol=0.05)
        rows, columns = np.flatnonzero(output.max(axis=1) > 0.05), np.flatnonzero(output.max(axis=0) > 0.05)
        assert 18 <= max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 <= 22
        centre_x, centre_y = _centre_of_mass(output)
        assert abs(centre_x - 14) < 0.6 and abs(centre_y - 14) < 0.6
    assert _correlation(_found(small_in_a_corner), digit.astype(np.float32)) > 0.7


def test_input_kinds_agree() -> None:
    canvas = render_strokes(digit_styles(9)[1])
    expected = _found(canvas)
    grey = canvas[..., 0]
    assert np.allclose(_found(grey), expected, atol=1e-6)
    assert np.allclose(_found(grey[..., None]), expected, atol=1e-6)
    assert np.allclose(_found(grey.astype(np.float32) / 255), expected, atol=1e-6)
    assert np.allclose(_found(grey.astype(np.float64)), expected, atol=1e-6)  # 0–255 floats
    assert np.allclose(_found(canvas[..., :3]), expected, atol=1e-6)


@pytest.mark.parametrize("bad", [np.zeros(10), np.zeros((4, 4, 2)), np.zeros((0, 5)),
                                 np.zeros((2, 2, 2, 2)), np.zeros((5, 5, 5))])
def test_wrong_shapes_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        preprocess(bad)


def test_steps_are_named_images_in_order() -> None:
    result = preprocess(render_strokes(digit_styles(2)[0]))
    names = [name for name, _ in result.steps]
    assert names[:3] == ["grey", "ink (digit light on dark)", "cropped"]
    assert names[-2:] == ["20×20 box", "centred 28×28"]
    for _, image in result.steps:
        assert isinstance(image, np.ndarray) and image.ndim == 2 and image.size > 0
    assert max(dict(result.steps)["20×20 box"].shape) == 20
    assert preprocess(render_strokes(digit_styles(2)[0]), keep_steps=False).steps == ()
    blank = preprocess(np.full((50, 50), 255, np.uint8))
    assert [name for name, _ in blank.steps] == ["grey", "ink (digit light on dark)"]


def test_stroke_normalisation_evens_out_brush_sizes() -> None:
    strokes = digit_styles(3)[0]
    thin, thick = (render_strokes(strokes, stroke_width=width) for width in (4, 44))
    normalised = [_found(canvas).sum() for canvas in (thin, thick)]
    raw = [_found(canvas, normalize_stroke=False).sum() for canvas in (thin, thick)]
    # Ink mass grows with stroke width: normalised, the two brushes give similar mass.
    assert raw[1] / raw[0] > 2.0
    assert 0.75 < normalised[1] / normalised[0] < 1.33


def test_deskew_straightens_a_slanted_one() -> None:
    slanted = render_strokes(digit_styles(1)[0], slant=0.5, stroke_width=14)
    plain = _found(slanted)
    straight = _found(slanted, deskew=True)
    width_plain = np.ptp(np.nonzero(plain > 0.3)[1])
    width_straight = np.ptp(np.nonzero(straight > 0.3)[1])
    assert width_straight < 0.6 * width_plain


def test_batch_matches_single_calls() -> None:
    canvases = [render_strokes(style) for style in digit_styles(7)] + [np.zeros((9, 9), np.uint8)]
    results = preprocess_batch(canvases)
    assert [isinstance(result, Preprocessed) for result in results] == [True] * 3
    assert [result.found for result in results] == [True, True, False]
    assert np.array_equal(results[0].image, preprocess(canvases[0]).image)
    assert results[0].steps == ()


def test_canvas_is_fast() -> None:
    canvas = render_strokes(digit_styles(5)[0], background="transparent")
    preprocess(canvas, keep_steps=False)
    durations = []
    for _ in range(50):
        start = time.perf_counter()
        preprocess(canvas, keep_steps=False)
        durations.append(time.perf_counter() - start)
    # Well under a millisecond on an idle machine; generous here so a busy CI stays green.
    assert float(np.median(durations)) < 0.005


def test_a_sharp_bold_digit_is_still_thinned() -> None:
    bold = render_strokes(digit_styles(0)[0], stroke_width=44)
    thinned, as_drawn = _found(bold), _found(bold, normalize_stroke=False)
    assert thinned.sum() < 0.85 * as_drawn.sum()
    assert "stroke width normalised" in dict(preprocess(bold).steps)


def test_a_blurred_digit_with_thin_strokes_is_thickened() -> None:
    thin = cv2.GaussianBlur(render_strokes(digit_styles(0)[0], stroke_width=5), (0, 0), 4)
    thickened, as_drawn = _found(thin), _found(thin, normalize_stroke=False)
    assert thickened.sum() > 1.3 * as_drawn.sum()
