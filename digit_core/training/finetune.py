"""Fine-tuning a trained model on collected drawings, without forgetting MNIST.

The model starts from a saved one (the app's active model) and trains for a few epochs at a small
learning rate on the drawings, each seen several times an epoch and warped afresh each time, mixed
with MNIST training digits, so that it learns the new handwriting and keeps reading MNIST's. Batch
normalisation keeps the statistics it learnt on MNIST (its layers are frozen): a few hundred drawings
would otherwise shift them. No epoch is chosen by a score: the result is the last epoch.

In the app a fifth of the collection is held back, chosen by id so that a drawing held back once
stays held back as the collection grows, and the report compares the model before and after on it
and on the MNIST test set. Like any run, a fine-tuning run is recorded under ``runs/`` with its
history and checkpoints, and can be made the active model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.store import registry
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.store.atomic import atomic_write_json
from digit_core.training.train import BatchCallback, EpochCallback, StopRequest

HELD_BACK_FRACTION = 0.2
MIN_TRAINING_DRAWINGS = 10
# Knuth's multiplicative hash spreads consecutive ids evenly over [0, 2**32).
_ID_HASH = np.uint64(2654435761)


@dataclass(frozen=True)
class FineTuneConfig:
    """The fine-tuning recipe; its defaults are the ones measured in ``bench/finetune_collection.py``."""

    training: zoo.TrainConfig = zoo.TrainConfig(optimizer="adam", learning_rate=1e-4, batch_size=64, epochs=4,
                                                augment=True, label_smoothing=0.05, validation_split=0.0)
    drawing_repeats: int = 4  # each drawing is seen this many times an epoch, warped afresh each time
    mnist_per_drawing: int = 4  # MNIST training digits mixed in per drawing seen, so MNIST is not forgotten
    freeze_batch_norm: bool = True

    def __post_init__(self) -> None:
        if self.drawing_repeats < 1 or self.mnist_per_drawing < 0:
            raise ValueError("drawing_repeats must be at least 1 and mnist_per_drawing at least 0, got "
                             f"{self.drawing_repeats} and {self.mnist_per_drawing}.")


@dataclass(frozen=True)
class FineTuneRequest:
    """A fine-tuning run for the app's training manager: which model, on which collection, who asked."""

    name: str
    model_id: str  # the registry id of the model to start from
    owner: str
    owner_id: str = ""
    recipe: FineTuneConfig = field(default_factory=FineTuneConfig)
    database_url: str | None = None  # None: config.database_url()

    @property
    def training(self) -> zoo.TrainConfig:
        return self.recipe.training


@dataclass
class FineTuneResult:
    model: Any  # keras.Model: the last epoch's weights
    history: dict[str, list[float]]
    status: str  # "completed" or "stopped"
    seconds: float


def held_back(ids: np.ndarray) -> np.ndarray:
    """True for the drawings held back from fine-tuning to measure it: a fifth, chosen by id."""
    hashed = (np.asarray(ids, np.uint64) * _ID_HASH) % np.uint64(2**32)
    return hashed < np.uint64(int(HELD_BACK_FRACTION * 2**32))


def fine_tune(model_path: Path, drawings: np.ndarray, labels: np.ndarray, mnist_images: np.ndarray,
              mnist_labels: np.ndarray, recipe: FineTuneConfig, run_dir: Path, *, name: str = "fine-tuned",
              x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
              on_epoch_end: EpochCallback | None = None, on_batch_end: BatchCallback | None = None,
              should_stop: StopRequest | None = None) -> FineTuneResult:
    """Fine-tune the model in ``model_path`` on uint8 drawings (N, 28, 28) mixed with MNIST digits.

    The run is recorded in ``run_dir`` like any training run; its ``best.keras`` is the last epoch.
    ``x_val``/``y_val`` only draw the validation curve: nothing is chosen by it.
    """
    from digit_core.training import keras_hooks as hooks

    if len(drawings) < MIN_TRAINING_DRAWINGS or len(drawings) != len(labels):
        raise ValueError(f"Fine-tuning needs at least {MIN_TRAINING_DRAWINGS} labelled drawings, got {len(drawings)}.")
    metadata = registry.metadata_beside(model_path)
    normalization = metadata.get("training", {}).get("normalization", "scale")
    training = zoo.with_overrides(recipe.training, normalization=normalization)
    x_train, y_train = _mixed_training_set(drawings, labels, mnist_images, mnist_labels, recipe, training.seed)
    model = _model_to_fine_tune(model_path, training, recipe.freeze_batch_norm, len(x_train))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", {
        "name": name, "created": runs.now_iso(), "network": metadata.get("network", {}),
        "architecture": metadata.get("architecture", ""), "training": dataclasses.asdict(training),
        "fine_tune": {"from_model": str(model_path), "drawings": int(len(drawings)),
                      "drawing_repeats": recipe.drawing_repeats, "mnist_per_drawing": recipe.mnist_per_drawing,
                      "freeze_batch_norm": recipe.freeze_batch_norm},
        "train_size": int(len(x_train)), "validation_size": int(0 if x_val is None else len(x_val))})
    runs.write_status(run_dir, "running", epoch=0)

    history: dict[str, list[float]] = {}
    progress = hooks.ProgressCallback(history, run_dir, "accuracy", on_epoch_end, on_batch_end, should_stop)
    if training.augment:
        inputs = {"x": hooks.AugmentedBatches(x_train, y_train, training.batch_size, normalization, training.seed)}
    else:
        inputs = {"x": hooks.prepare_images(x_train, normalization), "y": hooks.one_hot(y_train),
                  "batch_size": training.batch_size, "shuffle": True}
    validation = None
    if x_val is not None and len(x_val):
        validation = (hooks.prepare_images(x_val, normalization), hooks.one_hot(y_val))
    started = time.perf_counter()
    try:
        model.fit(**inputs, epochs=training.epochs, validation_data=validation, callbacks=[progress], verbose=0)
    except BaseException as error:
        status = "stopped" if isinstance(error, KeyboardInterrupt) else "failed"
        runs.write_status(run_dir, status, message=f"{type(error).__name__}: {error}")
        raise
    seconds = time.perf_counter() - started
    status = "stopped" if progress.stop_requested else "completed"
    # The run's model is its last epoch (the callback kept the best training accuracy so far).
    hooks.save_model_atomic(model, run_dir / "best.keras")
    hooks.save_model_atomic(model, run_dir / "final.keras")
    runs.write_status(run_dir, status, epoch=len(history.get("loss", [])), seconds=round(seconds, 2))
    return FineTuneResult(model=model, history=history, status=status, seconds=seconds)


def _model_to_fine_tune(model_path: Path, training: zoo.TrainConfig, freeze_batch_norm: bool,
                        train_size: int) -> Any:
    """The saved model, batch normalisation frozen if asked, compiled for the fine-tuning recipe."""
    import keras

    from digit_core.training.train import compile_model

    keras.utils.set_random_seed(training.seed)
    model = registry.load_keras_model(model_path)
    if freeze_batch_norm:
        for layer in _all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # Keras 3 then also runs it in inference mode
    compile_model(model, training, steps_per_epoch=int(np.ceil(train_size / training.batch_size)))
    return model


def _mixed_training_set(drawings: np.ndarray, labels: np.ndarray, mnist_images: np.ndarray,
                        mnist_labels: np.ndarray, recipe: FineTuneConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawings ``drawing_repeats`` times and ``mnist_per_drawing`` MNIST digits for each, in one set."""
    repeated = np.repeat(drawings, recipe.drawing_repeats, axis=0)
    repeated_labels = np.repeat(labels, recipe.drawing_repeats)
    count = min(len(mnist_images), len(repeated) * recipe.mnist_per_drawing)
    chosen = np.random.default_rng([seed, 21]).choice(len(mnist_images), size=count, replace=False)
    return (np.concatenate([repeated, mnist_images[chosen]]).astype(np.uint8),
            np.concatenate([repeated_labels, mnist_labels[chosen]]).astype(np.uint8))


def _all_layers(model: Any) -> list[Any]:
    """Every layer, inside nested models too (an ensemble's members are models)."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_all_layers(layer))
    return found


@dataclass(frozen=True)
class CollectionSplit:
    """The collection split for fine-tuning (uint8 (N, 28, 28) images and labels), and MNIST."""

    train_images: np.ndarray
    train_labels: np.ndarray
    held_back_images: np.ndarray
    held_back_labels: np.ndarray
    mnist: Any  # data.MnistData


def load_collection_split(database_url: str | None = None, data_dir: Path | None = None) -> CollectionSplit:
    """The collection's drawings, a fifth held back (``held_back``), and MNIST; ValueError when too few."""
    from digit_core import data
    from digit_core.store.collection import Collection

    collection = Collection.open(database_url)
    try:
        collected = collection.images()
    finally:
        collection.close()
    kept = held_back(collected.ids)
    if not kept.any() or (~kept).sum() < MIN_TRAINING_DRAWINGS:
        raise ValueError(f"Fine-tuning needs at least {MIN_TRAINING_DRAWINGS} drawings to learn from and some to "
                         f"hold back; the collection has {len(collected.ids)}. Label more drawings on the Draw page.")
    return CollectionSplit(collected.images[~kept], collected.labels[~kept], collected.images[kept],
                           collected.labels[kept], data.load_mnist(data_dir))


def fine_tune_collection(request: FineTuneRequest, split: CollectionSplit, run_dir: Path, *,
                         on_epoch_end: EpochCallback | None = None, on_batch_end: BatchCallback | None = None,
                         should_stop: StopRequest | None = None,
                         on_status: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fine-tune ``request.model_id`` on the collection, then measure it before and after.

    The held-back drawings draw the validation curve and, with the MNIST test set, the report. Writes
    the run's ``metrics.json`` (MNIST test accuracy after, as for any run, and the report) and
    returns it with the run's ``status``. ``on_status("evaluating")`` is called before measuring.
    """
    model_path = registry.resolve(request.model_id)
    mnist = split.mnist
    result = fine_tune(model_path, split.train_images, split.train_labels, mnist.x_train, mnist.y_train,
                       request.recipe, run_dir, name=request.name, x_val=split.held_back_images,
                       y_val=split.held_back_labels, on_epoch_end=on_epoch_end, on_batch_end=on_batch_end,
                       should_stop=should_stop)
    if on_status is not None:
        on_status("evaluating")
    report = compare_models(model_path, run_dir / "best.keras",
                            {"held_back": (split.held_back_images, split.held_back_labels),
                             "mnist_test": (mnist.x_test, mnist.y_test)})
    metrics = {"test_accuracy": report["mnist_test"]["after"], "n": int(len(mnist.y_test)),
               "params": int(result.model.count_params()), "train_seconds": round(result.seconds, 2),
               "fine_tuned_from": request.model_id, "drawings_trained": int(len(split.train_labels)),
               "drawings_held_back": int(len(split.held_back_labels)), "report": report}
    atomic_write_json(run_dir / "metrics.json", metrics)
    return {**metrics, "status": result.status}


def compare_models(before: Path, after: Path, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict]:
    """Accuracy of two saved models on each named set of uint8 images: ``{set: {"before", "after", "n"}}``."""
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor

    readers = {"before": Predictor.from_file(before), "after": Predictor.from_file(after)}
    return {name: {"n": int(len(labels)), **{which: float(evaluate(reader.probabilities, images, labels).accuracy)
                                            for which, reader in readers.items()}}
            for name, (images, labels) in sets.items()}


def report_rows(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    """A fine-tuning run's before-and-after report (in its metrics) as table rows; [] for another run."""
    names = {"held_back": "held-back collected drawings", "mnist_test": "MNIST test"}
    return [{"measured on": f"{names.get(name, name)} ({figures['n']:,})", "before": f"{figures['before']:.2%}",
             "after": f"{figures['after']:.2%}", "change": f"{100 * (figures['after'] - figures['before']):+.2f} points"}
            for name, figures in metrics.get("report", {}).items()]
