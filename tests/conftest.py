"""Fixtures shared by every test folder: the real MNIST data and a tiny trained model.

The tiny model is trained once per test session (a few seconds) so that tests of the registry,
the predictor, the CLI and the app never depend on the shipped model unless they mean to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.keras"


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST data (from DIGIT_DATA_DIR or the other local places); skipped when absent."""
    from digit_core import data

    try:
        return data.load_mnist(allow_download=False)
    except data.DataNotFoundError as error:
        pytest.skip(f"MNIST files not available: {error}")


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory, mnist) -> Path:
    """A models directory holding ``default.keras``: the ``tiny`` preset trained for one epoch."""
    from digit_core.store import registry
    from digit_core.models import zoo
    from digit_core.training.train import train

    entry = zoo.get_entry("tiny")
    result = train(entry.network, entry.training, mnist.x_train[:3000], mnist.y_train[:3000],
                   mnist.x_test[:500], mnist.y_test[:500])
    models_dir = tmp_path_factory.mktemp("models")
    registry.save(result.model, "default", {"name": "tiny", "architecture": "CNN 4 / dense 16",
                                            "network": zoo.network_to_dict(entry.network),
                                            "training": {"normalization": "scale"}}, models_dir=models_dir)
    return models_dir


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch, tiny_models_dir) -> dict[str, Path]:
    """Point the models and runs directories at fresh copies, so tests never touch the project's."""
    import shutil

    models_dir, runs_dir = tmp_path / "models", tmp_path / "runs"
    shutil.copytree(tiny_models_dir, models_dir)
    runs_dir.mkdir()
    monkeypatch.setenv("DIGIT_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("DIGIT_RUNS_DIR", str(runs_dir))
    return {"models": models_dir, "runs": runs_dir}


@pytest.fixture(scope="session")
def shipped_model_path() -> Path:
    """The shipped default model; its absence is a failure, since the app depends on it."""
    assert SHIPPED_MODEL.is_file(), f"The shipped model {SHIPPED_MODEL} is missing."
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's headless Chromium, one for the whole test session (never a browser playwright downloads).

    One, because Playwright's sync API runs one instance per thread: a second ``sync_playwright()``
    while the first is open fails. Skipped without Chromium, failed instead when REQUIRE_BROWSER=1.
    """
    from tests.app_server import CHROMIUM, CHROMIUM_ARGS, browser_unavailable_reason

    reason = browser_unavailable_reason()
    if reason and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty collection database: a SQLite file always, PostgreSQL when DIGIT_TEST_PG_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collection.db'}"
    url = os.environ.get("DIGIT_TEST_PG_URL", "").strip()
    if not url:
        pytest.skip("DIGIT_TEST_PG_URL is not set (.ci/run starts PostgreSQL and sets it)")
    import sqlalchemy as sa

    from digit_core.store.database import metadata

    engine = sa.create_engine(url)
    try:
        metadata.drop_all(engine)  # the test database is the tests' own: start each test empty
    finally:
        engine.dispose()
    return url
