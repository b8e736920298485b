"""The original bitmaps of UCI's optical digits (optdigits-orig.tra / .cv): 32×32 scans of forms.

After a header (``.tra`` has 21 lines of ``key = value`` text, ``.cv`` one line with its count), each
digit is 32 lines of 32 characters ``0``/``1`` (1 = ink) and then a line with its label. Finding the
files is ``digit_core.data.load_optdigits``'s job; this module only parses them.
"""

from __future__ import annotations

import numpy as np

OPTDIGITS_SIDE = 32


def parse_optdigits(text: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse the text into (N, 32, 32) uint8 images (0 paper, 255 ink) and (N,) uint8 labels.

    Lines before the first bitmap row are the header and are skipped. Raises ``ValueError`` naming
    ``source`` and the line of the first malformed row or label.
    """
    images, labels, rows = [], [], []
    started = False
    for line_number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}, line {line_number}"
        if _is_bitmap_row(line):
            started = True
            if len(rows) == OPTDIGITS_SIDE:
                raise ValueError(f"{where}: a 33rd bitmap row; expected the digit's label after 32 rows")
            rows.append(line)
        elif not started or (not line and not rows):
            continue  # the header, and blank lines between digits
        elif len(rows) == OPTDIGITS_SIDE:
            labels.append(_label(line, where))
            images.append(np.array([[char == "1" for char in row] for row in rows], dtype=np.uint8) * 255)
            rows = []
        else:
            raise ValueError(f"{where}: expected bitmap row {len(rows) + 1} of {OPTDIGITS_SIDE} "
                             f"({OPTDIGITS_SIDE} characters 0/1), got {line!r}")
    if rows:
        raise ValueError(f"{source}: the last digit has {len(rows)} bitmap rows and no label")
    if not images:
        raise ValueError(f"{source}: no digits (32 rows of 32 characters 0/1, then a label)")
    return np.stack(images), np.array(labels, dtype=np.uint8)


def _is_bitmap_row(line: str) -> bool:
    return len(line) == OPTDIGITS_SIDE and set(line) <= {"0", "1"}


def _label(line: str, where: str) -> int:
    if not (line.isdigit() and 0 <= int(line) <= 9):
        raise ValueError(f"{where}: label {line!r} is not a digit 0-9")
    return int(line)
