"""A CSV's text as numbered lines in blocks, streamed from a path, bytes or an open file (as a text
editor numbers them), and the error that lists what is wrong with a CSV."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

MAX_PROBLEMS_SHOWN = 10
# Rows parsed at a time: a block's int64 values take about 6 MB.
BLOCK_ROWS = 1000
CHUNK_BYTES = 1 << 20


class CsvFormatError(ValueError):
    """The CSV is not a digits table; ``problems`` lists what is wrong (at most 50 entries)."""

    def __init__(self, summary: str, problems: list[str], total_problems: int | None = None):
        self.problems = problems
        self.total_problems = len(problems) if total_problems is None else total_problems
        lines = [summary] + [f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
        if self.total_problems > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {self.total_problems - MAX_PROBLEMS_SHOWN} more")
        super().__init__("\n".join(lines))


def source_name(source: object) -> str:
    # Paths, open files and Streamlit uploads have a name; raw bytes do not.
    name = source if isinstance(source, (str, Path)) else getattr(source, "name", None)
    return Path(name).name if isinstance(name, (str, Path)) and str(name) else "the CSV file"


def chunks(source: str | Path | bytes | BinaryIO | TextIO, name: str, max_bytes: int) -> Iterator[bytes | str]:
    """The source's content a megabyte at a time, refused once it passes ``max_bytes``."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as file:
            yield from chunks(file, name, max_bytes)
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        pieces: Iterable[bytes | str] = (bytes(view[start:start + CHUNK_BYTES])
                                         for start in range(0, len(view), CHUNK_BYTES))
    else:
        # An open file: read(0) is b"" or "", whichever it returns at the end.
        pieces = iter(lambda: source.read(CHUNK_BYTES), source.read(0))
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > max_bytes:
            raise CsvFormatError(f"{name} is too large.", [f"the file is over {max_bytes / 2 ** 20:.0f} MB, "
                                                           "the most a CSV may be"])
        yield piece


def numbered_lines(chunks: Iterable[bytes | str], name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, counting \\n, \\r\\n and \\r alike, as a text editor does."""
    pending = None
    number = 0
    for chunk in chunks:
        text = chunk if pending is None else pending + chunk
        newline, carriage = ("\n", "\r") if isinstance(text, str) else (b"\n", b"\r")
        # A carriage return at the end may be the first half of \r\n: it waits for the next chunk.
        held = text[-1:] if text.endswith(carriage) else text[:0]
        text = text[:len(text) - len(held)].replace(carriage + newline, newline).replace(carriage, newline)
        *complete, pending = text.split(newline)
        pending += held
        for line in complete:
            number += 1
            yield number, decoded(line, number, name)
    if pending:  # the last line, with no newline after it (or only a carriage return)
        number += 1
        yield number, decoded(pending.rstrip("\r" if isinstance(pending, str) else b"\r"), number, name)


def decoded(line: bytes | str, number: int, name: str) -> str:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            problem = (f"line {number}: byte 0x{line[error.start]:02x} is not UTF-8 text; save the file as "
                       "UTF-8 (or plain ASCII) CSV")
            raise CsvFormatError(f"{name} is not a UTF-8 text file.", [problem]) from None
    # Excel starts a UTF-8 file with a byte-order mark.
    return line.removeprefix("\ufeff") if number == 1 else line


def chained(first: list[tuple[int, str]], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield from first
    yield from rest


def row_blocks(lines: Iterable[tuple[int, str]], max_rows: int | None) -> Iterator[list[tuple[int, str]]]:
    """The non-blank lines in blocks of BLOCK_ROWS, up to ``max_rows`` rows in all."""
    block: list[tuple[int, str]] = []
    taken = 0
    for number, line in lines:
        if not line.strip():
            continue
        if max_rows is not None and taken >= max_rows:
            break
        block.append((number, line))
        taken += 1
        if len(block) == BLOCK_ROWS:
            yield block
            block = []
    if block:
        yield block
