"""A labelled digit set described in numbers: the Explore page's and the HTML report's analysis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digit_core.data import NUM_CLASSES, dataset_summary


@dataclass(frozen=True)
class DatasetProfile:
    """Counts, per-class means, pixel-intensity histogram and ink per class of uint8 images (N, H, W).

    Without labels (``labelled`` False) the per-class figures are zeros and only the rest means anything.
    """

    summary: dict[str, Any]  # data.dataset_summary: count, shape, dtype, min, max, missing, class_counts
    label_counts: np.ndarray  # (10,) images per digit
    class_means: np.ndarray  # (10, H, W) float32 mean image per digit (zeros for an absent digit)
    intensity_counts: np.ndarray  # (256,) how many pixels have each value 0..255
    ink_mean: np.ndarray  # (10,) mean ink per image of each digit, in fully inked pixels (sum / 255)
    ink_std: np.ndarray  # (10,) standard deviation of that ink
    labelled: bool = True

    @property
    def balance(self) -> float:
        """Smallest class count over largest (1.0 is perfectly balanced, 0.0 means a digit is missing)."""
        largest = int(self.label_counts.max(initial=0))
        return float(self.label_counts.min()) / largest if largest else 0.0


def profile_dataset(images: np.ndarray, labels: np.ndarray | None) -> DatasetProfile:
    """Describe uint8 images (N, H, W) with digit labels (N,), or None for images without labels."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}.")
    if labels is not None and len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    summary = dataset_summary(images, labels)
    ink = images.reshape(len(images), -1).sum(axis=1, dtype=np.int64) / 255.0  # (N,)
    means = np.zeros((NUM_CLASSES, *images.shape[1:]), np.float32)
    ink_mean, ink_std = np.zeros(NUM_CLASSES), np.zeros(NUM_CLASSES)
    for digit in range(NUM_CLASSES if labels is not None else 0):
        members = np.asarray(labels) == digit
        if members.any():
            means[digit] = images[members].mean(axis=0, dtype=np.float64)
            ink_mean[digit], ink_std[digit] = ink[members].mean(), ink[members].std()
    counts = np.asarray(summary["class_counts"] if labels is not None else np.zeros(NUM_CLASSES, np.int64))
    return DatasetProfile(summary=summary, label_counts=counts, class_means=means,
                          intensity_counts=_intensity_counts(images), ink_mean=ink_mean, ink_std=ink_std,
                          labelled=labels is not None)


def _intensity_counts(images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(256,) pixels of each value, counted a chunk of images at a time: bincount widens what it counts
    to 64-bit integers, eight times the images' own size at once for a whole Kaggle file."""
    counts = np.zeros(256, np.int64)
    for start in range(0, len(images), chunk):
        counts += np.bincount(images[start:start + chunk].ravel(), minlength=256)
    return counts


def sample_indices(labels: np.ndarray, digit: int | None, count: int, seed: int = 0) -> np.ndarray:
    """Up to ``count`` random indices of images labelled ``digit`` (any digit when None), sorted."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    candidates = np.flatnonzero(np.asarray(labels) == digit) if digit is not None else np.arange(len(labels))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))
