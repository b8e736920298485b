"""The UNIPEN text of UCI's pen-based digits (pendigits-orig.tra): pen trajectories by writer.

Each digit is a block::

    .SEGMENT DIGIT 12 ? "8"
    .COMMENT 8 5 224          <- label, writer (1-30), the writer's sample number
    .PEN_DOWN
     267  333                 <- tablet points "x y", y pointing up
     ...
    .PEN_UP

with one PEN_DOWN ... PEN_UP pair per stroke. Finding the file is ``digit_core.data.load_pendigits``'s
job; this module parses it and turns a trajectory into strokes a canvas can draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_SEGMENT = re.compile(r'^\.SEGMENT\s+DIGIT\s+\S+\s+\S+\s+"(.*)"\s*$')
_COMMENT = re.compile(r"^\.COMMENT\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


@dataclass(frozen=True)
class PenDigit:
    """One handwritten digit as its pen strokes."""

    label: int
    writer: int  # the writer's number in the file (1-30); 0 when the file does not say
    strokes: tuple[np.ndarray, ...]  # each (n, 2) float64 tablet points (x, y), y pointing up


def parse_pendigits(text: str, source: str) -> list[PenDigit]:
    """Parse UNIPEN digit text into ``PenDigit`` s, in file order.

    Raises ``ValueError`` naming ``source`` and the line of the first malformed part: a label that
    is not a digit, a point that is not two numbers, a stroke left open, a digit with no stroke.
    """
    digits: list[PenDigit] = []
    current: dict | None = None  # the digit being read: label, writer, strokes, its line
    stroke: list[tuple[float, float]] | None = None  # the stroke being read, between PEN_DOWN and PEN_UP

    def finish(line_number: int) -> None:
        if current is None:
            return
        if stroke is not None:
            raise ValueError(f"{source}, line {line_number}: the stroke before this line has no .PEN_UP")
        if not current["strokes"]:
            raise ValueError(f"{source}, line {current['line']}: digit with no pen stroke")
        digits.append(PenDigit(current["label"], current["writer"], tuple(current["strokes"])))

    line_number = 0
    for line_number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}, line {line_number}"
        if line.startswith(".SEGMENT"):
            finish(line_number)
            current, stroke = {"label": _segment_label(line, where), "writer": 0, "strokes": [],
                               "line": line_number}, None
        elif current is None or not line:
            continue  # the file's header (.INCLUDE, .LEXICON ...) and blank lines
        elif line.startswith(".COMMENT"):
            match = _COMMENT.match(line)
            if match is not None:
                current["writer"] = int(match.group(2))
        elif line.startswith(".PEN_DOWN"):
            if stroke is not None:
                raise ValueError(f"{where}: .PEN_DOWN inside a stroke (no .PEN_UP before it)")
            stroke = []
        elif line.startswith(".PEN_UP"):
            if not stroke:
                raise ValueError(f"{where}: .PEN_UP without a .PEN_DOWN and points before it")
            current["strokes"].append(np.array(stroke, dtype=np.float64))
            stroke = None
        elif stroke is not None:
            stroke.append(_point(line, where))
        elif not line.startswith("."):
            raise ValueError(f"{where}: a point outside a stroke ({line!r})")
    finish(line_number)
    if not digits:
        raise ValueError(f"{source}: no .SEGMENT DIGIT blocks")
    return digits


def _segment_label(line: str, where: str) -> int:
    match = _SEGMENT.match(line)
    label = match.group(1) if match else None
    if label is None or len(label) != 1 or not label.isdigit():
        raise ValueError(f"{where}: expected '.SEGMENT DIGIT n ? \"d\"' with d a digit 0-9, got {line!r}")
    return int(label)


def _point(line: str, where: str) -> tuple[float, float]:
    fields = line.split()
    try:
        x, y = (float(field) for field in fields)
    except ValueError:
        raise ValueError(f"{where}: expected a point 'x y', got {line!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"{where}: point {line!r} is not finite")
    return x, y


def strokes_in_unit_box(strokes: tuple[np.ndarray, ...]) -> tuple[tuple[tuple[float, float], ...], ...]:
    """The strokes scaled into the unit box, y pointing down as on a canvas, aspect ratio kept.

    The longer side of the digit spans the box; the shorter one is centred in it. The result is in
    ``digit_core.data.synthetic``'s stroke format, ready for ``render_strokes``.
    """
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    span = max(float((high - low).max()), 1e-9)
    centre = (low + high) / 2
    result = []
    for stroke in strokes:
        x = (stroke[:, 0] - centre[0]) / span + 0.5
        y = (centre[1] - stroke[:, 1]) / span + 0.5  # the tablet's y points up, a canvas's down
        result.append(tuple(zip(x.tolist(), y.tolist())))
    return tuple(result)
