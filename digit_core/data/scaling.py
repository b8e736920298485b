"""Pixel scaling for the networks: x / 255 ("scale"), or each image's columns to unit length ("l2",
as Keras' ``normalize`` did in one notebook)."""

from __future__ import annotations

import numpy as np

NORMALIZATION_METHODS = ("scale", "l2")


def scale_255(x: np.ndarray) -> np.ndarray:
    """Map pixel values 0..255 to float32 in [0, 1]."""
    return np.asarray(x, dtype=np.float32) / np.float32(255)


def normalize_l2(x: np.ndarray) -> np.ndarray:
    """Divide by the L2 norm along axis 1, as ``keras.utils.normalize(x, axis=1)`` does.

    On (N, 28, 28) images that scales each column of each image to unit length; all-zero columns
    stay zero. Computed in float64 like Keras, returned as float32.
    """
    values = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(values, ord=2, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (values / norms).astype(np.float32)


def normalize(x: np.ndarray, method: str) -> np.ndarray:
    """Apply the named normalisation: "scale" (x / 255) or "l2" (``normalize_l2``)."""
    if method == "scale":
        return scale_255(x)
    if method == "l2":
        return normalize_l2(x)
    raise ValueError(f"Unknown normalization method {method!r}; choose one of "
                     f"{', '.join(repr(name) for name in NORMALIZATION_METHODS)}")
