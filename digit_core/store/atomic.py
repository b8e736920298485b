"""Atomic file writes: write to a temporary file in the same directory, then rename.

A reader never sees a half-written file, and a failed write (full disk, read-only directory) leaves
the previous file intact and raises a clear ``OSError``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write_with(path: str | Path, write: Callable[[Path], None], suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` on a temporary sibling of ``path`` and rename it over ``path``.

    ``suffix`` is the temporary file's ending (Keras insists on ``.keras`` when saving).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix,
                                            dir=path.parent)
        os.close(handle)
    except FileExistsError as error:
        # mkdir(exist_ok=True) raises this only when a parent is a file, not a directory.
        raise OSError(f"Cannot write {path}: {error.filename} is not a directory") from error
    except OSError as error:
        raise OSError(f"Cannot write {path}: {error.strerror or error}") from error
    tmp_path = Path(tmp_name)
    try:
        write(tmp_path)
        # mkstemp makes the file private (0600); saved models and runs are ordinary readable files.
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OSError(f"Cannot write {path}: {error.strerror or error}") from error
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    return atomic_write_with(path, write)


def atomic_write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def read_json(path: str | Path) -> Any:
    """Read a JSON file, raising ``ValueError`` that names the file when it is not valid JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}).") from error


def _json_default(value: Any) -> Any:
    # NumPy scalars and arrays appear in histories and metrics.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot store {type(value).__name__} as JSON")
