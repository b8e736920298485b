"""Project paths and limits, read from the environment with sensible defaults.

Every path is computed when asked for (never at import), so tests and the app can point the core at
temporary directories through environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Environment variables that move the project's directories.
DATA_DIR_ENV = "DIGIT_DATA_DIR"
USPS_DIR_ENV = "DIGIT_USPS_DIR"
MODELS_DIR_ENV = "DIGIT_MODELS_DIR"
RUNS_DIR_ENV = "DIGIT_RUNS_DIR"
RESULTS_DIR_ENV = "DIGIT_RESULTS_DIR"

# Uploads larger than this are refused before decoding (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Images with more pixels than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000

DEFAULT_MODEL_ID = "default"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir_candidates(explicit: str | Path | None = None) -> list[Path]:
    """Directories searched for MNIST files: explicit, $DIGIT_DATA_DIR, ./data/, ../shared/mnist."""
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit).expanduser())
    from_env = _env_path(DATA_DIR_ENV)
    if from_env is not None:
        candidates.append(from_env)
    candidates.append(Path.cwd() / "data")
    if PROJECT_ROOT / "data" not in candidates:
        candidates.append(PROJECT_ROOT / "data")
    # The project's machines keep MNIST in ../shared/mnist beside the checkout.
    candidates.append(PROJECT_ROOT.parent / "shared" / "mnist")
    return candidates


def usps_dir_candidates(explicit: str | Path | None = None) -> list[Path]:
    """Directories searched for the USPS files (zip.train.gz / zip.test.gz)."""
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit).expanduser())
    from_env = _env_path(USPS_DIR_ENV)
    if from_env is not None:
        candidates.append(from_env)
    mnist_dir = _env_path(DATA_DIR_ENV)
    if mnist_dir is not None:
        # ../shared/mnist sits beside ../shared/usps on the project's machines.
        candidates += [mnist_dir / "usps", mnist_dir.parent / "usps"]
    candidates += [Path.cwd() / "data" / "usps", PROJECT_ROOT / "data" / "usps",
                   PROJECT_ROOT.parent / "shared" / "usps"]
    return candidates


def models_dir() -> Path:
    """Directory of saved models (the shipped default lives here)."""
    return _env_path(MODELS_DIR_ENV) or PROJECT_ROOT / "models"


def runs_dir() -> Path:
    """Directory of training runs, one sub-directory per run."""
    return _env_path(RUNS_DIR_ENV) or PROJECT_ROOT / "runs"


def results_dir() -> Path:
    """Directory of study results such as comparison.json."""
    return _env_path(RESULTS_DIR_ENV) or PROJECT_ROOT / "results"
