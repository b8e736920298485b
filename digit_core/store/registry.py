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

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digit_core import config
from digit_core.training import runs
from digit_core.store.atomic import atomic_write_json, read_json
from digit_core.store.model_files import DIGEST_KEY, write_model_files, file_sha256

RUN_PREFIX = "run:"
ACTIVE_FILE = "active.json"
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
    # A fine-tuned ensemble's run has no one network: it records the architecture it was given.
    info.architecture = describe_network(run.config.get("network", {})) or str(run.config.get("architecture", ""))
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
    return write_model_files(path, lambda tmp: model.save(tmp), write_onnx, metadata)


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
    return write_model_files(target, lambda tmp: shutil.copyfile(source, tmp),
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
