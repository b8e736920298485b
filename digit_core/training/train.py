"""One ``train`` function for the Train page, the CLI and the tests.

Progress is reported through plain callables, a stop request is honoured at the next batch, and when a
run directory is given every epoch leaves an atomic checkpoint, history and status behind, so a run
killed half-way still has a loadable best model and an honest status.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.training import distribute as distribution_engine
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.store.atomic import atomic_write_json

EpochCallback = Callable[[int, dict[str, float]], None]  # (epoch index from 0, metrics)
BatchCallback = Callable[[int, int, dict[str, float]], None]  # (batch index, batches per epoch, metrics)
StopRequest = Callable[[], bool]


@dataclass
class TrainResult:
    """What a training run produced."""

    model: Any  # keras.Model, with the best weights when early stopping restored them
    history: dict[str, list[float]]
    status: str  # "completed" or "stopped"
    run_dir: Path | None
    seconds: float


def compile_model(model: Any, training: zoo.TrainConfig, steps_per_epoch: int) -> None:
    import keras

    model.compile(optimizer=zoo.make_optimizer(training, steps_per_epoch),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=training.label_smoothing),
                  metrics=["accuracy"])


def train(network: zoo.NetworkConfig, training: zoo.TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
          x_val: np.ndarray | None = None, y_val: np.ndarray | None = None, *,
          run_dir: Path | None = None, name: str = "model",
          on_epoch_end: EpochCallback | None = None, on_batch_end: BatchCallback | None = None,
          should_stop: StopRequest | None = None, resume: bool = False,
          tensorboard: bool = False, data: Mapping[str, Any] | None = None,
          distribute: str = "none") -> TrainResult:
    """Train ``network`` on uint8 images (N, 28, 28) with integer labels.

    With ``run_dir`` the run is recorded there (see ``digit_core.training.runs``), ``data`` (how the images were
    chosen, e.g. ``{"subset": 2000, "extra_usps": False}``) in its config beside the network and the
    training settings, so the run can be resumed with its own recipe; ``resume=True`` continues the
    run in ``run_dir`` from its last completed epoch. Returns the trained model and its history.

    ``distribute`` is one of ``digit_core.training.distribute.STRATEGIES``; with ``multi-worker`` every worker
    calls ``train`` alike and only the chief writes ``run_dir`` (a non-chief reads it to resume).
    """
    # First: multi-worker training must configure TensorFlow before it runs anything.
    distribution = distribution_engine.start(distribute)
    with distribution_engine.write_dir(run_dir, distribution) as write_dir:
        return _train(network, training, x_train, y_train, x_val, y_val, run_dir=run_dir, write_dir=write_dir,
                      name=name, on_epoch_end=on_epoch_end, on_batch_end=on_batch_end, should_stop=should_stop,
                      resume=resume, tensorboard=tensorboard, data=data, distribution=distribution)


def _train(network: zoo.NetworkConfig, training: zoo.TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
           x_val: np.ndarray | None, y_val: np.ndarray | None, *, run_dir: Path | None, write_dir: Path | None,
           name: str, on_epoch_end: EpochCallback | None, on_batch_end: BatchCallback | None,
           should_stop: StopRequest | None, resume: bool, tensorboard: bool, data: Mapping[str, Any] | None,
           distribution: distribution_engine.Distribution | None) -> TrainResult:
    import keras

    from digit_core.training import keras_hooks as hooks

    _check_data(x_train, y_train, "training")
    has_validation = x_val is not None and len(x_val) > 0
    if has_validation:
        _check_data(x_val, y_val, "validation")
    else:
        x_val, y_val = None, None
    keras.utils.set_random_seed(training.seed)
    model, history = _start_model(network, training, len(x_train), run_dir, name, resume, distribution)
    initial_epoch = len(history.get("loss", []))
    if write_dir is not None:
        _record_start(write_dir, _run_config(name, network, training, x_train, x_val, run_dir, data), distribution,
                      initial_epoch)
    monitor = "val_accuracy" if has_validation else "accuracy"
    progress = hooks.ProgressCallback(history, write_dir, monitor, on_epoch_end, on_batch_end, should_stop)
    # TensorBoard logs are the chief's only.
    callbacks = _callbacks(training, progress, monitor, run_dir if tensorboard and write_dir == run_dir else None)
    if distribution is None:
        inputs, validation = _fit_inputs(training, x_train, y_train, x_val, y_val)
    else:
        inputs, validation = _distributed_inputs(training, x_train, y_train, x_val, y_val)
    started = time.perf_counter()
    with _status_on_failure(write_dir, distribution):
        model.fit(**inputs, epochs=training.epochs, initial_epoch=initial_epoch, validation_data=validation,
                  callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    status = "stopped" if progress.stop_requested else "completed"
    if write_dir is not None:
        hooks.save_model_atomic(model, write_dir / "final.keras")
        runs.write_status(write_dir, status, epoch=len(history.get("loss", [])), seconds=round(seconds, 2))
    return TrainResult(model=model, history=history, status=status, run_dir=run_dir, seconds=seconds)


def _start_model(network: zoo.NetworkConfig, training: zoo.TrainConfig, train_size: int, run_dir: Path | None,
                 name: str, resume: bool, distribution: distribution_engine.Distribution | None,
                 ) -> tuple[Any, dict[str, list[float]]]:
    """A new compiled network and an empty history, or the run's last checkpoint and its history.

    Under a strategy the model is made (built or loaded) in its scope, so that its variables are mirrored.
    """
    scope = distribution.scope() if distribution else nullcontext()
    if not resume:
        with scope:
            model = zoo.build_network(network, name=_keras_name(name))
            compile_model(model, training, steps_per_epoch=int(np.ceil(train_size / training.batch_size)))
        return model, {}
    if run_dir is None or not (run_dir / "last.keras").exists():
        raise ValueError(f"Cannot resume: no last.keras checkpoint in {run_dir}.")
    from digit_core.store.registry import load_keras_model

    history = runs.read_history(run_dir)
    epochs_done = len(history.get("loss", []))
    if epochs_done >= training.epochs:
        raise ValueError(f"The run already has {epochs_done} epochs; ask for more than that to resume.")
    with scope:
        model = load_keras_model(run_dir / "last.keras")
    return model, history


def _record_start(write_dir: Path, recorded: dict[str, Any], distribution: distribution_engine.Distribution | None,
                  initial_epoch: int) -> None:
    write_dir.mkdir(parents=True, exist_ok=True)
    if distribution is not None:
        recorded["distribution"] = distribution.describe()
    atomic_write_json(write_dir / "config.json", recorded)
    runs.write_status(write_dir, "running", epoch=initial_epoch)


def _callbacks(training: zoo.TrainConfig, progress: Any, monitor: str, tensorboard_run: Path | None) -> list:
    """The progress callback, early stopping when the recipe asks for it, and TensorBoard's logs."""
    import keras

    callbacks: list = [progress]
    if training.early_stopping_patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=training.early_stopping_patience,
                                                       restore_best_weights=True))
    if tensorboard_run is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_run / "tensorboard")))
    return callbacks


@contextmanager
def _status_on_failure(write_dir: Path | None, distribution: distribution_engine.Distribution | None,
                       ) -> Iterator[None]:
    """Leave an honest status behind when training is interrupted or fails, then let the error through."""
    try:
        yield
    except KeyboardInterrupt:
        if write_dir is not None:
            runs.write_status(write_dir, "stopped", message="Interrupted; the best checkpoint is kept.")
        raise
    except Exception as error:
        if write_dir is not None:
            message = (f"{type(error).__name__}: {error}" if distribution is None
                       else distribution_engine.failure_message(error))
            runs.write_status(write_dir, "failed", message=message)
        raise


def _fit_inputs(training: zoo.TrainConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None,
                y_val: np.ndarray | None) -> tuple[dict[str, Any], Any]:
    """``fit``'s training input and validation data in one process, as NumPy arrays."""
    from digit_core.training import keras_hooks as hooks

    if training.augment:
        inputs = {"x": hooks.AugmentedBatches(x_train, y_train, training.batch_size, training.normalization,
                                              training.seed)}
    else:
        inputs = {"x": hooks.prepare_images(x_train, training.normalization), "y": hooks.one_hot(y_train),
                  "batch_size": training.batch_size, "shuffle": True}
    validation = None
    if x_val is not None:
        validation = (hooks.prepare_images(x_val, training.normalization), hooks.one_hot(y_val))
    return inputs, validation


def _distributed_inputs(training: zoo.TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
                        x_val: np.ndarray | None, y_val: np.ndarray | None) -> tuple[dict[str, Any], Any]:
    """``fit``'s training input and validation data as ``tf.data`` pipelines, sharded across workers."""
    from digit_core.training import tf_distribute

    dataset = tf_distribute.training_dataset(x_train, y_train, training.batch_size, training.normalization,
                                             training.seed, training.augment)
    validation = None
    if x_val is not None:
        validation = tf_distribute.validation_dataset(x_val, y_val, training.batch_size, training.normalization)
    # Shuffled in the pipeline (alike on every worker, so that each reads its own share).
    return {"x": dataset, "shuffle": False}, validation


def _check_data(x: np.ndarray, y: np.ndarray | None, what: str) -> None:
    if y is None or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"The {what} images must have shape (N, 28, 28) with labels; got {x.shape}.")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"The {what} set needs as many labels as images (got {len(x)} images, {len(y)} labels).")
    if y.min() < 0 or y.max() > 9:
        raise ValueError(f"The {what} labels must be digits 0–9.")


def _keras_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "model"


def _run_config(name: str, network: zoo.NetworkConfig, training: zoo.TrainConfig, x_train: np.ndarray,
                x_val: np.ndarray | None, run_dir: Path, data: Mapping[str, Any] | None) -> dict[str, Any]:
    existing = runs.read_run(run_dir).config if (run_dir / "config.json").exists() else {}
    recorded = {"name": name, "created": existing.get("created", runs.now_iso()),
                "network": zoo.network_to_dict(network), "training": dataclasses.asdict(training),
                "train_size": int(len(x_train)), "validation_size": int(0 if x_val is None else len(x_val))}
    # A resumed run keeps the data description it started with.
    data = data if data is not None else existing.get("data")
    return {**recorded, "data": dict(data)} if data is not None else recorded
