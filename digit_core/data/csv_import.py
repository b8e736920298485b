"""Read digits from a CSV: ``label,pixel0,...,pixel783`` (Kaggle's train.csv) or, without labels,
``pixel0,...,pixel783`` (Kaggle's test.csv).

The file is read in blocks of rows, so memory stays near the size of the images it holds (a 76 MB
Kaggle train.csv becomes 33 MB of uint8 pixels), however large the text. A clean block takes a fast
NumPy path; a block with anything off is rescanned row by row to report every problem with the line
number a text editor shows, and ``CsvFormatError`` is raised once at the end.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO, NamedTuple, TextIO

import numpy as np

from digit_core import config
from digit_core.data.csv_lines import CsvFormatError, chained, chunks, numbered_lines, row_blocks, source_name

IMAGE_SIDE = 28
PIXEL_COUNT = IMAGE_SIDE * IMAGE_SIDE
COLUMN_COUNT = 1 + PIXEL_COUNT
PIXEL_NAMES = [f"pixel{index}" for index in range(PIXEL_COUNT)]
COLUMN_NAMES = ["label"] + PIXEL_NAMES
# First header cells accepted as naming the label column (compared in lower case).
LABEL_HEADER_NAMES = ("label", "labels", "digit", "class", "target")
MAX_PROBLEMS_KEPT = 50


class DigitsTable(NamedTuple):
    """What a digits CSV holds: ``images, labels = read_digits_csv(...)``."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray | None  # (N,) uint8, or None for a file without a label column

    @property
    def labelled(self) -> bool:
        return self.labels is not None


class _ProblemLog:
    """Counts every problem but keeps only the first ``MAX_PROBLEMS_KEPT`` messages."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(message)


def read_digits_csv(source: str | Path | bytes | BinaryIO | TextIO, *, max_rows: int | None = None,
                    max_bytes: int = config.MAX_CSV_UPLOAD_BYTES) -> DigitsTable:
    """Read images (N, 28, 28) uint8 and labels (N,) uint8, or None when the file has no label column.

    ``source`` is a path, the file's bytes, or an open file. The header row is optional; without one,
    a first row of 784 values means a file without labels. ``max_rows`` stops after that many data
    rows; a file over ``max_bytes`` is refused. Raises ``CsvFormatError`` listing the problems.
    """
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    name = source_name(source)
    lines = numbered_lines(chunks(source, name, max_bytes), name)
    first = next(((number, line) for number, line in lines if line.strip()), None)
    if first is None:
        raise CsvFormatError(f"{name} is empty.", ["line 1: no header and no data rows"])
    log = _ProblemLog()
    cells = next(csv.reader([first[1]]))
    has_header = bool(cells[0].strip()) and not _is_number(cells[0])
    labelled = _check_header(cells, first[0], log) if has_header else len(cells) != PIXEL_COUNT
    rows = lines if has_header else chained([first], lines)
    blocks = []
    row_count = 0
    for block in row_blocks(rows, max_rows):
        row_count += len(block)
        values = _parse_block(block, labelled, log)
        if not log.total:  # after the first problem, rows are only checked
            blocks.append(_to_uint8(values))
    if log.total == 0 and row_count == 0:
        log.add(f"line {first[0]}: only a header row, no data rows")
    if log.total:
        plural = "" if log.total == 1 else "s"
        layout = f"a label 0-9, then {PIXEL_COUNT}" if labelled else f"{PIXEL_COUNT}"
        raise CsvFormatError(
            f"{name}: {log.total} problem{plural}. Expected one image per line: {layout} pixel values 0-255 "
            "(an optional header row first).", log.problems, log.total)
    values = np.concatenate(blocks)
    images = values[:, int(labelled):].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return DigitsTable(images, values[:, 0].copy() if labelled else None)


def write_digits_csv(path: str | Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 images (N, 28, 28) and labels as a ``label,pixel0..pixel783`` CSV, atomically.

    ``read_digits_csv`` (and so the Explore page and ``train --extra-data``) reads it back unchanged.
    """
    from digit_core.store.atomic import atomic_write_bytes

    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or images.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}.")
    if len(labels) != len(images) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"Expected one label 0-9 per image, got {len(labels)} labels for {len(images)} images.")
    rows = np.column_stack([labels.astype(np.int64), images.reshape(len(images), PIXEL_COUNT)])
    lines = [",".join(COLUMN_NAMES)] + [",".join(map(str, row)) for row in rows.tolist()]
    return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("ascii"))


def _check_header(header: list[str], line_number: int, log: _ProblemLog) -> bool:
    """Log what is wrong with the header; True when it announces a label column."""
    first = header[0].strip().lower()
    if first in LABEL_HEADER_NAMES or first == "pixel0":
        labelled = first != "pixel0"
    else:
        log.add(f"line {line_number}: the first column is {header[0].strip()!r}; it must be the "
                "label (header 'label'), followed by pixel0..pixel783, or pixel0 in a file without labels")
        labelled = len(header) != PIXEL_COUNT
    expected = COLUMN_COUNT if labelled else PIXEL_COUNT
    if len(header) != expected:
        log.add(f"line {line_number}: the header has {len(header)} columns, expected {expected} "
                f"({_layout(labelled)[1]})")
    return labelled


def _layout(labelled: bool) -> tuple[int, str]:
    """How many columns a row has, and what they are."""
    return (COLUMN_COUNT, f"label + {PIXEL_COUNT} pixels") if labelled else (PIXEL_COUNT, "pixel0..pixel783, no label")


def _parse_block(block: list[tuple[int, str]], labelled: bool, log: _ProblemLog) -> np.ndarray:
    """The block's values (rows, columns); its problems, if any, are logged (and the rows left out)."""
    columns = COLUMN_COUNT if labelled else PIXEL_COUNT
    try:
        # Integer parsing is several times faster than float parsing; "12.0" goes the careful way.
        values = np.loadtxt([line for _, line in block], delimiter=",", dtype=np.int64, comments=None, ndmin=2,
                            quotechar='"')
        if values.shape[1] == columns and not _bad_cells(values, labelled).any():
            return values
    except (ValueError, OverflowError):
        pass
    rows = [_check_row(_cells(line), number, labelled, log) for number, line in block]
    good = [row for row in rows if row is not None]
    return np.stack(good) if good else np.zeros((0, columns), np.int64)


def _cells(line: str) -> list[str]:
    # The csv module is only needed for quoted cells, and plain splitting is much faster.
    return next(csv.reader([line])) if '"' in line else line.split(",")


def _bad_cells(values: np.ndarray, labelled: bool = True) -> np.ndarray:
    """Boolean mask of cells that are not whole numbers in range (label 0..9, pixels 0..255)."""
    upper = np.full(values.shape[-1], 255)
    if labelled:
        upper[0] = 9
    # NaN fails every comparison and infinity the range, so both count as bad.
    good = (values >= 0) & (values <= upper)
    if np.issubdtype(values.dtype, np.floating):
        good &= values == np.round(values)
    return ~good


def _check_row(cells: list[str], line_number: int, labelled: bool, log: _ProblemLog) -> np.ndarray | None:
    """Parse one data row, logging each problem; the row's values or None when it has problems."""
    if len(cells) != (COLUMN_COUNT if labelled else PIXEL_COUNT):
        hint = " (is the label column missing?)" if labelled and len(cells) == PIXEL_COUNT else ""
        count, what = _layout(labelled)
        log.add(f"line {line_number}: expected {count} columns ({what}), found {len(cells)}{hint}")
        return None
    try:
        values = np.array(cells, dtype=np.int64)
    except (ValueError, OverflowError):  # "12.0", "abc", "" or a huge number
        values = np.array([_cell_value(cell) for cell in cells])
    names = COLUMN_NAMES if labelled else PIXEL_NAMES
    bad_columns = np.flatnonzero(_bad_cells(values, labelled))
    for column in bad_columns:
        log.add(f"line {line_number}, column {names[column]}: "
                f"{_describe_bad_cell(cells[column], values[column], is_label=labelled and column == 0)}")
    return None if bad_columns.size else values


def _cell_value(cell: str) -> float:
    return float(cell) if _is_number(cell) else np.nan


def _describe_bad_cell(cell: str, value: float, is_label: bool) -> str:
    if not cell.strip():
        return "empty cell"
    if not np.isfinite(value):
        return f"{cell.strip()!r} is not a number"
    if value != round(value):
        return f"{cell.strip()!r} is not a whole number"
    if is_label:
        return f"label {cell.strip()!r} is not a digit 0..9"
    return f"{cell.strip()!r} is outside 0..255"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _to_uint8(values: np.ndarray) -> np.ndarray:
    # Every value was checked to lie in 0..255 (labels 0..9), so the cast loses nothing.
    return values.astype(np.uint8)
