"""One small estimator interface for every model the comparison study trains.

Keras networks and scikit-learn baselines (``digit_core.models.classical``) follow scikit-learn's conventions:
nothing happens in ``__init__``, ``fit(X, y, validation_data=None)`` returns ``self``, and
``predict_proba`` / ``predict`` / ``score`` take uint8 images of shape (N, 28, 28). After ``fit`` every
estimator carries the same fitted attributes, so the comparison code never asks what kind it holds:

- ``n_parameters_``: learned numbers the model stores (see each class for what is counted);
- ``train_seconds_``: wall time of ``fit`` (None when the model was trained elsewhere);
- ``train_size_``: how many images the model learned from;
- ``epochs_``, ``batch_size_``, ``optimizer_``: None for models that are not trained by epochs;
- ``history_``: per-epoch metrics (loss, accuracy, val_loss, val_accuracy, seconds); empty if none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from digit_core.models import zoo
from digit_core.models.zoo import NUM_CLASSES

ValidationData = tuple[np.ndarray, np.ndarray] | None


def check_images(images: np.ndarray) -> np.ndarray:
    """Images as an array of shape (N, 28, 28): uint8 0–255 or float in [0, 1]; ValueError otherwise."""
    images = np.asarray(images)
    if images.ndim == 2 and images.shape == (28, 28):
        images = images[np.newaxis]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"Expected images of shape (N, 28, 28), got {images.shape}.")
    if len(images) == 0:
        raise ValueError("Expected at least one image.")
    return images


def check_labels(labels: np.ndarray, count: int) -> np.ndarray:
    """Integer digit labels (N,) matching ``count`` images; ValueError otherwise."""
    labels = np.asarray(labels)
    if labels.shape != (count,):
        raise ValueError(f"Expected {count} labels of shape ({count},), got {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError("Labels must be integers 0–9.")
    return labels.astype(np.int64)


class DigitClassifier(BaseEstimator):
    """Base class: ``predict`` and ``score`` from ``predict_proba``; subclasses implement fit and it."""

    def fit(self, X: np.ndarray, y: np.ndarray, validation_data: ValidationData = None) -> "DigitClassifier":
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted digits (N,): the most probable class, so predict always agrees with predict_proba."""
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on images ``X`` with labels ``y``."""
        X = check_images(X)
        return float((self.predict(X) == check_labels(y, len(X))).mean())


class KerasClassifier(DigitClassifier):
    """A zoo network trained with ``digit_core.training.train.train``.

    ``n_parameters_`` is Keras' ``count_params()`` (trainable and non-trainable weights, as the
    notebooks reported). Prediction goes through ``digit_core.inference.predict.Predictor`` (the network's ONNX
    export in ONNX Runtime, batched), the same path the app uses.
    """

    def __init__(self, network: zoo.NetworkConfig, training: zoo.TrainConfig, name: str = "model") -> None:
        self.network = network
        self.training = training
        self.name = name

    def fit(self, X: np.ndarray, y: np.ndarray, validation_data: ValidationData = None) -> "KerasClassifier":
        """Train on uint8 images (N, 28, 28); ``validation_data`` = (images, labels) is monitored per epoch."""
        from digit_core.inference.predict import Predictor
        from digit_core.training.train import train

        X = check_images(X)
        y = check_labels(y, len(X))
        x_val, y_val = validation_data if validation_data is not None else (None, None)
        result = train(self.network, self.training, X, y, x_val, y_val, name=self.name)
        self.model_ = result.model
        self.predictor_ = Predictor(result.model, self.training.normalization)
        self.history_ = {key: [float(value) for value in values] for key, values in result.history.items()}
        self._set_facts(n_parameters=int(result.model.count_params()), train_seconds=result.seconds,
                        train_size=len(X), epochs=len(self.history_.get("loss", [])), training=self.training)
        return self

    def _set_facts(self, *, n_parameters: int, train_seconds: float | None, train_size: int | None,
                   epochs: int | None, training: zoo.TrainConfig) -> None:
        self.classes_ = np.arange(NUM_CLASSES)
        self.n_parameters_ = n_parameters
        self.train_seconds_ = train_seconds
        self.train_size_ = train_size
        self.epochs_ = epochs
        self.batch_size_ = training.batch_size
        self.optimizer_ = training.optimizer

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for images (N, 28, 28)."""
        check_is_fitted(self, "predictor_")
        return self.predictor_.probabilities(check_images(X))


class SavedKerasClassifier(KerasClassifier):
    """A model trained elsewhere and saved as ``.keras`` (with its ``.json`` sidecar), behind the same
    interface: ``fit`` loads it and ignores X and y, like scikit-learn's "prefit" estimators.

    Used when training a model from scratch does not fit the study's time budget; the facts about its
    training (seconds, epochs, batch size, optimizer, training-set size) come from the sidecar.
    """

    def __init__(self, path: str | Path, name: str = "model") -> None:
        self.path = path
        self.name = name

    def fit(self, X: np.ndarray | None = None, y: np.ndarray | None = None,
            validation_data: ValidationData = None) -> "SavedKerasClassifier":
        from digit_core.inference.predict import Predictor
        from digit_core.store.registry import load_keras_model, metadata_beside

        path = Path(self.path)
        model = load_keras_model(path)
        metadata: dict[str, Any] = metadata_beside(path)
        training = zoo.train_config_from_dict(metadata.get("training", {}))
        self.model_ = model
        self.predictor_ = Predictor(model, training.normalization)
        self.metadata_ = metadata
        self.history_ = {}
        train_seconds = metadata.get("train_seconds")
        self._set_facts(n_parameters=int(model.count_params()),
                        train_seconds=float(train_seconds) if train_seconds is not None else None,
                        train_size=metadata.get("train_size"), epochs=training.epochs if metadata else None,
                        training=training)
        return self
