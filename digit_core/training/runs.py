"""Training-run directories: config, per-epoch history, checkpoints and an honest status.

Layout of one run (every file written atomically)::

    runs/<run_id>/config.json    network and training config, data description
    runs/<run_id>/status.json    running | completed | stopped | failed, with pid and message
    runs/<run_id>/history.json   per-epoch metrics (loss, accuracy, val_loss, val_accuracy, seconds)
    runs/<run_id>/best.keras     best checkpoint so far (by validation accuracy)
    runs/<run_id>/last.keras     last epoch, with optimizer state, for resuming
    runs/<run_id>/final.keras    the model train() returned
    runs/<run_id>/metrics.json   test metrics, when evaluated
    runs/<run_id>/tensorboard/   TensorBoard logs

A run whose status says "running" but whose process is gone is reported as "interrupted".
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from digit_core.store.atomic import atomic_write_json, read_json

STATUSES = ("running", "completed", "stopped", "failed", "interrupted")


@dataclass
class RunInfo:
    """What a run directory says about itself."""

    run_id: str
    path: Path
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    updated: str = ""

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.run_id))

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", []))

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "best.keras"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(runs_root: Path, name: str) -> Path:
    """Create and return a fresh, uniquely named run directory under ``runs_root``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "run"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    runs_root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        run_dir = runs_root / (f"{stamp}-{slug}" if attempt == 0 else f"{stamp}-{slug}-{attempt}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise OSError(f"Could not create a run directory under {runs_root}.")


def write_status(run_dir: Path, status: str, message: str = "", **extra: Any) -> None:
    """Record the run's status with this process's pid, atomically."""
    if status not in STATUSES:
        raise ValueError(f"Unknown run status {status!r}.")
    atomic_write_json(run_dir / "status.json", {"status": status, "message": message, "pid": os.getpid(),
                                                "updated": now_iso(), **extra})


def write_history(run_dir: Path, history: dict[str, list[float]]) -> None:
    atomic_write_json(run_dir / "history.json", history)


def read_history(run_dir: Path) -> dict[str, list[float]]:
    path = run_dir / "history.json"
    return read_json(path) if path.exists() else {}


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) is not running any more.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def read_run(run_dir: Path) -> RunInfo:
    """Read a run directory; unreadable parts become an explanatory message, never an exception."""
    run_dir = Path(run_dir)
    info = RunInfo(run_id=run_dir.name, path=run_dir, status="failed")
    problems = []
    for attr, filename in (("config", "config.json"), ("history", "history.json"),
                           ("metrics", "metrics.json")):
        path = run_dir / filename
        if path.exists():
            try:
                setattr(info, attr, read_json(path))
            except (OSError, ValueError) as error:
                problems.append(str(error))
    try:
        status = read_json(run_dir / "status.json")
        info.status, info.message = status.get("status", "failed"), status.get("message", "")
        info.updated = status.get("updated", "")
        if info.status == "running" and not _process_alive(int(status.get("pid", 0))):
            info.status = "interrupted"
            info.message = "The training process ended without finishing; the best checkpoint is kept."
    except (OSError, ValueError) as error:
        problems.append(f"No readable status: {error}")
    if problems:
        info.message = "; ".join([info.message, *problems]).strip("; ")
    return info


def list_runs(runs_root: Path) -> list[RunInfo]:
    """All runs under ``runs_root``, newest first."""
    if not runs_root.is_dir():
        return []
    run_dirs = [path for path in runs_root.iterdir() if path.is_dir() and not path.name.startswith(".")]
    runs = [read_run(path) for path in run_dirs]
    return sorted(runs, key=lambda run: (run.config.get("created", ""), run.run_id), reverse=True)


def wait_for_status(run_dir: Path, statuses: tuple[str, ...], timeout_s: float) -> RunInfo:
    """Poll until the run reaches one of ``statuses`` (used by tests and the CLI)."""
    deadline = time.monotonic() + timeout_s
    while True:
        info = read_run(run_dir)
        if info.status in statuses or time.monotonic() > deadline:
            return info
        time.sleep(0.1)
