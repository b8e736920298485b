"""A saved model's files: the .keras file, its ONNX export and the sidecar that records both digests,
written together; and the check that an export beside a model file is the one saved with it."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digit_core.store.atomic import atomic_write_json, atomic_write_with, read_json

DIGEST_KEY = "model_sha256"  # in a sidecar: the SHA-256 of the model file it was written with
ONNX_DIGEST_KEY = "onnx_sha256"  # ... and of the ONNX export written with it


def write_model_files(path: Path, write_model: Callable[[Path], Any], write_onnx: Callable[[Path], Any],
                       metadata: dict[str, Any]) -> Path:
    """Write a model file with ``write_model(tmp)``, its export with ``write_onnx(tmp)`` and their sidecar.

    Each file is written atomically; they go into place in the order .onnx, .json, .keras (see the
    module's docstring for what a save cut off between two renames leaves).
    """
    onnx_path = path.with_suffix(".onnx")

    def write(tmp: Path) -> None:
        write_model(tmp)
        files = {"model_file": path.name, DIGEST_KEY: file_sha256(tmp), "onnx_file": onnx_path.name}

        def write_export_file(onnx_tmp: Path) -> None:
            write_onnx(onnx_tmp)
            files[ONNX_DIGEST_KEY] = file_sha256(onnx_tmp)

        atomic_write_with(onnx_path, write_export_file, suffix=".onnx")
        atomic_write_json(path.with_suffix(".json"), {**metadata, **files})

    return atomic_write_with(path, write, suffix=".keras")


class NoOnnxExport(Exception):
    """A model file has no ONNX export beside it that its sidecar vouches for (the message says why)."""


def onnx_beside(path: Path) -> Path:
    """The ONNX export saved with the model file ``path``; raises NoOnnxExport when there is none.

    An ``.onnx`` file counts only when the sidecar records the SHA-256 of both this ``.keras`` file
    and this ``.onnx`` file: then both were written by one complete save.
    """
    onnx_path, sidecar = path.with_suffix(".onnx"), path.with_suffix(".json")
    if path.suffix != ".keras" or not path.is_file():
        raise NoOnnxExport(f"{path.name} is not a .keras model file")
    if not onnx_path.is_file():
        raise NoOnnxExport(f"no {onnx_path.name} beside it")
    try:
        metadata = read_json(sidecar)
    except (OSError, ValueError) as error:
        raise NoOnnxExport(f"its sidecar cannot be read ({error})") from error
    if not isinstance(metadata, dict) or ONNX_DIGEST_KEY not in metadata:
        raise NoOnnxExport(f"{sidecar.name} records no ONNX export")
    if metadata.get(DIGEST_KEY) != file_sha256(path):
        raise NoOnnxExport(f"{sidecar.name} describes another version of {path.name}")
    if metadata[ONNX_DIGEST_KEY] != file_sha256(onnx_path):
        raise NoOnnxExport(f"{onnx_path.name} is not the export saved with {path.name} (its SHA-256 "
                           f"differs from the one {sidecar.name} records)")
    return onnx_path


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, remembered while its size and modification time stay the same."""
    status = path.stat()
    return _sha256(path, status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
