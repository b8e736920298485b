"""Read labelled digits from a CSV of ``label,pixel0,...,pixel783`` (Kaggle's train.csv layout).

A clean file takes a fast NumPy path. Anything else is rescanned row by row to report every problem
with the line number a text editor shows, then ``CsvFormatError`` is raised once.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

IMAGE_SIDE = 28
PIXEL_COUNT = IMAGE_SIDE * IMAGE_SIDE
COLUMN_COUNT = 1 + PIXEL_COUNT
COLUMN_NAMES = ["label"] + [f"pixel{index}" for index in range(PIXEL_COUNT)]
# First header cells accepted as naming the label column (compared in lower case).
LABEL_HEADER_NAMES = ("label", "labels", "digit", "class", "target")
MAX_PROBLEMS_KEPT = 50
MAX_PROBLEMS_SHOWN = 10


class CsvFormatError(ValueError):
    """The CSV is not a digits table; ``problems`` lists what is wrong (at most 50 entries)."""

    def __init__(self, summary: str, problems: list[str], total_problems: int | None = None):
        self.problems = problems
        self.total_problems = len(problems) if total_problems is None else total_problems
        lines = [summary] + [f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
        if self.total_problems > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {self.total_problems - MAX_PROBLEMS_SHOWN} more")
        super().__init__("\n".join(lines))


class _ProblemLog:
    """Counts every problem but keeps only the first ``MAX_PROBLEMS_KEPT`` messages."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(message)


def read_digits_csv(source: str | Path | bytes | BinaryIO | TextIO, *,
                    max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read images (N, 28, 28) uint8 and labels (N,) uint8 from a digits CSV.

    ``source`` is a path, the file's bytes, or an open file. The header row is optional.
    ``max_rows`` stops after that many data rows. Raises ``CsvFormatError`` listing the problems.
    """
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    name = _source_name(source)
    text = _read_text(source, name)
    if not text.strip():
        raise CsvFormatError(f"{name} is empty.", ["line 1: no header and no data rows"])
    lines = text.split("\n")
    skip_lines, header = _find_header(lines)
    log = _ProblemLog()
    if header is not None:
        _check_header(header, skip_lines, log)
    if log.total == 0:
        fast = _parse_fast(lines[skip_lines:], max_rows)
        if fast is not None:
            return fast
    rows = _parse_carefully(lines, skip_lines, max_rows, log)
    if log.total == 0 and not rows:
        log.add(f"line {skip_lines}: only a header row, no data rows")
    if log.total:
        plural = "" if log.total == 1 else "s"
        raise CsvFormatError(
            f"{name}: {log.total} problem{plural}. Expected one image per line: a label 0-9, then "
            f"{PIXEL_COUNT} pixel values 0-255 (an optional header row first).",
            log.problems, log.total)
    return _to_arrays(np.stack(rows))


def write_digits_csv(path: str | Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 images (N, 28, 28) and labels as a ``label,pixel0..pixel783`` CSV, atomically.

    ``read_digits_csv`` (and so the Explore page and ``train --extra-data``) reads it back unchanged.
    """
    from digit_core.atomic import atomic_write_bytes

    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or images.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}.")
    if len(labels) != len(images) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"Expected one label 0-9 per image, got {len(labels)} labels for {len(images)} images.")
    rows = np.column_stack([labels.astype(np.int64), images.reshape(len(images), PIXEL_COUNT)])
    lines = [",".join(COLUMN_NAMES)] + [",".join(map(str, row)) for row in rows.tolist()]
    return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("ascii"))


def _source_name(source: object) -> str:
    # Paths, open files and Streamlit uploads have a name; raw bytes do not.
    name = source if isinstance(source, (str, Path)) else getattr(source, "name", None)
    return Path(name).name if isinstance(name, (str, Path)) and str(name) else "the CSV file"


def _read_text(source: str | Path | bytes | BinaryIO | TextIO, name: str) -> str:
    if isinstance(source, (str, Path)):
        content: str | bytes = Path(source).read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
    else:
        content = source.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as error:
            line_number = content.count(b"\n", 0, error.start) + 1
            problem = (f"line {line_number}: byte 0x{content[error.start]:02x} is not UTF-8 "
                       "text; save the file as UTF-8 (or plain ASCII) CSV")
            raise CsvFormatError(f"{name} is not a UTF-8 text file.", [problem]) from None
    # Drop the byte-order mark Excel writes, and keep one newline convention so line numbers
    # count alike everywhere.
    return content.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _find_header(lines: list[str]) -> tuple[int, list[str] | None]:
    """Return (lines before the data, header cells or None) judged on the first non-blank line.

    The line is a header when its first cell is text that is not a number, such as "label".
    """
    for line_number, line in enumerate(lines, start=1):
        if line.strip():
            cells = next(csv.reader([line]))
            if cells[0].strip() and not _is_number(cells[0]):
                return line_number, cells
            return line_number - 1, None
    return 0, None


def _check_header(header: list[str], line_number: int, log: _ProblemLog) -> None:
    first = header[0].strip().lower()
    if first not in LABEL_HEADER_NAMES:
        log.add(f"line {line_number}: the first column is {header[0].strip()!r}; it must be the "
                "label (header 'label'), followed by pixel0..pixel783")
    if len(header) != COLUMN_COUNT:
        log.add(f"line {line_number}: the header has {len(header)} columns, expected "
                f"{COLUMN_COUNT} (label + {PIXEL_COUNT} pixels)")


def _parse_fast(data_lines: list[str],
                max_rows: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse a clean all-integer file with NumPy; None when anything is off.

    Integer parsing is several times faster than float parsing; files with values like "12.0"
    and files with problems go to the careful scan instead.
    """
    data_lines = [line for line in data_lines if line.strip()][:max_rows]
    if not data_lines:
        return None
    try:
        values = np.loadtxt(data_lines, delimiter=",", dtype=np.int64, comments=None, ndmin=2,
                            quotechar='"')
    except (ValueError, OverflowError):
        return None
    if values.shape[1] != COLUMN_COUNT or _bad_cells(values).any():
        return None
    return _to_arrays(values)


def _bad_cells(values: np.ndarray) -> np.ndarray:
    """Boolean mask of cells that are not whole numbers in range (label 0..9, pixels 0..255)."""
    upper = np.full(values.shape[-1], 255)
    upper[0] = 9
    # NaN fails every comparison and infinity the range, so both count as bad.
    good = (values >= 0) & (values <= upper)
    if np.issubdtype(values.dtype, np.floating):
        good &= values == np.round(values)
    return ~good


def _parse_carefully(lines: list[str], skip_lines: int, max_rows: int | None,
                     log: _ProblemLog) -> list[np.ndarray]:
    """Check every data row, logging problems; the rows without problems."""
    rows: list[np.ndarray] = []
    # Newlines are normalised, so a line's index is the line number an editor shows.
    for line_number, line in enumerate(lines, start=1):
        if line_number <= skip_lines or not line.strip():
            continue
        if max_rows is not None and len(rows) >= max_rows:
            break
        # The csv module is only needed for quoted cells, and plain splitting is much faster.
        cells = next(csv.reader([line])) if '"' in line else line.split(",")
        row = _check_row(cells, line_number, log)
        if row is not None:
            rows.append(row)
    return rows


def _check_row(cells: list[str], line_number: int, log: _ProblemLog) -> np.ndarray | None:
    """Parse one data row, logging each problem; the row's values or None when it has problems."""
    if len(cells) != COLUMN_COUNT:
        hint = " (is the label column missing?)" if len(cells) == PIXEL_COUNT else ""
        log.add(f"line {line_number}: expected {COLUMN_COUNT} columns (label + {PIXEL_COUNT} "
                f"pixels), found {len(cells)}{hint}")
        return None
    try:
        values = np.array(cells, dtype=np.int64)
    except (ValueError, OverflowError):  # "12.0", "abc", "" or a huge number
        values = np.array([_cell_value(cell) for cell in cells])
    bad_columns = np.flatnonzero(_bad_cells(values))
    for column in bad_columns:
        log.add(f"line {line_number}, column {COLUMN_NAMES[column]}: "
                f"{_describe_bad_cell(cells[column], values[column], column)}")
    return None if bad_columns.size else values


def _cell_value(cell: str) -> float:
    return float(cell) if _is_number(cell) else np.nan


def _describe_bad_cell(cell: str, value: float, column: int) -> str:
    if not cell.strip():
        return "empty cell"
    if not np.isfinite(value):
        return f"{cell.strip()!r} is not a number"
    if value != round(value):
        return f"{cell.strip()!r} is not a whole number"
    if column == 0:
        return f"label {cell.strip()!r} is not a digit 0..9"
    return f"{cell.strip()!r} is outside 0..255"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _to_arrays(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = values[:, 1:].astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return images, values[:, 0].astype(np.uint8)
