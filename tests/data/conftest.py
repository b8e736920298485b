"""Fixtures for the data tests: tiny handcrafted IDX files and an environment without MNIST."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digit_core import config

# IDX type codes for the dtypes the tests write.
IDX_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_TYPE_CODES[array.dtype], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture
def encode_idx() -> Callable[[np.ndarray], bytes]:
    """Return a function encoding an array (uint8 or big-endian int32) in the IDX format."""
    return _idx_bytes


@pytest.fixture
def tiny_mnist() -> dict[str, np.ndarray]:
    """Six training and four test images of 28 x 28 with distinct pixel values, and their labels."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
        "y_train": np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
        "y_test": np.array([5, 6, 7, 8], dtype=np.uint8),
    }


@pytest.fixture
def write_mnist_dir(tiny_mnist: dict[str, np.ndarray]) -> Callable[..., Path]:
    """Return ``write(directory, arrays=tiny_mnist, compress=True, only=None)`` writing IDX files.

    ``only`` limits which of the four files are written, to build incomplete directories.
    """
    names = {"x_train": TRAIN_IMAGES, "y_train": TRAIN_LABELS,
             "x_test": TEST_IMAGES, "y_test": TEST_LABELS}

    def write(directory: Path, arrays: dict[str, np.ndarray] | None = None,
              compress: bool = True, only: tuple[str, ...] | None = None) -> Path:
        arrays = tiny_mnist if arrays is None else arrays
        for field, name in names.items():
            if only is None or field in only:
                file_name = f"{name}.gz" if compress else name
                payload = _idx_bytes(arrays[field])
                directory.mkdir(parents=True, exist_ok=True)
                (directory / file_name).write_bytes(gzip.compress(payload) if compress else payload)
        return directory

    return write


@pytest.fixture
def no_data_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every place the loaders search (env, cwd, project, home, Keras) into ``tmp_path``.

    Returns the fake project root, so the candidate directories are predictable.
    """
    for name in (config.DATA_DIR_ENV, config.USPS_DIR_ENV, "DIGIT_PENDIGITS_DIR", "DIGIT_OPTDIGITS_DIR"):
        monkeypatch.delenv(name, raising=False)
    work_dir, home, project = tmp_path / "cwd", tmp_path / "home", tmp_path / "checkout" / "project"
    for directory in (work_dir, home, project):
        directory.mkdir(parents=True)
    monkeypatch.chdir(work_dir)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    # The real checkout has ../shared/mnist beside it; the fake one has nothing.
    monkeypatch.setattr(config, "PROJECT_ROOT", project)
    return project
