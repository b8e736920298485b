"""Fixtures for the browser tests: one app server per session, Debian's Chromium, a fresh context per test.

The server runs ``streamlit run app.py`` on a free loopback port with its own models and runs
directories: the shipped ``models/default.keras`` when it exists, else a small CNN trained here so the
Draw tests can check the digit read. Screenshots go to ``artifacts/e2e/`` (and ``failures/`` there).

Without Chromium (or playwright) the tests skip, so a plain ``pytest`` passes on a laptop;
with ``REQUIRE_BROWSER=1`` (as in CI) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.app_server import AppServer, browser_unavailable_reason, running_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.e2e.driver import AppDriver

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.keras"
ARTIFACTS_DIR = PROJECT_ROOT / "artifacts" / "e2e"
PLAYWRIGHT_INSTALLED = importlib.util.find_spec("playwright") is not None
SERVER_START_S = 120
VIEWPORT = {"width": 1400, "height": 1000}
# Without the shipped model: a CNN good enough to read drawn 0, 1, 4 and 7, in about a minute on a CPU.
FALLBACK_PRESET = "cnn_32_64_64"
FALLBACK_TRAIN_IMAGES = 20_000


def _browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


if not PLAYWRIGHT_INSTALLED and not _browser_required():
    # The test modules import playwright, so they cannot even be collected: leave them out and say why
    # at the end of the run (pytest_terminal_summary). With REQUIRE_BROWSER=1 the import error fails the run.
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not PLAYWRIGHT_INSTALLED and not _browser_required():
        terminalreporter.write_line(f"tests/e2e not run: {browser_unavailable_reason()}", yellow=True)


@pytest.fixture(scope="session", autouse=True)
def require_browser() -> None:
    """Skip the browser tests without Chromium, or fail them when REQUIRE_BROWSER=1 says it must be there."""
    reason = browser_unavailable_reason()
    if reason and _browser_required():
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """artifacts/e2e/, emptied once per session so every picture in it is from this run."""
    shutil.rmtree(ARTIFACTS_DIR, ignore_errors=True)
    ARTIFACTS_DIR.mkdir(parents=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def e2e_models_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A models directory whose ``default.keras`` reads drawn digits well.

    A copy of the shipped model when there is one (so the tests check what users get, and never touch
    the project's models directory); else a CNN trained once for the session.
    """
    models_dir = tmp_path_factory.mktemp("e2e-models")
    if SHIPPED_MODEL.is_file():
        for sidecar in (SHIPPED_MODEL, SHIPPED_MODEL.with_suffix(".json")):
            if sidecar.is_file():
                shutil.copy2(sidecar, models_dir / sidecar.name)
        return models_dir

    from digit_core.store import registry
    from digit_core.models import zoo
    from digit_core.training.train import train

    mnist = request.getfixturevalue("mnist")  # skips when MNIST is not available
    entry = zoo.get_entry(FALLBACK_PRESET)
    # One epoch with augmentation: drawn digits are thicker, shifted and slanted compared with MNIST.
    training = zoo.with_overrides(entry.training, epochs=1, augment=True)
    result = train(entry.network, training, mnist.x_train[:FALLBACK_TRAIN_IMAGES],
                   mnist.y_train[:FALLBACK_TRAIN_IMAGES], mnist.x_test[:1000], mnist.y_test[:1000])
    network = zoo.network_to_dict(entry.network)
    metadata = {"name": f"{FALLBACK_PRESET} (e2e, 1 epoch)", "architecture": registry.describe_network(network),
                "network": network, "training": {"normalization": training.normalization}}
    registry.save(result.model, "default", metadata, models_dir=models_dir)
    return models_dir


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, e2e_models_dir: Path,
               artifacts_dir: Path) -> Iterator[AppServer]:
    """``streamlit run app.py`` on a free loopback port for the whole session; always stopped."""
    runs_dir = tmp_path_factory.mktemp("e2e-runs")
    log = artifacts_dir / "server.log"
    with running_app(e2e_models_dir, runs_dir, log, SERVER_START_S) as server:
        yield server
    # An exception the pages caught still shows in the browser; one they did not is logged here.
    assert "Traceback" not in log.read_text(), f"The app server logged an exception; see {log}"


@pytest.fixture
def app(browser: Browser, app_server: AppServer, artifacts_dir: Path) -> Iterator[AppDriver]:
    """A fresh browser context (its own Streamlit session) on the app, not yet on any page."""
    from playwright.sync_api import expect

    from tests.e2e.driver import PAGE_TIMEOUT_MS, AppDriver

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield AppDriver(context.new_page(), app_server.url, artifacts_dir)
    finally:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """On a failure, screenshot the page the test was on into artifacts/e2e/failures/."""
    report = yield
    driver = getattr(item, "funcargs", {}).get("app")
    if report.failed and report.when in ("setup", "call") and driver is not None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])
        try:
            path = driver.screenshot(f"failures/{name}", whole_page=True)
            report.sections.append(("e2e screenshot", str(path)))
        except Exception as error:  # A closed or crashed page must not hide the test's own failure.
            report.sections.append(("e2e screenshot", f"could not take one: {error}"))
    return report
