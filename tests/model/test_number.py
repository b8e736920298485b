"""Reading whole numbers with the shipped model, group reader and number-split scorer: composed numbers with known
digits, touching pairs (also by a writer held out of all training), wide single digits kept whole,
digits written in strokes apart, blank and single-digit images, photos, and too many digits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digit_core import data
from digit_core.images import segment
from digit_core.data import writers
from digit_core.inference.number import MAX_DIGITS, TooManyDigitsError, count_digits, read_number
from digit_core.inference.number_ways import read_ways
from digit_core.images.number_canvas import TOUCHING, compose_number, strokes_ink
from digit_core.inference.number_split import HAND_TUNED
from digit_core.data.pendigits import strokes_in_unit_box
from digit_core.data.synthetic import _line, digit_styles, lit_from_the_right

HEIGHT, BRUSH = 120, 12  # digit height and brush width in canvas pixels


@pytest.fixture(scope="module")
def predictor(shipped_model_path):
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(shipped_model_path)


def _ink(digit: int, style: int = 0) -> np.ndarray:
    return strokes_ink(digit_styles(digit)[style], HEIGHT, BRUSH)


def _shifted(stroke, dx: float, dy: float):
    return tuple((x + dx, y + dy) for x, y in stroke)


def _five_with_its_bar_apart() -> np.ndarray:
    body, bar = digit_styles(5)[1]
    return strokes_ink((body, _shifted(bar, 0.1, -0.08)), HEIGHT, BRUSH)


def _open_four() -> np.ndarray:
    """A 4 in two strokes that do not touch: the bar stops short of the stem beside it."""
    return strokes_ink((tuple(_line((0.24, 0.0), (0.2, 0.6), (0.55, 0.6))), tuple(_line((0.72, 0.05), (0.72, 1.0)))),
                       HEIGHT, BRUSH)


def _parts(ink: np.ndarray) -> int:
    return cv2.connectedComponents((ink > 127).astype(np.uint8))[0] - 1


def _number(digits: str, gaps: list[float | None]) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The digits in their first stroke style; gaps in digit heights (or TOUCHING)."""
    return compose_number([_ink(int(digit)) for digit in digits],
                          [gap if gap is TOUCHING else gap * HEIGHT for gap in gaps])


def _boxes_near(found: list[tuple[int, ...]], expected: list[tuple[int, ...]], pixels: int = 3) -> bool:
    return len(found) == len(expected) and bool(np.abs(np.subtract(found, expected)).max() <= pixels)


@pytest.mark.parametrize("digits, gaps", [
    ("2026", [0.5, 0.5, 0.5]),  # wide gaps
    ("4719", [0.04, 0.04, 0.04]),  # narrow gaps: a few pixels
    ("13", [0.05]),
])
def test_numbers_with_gaps_are_read_with_each_digit_where_it_is(predictor, digits, gaps) -> None:
    canvas, boxes = _number(digits, gaps)
    reading = read_number(predictor, canvas)
    assert reading.number == digits
    assert _boxes_near([digit.box for digit in reading.digits], boxes)
    for digit in reading.digits:
        assert digit.confidence == digit.probabilities.max() > 0.6 and digit.image.shape == (28, 28)


@pytest.mark.parametrize("use_group_reader", [True, False])  # False: the learned scorer's cuts alone
@pytest.mark.parametrize("digits, gaps", [
    ("42", [TOUCHING]),
    ("358", [TOUCHING, 0.3]),  # the 3 and the 5 touch
    ("2026", [TOUCHING, 0.3, 0.3]),  # the 2 and the 0 touch
])
def test_touching_digits_are_cut_apart(predictor, digits, gaps, use_group_reader) -> None:
    canvas, _ = _number(digits, gaps)
    assert count_digits(canvas) == len(digits) - 1  # the touching pair stands as one
    assert read_number(predictor, canvas, use_group_reader=use_group_reader).number == digits


@pytest.fixture(scope="module")
def held_out_writer_digits() -> dict[int, object]:
    """The first pen digit of each label by pendigits writer 25, held out of every training set."""
    try:
        _, held_out = writers.split_pen_writers(data.load_pendigits())
    except data.DataNotFoundError as error:
        pytest.skip(str(error))
    writer = min(writers.HELD_OUT_PEN_WRITERS)
    first: dict[int, object] = {}
    for digit in held_out:
        if digit.writer == writer:
            first.setdefault(digit.label, digit)
    return first


def test_touching_pairs_by_a_held_out_writer_are_cut_apart(predictor, held_out_writer_digits) -> None:
    # Each digit 0-9 touching the digit three above it, all in the held-out writer's own strokes: ten
    # pairs no part of the reader was fitted on. The hand-tuned reader before the learned scorer
    # read 5 of them, the learned scorer alone 8 (14 as 4 and 58 as 38); with the group reader, 10.
    read = {}
    for first in range(10):
        pair = f"{first}{(first + 3) % 10}"
        inks = [strokes_ink(strokes_in_unit_box(held_out_writer_digits[int(digit)].strokes), HEIGHT, BRUSH)
                for digit in pair]
        read[pair] = read_number(predictor, compose_number(inks, [TOUCHING])[0]).number
    assert sum(number == pair for pair, number in read.items()) >= 9, read


def _stretched(strokes, factor: float):
    return tuple(tuple((x * factor, y) for x, y in stroke) for stroke in strokes)


@pytest.mark.parametrize("digits, wide", [
    ("107", _stretched(digit_styles(0)[0], 2.0)),  # a 0 1.2 times as wide as tall
    ("412", (tuple(_line((1.0, 0.0), (0.0, 1.0))),)),  # a 1 slanting as wide as it is tall
])
def test_a_wide_zero_and_a_long_slanted_one_are_not_cut(predictor, digits, wide) -> None:
    inks = [_ink(int(digits[0])), strokes_ink(wide, HEIGHT, BRUSH), _ink(int(digits[2]))]
    canvas, _ = compose_number(inks, [40, 40])
    layout = segment.find_digits(canvas)
    middle = read_ways(predictor, layout)[1]  # every way tried, as if the gate let everything through
    assert len(middle.ways) > 1  # wide enough to be tried cut
    assert read_number(predictor, canvas).number == digits


@pytest.mark.parametrize("use_group_reader", [True, False])  # False: cut, and its pieces cut again
def test_four_digits_all_touching_are_read(predictor, use_group_reader) -> None:
    canvas, boxes = _number("1234", [TOUCHING, TOUCHING, TOUCHING])
    assert count_digits(canvas) == 1  # one group of strokes
    reading = read_number(predictor, canvas, use_group_reader=use_group_reader)
    assert reading.number == "1234"  # the hand-tuned reader read 04
    assert _boxes_near([digit.box for digit in reading.digits], boxes, pixels=HEIGHT // 4)


def test_the_hand_tuned_fallback_still_reads_numbers(predictor) -> None:
    # What a missing or damaged models/number_split.json falls back to (with a warning), with the
    # group reader's file missing too.
    for digits, gaps in (("2026", [0.5, 0.5, 0.5]), ("42", [TOUCHING])):
        canvas = _number(digits, gaps)[0]
        assert read_number(predictor, canvas, scorer=HAND_TUNED, use_group_reader=False).number == digits


def test_digits_written_in_strokes_apart_are_read_as_one(predictor) -> None:
    five, four = _five_with_its_bar_apart(), _open_four()
    assert _parts(five) == 2 and _parts(four) == 2  # neither digit's strokes touch
    canvas, boxes = compose_number([_ink(2), four, five, _ink(7)], [30, 30, 30])
    reading = read_number(predictor, canvas)
    assert reading.number == "2457"
    assert _boxes_near([digit.box for digit in reading.digits], boxes)


def test_a_two_stroke_four_and_five_and_a_crossed_seven(predictor) -> None:
    canvas, _ = compose_number([_ink(4, style=0), _ink(5, style=1), _ink(7, style=1)], [40, 40])
    assert read_number(predictor, canvas).number == "457"


def test_a_blank_canvas_has_no_number(predictor) -> None:
    reading = read_number(predictor, np.zeros((280, 700, 4), np.uint8))  # a clear canvas
    assert reading.number is None and reading.digits == () and not reading.found
    assert reading.message.startswith("No digit found")
    assert reading.to_json("blank.png") == {"path": "blank.png", "number": None, "digits": []}


def test_a_single_digit_is_a_number_of_one_digit(predictor) -> None:
    canvas, (box,) = _number("7", [])
    reading = read_number(predictor, canvas)
    assert reading.number == "7" and _boxes_near([reading.digits[0].box], [box])
    line = reading.to_json("seven.png")
    assert set(line) == {"path", "number", "digits"} and set(line["digits"][0]) == {"digit", "confidence", "box"}
    assert line["digits"][0]["digit"] == 7 and line["digits"][0]["box"] == list(reading.digits[0].box)


def test_specks_and_a_ruled_line_are_ignored(predictor) -> None:
    canvas, _ = _number("37", [0.4])
    canvas = canvas.copy()
    canvas[30:32, :, :3] = 110  # a grey ruled line across the page
    canvas[250:253, 60:63, :3] = 0  # specks
    canvas[20:23, 640:643, :3] = 0
    assert read_number(predictor, canvas).number == "37"


def test_a_large_photo_under_uneven_light_gives_boxes_in_its_own_pixels(predictor) -> None:
    canvas, boxes = _number("508", [0.3, 0.3])
    grey = cv2.resize(canvas[..., 0], None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)  # 1400×560
    photo = lit_from_the_right(grey, 0.6)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
    reading = read_number(predictor, noisy)
    assert reading.number == "508"
    # The pipeline reads a photo this large shrunk by 3; the boxes are scaled back to the photo.
    assert _boxes_near([digit.box for digit in reading.digits], [tuple(2 * v for v in box) for box in boxes],
                       pixels=8)


def test_more_than_twenty_digits_is_a_clear_error(predictor) -> None:
    inks = [strokes_ink(digit_styles(digit % 10)[0], 40, 5) for digit in range(MAX_DIGITS + 1)]
    canvas, _ = compose_number(inks, [12] * MAX_DIGITS, canvas=(280, 1400))
    with pytest.raises(TooManyDigitsError, match=f"Found {MAX_DIGITS + 1} digits.*up to {MAX_DIGITS}"):
        read_number(predictor, canvas)


def test_counting_digits_that_clearly_stand_apart() -> None:
    assert count_digits(_number("42", [0.3])[0]) == 2
    assert count_digits(_number("42", [TOUCHING])[0]) == 1
    assert count_digits(compose_number([_five_with_its_bar_apart()], [])[0]) == 1
    assert count_digits(np.full((280, 280), 255, np.uint8)) == 0
