"""The CLI's use cases as plain functions: train and record a model, evaluate it, predict files.

They return data (dicts of JSON-ready values); printing is the CLI's job.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from digit_core import config, registry, runs, zoo
from digit_core.ensemble import check_member_count


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
    from digit_core.predict import Predictor

    return Predictor.from_file(resolve_model_path(model))


def evaluate_model(model: str | Path | None, dataset: str = "mnist",
                   data_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate a model on the MNIST (or USPS) test set; returns test_accuracy, test_loss, n and more."""
    from digit_core import data
    from digit_core.evaluate import evaluate
    from digit_core.writers import scan_as_mnist

    path = resolve_model_path(model)
    predictor = load_predictor(path)
    if dataset == "usps":
        images, labels = data.load_usps("test")
        images = scan_as_mnist(images)
    else:
        mnist = data.load_mnist(data_dir)
        images, labels = mnist.x_test, mnist.y_test
    result = evaluate(predictor.probabilities, images, labels)
    return {**result.summary(), "model": str(path), "dataset": dataset,
            "per_class_recall": [round(float(r), 6) for r in result.recall],
            "confusion_matrix": result.confusion.tolist()}


def predict_files(model: str | Path | None, paths: list[str], number: bool = False) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per image path: a prediction, or ``{"path", "error"}`` for a bad file.

    With ``number`` each image is read as a number (``digit_core.number``): ``{"path", "number",
    "digits"}``, and more digits than a number is read for is an error.
    """
    from digit_core.imageio import ImageDecodeError, read_image_file
    from digit_core.number import read_number

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
    from digit_core.explain import Explainer
    from digit_core.imageio import ImageDecodeError, read_image_file
    from digit_core.preprocess import preprocess

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


def _check_out(out: Path) -> None:
    if out.suffix != ".keras":
        raise ValueError(f"--out must end in .keras, got {out}.")


def _progress_bar(epochs: int):
    """Batch and epoch callbacks drawing a one-line progress bar on stderr."""
    state = {"epoch": 0}

    def on_batch_end(batch: int, batches: int, metrics: dict[str, float]) -> None:
        if batch % 10 and batch + 1 != batches:
            return
        done = (batch + 1) / max(1, batches)
        bar = "#" * int(done * 30)
        sys.stderr.write(f"\repoch {state['epoch'] + 1}/{epochs} [{bar:<30}] {batch + 1}/{batches} "
                         f"loss {metrics.get('loss', 0):.4f} acc {metrics.get('accuracy', 0):.4f}")
        sys.stderr.flush()

    def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
        state["epoch"] = epoch + 1
        validation = f" val_acc {metrics['val_accuracy']:.4f}" if "val_accuracy" in metrics else ""
        sys.stderr.write(f"\repoch {epoch + 1}/{epochs} done in {metrics['seconds']:.1f}s: loss "
                         f"{metrics['loss']:.4f} acc {metrics['accuracy']:.4f}{validation}\n")
        sys.stderr.flush()

    return on_batch_end, on_epoch_end


def training_images(data_dir: Path | None, subset: int | None, extra_usps: bool, seed: int,
                    validation_split: float, extra_writers: bool = False) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val, x_test, y_test) as uint8 images and labels.

    ``extra_usps`` adds USPS train, ``extra_writers`` USPS train and the training writers of pendigits
    and optdigits (``digit_core.writers``), all read through the pipeline; validation stays MNIST's.
    """
    from digit_core import data
    from digit_core.writers import other_writers_training_set, scan_as_mnist

    mnist = data.load_mnist(data_dir)
    x, y = mnist.x_train, mnist.y_train
    if subset is not None:
        if subset < 10:
            raise ValueError(f"--subset must be at least 10 images, got {subset}.")
        x, y = x[:subset], y[:subset]
    x_train, y_train, x_val, y_val = data.validation_split(x, y, validation_split, seed)
    if extra_writers:
        extra_images, extra_labels = other_writers_training_set(seed)
    elif extra_usps:
        usps_images, extra_labels = data.load_usps("train")
        extra_images = scan_as_mnist(usps_images)
    if extra_writers or extra_usps:
        x_train = np.concatenate([x_train, extra_images])
        y_train = np.concatenate([y_train, extra_labels])
    return x_train, y_train, x_val, y_val, mnist.x_test, mnist.y_test


def train_and_record(network: zoo.NetworkConfig, training: zoo.TrainConfig, *, name: str,
                     data_dir: Path | None = None, subset: int | None = None, extra_usps: bool = False,
                     out: Path | None = None, resume_run: str | None = None, tensorboard: bool = False,
                     progress: bool = True, extra_writers: bool = False) -> dict[str, Any]:
    """Train in a new (or resumed) run directory, evaluate on MNIST test, optionally save to ``out``."""
    from digit_core.train import record_test_metrics, train

    if out is not None:
        _check_out(out)
    x_train, y_train, x_val, y_val, x_test, y_test = training_images(
        data_dir, subset, extra_usps, training.seed, training.validation_split, extra_writers)
    if resume_run:
        run_dir = config.runs_dir() / resume_run
        if not run_dir.is_dir():
            raise ValueError(f"No run {resume_run!r} in {config.runs_dir()}.")
    else:
        run_dir = runs.new_run_dir(config.runs_dir(), name)
    on_batch_end, on_epoch_end = _progress_bar(training.epochs) if progress else (None, None)
    result = train(network, training, x_train, y_train, x_val, y_val, run_dir=run_dir, name=name,
                   on_epoch_end=on_epoch_end, on_batch_end=on_batch_end, resume=bool(resume_run),
                   tensorboard=tensorboard)
    # The run's best checkpoint is what the registry serves, so it is what gets measured and saved.
    model, metrics = record_test_metrics(run_dir, result.model, training.normalization, result.seconds,
                                         x_test, y_test)
    summary = {"run_id": run_dir.name, "status": result.status, "epochs": len(result.history.get("loss", [])),
               **metrics}
    if out is not None:
        metadata = {"name": name, "architecture": registry.describe_network(zoo.network_to_dict(network)),
                    "network": zoo.network_to_dict(network), "training": runs.read_run(run_dir).config.get(
                        "training", {}), "test_accuracy": metrics["test_accuracy"],
                    "test_loss": metrics["test_loss"], "train_seconds": metrics["train_seconds"],
                    "extra_usps": extra_usps or extra_writers, "extra_writers": extra_writers,
                    "from_run": run_dir.name}
        registry.save(model, out.stem, metadata, models_dir=out.parent)
        summary["saved"] = str(out)
    return summary


def ensemble_and_record(members: list[str], *, out: Path, name: str,
                        data_dir: Path | None = None) -> dict[str, Any]:
    """Average saved models into one, measure it on MNIST test, and save it to ``out`` (+ .json)."""
    from digit_core import data
    from digit_core.ensemble import build_ensemble
    from digit_core.evaluate import evaluate
    from digit_core.predict import Predictor

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
    registry.save(model, out.stem, metadata, models_dir=out.parent)
    return {"saved": str(out), "members": [str(path) for path in paths], "test_accuracy": result.accuracy,
            "test_loss": result.loss, "train_seconds": metadata["train_seconds"], "params": int(model.count_params())}
