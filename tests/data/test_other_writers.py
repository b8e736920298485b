"""pendigits (pen trajectories) and optdigits (32×32 scans): parsing small handcrafted files, finding
them, holding out writers, and reading them through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core import config, data
from digit_core.data import writers
from digit_core.data.optdigits import parse_optdigits
from digit_core.data.pendigits import PenDigit, parse_pendigits, strokes_in_unit_box

PEN_TEXT = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "1"
.COMMENT 1 7 12
.PEN_DOWN
 100  300
 140  340
 140  100
.PEN_UP

.SEGMENT DIGIT    1 ? "4"
.COMMENT 4 26 3
.PEN_DOWN
 100  300
 100  200
 180  200
.PEN_UP
.PEN_DOWN
 160  300
 160  100
.PEN_UP
"""


def _optdigits_text(bitmaps: list[np.ndarray], labels: list[int], header: str) -> str:
    lines = header.splitlines()
    for bitmap, label in zip(bitmaps, labels):
        lines += ["".join("1" if pixel else "0" for pixel in row) for row in bitmap]
        lines.append(f" {label}")
    return "\n".join(lines) + "\n"


def _bar(vertical: bool) -> np.ndarray:
    bitmap = np.zeros((32, 32), bool)
    if vertical:
        bitmap[4:28, 14:18] = True
    else:
        bitmap[14:18, 4:28] = True
    return bitmap


def test_parse_pendigits_reads_labels_writers_and_strokes():
    digits = parse_pendigits(PEN_TEXT, "pen.tra")
    assert [digit.label for digit in digits] == [1, 4]
    assert [digit.writer for digit in digits] == [7, 26]
    assert [len(digit.strokes) for digit in digits] == [1, 2]
    np.testing.assert_array_equal(digits[1].strokes[1], [[160, 300], [160, 100]])


@pytest.mark.parametrize("broken, message", [
    (PEN_TEXT.replace('"4"', '"x"'), r"pen.tra, line 14: expected '.SEGMENT DIGIT n \? \"d\"'"),
    (PEN_TEXT.replace(" 140  340", " 140  3a0"), r"pen.tra, line 10: expected a point 'x y', got '140  3a0'"),
    (PEN_TEXT.replace(".PEN_UP\n\n.SEGMENT", "\n.SEGMENT"), r"line 13: the stroke before this line has no .PEN_UP"),
    ('.SEGMENT DIGIT 0 ? "1"\n.PEN_DOWN\n.PEN_UP\n', r"pen.tra, line 3: .PEN_UP without a .PEN_DOWN and points"),
    ('.SEGMENT DIGIT 0 ? "1"\n.COMMENT 1 2 3\n', r"pen.tra, line 1: digit with no pen stroke"),
    (".LEXICON x\n", r"pen.tra: no .SEGMENT DIGIT blocks"),
])
def test_parse_pendigits_names_the_bad_line(broken, message):
    with pytest.raises(ValueError, match=message):
        parse_pendigits(broken, "pen.tra")


def test_strokes_in_unit_box_keeps_the_aspect_ratio_and_turns_y_down():
    digit = parse_pendigits(PEN_TEXT, "pen.tra")[0]  # 40 wide, 240 tall, first point at the top left
    (stroke,) = strokes_in_unit_box(digit.strokes)
    xs, ys = zip(*stroke)
    assert min(ys) == pytest.approx(0.0) and max(ys) == pytest.approx(1.0)
    assert max(xs) - min(xs) == pytest.approx(40 / 240) and (min(xs) + max(xs)) / 2 == pytest.approx(0.5)
    assert stroke[0] == pytest.approx((0.5 - 20 / 240, 1 - 200 / 240))  # y=300 of 100..340, counted from the top


def test_parse_optdigits_skips_the_header_and_reads_bitmaps():
    text = _optdigits_text([_bar(True), _bar(False)], [1, 7], "BU handwritten digit database\nntot = 2\n")
    images, labels = parse_optdigits(text, "opt.tra")
    assert images.shape == (2, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [1, 7]
    assert images[0, 10, 15] == 255 and images[0, 10, 5] == 0 and images[1, 15, 5] == 255
    cv_text = _optdigits_text([_bar(True)], [4], "1")  # the .cv file starts with its count
    assert parse_optdigits(cv_text, "opt.cv")[1].tolist() == [4]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:10] + ["0101"] + lines[11:], r"opt, line 11: expected bitmap row 10 of 32"),
    (lambda lines: lines[:33] + [" 12"] + lines[34:], r"opt, line 34: label '12' is not a digit 0-9"),
    (lambda lines: lines[:20], r"opt: the last digit has 19 bitmap rows and no label"),
    (lambda lines: lines[:1], r"opt: no digits"),
])
def test_parse_optdigits_names_the_bad_line(edit, message):
    lines = _optdigits_text([_bar(True)], [1], "header line").splitlines()
    with pytest.raises(ValueError, match=message):
        parse_optdigits("\n".join(edit(lines)), "opt")


def test_loaders_find_the_files_by_environment_and_say_where_they_looked(tmp_path, no_data_anywhere,
                                                                         monkeypatch):
    (tmp_path / "pen").mkdir()
    (tmp_path / "pen" / data.PENDIGITS_FILE).write_text(PEN_TEXT)
    monkeypatch.setenv("DIGIT_PENDIGITS_DIR", str(tmp_path / "pen"))
    assert [digit.label for digit in data.load_pendigits()] == [1, 4]
    with pytest.raises(data.DataNotFoundError) as caught:
        data.load_optdigits("cv", tmp_path / "nowhere")
    message = str(caught.value)
    assert "optdigits-orig.cv" in message and "DIGIT_OPTDIGITS_DIR" in message
    for directory in config.dataset_dir_candidates("optdigits", tmp_path / "nowhere"):
        assert str(directory) in message
    with pytest.raises(ValueError, match="optdigits split must be one of tra, cv, got 'tes'"):
        data.load_optdigits("tes")


def test_split_pen_writers_holds_out_whole_writers():
    strokes = (np.zeros((2, 2)),)
    digits = [PenDigit(label % 10, writer, strokes) for label, writer in enumerate([1, 25, 3, 30, 24, 26])]
    train, held_out = writers.split_pen_writers(digits)
    assert [digit.writer for digit in train] == [1, 3, 24]
    assert [digit.writer for digit in held_out] == [25, 30, 26]


def test_pen_and_scan_digits_come_out_as_mnist_inputs():
    digits = parse_pendigits(PEN_TEXT, "pen.tra")
    images, labels = writers.pen_digits_as_mnist(digits, np.random.default_rng(0), drawings_per_digit=2)
    assert images.shape == (4, 28, 28) and labels.tolist() == [1, 1, 4, 4]
    # Each drawing was found and centred like MNIST: ink in the middle, a dark border.
    assert all(image.max() == 255 and image[:, :3].max() == 0 and image[:3].max() == 0 for image in images)
    assert not np.array_equal(images[0], images[1])  # two different drawings of the same strokes
    scans = writers.scan_as_mnist(np.stack([_bar(True), _bar(False)]).astype(np.uint8) * 255,
                                  np.random.default_rng(1))
    # A vertical bar stays taller than wide, a horizontal one wider than tall.
    rows, columns = (np.flatnonzero(scans[0].max(axis=axis) > 127) for axis in (1, 0))
    assert len(rows) > 3 * len(columns)
    rows, columns = (np.flatnonzero(scans[1].max(axis=axis) > 127) for axis in (1, 0))
    assert len(columns) > 3 * len(rows)


def test_real_pendigits_writers_and_optdigits():
    try:
        pen, (opt_train, opt_train_labels) = data.load_pendigits(), data.load_optdigits("tra")
    except data.DataNotFoundError as error:
        pytest.skip(str(error))
    assert len(pen) == 7494 and {digit.writer for digit in pen} == set(range(1, 31))
    train, held_out = writers.split_pen_writers(pen)
    assert len(held_out) == 1498 and not {d.writer for d in train} & {d.writer for d in held_out}
    assert opt_train.shape == (1934, 32, 32) and set(opt_train_labels.tolist()) == set(range(10))
    assert data.load_optdigits("cv")[0].shape == (946, 32, 32)


def test_the_handwriting_proxies_are_read_as_mnist_inputs():
    try:
        usps_inputs, usps_labels = writers.usps_test_as_mnist(limit=40)
    except data.DataNotFoundError as error:
        pytest.skip(str(error))
    digits_inputs, digits_labels = writers.sklearn_digits_as_mnist(limit=40)
    for inputs, labels in ((usps_inputs, usps_labels), (digits_inputs, digits_labels)):
        assert inputs.shape == (40, 28, 28) and inputs.dtype == np.uint8 and labels.shape == (40,)
        assert set(labels.tolist()) <= set(range(10))
        # Every digit was found and centred by its mass, like MNIST's.
        assert all(image.max() > 200 for image in inputs)
        rows, columns = np.indices((28, 28))
        for image in inputs.astype(np.float64):
            centre = ((rows * image).sum() / image.sum(), (columns * image).sum() / image.sum())
            assert np.allclose(centre, 14, atol=1.5), centre
    assert digits_labels[:10].tolist() == list(range(10))  # scikit-learn's digits, in their own order
    # The scans are 32 px tall with a quarter of that as paper around them.
    assert writers.sklearn_digits_scans(np.full((1, 8, 8), 16.0), 32)[0].shape == (48, 48)
