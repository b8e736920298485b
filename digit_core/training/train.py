"""One ``train`` function for the Train page, the CLI and the tests.

Progress is reported through plain callables, a stop request is honoured at the next batch, and when a
run directory is given every epoch leaves an atomic checkpoint, history and status behind, so a run
killed half-way still has a loadable best model and an honest status.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
          tensorboard: bool = False, data: Mapping[str, Any] | None = None) -> TrainResult:
    """Train ``network`` on uint8 images (N, 28, 28) with integer labels.

    With ``run_dir`` the run is recorded there (see ``digit_core.training.runs``), ``data`` (how the images were
    chosen, e.g. ``{"subset": 2000, "extra_usps": False}``) in its config beside the network and the
    training settings, so the run can be resumed with its own recipe; ``resume=True`` continues the
    run in ``run_dir`` from its last completed epoch. Returns the trained model and its history.
    """
    import keras

    from digit_core.training import keras_hooks as hooks

    _check_data(x_train, y_train, "training")
    has_validation = x_val is not None and len(x_val) > 0
    if has_validation:
        _check_data(x_val, y_val, "validation")
    keras.utils.set_random_seed(training.seed)
    steps_per_epoch = int(np.ceil(len(x_train) / training.batch_size))

    history: dict[str, list[float]] = {}
    initial_epoch = 0
    if resume:
        if run_dir is None or not (run_dir / "last.keras").exists():
            raise ValueError(f"Cannot resume: no last.keras checkpoint in {run_dir}.")
        from digit_core.store.registry import load_keras_model

        model = load_keras_model(run_dir / "last.keras")
        history = runs.read_history(run_dir)
        initial_epoch = len(history.get("loss", []))
        if initial_epoch >= training.epochs:
            raise ValueError(f"The run already has {initial_epoch} epochs; ask for more than that to resume.")
    else:
        model = zoo.build_network(network, name=_keras_name(name))
        compile_model(model, training, steps_per_epoch)

    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", _run_config(name, network, training, x_train, x_val,
                                                               run_dir, data))
        runs.write_status(run_dir, "running", epoch=initial_epoch)

    monitor = "val_accuracy" if has_validation else "accuracy"
    progress = hooks.ProgressCallback(history, run_dir, monitor, on_epoch_end, on_batch_end, should_stop)
    callbacks: list = [progress]
    if training.early_stopping_patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=training.early_stopping_patience,
                                                       restore_best_weights=True))
    if tensorboard and run_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))

    if training.augment:
        inputs = {"x": hooks.AugmentedBatches(x_train, y_train, training.batch_size, training.normalization,
                                              training.seed)}
    else:
        inputs = {"x": hooks.prepare_images(x_train, training.normalization), "y": hooks.one_hot(y_train),
                  "batch_size": training.batch_size, "shuffle": True}
    validation = None
    if has_validation:
        validation = (hooks.prepare_images(x_val, training.normalization), hooks.one_hot(y_val))
    started = time.perf_counter()
    try:
        model.fit(**inputs, epochs=training.epochs, initial_epoch=initial_epoch, validation_data=validation,
                  callbacks=callbacks, verbose=0)
    except KeyboardInterrupt:
        if run_dir is not None:
            runs.write_status(run_dir, "stopped", message="Interrupted; the best checkpoint is kept.")
        raise
    except Exception as error:
        if run_dir is not None:
            runs.write_status(run_dir, "failed", message=f"{type(error).__name__}: {error}")
        raise
    seconds = time.perf_counter() - started
    status = "stopped" if progress.stop_requested else "completed"
    if run_dir is not None:
        hooks.save_model_atomic(model, run_dir / "final.keras")
        runs.write_status(run_dir, status, epoch=len(history.get("loss", [])), seconds=round(seconds, 2))
    return TrainResult(model=model, history=history, status=status, run_dir=run_dir, seconds=seconds)


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


def record_test_metrics(run_dir: Path, trained_model: Any, normalization: str, seconds: float,
                        x_test: np.ndarray, y_test: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """Evaluate the run's best checkpoint (the model the registry serves) and write ``metrics.json``.

    Returns that model and its metrics; ``trained_model`` stands in when there is no checkpoint.
    """
    from digit_core.inference.evaluate import evaluate
    from digit_core.inference.predict import Predictor
    from digit_core.store.registry import load_keras_model

    best = run_dir / "best.keras"
    model = load_keras_model(best) if best.is_file() else trained_model
    evaluation = evaluate(Predictor(model, normalization).probabilities, x_test, y_test)
    metrics = {**evaluation.summary(), "params": int(model.count_params()), "train_seconds": round(seconds, 2)}
    atomic_write_json(run_dir / "metrics.json", metrics)
    return model, metrics
