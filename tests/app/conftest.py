"""Fixtures for the app tests: the app pointed at temporary directories holding the tiny test model.

The tiny model itself (``tiny_models_dir``) and MNIST (``mnist``, skipped when absent) come from
``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from digit_core import config

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_TIMEOUT_S = 120  # the first run of a page may import TensorFlow and load MNIST


@pytest.fixture(scope="module")
def app_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[dict[str, Path]]:
    """Models (a copy of the tiny model as ``default``) and runs directories, set in the environment.

    Module-scoped, so a module's pages share one loaded model, and the environment is restored
    before the next module.
    """
    root = tmp_path_factory.mktemp("app")
    dirs = {"models": root / "models", "runs": root / "runs"}
    shutil.copytree(tiny_models_dir, dirs["models"])
    dirs["runs"].mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.MODELS_DIR_ENV, str(dirs["models"]))
        patch.setenv(config.RUNS_DIR_ENV, str(dirs["runs"]))
        patch.setenv(config.DB_ENV, str(root / "collection.db"))
        patch.delenv(config.DB_URL_ENV, raising=False)
        yield dirs


@pytest.fixture
def tiny_model(app_dirs: dict[str, Path]) -> str:
    """The registry id of the tiny test model in ``app_dirs``."""
    return config.DEFAULT_MODEL_ID


@pytest.fixture
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty models and runs directories: the app has no model at all."""
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(config.RUNS_DIR_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(config.DB_ENV, str(tmp_path / "collection.db"))
    monkeypatch.delenv(config.DB_URL_ENV, raising=False)
    return tmp_path


@pytest.fixture
def open_page() -> Callable[[str], AppTest]:
    """``open_page("draw")`` → an AppTest of pages/draw.py (``"app"`` gives app.py), not yet run."""
    from streamlit.testing.v1 import AppTest

    def open_(name: str) -> AppTest:
        path = PROJECT_ROOT / ("app.py" if name == "app" else f"pages/{name}.py")
        return AppTest.from_file(str(path), default_timeout=APP_TIMEOUT_S)

    return open_


@pytest.fixture
def downloaded(monkeypatch: pytest.MonkeyPatch) -> Callable[[AppTest, str], tuple[str, bytes]]:
    """``downloaded(at, label)`` → (file name, content) of the download button with that label, after
    ``at.run()``; a deferred file is made as a click would make it."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    managers: list[MediaFileManager] = []  # AppTest makes one per run; the last serves the last run
    original_init = MediaFileManager.__init__

    def recording_init(self, storage) -> None:
        original_init(self, storage)
        managers.append(self)

    monkeypatch.setattr(MediaFileManager, "__init__", recording_init)

    def fetch(at: AppTest, label: str) -> tuple[str, bytes]:
        button = next(button for button in at.get("download_button") if button.proto.label == label)
        manager = managers[-1]
        deferred = button.proto.deferred_file_id
        url = manager.execute_deferred(deferred) if deferred else button.proto.url
        stored = manager._storage.get_file(url.rsplit("/", 1)[-1])
        return stored.filename, stored.content

    return fetch
