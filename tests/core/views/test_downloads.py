"""Files to take away: PNGs, a report as CSV, mistakes as a zip of PNGs, a Kaggle submission."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from digit_core.views import downloads


def _decoded(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return np.asarray(Image.open(io.BytesIO(png)))


def test_png_bytes_keeps_the_pixels() -> None:
    grey = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(_decoded(downloads.png_bytes(grey)), grey)
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[2:5, 3:7] = (0, 0, 0, 255)
    np.testing.assert_array_equal(_decoded(downloads.png_bytes(rgba)), rgba)
    # The model's input is float in [0, 1]; it becomes 0..255.
    floats = np.zeros((28, 28), np.float32)
    floats[5, 6], floats[7, 8] = 1.0, 0.5
    decoded = _decoded(downloads.png_bytes(floats))
    assert decoded[5, 6] == 255 and decoded[7, 8] == 128 and decoded.sum() == 255 + 128
    with pytest.raises(ValueError, match="grey or RGB"):
        downloads.png_bytes(np.zeros((4, 4, 2), np.uint8))


def test_rows_csv_reads_back_as_the_rows() -> None:
    rows = [{"label": "0", "precision": 0.5, "support": 3}, {"label": "macro avg", "precision": 1.0, "support": 9}]
    text = downloads.rows_csv(rows)
    assert text.splitlines()[0] == "label,precision,support"
    assert list(csv.DictReader(io.StringIO(text))) == [{"label": "0", "precision": "0.5", "support": "3"},
                                                       {"label": "macro avg", "precision": "1.0", "support": "9"}]
    assert downloads.rows_csv([]) == ""


def test_mistakes_zip_names_true_and_predicted_labels() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    true_labels, predictions = np.array([1, 2, 3, 4, 5, 6]), np.array([1, 7, 3, 9, 5, 0])
    archive = zipfile.ZipFile(io.BytesIO(downloads.mistakes_zip(images, true_labels, predictions, [3, 1, 5])))
    assert archive.namelist() == ["00003_true4_predicted9.png", "00001_true2_predicted7.png",
                                  "00005_true6_predicted0.png"]
    np.testing.assert_array_equal(_decoded(archive.read("00001_true2_predicted7.png")), images[1])


def test_submission_csv_is_kaggles_layout() -> None:
    text = downloads.submission_csv(np.array([3, 0, 9], np.uint8))
    assert text == "ImageId,Label\n1,3\n2,0\n3,9\n"
    assert downloads.submission_csv(np.array([], np.uint8)) == "ImageId,Label\n"
    with pytest.raises(ValueError, match="one digit 0-9 per image"):
        downloads.submission_csv(np.array([3, 10]))
