"""The registry of saved models and training runs, and the one way to load a model.

A saved model is ``models/<id>.keras``, its ONNX export ``models/<id>.onnx`` (what the predictor
runs) and a metadata sidecar ``models/<id>.json`` (name, architecture, params, test accuracy,
created, network and training config, and the names and SHA-256 digests of the two model files).
Finished training runs are listed too, under the id ``run:<run_id>`` (a checkpoint, no export).
Models are chosen by id, never by a user's path, and always loaded with Keras' safe mode on.

A save writes three files, each atomically, and renames them into place in the order ``.onnx``,
``.json``, ``.keras``; the ``.keras`` file is the save's commit. A save cut off after the ``.onnx``
leaves the old model and sidecar beside an export whose digest the sidecar does not record: the
predictor ignores it and exports the old model again in memory (``onnx_beside``). A save cut off
after the sidecar leaves the old model beside a sidecar whose digest names another file, which is
refused with a clear error instead of describing the wrong weights.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digit_core import config
from digit_core.training import runs
from digit_core.store.atomic import atomic_write_json, atomic_write_with, read_json

RUN_PREFIX = "run:"
ACTIVE_FILE = "active.json"
DIGEST_KEY = "model_sha256"  # in a sidecar: the SHA-256 of the model file it was written with
ONNX_DIGEST_KEY = "onnx_sha256"  # ... and of the ONNX export written with it
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


class ModelLoadError(ValueError):
    """A model file is missing, unreadable, or not a Keras model."""


@dataclass
class ModelInfo:
    """One entry of the registry."""

    model_id: str
    path: Path
    name: str = ""
    architecture: str = ""
    params: int | None = None
    test_accuracy: float | None = None
    created: str = ""
    source: str = "saved"  # "saved" (in models/) or "run"
    broken: str = ""  # why the entry cannot be used, "" when it can
    metadata: dict[str, Any] = field(default_factory=dict)


def load_keras_model(path: str | Path) -> Any:
    """Load a ``.keras`` file in safe mode, with a clear ``ModelLoadError`` when it cannot be loaded."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Model file not found: {path}.")
    if path.suffix != ".keras":
        raise ModelLoadError(f"{path.name} is not a .keras model file.")
    try:
        return keras.saving.load_model(path, compile=True, safe_mode=True)
    except Exception as error:  # Keras raises many types for corrupt zips, bad JSON, missing weights.
        raise ModelLoadError(f"Cannot load model {path.name}: the file is corrupt or not a Keras model "
                             f"({type(error).__name__}: {str(error)[:200]}).") from error


def _check_id(model_id: str) -> None:
    if not _ID_PATTERN.fullmatch(model_id):  # fullmatch: "$" alone would allow a trailing newline
        raise ValueError(f"Invalid model id {model_id!r}: use letters, digits, '_', '-' and '.'.")


def _saved_entry(path: Path) -> ModelInfo:
    info = ModelInfo(model_id=path.stem, path=path, name=path.stem)
    try:
        metadata = metadata_beside(path)
    except (OSError, ValueError) as error:
        metadata, info.broken = {}, f"Unreadable metadata: {error}"
    _apply_metadata(info, metadata)
    if path.stat().st_size < 100 or not _looks_like_zip(path):
        info.broken = info.broken or "The model file is truncated or corrupt."
    return info


def _looks_like_zip(path: Path) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def _apply_metadata(info: ModelInfo, metadata: dict[str, Any]) -> None:
    info.metadata = metadata
    info.name = metadata.get("name", info.name)
    info.architecture = metadata.get("architecture", "")
    info.params = metadata.get("params")
    info.test_accuracy = metadata.get("test_accuracy")
    info.created = metadata.get("created", "")


def _run_entry(run: runs.RunInfo) -> ModelInfo:
    info = ModelInfo(model_id=RUN_PREFIX + run.run_id, path=run.best_checkpoint, name=run.name,
                     source="run", created=run.config.get("created", ""))
    info.architecture = describe_network(run.config.get("network", {}))
    info.test_accuracy = run.metrics.get("test_accuracy")
    info.params = run.metrics.get("params")
    info.metadata = {"status": run.status, **run.config}
    return info


def list_models(models_dir: Path | None = None, runs_dir: Path | None = None) -> list[ModelInfo]:
    """Saved models (default first) and then runs with a best checkpoint, newest first."""
    models_dir = models_dir or config.models_dir()
    runs_dir = runs_dir or config.runs_dir()
    paths = sorted(models_dir.glob("*.keras")) if models_dir.is_dir() else []
    # Hidden files are the temporary files of saves in progress (or killed half-way), not models.
    saved = [_saved_entry(path) for path in paths if not path.name.startswith(".")]
    saved.sort(key=lambda info: (info.model_id != config.DEFAULT_MODEL_ID, info.model_id))
    from_runs = [_run_entry(run) for run in runs.list_runs(runs_dir) if run.best_checkpoint.exists()]
    return saved + from_runs


def resolve(model_id: str, models_dir: Path | None = None, runs_dir: Path | None = None) -> Path:
    """The file behind a registry id (never a user-supplied path)."""
    if model_id.startswith(RUN_PREFIX):
        run_id = model_id[len(RUN_PREFIX):]
        _check_id(run_id)
        path = (runs_dir or config.runs_dir()) / run_id / "best.keras"
    else:
        _check_id(model_id)
        path = (models_dir or config.models_dir()) / f"{model_id}.keras"
    if not path.is_file():
        raise ModelLoadError(f"No model with id {model_id!r} (looked for {path}).")
    return path


def load(model_id: str, models_dir: Path | None = None, runs_dir: Path | None = None) -> Any:
    """Load a registry model by id, in safe mode."""
    return load_keras_model(resolve(model_id, models_dir, runs_dir))


def read_metadata(model_id: str, models_dir: Path | None = None, runs_dir: Path | None = None) -> dict:
    """The metadata stored beside a model ({} when there is none)."""
    return metadata_beside(resolve(model_id, models_dir, runs_dir))


def metadata_beside(path: Path) -> dict[str, Any]:
    """The metadata of the model file ``path``: its ``.json`` sidecar, else its run's config and metrics.

    Returns {} when there is neither; raises ValueError for a sidecar that is not valid JSON or that
    was written for another version of the file.
    """
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        metadata = read_json(sidecar)
        expected = metadata.get(DIGEST_KEY) if isinstance(metadata, dict) else None
        if expected is not None and path.is_file() and expected != file_sha256(path):
            raise ValueError(f"{sidecar.name} describes another version of {path.name} (was a save "
                             f"interrupted?). Save or train the model again, or delete {sidecar.name}.")
        return metadata
    if (path.parent / "config.json").is_file():
        run = runs.read_run(path.parent)
        return {**run.config, **run.metrics}
    return {}


def save(model: Any, model_id: str, metadata: dict[str, Any], models_dir: Path | None = None,
         onnx_model: bytes | None = None) -> Path:
    """Save a model, its ONNX export and its metadata atomically as ``<id>.keras``, ``.onnx`` and ``.json``.

    ``onnx_model`` is the model's ONNX export when the caller has made it already (a predictor's).
    """
    from digit_core.models.export import write_export

    _check_id(model_id)
    models_dir = models_dir or config.models_dir()
    path = models_dir / f"{model_id}.keras"
    metadata = {"created": runs.now_iso(), "params": int(model.count_params()), **metadata}
    write_onnx = ((lambda tmp: tmp.write_bytes(onnx_model)) if onnx_model is not None
                  else (lambda tmp: write_export(model, "onnx", tmp)))
    return _write_model_files(path, lambda tmp: model.save(tmp), write_onnx, metadata)


def _write_model_files(path: Path, write_model: Callable[[Path], Any], write_onnx: Callable[[Path], Any],
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


def promote_run(run_id: str, model_id: str, models_dir: Path | None = None,
                runs_dir: Path | None = None) -> Path:
    """Copy a run's best checkpoint into the models directory under ``model_id``, with its ONNX export."""
    from digit_core.models.export import write_export

    _check_id(model_id)
    source = resolve(RUN_PREFIX + run_id, runs_dir=runs_dir)
    metadata = read_metadata(RUN_PREFIX + run_id, runs_dir=runs_dir)
    models_dir = models_dir or config.models_dir()
    target = models_dir / f"{model_id}.keras"
    architecture = describe_network(metadata.get("network", {}))
    model = load_keras_model(source)  # to export it: a run keeps a checkpoint only
    return _write_model_files(target, lambda tmp: shutil.copyfile(source, tmp),
                              lambda tmp: write_export(model, "onnx", tmp),
                              {**metadata, "architecture": architecture, "from_run": run_id,
                               "created": runs.now_iso()})


def active_model_id(models_dir: Path | None = None) -> str:
    """The id the app uses by default: the one made active, else ``default``."""
    path = (models_dir or config.models_dir()) / ACTIVE_FILE
    try:
        return str(read_json(path)["model_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return config.DEFAULT_MODEL_ID


def set_active_model(model_id: str, models_dir: Path | None = None) -> None:
    resolve(model_id, models_dir)
    atomic_write_json((models_dir or config.models_dir()) / ACTIVE_FILE, {"model_id": model_id})


def describe_network(network: dict[str, Any]) -> str:
    """A one-line description such as 'MLP 128-128' or 'CNN 32-64 / dense 128-64'."""
    if network.get("kind") == "mlp":
        units = network.get("hidden_units") or []
        return "Perceptron" if not units else "MLP " + "-".join(str(u) for u in units)
    if network.get("kind") == "cnn":
        convs = "-".join(str(f) for block in network.get("blocks", []) for f in block)
        dense = "-".join(str(u) for u in network.get("dense_units", []))
        return f"CNN {convs}" + (f" / dense {dense}" if dense else "")
    return ""
