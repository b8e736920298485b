"""Fast inference: a predictor loaded once, classifying one image in well under a millisecond.

``model.predict`` builds a data pipeline on every call (tens of milliseconds). The predictor instead
runs the network's ONNX export (``digit_core.models.export``) in ONNX Runtime, on one thread: about a third
of a millisecond for the shipped ensemble of three, any batch size in chunks. A model loaded from the
registry with its export beside it needs no TensorFlow at all until its Keras layers are asked for.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.data.scaling import normalize_l2
from digit_core.images.preprocess import Preprocessed, preprocess

# Below this confidence the app suggests redrawing the digit.
LOW_CONFIDENCE = 0.6
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
    """Fast single-image and batched prediction of (28, 28) inputs in [0, 1], through ONNX Runtime.

    ``model`` is the Keras model, or None with ``model_file``: then it is loaded from that file
    (safe mode) the first time ``model`` is asked for. ``onnx_model`` is its ONNX export, made here
    from ``model`` when not given; ``onnx_file`` says which file it was read from (None: exported in
    memory).
    """

    def __init__(self, model: Any, normalization: str = "scale", batch_size: int = 512, *,
                 onnx_model: bytes | None = None, model_file: Path | None = None,
                 onnx_file: Path | None = None) -> None:
        from digit_core.models.export import export_bytes, onnx_reader

        if model is None and (onnx_model is None or model_file is None):
            raise ValueError("A predictor needs a Keras model, or an ONNX export and the model file it came from.")
        self._model, self._model_file = model, model_file
        self._model_lock = threading.Lock()  # the app's sessions share one predictor
        self.normalization = normalization
        self.batch_size = batch_size
        self.onnx_model = onnx_model if onnx_model is not None else export_bytes(model, "onnx")
        self.onnx_file = onnx_file
        self._read = onnx_reader(self.onnx_model)  # the session is built once, here

    @property
    def model(self) -> Any:
        """The Keras model (for inspecting its layers; predictions never need it)."""
        from digit_core.store.registry import load_keras_model

        with self._model_lock:
            if self._model is None:
                self._model = load_keras_model(self._model_file)
            return self._model

    @classmethod
    def from_file(cls, path: str | Path, normalization: str | None = None) -> "Predictor":
        """Load a predictor for a ``.keras`` file (safe mode), reading normalisation from its metadata.

        It runs the ONNX export saved beside the file when the sidecar records the digests of both
        (``model_files.onnx_beside``), and loads the Keras model only when asked for it. Otherwise (a
        run's checkpoint, a model saved before exports, an export missing, damaged or left by an
        interrupted save) it loads the Keras model and exports it again in memory; nothing is
        written beside the model. Saving the model again stores a new export.
        """
        from digit_core.store.registry import load_keras_model
        from digit_core.store.model_files import NoOnnxExport, onnx_beside

        path = Path(path)
        try:
            onnx_file = onnx_beside(path)
        except NoOnnxExport as missing:
            _log_export_again(path, str(missing))
        else:
            normalization = normalization or _normalization_beside(path)
            try:
                return cls(None, normalization, onnx_model=onnx_file.read_bytes(), model_file=path,
                           onnx_file=onnx_file)
            except Exception as error:  # noqa: BLE001 (ONNX Runtime raises its own types for a graph it cannot run)
                _log_export_again(path, f"ONNX Runtime cannot run {onnx_file.name} ({str(error)[:200]})")
        # The network first: a damaged file no longer matches its sidecar's digest either, and it
        # should be reported as corrupt, not as "written for another version".
        return cls(load_keras_model(path), normalization or _normalization_beside(path))

    @classmethod
    def from_registry(cls, model_id: str) -> "Predictor":
        from digit_core.store import registry

        return cls.from_file(registry.resolve(model_id))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for float images (N, 28, 28) in [0, 1] (uint8 0–255 also accepted)."""
        x = model_input(images, self.normalization)
        chunks = [self._read(x[start:start + self.batch_size]) for start in range(0, len(x), self.batch_size)]
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
            # leaves strokes of the right width alone: reading the same
            # pixels twice is no look.
            if other.found and not any(np.array_equal(other.image, earlier) for earlier in seen):
                seen.append(other.image)
                second_looks.append(name)
        if second_looks:
            probabilities = (probabilities + self.probabilities(np.stack(seen[1:])).sum(axis=0)) / len(seen)
        digit = int(probabilities.argmax())
        return Prediction(digit, float(probabilities[digit]), probabilities, prepared, tuple(second_looks))


def model_input(images: np.ndarray, normalization: str) -> np.ndarray:
    """The network's (N, 28, 28, 1) float32 input for images (N, 28, 28) or (28, 28) in [0, 1] (uint8: 0–255)."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[np.newaxis]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"Expected images of shape (N, 28, 28), got {images.shape}.")
    x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    if normalization == "l2":
        x = normalize_l2(x)
    return x[..., np.newaxis]


def _log_export_again(path: Path, reason: str) -> None:
    # A run's checkpoint or an older model has no export, as expected; an export that is there but
    # cannot be used means something went wrong, and is worth a warning.
    level = logging.WARNING if path.with_suffix(".onnx").exists() else logging.INFO
    logging.getLogger(__name__).log(level, "%s: %s; exporting the model to ONNX again in memory.", path.name, reason)


def _normalization_beside(path: Path) -> str:
    from digit_core.store.registry import ModelLoadError, metadata_beside

    try:
        metadata = metadata_beside(path)
    except (OSError, ValueError) as error:
        # The app refuses such a model (the registry lists it as broken); the CLI does too, rather
        # than guess how the network wants its pixels scaled.
        raise ModelLoadError(f"Cannot use model {path.name}: its metadata is unreadable ({error})") from error
    training = metadata.get("training", {}) if isinstance(metadata, dict) else {}
    return str(training.get("normalization", "scale")) if isinstance(training, dict) else "scale"
