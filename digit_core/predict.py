"""Fast inference: a predictor loaded once, classifying one image in a few milliseconds.

``model.predict`` builds a data pipeline on every call (tens of milliseconds). The predictor instead
runs a few images through the network translated to NumPy (``numpy_forward``: about a millisecond
for the shipped ensemble of three, a third of that for one network), and larger batches through a
traced ``tf.function`` of the model, in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.data import normalize_l2
from digit_core.numpy_forward import compile_forward
from digit_core.preprocess import Preprocessed, preprocess

# Below this confidence the app suggests redrawing the digit.
LOW_CONFIDENCE = 0.6
# Up to this many images go through the NumPy forward pass; TensorFlow is faster for more.
SMALL_BATCH = 16
# Below this confidence the predictor takes a second look: it prepares the image again in each way of
# SECOND_LOOKS and averages those readings with the first. With the shipped model on
# bench/accuracy.py's sets: USPS-style scans +0.03 to +0.08 points, canvas drawings +0.40, synthetic
# strokes -0.35 (two of 567; equal on other draws of such sets), MNIST unchanged (an MNIST-shaped
# image is used as it is, so every look sees the same pixels). About 2% of drawings and scans are
# that unsure, so the median time to an answer does not change. Figures: bench/README.md.
SECOND_LOOK_BELOW = 0.6
# Each way of preparing the image again, by how the Draw page names it ("it also read the digit …").
SECOND_LOOKS: dict[str, dict[str, bool]] = {"deskewed": {"deskew": True},
                                            "with its strokes as drawn": {"normalize_stroke": False}}


@dataclass(frozen=True)
class Prediction:
    """The model's reading of one image."""

    digit: int | None  # None when no digit was found
    confidence: float  # probability of ``digit`` (0.0 when none)
    probabilities: np.ndarray  # (10,) float32; zeros when no digit was found
    preprocessed: Preprocessed  # the first look's input (a second look prepares the image other ways too)
    # The ways of SECOND_LOOKS the image was also read, averaged with the first reading: () for one look.
    second_looks: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.digit is not None

    @property
    def looks(self) -> int:
        """How many readings were averaged."""
        return 1 + len(self.second_looks)

    @property
    def low_confidence(self) -> bool:
        return self.found and self.confidence < LOW_CONFIDENCE

    def to_json(self, path: str) -> dict[str, Any]:
        return {"path": path, "digit": self.digit, "confidence": round(self.confidence, 6),
                "probabilities": [round(float(p), 6) for p in self.probabilities],
                **({} if self.found else {"message": self.preprocessed.message})}


class Predictor:
    """Wraps a Keras model for fast single-image and batched prediction of (28, 28) inputs in [0, 1]."""

    def __init__(self, model: Any, normalization: str = "scale", batch_size: int = 512) -> None:
        import tensorflow as tf

        self.model = model
        self.normalization = normalization
        self.batch_size = batch_size
        # A fixed signature traces once for every batch size.
        self._call = tf.function(lambda x: model(x, training=False),
                                 input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)])
        self._call(tf.zeros((1, 28, 28, 1)))  # trace now, not on the first batch a user waits for
        self._small_batch_forward = compile_forward(model)  # None if a layer cannot be translated

    @classmethod
    def from_file(cls, path: str | Path, normalization: str | None = None) -> "Predictor":
        """Load a predictor from a ``.keras`` file (safe mode), reading normalisation from its metadata."""
        from digit_core.registry import load_keras_model

        path = Path(path)
        # The network first: a damaged file no longer matches its sidecar's digest either, and it
        # should be reported as corrupt, not as "written for another version".
        return cls(load_keras_model(path), normalization or _normalization_beside(path))

    @classmethod
    def from_registry(cls, model_id: str) -> "Predictor":
        from digit_core import registry

        return cls.from_file(registry.resolve(model_id))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for float images (N, 28, 28) in [0, 1] (uint8 0–255 also accepted)."""
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[np.newaxis]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"Expected images of shape (N, 28, 28), got {images.shape}.")
        x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
        if self.normalization == "l2":
            x = normalize_l2(x)
        x = x[..., np.newaxis]  # (N, 28, 28, 1)
        if self._small_batch_forward is not None and 0 < len(x) <= SMALL_BATCH:
            return self._small_batch_forward(x)
        chunks = [self._call(x[start:start + self.batch_size]).numpy()
                  for start in range(0, len(x), self.batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), np.float32)

    def predict_image(self, image: np.ndarray, keep_steps: bool = False,
                      second_look: bool = True) -> Prediction:
        """Preprocess any image (canvas, photo, scan) and classify it.

        When the network is unsure (top probability under SECOND_LOOK_BELOW) and ``second_look`` is
        on, the image is also prepared each way of SECOND_LOOKS (deskewed, strokes as drawn), and
        the readings are averaged: a slanted or unusually stroked digit often reads more clearly
        one of those ways. A way that gives the same pixels as an earlier look is not read again.
        """
        prepared = preprocess(image, keep_steps=keep_steps)
        if not prepared.found:
            return Prediction(None, 0.0, np.zeros(10, np.float32), prepared)
        probabilities = self.probabilities(prepared.image)[0]
        if not second_look or probabilities.max() >= SECOND_LOOK_BELOW:
            digit = int(probabilities.argmax())
            return Prediction(digit, float(probabilities[digit]), probabilities, prepared)
        seen, second_looks = [prepared.image], []
        for name, way in SECOND_LOOKS.items():
            other = preprocess(image, keep_steps=False, **way)
            # An MNIST-shaped image is used as it is whatever the way, and stroke normalisation
            # leaves strokes of the right width, and a soft digit's, alone: reading the same
            # pixels twice is no look.
            if other.found and not any(np.array_equal(other.image, earlier) for earlier in seen):
                seen.append(other.image)
                second_looks.append(name)
        if second_looks:
            probabilities = (probabilities + self.probabilities(np.stack(seen[1:])).sum(axis=0)) / len(seen)
        digit = int(probabilities.argmax())
        return Prediction(digit, float(probabilities[digit]), probabilities, prepared, tuple(second_looks))


def _normalization_beside(path: Path) -> str:
    from digit_core.registry import ModelLoadError, metadata_beside

    try:
        metadata = metadata_beside(path)
    except (OSError, ValueError) as error:
        # The app refuses such a model (the registry lists it as broken); the CLI does too, rather
        # than guess how the network wants its pixels scaled.
        raise ModelLoadError(f"Cannot use model {path.name}: its metadata is unreadable ({error})") from error
    training = metadata.get("training", {}) if isinstance(metadata, dict) else {}
    return str(training.get("normalization", "scale")) if isinstance(training, dict) else "scale"
