"""The CLI's use cases as plain functions: train and record a model, evaluate it, predict files.

They return data (dicts of JSON-ready values); printing is the CLI's job.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digit_core import config
from digit_core.store import registry
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.training.distribute import worker_role
from digit_core.models.ensemble import check_member_count
from digit_core.training.recipe import (check_data_options, check_same_recipe, data_description, recorded_data_recipe,
                                       training_images)
from digit_core.training.train import BatchCallback, EpochCallback, StopRequest, TrainResult, train


def resolve_model_path(model: str | Path | None) -> Path:
    """A CLI ``--model`` value: an existing ``.keras`` path, a registry id, or None for the active model."""
    if model is None:
        return registry.resolve(registry.active_model_id())
    path = Path(model)
    if path.suffix == ".keras" or path.exists():
        if not path.is_file():
            raise registry.ModelLoadError(f"Model file not found: {path}.")
        return path
    return registry.resolve(str(model))


def load_predictor(model: str | Path | None):
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(resolve_model_path(model))


# Images per step of an evaluation, so a progress display can count them.
EVALUATION_CHUNK = 1000


def evaluate_model(model: str | Path | None, dataset: str = "mnist", data_dir: Path | None = None,
                   on_images: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Evaluate a model on the MNIST (or USPS) test set; returns test_accuracy, test_loss, n and more.

    ``on_images(done, total)`` is called as each chunk of test images has been read.
    """
    from digit_core import data
    from digit_core.inference.evaluate import evaluate
    from digit_core.data.writers import scan_as_mnist

    path = resolve_model_path(model)
    predictor = load_predictor(path)
    if dataset == "usps":
        images, labels = data.load_usps("test")
        images = scan_as_mnist(images)
    else:
        mnist = data.load_mnist(data_dir)
        images, labels = mnist.x_test, mnist.y_test
    result = evaluate(_counting(predictor.probabilities, on_images), images, labels)
    return {**result.summary(), "model": str(path), "dataset": dataset,
            "per_class_recall": [round(float(r), 6) for r in result.recall],
            "confusion_matrix": result.confusion.tolist()}


def _counting(probabilities: Callable[[np.ndarray], np.ndarray],
              on_images: Callable[[int, int], None] | None) -> Callable[[np.ndarray], np.ndarray]:
    """``probabilities`` run chunk by chunk, reporting the images done so far to ``on_images``."""
    if on_images is None:
        return probabilities

    def chunked(images: np.ndarray) -> np.ndarray:
        chunks = []
        for start in range(0, len(images), EVALUATION_CHUNK):
            chunks.append(probabilities(images[start:start + EVALUATION_CHUNK]))
            on_images(min(len(images), start + EVALUATION_CHUNK), len(images))
        return np.concatenate(chunks)

    return chunked


def predict_files(model: str | Path | None, paths: list[str], number: bool = False) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per image path: a prediction, or ``{"path", "error"}`` for a bad file.

    With ``number`` each image is read as a number (``digit_core.inference.number``): ``{"path", "number",
    "digits"}``, and more digits than a number is read for is an error.
    """
    from digit_core.images.imageio import ImageDecodeError, read_image_file
    from digit_core.inference.number import read_number

    predictor = load_predictor(model)
    for path in paths:
        try:
            image = read_image_file(path)
            reading = read_number(predictor, image) if number else predictor.predict_image(image)
        except (ImageDecodeError, OSError, ValueError) as error:
            yield {"path": path, "error": str(error)}
            continue
        yield reading.to_json(path)


def explain_files(model: str | Path | None, paths: list[str]) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per image path: the reading and its saliency maps, or ``{"path", "error"}``.

    The network reads the image as the pipeline prepares it once (no second look, unlike predict).
    """
    from digit_core.inference.explain import Explainer
    from digit_core.images.imageio import ImageDecodeError, read_image_file
    from digit_core.images.preprocess import preprocess

    explainer = Explainer.from_file(resolve_model_path(model))
    for path in paths:
        try:
            prepared = preprocess(read_image_file(path), keep_steps=False)
        except (ImageDecodeError, OSError, ValueError) as error:
            yield {"path": path, "error": str(error)}
            continue
        if not prepared.found:
            yield {"path": path, "digit": None, "confidence": 0.0, "saliency": None, "message": prepared.message}
            continue
        yield explainer.explain(prepared.image).to_json(path)


def collect_files(model: str | Path | None, paths: list[str], label: object, who: str) -> Iterator[dict[str, Any]]:
    """Store each image file in the collection as a drawing of ``label``, read by the model first.

    Each file goes through predict's checks. One JSON-ready dict per path, ``{"path", "id", "label",
    "predicted", "confidence"}``, or ``{"path", "error"}`` for a file that cannot be read or holds no
    digit (nothing is stored for it). A bad label raises ValueError before anything is loaded.
    """
    from digit_core.store.collection import Collection
    from digit_core.store.drawings import check_label, labelled_drawing
    from digit_core.images.imageio import ImageDecodeError, read_image_file

    label = check_label(label)
    collection = Collection.open()  # before the model: a broken database fails fast
    try:
        predictor = load_predictor(model)
        model_id = str(model) if model is not None else registry.active_model_id()
        for path in paths:
            try:
                image = read_image_file(path)
                prediction = predictor.predict_image(image)
                drawing = labelled_drawing(image, prediction, label, model_id=model_id, who=who)
            except (ImageDecodeError, OSError, ValueError) as error:
                yield {"path": path, "error": str(error)}
                continue
            saved = collection.add(drawing)
            yield {"path": path, "id": saved.id, "label": label, "predicted": prediction.digit,
                   "confidence": round(prediction.confidence, 6)}
    finally:
        collection.close()


def export_collection(out: Path) -> dict[str, Any]:
    """Write the collection's model inputs and labels as a ``label,pixel0..pixel783`` CSV."""
    from digit_core.store.collection import Collection
    from digit_core.data.csv_import import write_digits_csv

    collection = Collection.open()
    try:
        collected = collection.images()
    finally:
        collection.close()
    if not len(collected.ids):
        raise ValueError(f"The collection ({collection.where}) is empty: there is nothing to export.")
    write_digits_csv(out, collected.images, collected.labels)
    return {"out": str(out), "drawings": int(len(collected.ids))}


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
    model, metrics = record_test_metrics(run_dir, result.model, training.normalization, result.seconds,
                                         x_test, y_test)
    summary = {"run_id": run_dir.name, "name": name, "status": result.status,
               "epochs": len(result.history.get("loss", [])), "train_size": len(x_train), **metrics}
    if out is not None:
        _save_trained(model, out, name, network, run_dir, metrics, data)
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
    """``train`` followed by the caller's hooks, or by a progress display on stderr when there are none."""
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


def _save_trained(model: Any, out: Path, name: str, network: zoo.NetworkConfig, run_dir: Path,
                  metrics: dict[str, Any], data: dict[str, Any]) -> None:
    """Save the run's model to ``out`` (+ its ONNX export and sidecar) with its recipe and metrics."""
    metadata = {"name": name, "architecture": registry.describe_network(zoo.network_to_dict(network)),
                "network": zoo.network_to_dict(network),
                "training": runs.read_run(run_dir).config.get("training", {}),
                "test_accuracy": metrics["test_accuracy"], "test_loss": metrics["test_loss"],
                "train_seconds": metrics["train_seconds"],
                "extra_usps": bool(data["extra_usps"] or data["extra_writers"]),
                "extra_writers": data["extra_writers"], "extra_data": data.get("extra_data"),
                "from_run": run_dir.name}
    registry.save(model, out.stem, metadata, models_dir=out.parent)


def record_test_metrics(run_dir: Path, trained_model: Any, normalization: str, seconds: float,
                        x_test: np.ndarray, y_test: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """Evaluate the run's best checkpoint (the model the registry serves) and write ``metrics.json``.

    Returns that model and its metrics; ``trained_model`` stands in when there is no checkpoint.
    """
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor
    from digit_core.store.atomic import atomic_write_json

    best = run_dir / "best.keras"
    model = registry.load_keras_model(best) if best.is_file() else trained_model
    evaluation = evaluate(Predictor(model, normalization).probabilities, x_test, y_test)
    metrics = {**evaluation.summary(), "params": int(model.count_params()), "train_seconds": round(seconds, 2)}
    atomic_write_json(run_dir / "metrics.json", metrics)
    return model, metrics


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
