"""Project paths and limits, read from the environment with sensible defaults.

Every path is computed when asked for (never at import), so tests and the app can point the core at
temporary directories through environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout, when digit_core sits in one

# Environment variables that move the project's directories.
DATA_DIR_ENV = "DIGIT_DATA_DIR"
USPS_DIR_ENV = "DIGIT_USPS_DIR"  # likewise DIGIT_PENDIGITS_DIR, DIGIT_OPTDIGITS_DIR
MODELS_DIR_ENV = "DIGIT_MODELS_DIR"
RUNS_DIR_ENV = "DIGIT_RUNS_DIR"
RESULTS_DIR_ENV = "DIGIT_RESULTS_DIR"
# The collection of labelled drawings: a SQLite file, or any SQLAlchemy URL (which wins).
DB_ENV = "DIGIT_DB"
DB_URL_ENV = "DIGIT_DB_URL"

# Uploaded images larger than this are refused before decoding (bytes).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# CSV files of digits may be larger: Kaggle's digit-recognizer train.csv (42,000 rows) is about 76 MB.
MAX_CSV_UPLOAD_BYTES = 100 * 1024 * 1024
# Images with more pixels than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000

DEFAULT_MODEL_ID = "default"


def project_root() -> Path:
    """The checkout holding digit_core; for a copy installed by ``pip install .``, the current directory,
    so that models/, runs/ and results/ are never looked for (or written) inside site-packages."""
    return PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()


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
    root = project_root()
    if root / "data" not in candidates:
        candidates.append(root / "data")
    # The project's machines keep MNIST in ../shared/mnist beside the checkout.
    candidates.append(root.parent / "shared" / "mnist")
    return candidates


def usps_dir_candidates(explicit: str | Path | None = None) -> list[Path]:
    """Directories searched for the USPS files (zip.train.gz / zip.test.gz)."""
    return dataset_dir_candidates("usps", explicit)


def dataset_dir_candidates(name: str, explicit: str | Path | None = None) -> list[Path]:
    """Directories searched for a data set other than MNIST ("usps", "pendigits", "optdigits").

    An explicit directory, then $DIGIT_<NAME>_DIR, then NAME/ inside or beside the MNIST directory
    ($DIGIT_DATA_DIR), ./data/NAME, and ../shared/NAME beside the checkout.
    """
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit).expanduser())
    from_env = _env_path(f"DIGIT_{name.upper()}_DIR")
    if from_env is not None:
        candidates.append(from_env)
    mnist_dir = _env_path(DATA_DIR_ENV)
    if mnist_dir is not None:
        # ../shared/mnist sits beside ../shared/usps, ../shared/pendigits ... on the project's machines.
        candidates += [mnist_dir / name, mnist_dir.parent / name]
    candidates += [Path.cwd() / "data" / name, project_root() / "data" / name,
                   project_root().parent / "shared" / name]
    return candidates


def models_dir() -> Path:
    """Directory of saved models (the shipped default lives here)."""
    return _env_path(MODELS_DIR_ENV) or project_root() / "models"


def shipped_or_own(name: str) -> Path:
    """A file the number reader loads (``name`` in a models directory): the models directory's, else
    the one shipped in the project's ``models/``, so that a models directory of one's own still
    reads numbers; the models directory's path when neither exists."""
    for folder in (models_dir(), project_root() / "models"):
        if (folder / name).is_file():
            return folder / name
    return models_dir() / name


def file_version(path: Path) -> float:
    """The file's modification time, -1 when it cannot be read: a cache key that changes when the
    file is replaced."""
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def runs_dir() -> Path:
    """Directory of training runs, one sub-directory per run."""
    return _env_path(RUNS_DIR_ENV) or project_root() / "runs"


def results_dir() -> Path:
    """Directory of study results such as comparison.json."""
    return _env_path(RESULTS_DIR_ENV) or project_root() / "results"


def database_url() -> str:
    """The collection's database: $DIGIT_DB_URL, else the SQLite file $DIGIT_DB, else data/collection.db."""
    url = os.environ.get(DB_URL_ENV, "").strip()
    if url:
        return url
    path = _env_path(DB_ENV) or project_root() / "data" / "collection.db"
    return f"sqlite:///{path.resolve()}"
