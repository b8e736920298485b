"""The USPS text format: zip.train and zip.test as The Elements of Statistical Learning ships them.

Each line holds a label, then 16 x 16 = 256 grey values in [-1, 1] row by row, -1 background and +1
ink. Finding the files is ``digit_core.data.load_usps``'s job; this module only parses them.
"""

from __future__ import annotations

import numpy as np

USPS_SIDE = 16
_VALUES_PER_ROW = 1 + USPS_SIDE * USPS_SIDE


def parse_usps(text: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse USPS text into (N, 16, 16) uint8 images (0 background, 255 ink) and (N,) uint8 labels.

    Raises ``ValueError`` naming ``source`` and the line number of the first malformed row.
    """
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields:
            rows.append(_parse_row(fields, f"{source}, line {line_number}"))
    if not rows:
        raise ValueError(f"{source}: no data rows")
    values = np.stack(rows)  # (N, 257)
    labels = values[:, 0].astype(np.uint8)
    # [-1, 1] -> [0, 255]: -1 (background) becomes 0, +1 (ink) becomes 255.
    grey = np.rint((values[:, 1:] + 1) / 2 * 255).astype(np.uint8)
    return grey.reshape(-1, USPS_SIDE, USPS_SIDE), labels


def _parse_row(fields: list[str], where: str) -> np.ndarray:
    if len(fields) != _VALUES_PER_ROW:
        raise ValueError(f"{where}: expected {_VALUES_PER_ROW} values (label + "
                         f"{_VALUES_PER_ROW - 1} pixels), found {len(fields)}")
    try:
        row = np.array(fields, dtype=np.float64)
    except ValueError as error:  # NumPy names the cell: "could not convert string to float: 'x'"
        raise ValueError(f"{where}: {error}") from None
    label, pixels = row[0], row[1:]
    if not (label.is_integer() and 0 <= label <= 9):
        raise ValueError(f"{where}: label {fields[0]!r} is not a digit 0..9")
    in_range = np.abs(pixels) <= 1  # False for NaN too
    if not in_range.all():
        bad_index = int(np.flatnonzero(~in_range)[0])
        raise ValueError(f"{where}: pixel {bad_index} is {fields[bad_index + 1]!r}, "
                         "outside [-1, 1]")
    return row

