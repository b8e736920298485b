"""Background training for the app: one run at a time per server process, watched through snapshots.

The Train page starts a run with ``TrainingManager.start`` and then only reads ``snapshot()``, an
immutable copy of the job's progress, so any session (the one that started it or another one) can
watch the same run, and leaving the page does not stop it. The job thread calls the same
``digit_core.training.train.train`` as the CLI, records the run under ``config.runs_dir()`` and, when training
ends, evaluates the best checkpoint on the MNIST test set and writes ``metrics.json`` beside it, so the
run appears in the registry with its accuracy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from digit_core import config
from digit_core.store import registry
from digit_core.store.atomic import read_json
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.training.finetune import FineTuneRequest

# Job statuses, in the order a run goes through them; the last three are final.
ACTIVE_STATUSES = ("loading data", "training", "evaluating")
FINAL_STATUSES = ("completed", "stopped", "failed")


class TrainingBusyError(RuntimeError):
    """A run is already in progress on this server."""


@dataclass(frozen=True)
class TrainingRequest:
    """What to train, on how much data, and who asked."""

    name: str
    network: zoo.NetworkConfig
    training: zoo.TrainConfig
    owner: str  # shown to other sessions, e.g. "Ada" or "visitor 3f2a"
    owner_id: str = ""  # an opaque id of the session that started the run (it alone may stop it)
    subset: int | None = None  # train on the first N training images only (None: all 60,000)
    tensorboard: bool = False  # also write TensorBoard logs into the run's tensorboard/ folder


@dataclass(frozen=True)
class TrainingSnapshot:
    """An immutable copy of a job's progress, safe to render from any thread."""

    status: str
    owner: str
    owner_id: str
    name: str
    epochs: int  # epochs asked for
    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the current epoch
    batches_per_epoch: int = 0
    history: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: MappingProxyType({}))
    metrics: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    error: str = ""
    run_dir: Path | None = None
    started: float = 0.0  # time.time() when the job started
    stop_requested: bool = False

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def run_id(self) -> str:
        return self.run_dir.name if self.run_dir is not None else ""

    @property
    def epoch_progress(self) -> float:
        """Fraction of the current epoch done, in [0, 1]."""
        return min(1.0, self.batch / self.batches_per_epoch) if self.batches_per_epoch else 0.0

    @property
    def promotable(self) -> bool:
        """True when the run ended with a best checkpoint that can become a saved model."""
        return (self.status in ("completed", "stopped") and self.run_dir is not None
                and (self.run_dir / "best.keras").is_file())


class TrainingJob:
    """One training run on a background thread; its progress is kept behind a lock."""

    def __init__(self, request: TrainingRequest | FineTuneRequest, runs_root: Path, data_dir: Path | None) -> None:
        self.request = request
        self._runs_root, self._data_dir = runs_root, data_dir
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._history: dict[str, list[float]] = {}
        self._snapshot = TrainingSnapshot(status="loading data", owner=request.owner, owner_id=request.owner_id,
                                          name=request.name, epochs=request.training.epochs, started=time.time())
        self._thread = threading.Thread(target=self._run, name=f"training {request.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def request_stop(self) -> None:
        self._stop.set()
        self._update(stop_requested=True)

    def snapshot(self) -> TrainingSnapshot:
        with self._lock:
            return self._snapshot

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._snapshot = replace(self._snapshot, **changes)

    def _frozen_history(self) -> Mapping[str, tuple[float, ...]]:
        return MappingProxyType({key: tuple(values) for key, values in self._history.items()})

    def _on_batch_end(self, batch: int, batches: int, metrics: dict[str, float]) -> None:
        self._update(batch=batch + 1, batches_per_epoch=batches)

    def _on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._history.setdefault(key, []).append(value)
        self._update(epoch=epoch + 1, batch=0, history=self._frozen_history())

    def _run(self) -> None:
        try:
            self._train_and_evaluate()
        except Exception as error:  # The page shows any failure; the thread must not die silently.
            self._update(status="failed", error=f"{type(error).__name__}: {error}")

    def _train_and_evaluate(self) -> None:
        from digit_core.workflows.train import TrainingHooks, train_and_record

        request = self.request
        if isinstance(request, FineTuneRequest):
            self._fine_tune(request)
            return
        hooks = TrainingHooks(on_epoch_end=self._on_epoch_end, on_batch_end=self._on_batch_end,
                              should_stop=self._stop.is_set,
                              on_status=lambda status, run_dir: self._update(status=status, run_dir=run_dir))
        summary = train_and_record(request.network, request.training, name=request.name, data_dir=self._data_dir,
                                   subset=request.subset, tensorboard=request.tensorboard, progress=False,
                                   runs_root=self._runs_root, hooks=hooks)
        # The run's metrics.json is its record of them; the summary adds the run's name and sizes.
        metrics = read_json(self._runs_root / summary["run_id"] / "metrics.json")
        self._update(status=summary["status"], metrics=MappingProxyType(metrics))

    def _fine_tune(self, request: FineTuneRequest) -> None:
        from digit_core.training.finetune import fine_tune_collection, load_collection_split

        split = load_collection_split(request.database_url, self._data_dir)  # before the run: too few fails here
        run_dir = runs.new_run_dir(self._runs_root, request.name)
        self._update(status="training", run_dir=run_dir)
        metrics = fine_tune_collection(request, split, run_dir, on_epoch_end=self._on_epoch_end,
                                       on_batch_end=self._on_batch_end, should_stop=self._stop.is_set,
                                       on_status=lambda status: self._update(status=status))
        self._update(status=metrics.pop("status"), metrics=MappingProxyType(metrics))


class TrainingManager:
    """Holds at most one training job per server process and refuses a second one while it runs."""

    def __init__(self, runs_root: Path | None = None, data_dir: Path | None = None) -> None:
        self._runs_root, self._data_dir = runs_root, data_dir
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(self, request: TrainingRequest | FineTuneRequest) -> TrainingSnapshot:
        """Start training in the background; raises ``TrainingBusyError`` while another run is going."""
        with self._lock:
            if self._job is not None and self._job.snapshot().active:
                owner = self._job.request.owner
                raise TrainingBusyError(f"A training run started by {owner} is in progress; "
                                        "watch it or wait for it to finish.")
            self._job = TrainingJob(request, self._runs_root or config.runs_dir(), self._data_dir)
            self._job.start()
            return self._job.snapshot()

    def request_stop(self) -> None:
        """Ask the current run to stop at its next batch (it keeps its best checkpoint)."""
        with self._lock:
            if self._job is not None:
                self._job.request_stop()

    def snapshot(self) -> TrainingSnapshot | None:
        """The latest job's progress, or None when nothing was started since the server began."""
        with self._lock:
            return self._job.snapshot() if self._job is not None else None

    def wait(self, timeout: float | None = None) -> TrainingSnapshot | None:
        """Block until the current job ends (for tests and the CLI)."""
        with self._lock:
            job = self._job
        if job is not None:
            job.join(timeout)
        return self.snapshot()


def make_active(run_id: str, model_id: str, models_dir: Path | None = None, runs_dir: Path | None = None) -> Path:
    """Save a run's best checkpoint as the model ``model_id`` and make it the app's active model."""
    path = registry.promote_run(run_id, model_id, models_dir=models_dir, runs_dir=runs_dir)
    registry.set_active_model(model_id, models_dir=models_dir)
    return path
