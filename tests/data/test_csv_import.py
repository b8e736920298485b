"""Reading digits from CSV: good files in every input form, with and without labels, streamed in blocks,
and each kind of problem."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest

from digit_core.data import csv_lines as csv_stream
from digit_core.data.csv_import import read_digits_csv
from digit_core.data.csv_lines import CsvFormatError

HEADER = ",".join(["label"] + [f"pixel{index}" for index in range(784)])
PIXELS_HEADER = ",".join(f"pixel{index}" for index in range(784))  # Kaggle's test.csv: no label column


@pytest.fixture
def digits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[1, 27, 27] = 0, 255  # both ends of the range
    return images, np.array([7, 0, 9], dtype=np.uint8)


def csv_lines(images: np.ndarray, labels: np.ndarray) -> list[str]:
    return [",".join(str(value) for value in [label, *image.ravel()])
            for image, label in zip(images, labels)]


def row(label: object = 1, **cells: object) -> str:
    """A data row of zeros with some pixels replaced, e.g. ``row(3, pixel5="abc")``."""
    values = [str(label)] + ["0"] * 784
    for name, value in cells.items():
        values[1 + int(name.removeprefix("pixel"))] = str(value)
    return ",".join(values)


def problems_of(text: str | bytes) -> CsvFormatError:
    with pytest.raises(CsvFormatError) as caught:
        read_digits_csv(text.encode() if isinstance(text, str) else text)
    return caught.value


def assert_digits(result: tuple[np.ndarray, np.ndarray], images: np.ndarray,
                  labels: np.ndarray) -> None:
    x, y = result
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


# --- good files -------------------------------------------------------------------------------

@pytest.mark.parametrize("with_header", [True, False])
def test_good_csv_with_and_without_header(tmp_path, digits, with_header):
    lines = ([HEADER] if with_header else []) + csv_lines(*digits)
    path = tmp_path / "digits.csv"
    path.write_text("\n".join(lines) + "\n")
    assert_digits(read_digits_csv(path), *digits)
    assert_digits(read_digits_csv(str(path)), *digits)


def test_every_input_form_gives_the_same_arrays(digits):
    text = "\n".join([HEADER] + csv_lines(*digits))
    assert_digits(read_digits_csv(text.encode()), *digits)
    assert_digits(read_digits_csv(io.BytesIO(text.encode())), *digits)
    assert_digits(read_digits_csv(io.StringIO(text)), *digits)
    # Windows line endings, Excel's byte-order mark and quoted cells are all fine.
    quoted_labels = [HEADER] + ['"' + line.replace(",", '",', 1) for line in csv_lines(*digits)]
    assert quoted_labels[1].startswith('"7",')
    windows = "\ufeff" + "\r\n".join(quoted_labels)
    assert_digits(read_digits_csv(windows.encode()), *digits)


def test_whole_number_floats_are_accepted(digits):
    images, labels = digits
    lines = [",".join(f"{value}.0" for value in [label, *image.ravel()])
             for image, label in zip(images, labels)]
    assert_digits(read_digits_csv("\n".join(lines).encode()), images, labels)


def test_blank_lines_are_skipped_and_max_rows_stops_early(digits):
    images, labels = digits
    text = "\n\n" + "\n\n".join(csv_lines(images, labels)) + "\n\n"
    assert_digits(read_digits_csv(text.encode()), images, labels)
    assert_digits(read_digits_csv(text.encode(), max_rows=2), images[:2], labels[:2])
    with pytest.raises(ValueError, match=r"max_rows must be at least 1, got 0"):
        read_digits_csv(text.encode(), max_rows=0)


# --- problems -----------------------------------------------------------------------------------

def test_wrong_column_count_names_the_line():
    error = problems_of("\n".join([HEADER, row(), row(), row(), "5," + ",".join(["0"] * 11)]))
    assert error.problems == ["line 5: expected 785 columns (label + 784 pixels), found 12"]
    assert isinstance(error, ValueError)


def test_missing_label_column_gets_a_hint():
    error = problems_of("\n".join([HEADER, row(), ",".join(["0"] * 784)]))
    assert error.problems == ["line 3: expected 785 columns (label + 784 pixels), found 784 "
                              "(is the label column missing?)"]


# --- files without labels (Kaggle's test.csv) ---------------------------------------------------

@pytest.mark.parametrize("with_header", [True, False])
def test_a_file_without_a_label_column_is_read_unlabelled(digits, with_header):
    images, _ = digits
    lines = [",".join(str(value) for value in image.ravel()) for image in images]
    table = read_digits_csv("\n".join(([PIXELS_HEADER] if with_header else []) + lines).encode())
    assert table.labels is None and not table.labelled
    np.testing.assert_array_equal(table.images, images)
    assert table.images.dtype == np.uint8 and table.images.shape == (3, 28, 28)


def test_an_unlabelled_file_reports_a_labelled_row_and_names_pixel_columns():
    pixels = ",".join(["0"] * 784)
    error = problems_of("\n".join([PIXELS_HEADER, pixels, "3," + pixels, pixels.replace("0", "300", 1)]))
    assert error.problems == ["line 3: expected 784 columns (pixel0..pixel783, no label), found 785",
                              "line 4, column pixel0: '300' is outside 0..255"]
    assert "Expected one image per line: 784 pixel values 0-255" in str(error)


def test_non_numeric_cell_names_line_and_column():
    error = problems_of("\n".join([HEADER, row(), row(3, pixel5="abc")]))
    assert error.problems == ["line 3, column pixel5: 'abc' is not a number"]


def test_pixel_outside_0_to_255():
    error = problems_of("\n".join([row(2, pixel0=256), row(2, pixel783=-1)]))
    assert error.problems == ["line 1, column pixel0: '256' is outside 0..255",
                              "line 2, column pixel783: '-1' is outside 0..255"]


def test_label_outside_0_to_9():
    error = problems_of("\n".join([HEADER, row(10)]))
    assert error.problems == ["line 2, column label: label '10' is not a digit 0..9"]


def test_empty_cell_and_non_whole_number():
    error = problems_of("\n".join([HEADER, row(4, pixel3=""), row(4.5, pixel7="12.5")]))
    assert error.problems == ["line 2, column pixel3: empty cell",
                              "line 3, column label: '4.5' is not a whole number",
                              "line 3, column pixel7: '12.5' is not a whole number"]


def test_nan_is_not_a_number():
    error = problems_of(row(1, pixel9="nan"))
    assert error.problems == ["line 1, column pixel9: 'nan' is not a number"]


def test_all_problems_are_collected_with_editor_line_numbers():
    text = "\n".join([HEADER, row(), "", row(1, pixel1="x"), row(), "1,2,3", row(12)])
    error = problems_of(text)
    assert error.problems == ["line 4, column pixel1: 'x' is not a number",
                              "line 6: expected 785 columns (label + 784 pixels), found 3",
                              "line 7, column label: label '12' is not a digit 0..9"]
    assert error.total_problems == 3
    first_line = str(error).splitlines()[0]
    assert first_line.startswith("the CSV file: 3 problems.")


def test_bad_header():
    error = problems_of("\n".join(["image,label", row()]))
    assert error.problems == [
        "line 1: the first column is 'image'; it must be the label (header 'label'), followed by "
        "pixel0..pixel783, or pixel0 in a file without labels",
        "line 1: the header has 2 columns, expected 785 (label + 784 pixels)"]
    error = problems_of("\n".join(["pixel0,label", ",".join(["0"] * 784)]))
    assert error.problems == ["line 1: the header has 2 columns, expected 784 (pixel0..pixel783, no label)"]


def test_empty_file_and_header_only():
    assert problems_of(b"").problems == ["line 1: no header and no data rows"]
    assert problems_of(b" \n\n").problems == ["line 1: no header and no data rows"]
    assert problems_of(HEADER + "\n").problems == ["line 1: only a header row, no data rows"]


def test_non_utf8_bytes_name_the_line():
    text = "\n".join([HEADER, row(), row()]).encode() + b"\n\xff\xfe1,2\n"
    error = problems_of(text)
    assert error.problems == ["line 4: byte 0xff is not UTF-8 text; save the file as UTF-8 "
                              "(or plain ASCII) CSV"]
    assert "not a UTF-8 text file" in str(error)


def test_problem_list_is_capped_and_the_rest_counted(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("\n".join([HEADER] + [row(11)] * 70))
    with pytest.raises(CsvFormatError) as caught:
        read_digits_csv(path)
    error = caught.value
    assert len(error.problems) == 50 and error.total_problems == 70
    assert error.problems[-1] == "line 51, column label: label '11' is not a digit 0..9"
    message_lines = str(error).splitlines()
    assert message_lines[0].startswith("many.csv: 70 problems.")
    assert message_lines[1:11] == [f"  line {line}, column label: label '11' is not a digit 0..9"
                                   for line in range(2, 12)]
    assert message_lines[11:] == ["  ... and 60 more"]


def test_written_csv_reads_back_unchanged(tmp_path, digits):
    from digit_core.data.csv_import import write_digits_csv

    images, labels = digits
    path = write_digits_csv(tmp_path / "out.csv", images, labels)
    assert path.read_text().splitlines()[0] == HEADER
    read_images, read_labels = read_digits_csv(path)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    with pytest.raises(ValueError, match="one label 0-9 per image"):
        write_digits_csv(tmp_path / "bad.csv", images, np.array([1, 2, 10]))
    assert not (tmp_path / "bad.csv").exists()


# --- streaming ------------------------------------------------------------------------------------

def test_blocks_and_chunk_boundaries_change_nothing(monkeypatch, digits):
    images, labels = digits
    many_images, many_labels = np.concatenate([images] * 5), np.concatenate([labels] * 5)
    # Windows line endings, so some chunks end between a \r and its \n.
    text = "\r\n".join([HEADER] + csv_lines(many_images, many_labels)).encode()
    monkeypatch.setattr(csv_stream, "BLOCK_ROWS", 2)
    for chunk_bytes in (7, 100, 2053):
        monkeypatch.setattr(csv_stream, "CHUNK_BYTES", chunk_bytes)
        assert_digits(read_digits_csv(io.BytesIO(text)), many_images, many_labels)
        assert_digits(read_digits_csv(text), many_images, many_labels)
    old_mac = "\r".join([HEADER] + csv_lines(images, labels)) + "\r"
    assert_digits(read_digits_csv(io.StringIO(old_mac)), images, labels)


def test_problems_in_later_blocks_keep_their_line_numbers(monkeypatch):
    monkeypatch.setattr(csv_stream, "BLOCK_ROWS", 3)
    error = problems_of("\n".join([HEADER] + [row()] * 7 + [row(3, pixel1="x")] + [row()] * 3 + [row(10)]))
    assert error.problems == ["line 9, column pixel1: 'x' is not a number",
                              "line 13, column label: label '10' is not a digit 0..9"]


def test_a_file_over_the_size_limit_is_refused():
    text = "\n".join([HEADER, row(), row()]).encode()
    with pytest.raises(CsvFormatError, match="too large") as caught:
        read_digits_csv(io.BytesIO(text), max_bytes=len(text) - 1)
    assert caught.value.problems == [f"the file is over {(len(text) - 1) / 2 ** 20:.0f} MB, the most a CSV may be"]
    assert len(read_digits_csv(text, max_bytes=len(text)).images) == 2


def test_memory_stays_near_the_size_of_the_images(mnist):
    count = 12_000
    rows = np.column_stack([mnist.y_train[:count], mnist.x_train[:count].reshape(count, -1)])
    text = ("\n".join([HEADER] + [",".join(map(str, values)) for values in rows]) + "\n").encode()
    tracemalloc.start()
    try:
        images, labels = read_digits_csv(io.BytesIO(text))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(images, mnist.x_train[:count])
    np.testing.assert_array_equal(labels, mnist.y_train[:count])
    # The 22 MB of text, or its 75 MB as int64 values at once, would not fit: a few blocks and the
    # result (twice, while the blocks are joined) do.
    assert len(text) > 20e6 and peak < 2 * images.nbytes + 16e6, f"peak {peak / 1e6:.1f} MB"
