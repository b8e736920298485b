"""Use cases that make models: train and record a run (new, resumed, or one worker's share), average
models into an ensemble, export a model for other runtimes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digit_core import config
from digit_core.store import registry
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.training.distribute import worker_role
from digit_core.models.ensemble import check_member_count
from digit_core.training.recipe import (DATA_RECIPE, check_data_options, check_same_recipe, data_description,
                                       recorded_data_recipe, training_images)
from digit_core.training.train import BatchCallback, EpochCallback, StopRequest, TrainResult, train
from digit_core.workflows.read import resolve_model_path

if TYPE_CHECKING:
    from digit_core.inference.predict import Predictor


def _check_out(out: Path) -> None:
    if out.suffix != ".keras":
        raise ValueError(f"--out must end in .keras, got {out}.")


@dataclass(frozen=True)
class TrainingHooks:
    """How a caller follows a training: progress callables, a stop request, and each status change.

    Without hooks, ``train_and_record`` shows its progress on stderr (the CLI); the app's background
    jobs pass their own, so that the page, the CLI and the tests go through the same steps.
    """

    on_epoch_end: EpochCallback | None = None
    on_batch_end: BatchCallback | None = None
    should_stop: StopRequest | None = None
    on_status: Callable[[str, Path], None] | None = None  # ("training" or "evaluating", the run's directory)


def train_and_record(network: zoo.NetworkConfig, training: zoo.TrainConfig, *, name: str,
                     data_dir: Path | None = None, subset: int | None = None, extra_usps: bool = False,
                     out: Path | None = None, resume_run: str | None = None, tensorboard: bool = False,
                     progress: bool = True, extra_writers: bool = False,
                     extra_data: Path | None = None, usps_rescans: int = 1,
                     distribute: str = "none", runs_root: Path | None = None,
                     hooks: TrainingHooks | None = None) -> dict[str, Any]:
    """Train in a new (or resumed) run directory, evaluate on MNIST test, optionally save to ``out``.

    A run is resumed with the recipe it recorded (see ``resume_and_record``); one that does not match
    it is refused rather than continued as something else. With ``distribute`` "multi-worker"
    every worker runs this alike; only the chief makes the run, evaluates it and saves ``out``.
    ``runs_root`` (default: the configured runs directory) is where a new run goes.
    """
    role = worker_role(distribute)  # a bad TF_CONFIG fails before the data are read
    if out is not None:
        _check_out(out)
    if extra_data is not None:
        # Recorded as an absolute path, so that --resume finds the same file from any directory.
        extra_data = Path(extra_data).expanduser().resolve()
    check_data_options(extra_writers, usps_rescans)
    data = data_description(subset, extra_usps, extra_writers, extra_data, usps_rescans)
    x_train, y_train, x_val, y_val, x_test, y_test = training_images(
        data_dir, subset, extra_usps, training.seed, training.validation_split, extra_writers, extra_data,
        usps_rescans)
    run_dir = _training_run_dir(resume_run, role.is_chief, runs_root or config.runs_dir(), name)
    if resume_run:
        check_same_recipe(run_dir, network, data, len(x_train), len(x_val))
    try:
        result = _train_with_hooks(network, training, (x_train, y_train, x_val, y_val), run_dir, name,
                                   resume=bool(resume_run), tensorboard=tensorboard, data=data,
                                   distribute=distribute, hooks=hooks, progress=progress)
    finally:
        if not role.is_chief and not resume_run:
            shutil.rmtree(run_dir, ignore_errors=True)
    if not role.is_chief:
        return {"worker": role.describe(), "status": result.status, "epochs": len(result.history.get("loss", [])),
                "train_size": len(x_train)}
    if hooks is not None and hooks.on_status is not None:
        hooks.on_status("evaluating", run_dir)
    # The run's best checkpoint is what the registry serves, so it is what gets measured and saved.
    predictor, metrics = record_test_metrics(run_dir, result.model, training.normalization, result.seconds,
                                             x_test, y_test)
    summary = {"run_id": run_dir.name, "name": name, "status": result.status,
               "epochs": len(result.history.get("loss", [])), "train_size": len(x_train), **metrics}
    if out is not None:
        _save_trained(predictor, out, name, network, run_dir, metrics, data)
        summary["saved"] = str(out)
    return summary


def _training_run_dir(resume_run: str | None, is_chief: bool, runs_root: Path, name: str) -> Path:
    if resume_run:
        return _run_dir(resume_run)
    if is_chief:
        return runs.new_run_dir(runs_root, name)
    # The chief makes the run; this worker trains beside it in a directory of its own, deleted after.
    return Path(tempfile.mkdtemp(prefix="digit-studio-worker-"))


def _train_with_hooks(network: zoo.NetworkConfig, training: zoo.TrainConfig, images: tuple[np.ndarray, ...],
                      run_dir: Path, name: str, *, resume: bool, tensorboard: bool, data: dict[str, Any],
                      distribute: str, hooks: TrainingHooks | None, progress: bool) -> TrainResult:
    """``train``, followed by the caller's hooks, or by a progress display on stderr when there are none."""
    from digit_core.training.progress import training_progress

    display = None
    if hooks is None:
        hooks = TrainingHooks()
        if progress:
            display, on_batch_end, on_epoch_end = training_progress(training.epochs,
                                                                    runs.read_run(run_dir).epochs_done)
            hooks = TrainingHooks(on_epoch_end=on_epoch_end, on_batch_end=on_batch_end)
    if hooks.on_status is not None:
        hooks.on_status("training", run_dir)
    try:
        return train(network, training, *images, run_dir=run_dir, name=name, on_epoch_end=hooks.on_epoch_end,
                     on_batch_end=hooks.on_batch_end, should_stop=hooks.should_stop, resume=resume,
                     tensorboard=tensorboard, data=data, distribute=distribute)
    finally:
        if display is not None:
            display.close()


def _save_trained(predictor: Predictor, out: Path, name: str, network: zoo.NetworkConfig, run_dir: Path,
                  metrics: dict[str, Any], data: dict[str, Any]) -> None:
    """Save the run's model to ``out`` with the ONNX export it was measured through, its recipe
    (data included) and its metrics."""
    metadata = {"name": name, "architecture": registry.describe_network(zoo.network_to_dict(network)),
                "network": zoo.network_to_dict(network),
                "training": runs.read_run(run_dir).config.get("training", {}),
                "test_accuracy": metrics["test_accuracy"], "test_loss": metrics["test_loss"],
                "train_seconds": metrics["train_seconds"],
                "extra_usps": bool(data["extra_usps"] or data["extra_writers"]),
                "extra_writers": data["extra_writers"],
                "usps_rescans": data.get("usps_rescans", DATA_RECIPE["usps_rescans"]),
                "extra_data": data.get("extra_data"), "from_run": run_dir.name}
    registry.save(predictor.model, out.stem, metadata, models_dir=out.parent, onnx_model=predictor.onnx_model)


def record_test_metrics(run_dir: Path, trained_model: Any, normalization: str, seconds: float,
                        x_test: np.ndarray, y_test: np.ndarray) -> tuple[Predictor, dict[str, Any]]:
    """Evaluate the run's best checkpoint (the model the registry serves) and write ``metrics.json``.

    Returns the predictor over that model (its ONNX export made once) and its metrics;
    ``trained_model`` stands in when there is no checkpoint.
    """
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor
    from digit_core.store.atomic import atomic_write_json

    best = run_dir / "best.keras"
    model = registry.load_keras_model(best) if best.is_file() else trained_model
    predictor = Predictor(model, normalization)
    evaluation = evaluate(predictor.probabilities, x_test, y_test)
    metrics = {**evaluation.summary(), "params": int(model.count_params()), "train_seconds": round(seconds, 2)}
    atomic_write_json(run_dir / "metrics.json", metrics)
    return predictor, metrics


def resume_and_record(run_id: str, *, epochs: int | None = None, data_dir: Path | None = None,
                      out: Path | None = None, tensorboard: bool = False, progress: bool = True,
                      distribute: str = "none") -> dict[str, Any]:
    """Continue a run from its last epoch with its own recipe: name, network, training settings and data.

    ``epochs`` is the new total (default: the run's own); everything else comes from the run's
    ``config.json``, so a resumed run trains on the same images as before. The distribution strategy
    is not part of the recipe: a run may continue on other devices or machines than it started on.
    """
    recorded = runs.read_run(_run_dir(run_id)).config
    if not isinstance(recorded.get("network"), dict) or not isinstance(recorded.get("training"), dict):
        raise ValueError(f"Run {run_id!r} has no readable recipe in its config.json, so it cannot be resumed.")
    if "fine_tune" in recorded:
        raise ValueError(f"Run {run_id!r} fine-tuned a model on the collected drawings, so it cannot be resumed "
                         "here; fine-tune again on the Train page instead.")
    network = zoo.network_from_dict(recorded["network"])
    training = zoo.with_overrides(zoo.train_config_from_dict(recorded["training"]), epochs=epochs)
    return train_and_record(network, training, name=str(recorded.get("name", run_id)), data_dir=data_dir,
                            out=out, resume_run=run_id, tensorboard=tensorboard, progress=progress,
                            distribute=distribute, **recorded_data_recipe(run_id, recorded))


def _run_dir(run_id: str) -> Path:
    run_dir = config.runs_dir() / run_id
    if not run_id or Path(run_id).name != run_id or not run_dir.is_dir():
        raise ValueError(f"No run {run_id!r} in {config.runs_dir()}.")
    return run_dir


def ensemble_and_record(members: list[str], *, out: Path, name: str,
                        data_dir: Path | None = None) -> dict[str, Any]:
    """Average saved models into one, measure it on MNIST test, and save it to ``out`` (+ .json)."""
    from digit_core import data
    from digit_core.models.ensemble import build_ensemble
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor

    _check_out(out)
    check_member_count(len(members))  # before loading anything: a mistyped command fails at once
    paths = [resolve_model_path(member) for member in members]
    if out.resolve() in {path.resolve() for path in paths}:
        raise ValueError(f"--out {out} is one of the members; save the ensemble under another name.")
    mnist = data.load_mnist(data_dir)  # before the slow part: a missing data set fails fast
    model, metadata = build_ensemble(paths, name)
    predictor = Predictor(model, metadata["training"]["normalization"])
    result = evaluate(predictor.probabilities, mnist.x_test, mnist.y_test)
    metadata.update(test_accuracy=result.accuracy, test_loss=result.loss)
    registry.save(model, out.stem, metadata, models_dir=out.parent, onnx_model=predictor.onnx_model)
    return {"saved": str(out), "members": [str(path) for path in paths], "test_accuracy": result.accuracy,
            "test_loss": result.loss, "train_seconds": metadata["train_seconds"], "params": int(model.count_params())}


def export_model(model: str | Path | None, export_format: str, out: Path,
                 data_dir: Path | None = None) -> dict[str, Any]:
    """Write a model as ONNX or LiteRT to ``out`` and check, on MNIST test, that it reads like Keras.

    The ONNX file is the export the predictor runs (the one saved beside the model, or made on load).
    """
    from digit_core import data
    from digit_core.store.atomic import atomic_write_bytes
    from digit_core.models.export import SUFFIXES, check_format, compare_readings, export_bytes, reader
    from digit_core.inference.predict import Predictor, model_input

    check_format(export_format)
    if out.suffix != SUFFIXES[export_format]:
        raise ValueError(f"--out must end in {SUFFIXES[export_format]} for --format {export_format}, got {out}.")
    path = resolve_model_path(model)
    mnist = data.load_mnist(data_dir)  # before the slow part: a missing data set fails fast
    predictor = Predictor.from_file(path)
    exported = predictor.onnx_model if export_format == "onnx" else export_bytes(predictor.model, export_format)
    atomic_write_bytes(out, exported)
    # Read back what was written, beside the Keras model it came from.
    agreement = compare_readings(predictor.model, reader(out.read_bytes(), export_format),
                                 model_input(mnist.x_test, predictor.normalization), mnist.y_test)
    return {"model": str(path), "format": export_format, "out": str(out), "size_bytes": out.stat().st_size,
            **agreement}
