"""Keras classes used by ``digit_core.training.train``: a progress callback and an augmenting batch feeder.

Kept apart from ``train.py`` because importing this module imports Keras, which ``train.py`` does
only when training actually starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from digit_core.training import runs
from digit_core.data.augment import augment_images
from digit_core.data.scaling import normalize
from digit_core.store.atomic import atomic_write_with

EpochCallback = Callable[[int, dict[str, float]], None]  # (epoch index from 0, metrics)
BatchCallback = Callable[[int, int, dict[str, float]], None]  # (batch index, batches per epoch, metrics)
StopRequest = Callable[[], bool]


def prepare_images(images: np.ndarray, normalization: str = "scale") -> np.ndarray:
    """uint8 (N, 28, 28) images to the network's float32 input of shape (N, 28, 28, 1)."""
    return normalize(images, normalization)[..., np.newaxis]


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[labels.astype(np.int64)]


def save_model_atomic(model: keras.Model, path: Path) -> None:
    """Save a Keras model so that ``path`` is either the old file or the complete new one."""
    atomic_write_with(path, lambda tmp: model.save(tmp), suffix=".keras")


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled batches, each randomly warped and re-stroked afresh (see ``digit_core.data.augment``)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, normalization: str,
                 seed: int) -> None:
        super().__init__()
        self.images, self.labels = images, labels
        self.batch_size, self.normalization = batch_size, normalization
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        batch = augment_images(self.images[rows], self.rng)
        return prepare_images(batch, self.normalization), one_hot(self.labels[rows])

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.images))


class ProgressCallback(keras.callbacks.Callback):
    """Forwards Keras' hooks to plain callables, honours stop requests, records the run per epoch."""

    def __init__(self, history: dict[str, list[float]], run_dir: Path | None, monitor: str,
                 on_epoch_end: EpochCallback | None = None, on_batch_end: BatchCallback | None = None,
                 should_stop: StopRequest | None = None) -> None:
        super().__init__()
        self.history, self.run_dir, self.monitor = history, run_dir, monitor
        self.epoch_callback, self.batch_callback, self.should_stop = on_epoch_end, on_batch_end, should_stop
        self.stop_requested = False
        self.best = max(history.get(monitor, []), default=-np.inf)
        self.epoch_started = time.perf_counter()

    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            self.stop_requested = True
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.batch_callback is not None:
            self.batch_callback(batch, int(self.params.get("steps") or 0), _floats(logs))
        self._check_stop()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = _floats(logs)
        metrics["seconds"] = round(time.perf_counter() - self.epoch_started, 3)
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        if self.run_dir is not None:
            self._record(epoch, metrics)
        if self.epoch_callback is not None:
            self.epoch_callback(epoch, metrics)
        self._check_stop()

    def _record(self, epoch: int, metrics: dict[str, float]) -> None:
        # Checkpoints first, history second: a kill between the two leaves a history one epoch short,
        # never a history that mentions a checkpoint which does not exist.
        score = metrics.get(self.monitor, -np.inf)
        if score > self.best or not (self.run_dir / "best.keras").exists():
            self.best = max(score, self.best)
            save_model_atomic(self.model, self.run_dir / "best.keras")
        save_model_atomic(self.model, self.run_dir / "last.keras")
        runs.write_history(self.run_dir, self.history)
        runs.write_status(self.run_dir, "running", epoch=epoch + 1)


def _floats(logs: dict | None) -> dict[str, float]:
    return {key: float(value) for key, value in (logs or {}).items()}
