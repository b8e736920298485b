"""Running the real app for browser tests: ``streamlit run app.py`` on a free loopback port.

Shared by ``tests/e2e`` and ``tests/reliability``; each decides what its server log may contain.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless, with nothing that tries to reach the (closed) network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class AppServer:
    """A running app: its address, the runs directory it writes to, and its log file."""

    url: str
    runs_dir: Path
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The app server exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)  # every 50 ms: bench/draw_latency.py times the app's start with this wait
    pytest.fail(f"The app server did not answer {url}/_stcore/health in {timeout_s:.0f} s:\n"
                f"{log.read_text()[-3000:]}")


@contextmanager
def running_app(models_dir: Path, runs_dir: Path, log: Path,
                start_timeout_s: float = 120) -> Iterator[AppServer]:
    """Start the app with these models and runs, yield it once healthy, and always stop it."""
    port = free_port()
    env = {**os.environ, "DIGIT_MODELS_DIR": str(models_dir), "DIGIT_RUNS_DIR": str(runs_dir),
           "TF_CPP_MIN_LOG_LEVEL": "2", "DIGIT_DB": str(runs_dir.parent / "collection.db")}
    env.pop("DIGIT_DB_URL", None)  # the tests' collection is a fresh SQLite file, never a shared one
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType",
               "none", "--server.runOnSave", "false", "--browser.gatherUsageStats", "false"]
    with log.open("w") as output:
        # Its own process group, so stopping it stops anything it started too.
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, process, log, start_timeout_s)
        yield AppServer(url=url, runs_dir=runs_dir, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def browser_unavailable_reason() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    import importlib.util

    if not CHROMIUM.is_file():
        return (f"Chromium not found at {CHROMIUM}; install Debian's chromium or set REQUIRE_BROWSER=1 to make "
                "this a failure")
    if importlib.util.find_spec("playwright") is None:
        return ("Python playwright is not installed; pip install -r requirements-dev.txt, or set REQUIRE_BROWSER=1 "
                "to make this a failure")
    return ""
