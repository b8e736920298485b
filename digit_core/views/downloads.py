"""Files to take away: a digit as a PNG, a classification report as CSV, the misclassified digits as a
zip of PNGs, and a Kaggle digit-recognizer submission.

Each function returns the file's bytes (or text), made in memory; the app hands them to a download
button and nothing is written to disk.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

# Kaggle's digit-recognizer scores a CSV with exactly this header, one row per test image from 1.
SUBMISSION_HEADER = ("ImageId", "Label")


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of a grey (H, W) or RGB(A) (H, W, 3|4) image: uint8, or floats in [0, 1]."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"Expected a grey or RGB(A) image, got shape {image.shape}.")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def rows_csv(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of equal keys (a classification report's) as CSV text with a header."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def mistake_name(index: int, true_label: int, predicted: int) -> str:
    """The file name of a misclassified digit: its index in the test set, its true and predicted label."""
    return f"{index:05d}_true{true_label}_predicted{predicted}.png"


def mistakes_zip(images: np.ndarray, true_labels: np.ndarray, predictions: np.ndarray,
                 indices: Sequence[int]) -> bytes:
    """A zip of one PNG per misclassified digit ``indices`` of the uint8 ``images`` (N, 28, 28)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in indices:
            name = mistake_name(int(index), int(true_labels[index]), int(predictions[index]))
            archive.writestr(name, png_bytes(images[index]))
    return buffer.getvalue()


def submission_csv(predictions: np.ndarray) -> str:
    """A Kaggle digit-recognizer submission: ``ImageId,Label`` and one row per image, ImageId from 1."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 1 or (predictions.size and not np.isin(predictions, np.arange(10)).all()):
        raise ValueError("A submission needs one digit 0-9 per image.")
    lines = [",".join(SUBMISSION_HEADER)] + [f"{image_id},{int(label)}"
                                             for image_id, label in enumerate(predictions, start=1)]
    return "\n".join(lines) + "\n"
