"""Datasets: MNIST (IDX files, Keras' mnist.npz), USPS, pendigits, optdigits, validation splits, summaries.

Every loader searches the directories from ``digit_core.config`` when called and caches nothing, so
tests and the app can point it elsewhere through ``DIGIT_DATA_DIR``.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_core import config
from digit_core.data.optdigits import parse_optdigits
from digit_core.data.pendigits import PenDigit, parse_pendigits
from digit_core.data.usps import parse_usps
from digit_core.data.idx import read_file_bytes, read_idx

IMAGE_SIDE = 28
NUM_CLASSES = 10
# MnistData field -> IDX file name as distributed by LeCun et al. (each may also end in .gz).
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_NPZ = "mnist.npz"
USPS_SPLITS = ("train", "test")
OPTDIGITS_SPLITS = ("tra", "cv")
PENDIGITS_FILE = "pendigits-orig.tra"


class DataNotFoundError(FileNotFoundError):
    """A dataset is in none of the places searched; the message lists them and what is wanted."""


@dataclass(frozen=True)
class MnistData:
    """The MNIST training and test sets."""

    x_train: np.ndarray  # (60000, 28, 28) uint8, 0 background, 255 ink
    y_train: np.ndarray  # (60000,) uint8 digits 0..9
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str  # where the arrays came from, for people to read


def load_mnist(data_dir: str | Path | None = None, *, allow_download: bool = True) -> MnistData:
    """Load MNIST from the first place that has it: directories, Keras' cache, then a download.

    Raises ``DataNotFoundError`` listing every place searched, ``ValueError`` for a damaged file.
    """
    looked: list[str] = []
    for directory in config.data_dir_candidates(data_dir):
        found = _load_from_directory(directory, looked)
        if found is not None:
            return found
    cache = _keras_cache_file()
    if cache.is_file():
        return _load_npz(cache)
    looked.append(f"{cache} (Keras' cache: no such file)")
    if not allow_download:
        looked.append("download with Keras: skipped (allow_download=False)")
    else:
        try:
            from keras.datasets import mnist  # Imported here: Keras is slow to import.

            (x_train, y_train), (x_test, y_test) = mnist.load_data()
        except Exception as error:  # Offline machines fail in many ways; report, don't crash.
            looked.append(f"download with Keras: failed ({type(error).__name__}: {error})")
        else:
            return _checked_mnist(x_train, y_train, x_test, y_test, "Keras download")
    wanted = ", ".join(f"{name}.gz" for name in MNIST_FILES.values())
    places = "\n".join(f"  - {place}" for place in looked)
    raise DataNotFoundError(
        f"MNIST not found. Put the four MNIST files ({wanted}; .gz optional) or {MNIST_NPZ} in "
        f"one of the directories below, or set {config.DATA_DIR_ENV}=/path/to/dir.\n"
        f"Looked in:\n{places}")


def _keras_cache_file() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps its download ($KERAS_HOME or ~/.keras)."""
    keras_home = os.environ.get("KERAS_HOME", "").strip()
    base = Path(keras_home).expanduser() if keras_home else Path.home() / ".keras"
    return base / "datasets" / MNIST_NPZ


def _load_from_directory(directory: Path, looked: list[str]) -> MnistData | None:
    if not directory.is_dir():
        looked.append(f"{directory} (no such directory)")
        return None
    paths = {field: _existing_idx_file(directory, name) for field, name in MNIST_FILES.items()}
    if all(path is not None for path in paths.values()):
        arrays = {field: read_idx(path) for field, path in paths.items()}
        return _checked_mnist(**arrays, source=f"IDX files in {directory}")
    if (directory / MNIST_NPZ).is_file():
        return _load_npz(directory / MNIST_NPZ)
    missing = [f"{MNIST_FILES[field]}.gz" for field, path in paths.items() if path is None]
    if len(missing) == len(MNIST_FILES):
        looked.append(f"{directory} (no MNIST files, no {MNIST_NPZ})")
    else:
        looked.append(f"{directory} (incomplete: missing {', '.join(missing)})")
    return None


def _existing_idx_file(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _load_npz(path: Path) -> MnistData:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [field for field in MNIST_FILES if field not in archive.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {', '.join(missing)} (expected "
                                 f"{', '.join(MNIST_FILES)}, as in Keras' {MNIST_NPZ})")
            arrays = {field: archive[field] for field in MNIST_FILES}
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    return _checked_mnist(**arrays, source=f"{path}")


def _checked_mnist(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   y_test: np.ndarray, source: str) -> MnistData:
    """Validate shapes, dtypes and labels of both splits and wrap them."""
    return MnistData(*_checked_split(x_train, y_train, "train", source),
                     *_checked_split(x_test, y_test, "test", source), source=source)


def _checked_split(images: np.ndarray, labels: np.ndarray, split: str,
                   source: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"{source}: {split} images have shape {images.shape}, "
                         f"expected (N, {IMAGE_SIDE}, {IMAGE_SIDE})")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{source}: {len(images)} {split} images but labels of shape "
                         f"{labels.shape}; expected ({len(images)},)")
    if images.dtype != np.uint8:
        raise ValueError(f"{source}: {split} images are {images.dtype}, expected uint8")
    _check_labels(labels, f"{source}: {split} labels")
    return images, labels.astype(np.uint8)


def _check_labels(labels: np.ndarray, what: str) -> None:
    if labels.size and not (np.issubdtype(labels.dtype, np.integer)
                            and labels.min() >= 0 and labels.max() < NUM_CLASSES):
        raise ValueError(f"{what} must be integers 0..9")


def validation_split(x: np.ndarray, y: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off ``round(fraction * N)`` samples, stratified by label and shuffled with ``seed``.

    Returns ``(x_train, y_train, x_val, y_val)``; ``fraction`` 0 gives empty validation arrays.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    classes, class_sizes = np.unique(y, return_counts=True)
    # Each class gives its share of the validation set; leftover places go to the largest
    # remainders, so the total is exactly round(fraction * N).
    shares = class_sizes * fraction
    quotas = np.floor(shares).astype(int)
    leftover = int(round(fraction * len(y))) - int(quotas.sum())
    quotas[np.argsort(quotas - shares, kind="stable")[:leftover]] += 1
    in_validation = np.zeros(len(y), dtype=bool)
    for label, quota in zip(classes, quotas):
        members = order[y[order] == label]  # this class, in shuffled order
        in_validation[members[:quota]] = True
    train_order, val_order = order[~in_validation[order]], order[in_validation[order]]
    return x[train_order], y[train_order], x[val_order], y[val_order]


def load_usps(split: str = "test",
              usps_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load USPS as (N, 16, 16) uint8 light-on-dark images and (N,) uint8 labels."""
    if split not in USPS_SPLITS:
        raise ValueError(f"USPS split must be 'train' or 'test', got {split!r}")
    path = _find_dataset_file("usps", (f"zip.{split}.gz", f"zip.{split}"), usps_dir, f"USPS {split} set")
    return parse_usps(_read_text(path), source=str(path))


def load_pendigits(pendigits_dir: str | Path | None = None) -> list[PenDigit]:
    """Load UCI's pen-based digits (30 training writers' pen trajectories) as ``PenDigit`` s."""
    path = _find_dataset_file("pendigits", (PENDIGITS_FILE,), pendigits_dir, "pendigits")
    return parse_pendigits(_read_text(path), source=str(path))


def load_optdigits(split: str = "tra",
                   optdigits_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load UCI's optical digits as (N, 32, 32) uint8 light-on-dark images and (N,) uint8 labels.

    ``split`` "tra" (1,934 digits) or "cv" (946, other writers than "tra"'s, as far as the files tell).
    """
    if split not in OPTDIGITS_SPLITS:
        raise ValueError(f"optdigits split must be one of {', '.join(OPTDIGITS_SPLITS)}, got {split!r}")
    name = f"optdigits-orig.{split}"
    path = _find_dataset_file("optdigits", (name, f"{name}.gz"), optdigits_dir, f"optdigits {split} set")
    return parse_optdigits(_read_text(path), source=str(path))


def _read_text(path: Path) -> str:
    return read_file_bytes(path).decode("ascii", errors="replace")


def _find_dataset_file(dataset: str, names: tuple[str, ...], explicit: str | Path | None,
                       what: str) -> Path:
    """The first of ``names`` in the directories searched for ``dataset``, or DataNotFoundError."""
    looked = []
    for directory in config.dataset_dir_candidates(dataset, explicit):
        for path in (directory / name for name in names):
            if path.is_file():
                return path
        note = "no such file" if directory.is_dir() else "no such directory"
        looked.append(f"  - {directory} ({note})")
    raise DataNotFoundError(
        f"{what} not found. Put {' (or '.join(names)}{')' * (len(names) - 1)} in one of these "
        f"directories, or set DIGIT_{dataset.upper()}_DIR=/path/to/dir:\n" + "\n".join(looked))


def label_counts(y: np.ndarray) -> np.ndarray:
    """Number of samples of each digit 0..9, shape (10,)."""
    y = np.asarray(y)
    _check_labels(y, "labels")
    return np.bincount(y.ravel().astype(np.intp), minlength=NUM_CLASSES)


def dataset_summary(x: np.ndarray, y: np.ndarray | None) -> dict[str, object]:
    """Count, shape, dtype, value range, missing values and per-class counts (None unlabelled) of a dataset."""
    x = np.asarray(x)
    missing = int(np.isnan(x).sum()) if np.issubdtype(x.dtype, np.floating) else 0
    return {
        "count": int(len(x)),
        "shape": tuple(int(size) for size in x.shape),
        "dtype": str(x.dtype),
        "min": np.nanmin(x).item() if x.size > missing else None,
        "max": np.nanmax(x).item() if x.size > missing else None,
        "missing": missing,
        "class_counts": label_counts(y).tolist() if y is not None else None,
    }
