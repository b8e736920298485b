"""Training beyond one device with TensorFlow's own engine, ``tf.distribute``: which strategy, which worker.

``none`` trains in one process as always; ``mirrored`` copies the model onto every local GPU (every
logical CPU device when there is no GPU) and averages their gradients at each step; ``multi-worker``
does the same across the processes or machines that the standard ``TF_CONFIG`` environment variable
names, with ``MultiWorkerMirroredStrategy``. The batch size is the global batch, shared by them all.

Only the chief writes the run. Every other worker saves its checkpoints too, as TensorFlow's multi-worker
guide asks (reading a variable synchronised on read, such as a metric's, takes every worker), but into a
temporary directory it deletes afterwards (Keras' ``write_filepath`` pattern). This module reads no
TensorFlow until a strategy is made.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STRATEGIES = ("none", "mirrored", "multi-worker")
TF_CONFIG_ENV = "TF_CONFIG"
# The jobs MultiWorkerMirroredStrategy trains with; every one of their tasks trains.
TRAINING_JOBS = ("chief", "worker")
TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster: a task of the ``chief`` or ``worker`` job."""

    task_type: str = "chief"
    task_index: int = 0
    workers: int = 1  # training processes in the cluster, this one included
    has_chief_job: bool = True

    @property
    def is_chief(self) -> bool:
        # TensorFlow's convention: the chief task, else worker 0 when the cluster has no chief.
        if self.has_chief_job:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    def describe(self) -> str:
        return f"{self.task_type} {self.task_index} of {self.workers} training processes"


SINGLE_PROCESS = WorkerRole()


@dataclass
class Distribution:
    """A started strategy and this process's role in it."""

    name: str  # one of STRATEGIES but "none"
    strategy: Any  # tf.distribute.Strategy
    role: WorkerRole

    @property
    def replicas(self) -> int:
        """Model copies that train in step, across all processes."""
        return int(self.strategy.num_replicas_in_sync)

    def scope(self):
        """Build and compile (or load) the model inside this, so that its variables are mirrored."""
        return self.strategy.scope()

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.role.workers}


def check_strategy(name: str) -> str:
    """``name`` if it is one of STRATEGIES, else a ValueError naming them."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown distribution strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    return name


def worker_role(name: str, environ: Mapping[str, str] | None = None) -> WorkerRole:
    """This process's role for strategy ``name``: the only process, or a task read from ``TF_CONFIG``."""
    if check_strategy(name) != "multi-worker":
        return SINGLE_PROCESS
    return read_tf_config(os.environ if environ is None else environ)


def read_tf_config(environ: Mapping[str, str]) -> WorkerRole:
    """Check ``TF_CONFIG`` as MultiWorkerMirroredStrategy reads it; a ValueError says what is wrong."""
    text = environ.get(TF_CONFIG_ENV, "").strip()
    if not text:
        raise ValueError(f"--distribute multi-worker needs the {TF_CONFIG_ENV} environment variable on every "
                         f"worker, naming the cluster and this worker's task, e.g. {TF_CONFIG_EXAMPLE}.")
    try:
        tf_config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{TF_CONFIG_ENV} is not valid JSON ({error}); expected e.g. {TF_CONFIG_EXAMPLE}.") from None
    if not isinstance(tf_config, dict):
        raise ValueError(f"{TF_CONFIG_ENV} must be a JSON object with \"cluster\" and \"task\", "
                         f"e.g. {TF_CONFIG_EXAMPLE}.")
    cluster = _check_cluster(tf_config.get("cluster"))
    task_type, task_index = _check_task(tf_config.get("task"), cluster)
    return WorkerRole(task_type=task_type, task_index=task_index,
                      workers=sum(len(addresses) for addresses in cluster.values()),
                      has_chief_job="chief" in cluster)


def _check_cluster(cluster: Any) -> dict[str, list[str]]:
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"{TF_CONFIG_ENV} has no \"cluster\": give each job's \"host:port\" addresses, "
                         f"e.g. {TF_CONFIG_EXAMPLE}.")
    other_jobs = sorted(set(cluster) - set(TRAINING_JOBS))
    if other_jobs:
        raise ValueError(f"{TF_CONFIG_ENV}'s cluster has a {', '.join(map(repr, other_jobs))} job; "
                         f"multi-worker training uses only \"chief\" and \"worker\" tasks.")
    seen: set[str] = set()
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(f"{TF_CONFIG_ENV}'s cluster job {job!r} must be a non-empty list of "
                             f"\"host:port\" addresses, got {addresses!r}.")
        for address in addresses:
            _check_address(address, job)
            if address in seen:
                raise ValueError(f"{TF_CONFIG_ENV}'s cluster names {address} twice; each task needs its own port.")
            seen.add(address)
    if len(cluster.get("chief", [])) > 1:
        raise ValueError(f"{TF_CONFIG_ENV}'s cluster has {len(cluster['chief'])} chiefs; it may have one.")
    return cluster


def _check_address(address: Any, job: str) -> None:
    host, _, port = str(address).rpartition(":")
    if not isinstance(address, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{TF_CONFIG_ENV}'s cluster job {job!r} has {address!r}, which is not a "
                         "\"host:port\" address (port 1-65535).")


def _check_task(task: Any, cluster: dict[str, list[str]]) -> tuple[str, int]:
    if not isinstance(task, dict):
        raise ValueError(f"{TF_CONFIG_ENV} has no \"task\" saying which task this process is, "
                         "e.g. \"task\": {\"type\": \"worker\", \"index\": 0}.")
    task_type, task_index = task.get("type"), task.get("index", 0)
    if task_type not in cluster:
        raise ValueError(f"{TF_CONFIG_ENV}'s task type {task_type!r} is not a job of its cluster "
                         f"({', '.join(cluster)}).")
    if isinstance(task_index, bool) or not isinstance(task_index, int) \
            or not 0 <= task_index < len(cluster[task_type]):
        raise ValueError(f"{TF_CONFIG_ENV}'s task index {task_index!r} is not one of the {len(cluster[task_type])} "
                         f"{task_type!r} tasks (0 to {len(cluster[task_type]) - 1}).")
    return task_type, task_index


def start(name: str) -> Distribution | None:
    """Make the strategy ``name`` (None for ``none``), checking ``TF_CONFIG`` first for ``multi-worker``.

    Call it before TensorFlow runs anything in this process: MultiWorkerMirroredStrategy configures
    TensorFlow's collective operations, which can only happen at start-up.
    """
    role = worker_role(name)
    if name == "none":
        return None
    from digit_core.training import tf_distribute

    return Distribution(name=name, strategy=tf_distribute.make_strategy(name), role=role)


def failure_message(error: BaseException) -> str:
    """``Type: message`` for a run's status, without the graph traceback TensorFlow puts in a failed step's message.

    When a worker dies, the others' collective operations fail with such a message, naming the task
    that stopped sending heartbeats.
    """
    paragraphs = [paragraph for paragraph in str(error).split("\n\n")
                  if paragraph.strip() and not paragraph.lstrip().startswith(("File \"", "Detected at node"))
                  and paragraph.strip() != "Graph execution error:"]
    return f"{type(error).__name__}: {' '.join(paragraphs)}"


@contextmanager
def write_dir(run_dir: Path | None, distribution: Distribution | None) -> Iterator[Path | None]:
    """Where this process writes the run: ``run_dir`` for the chief, a temporary directory for the others.

    A non-chief worker saves what the chief saves, so that every worker takes part in each save, into
    a directory deleted on leaving: only the chief's run remains.
    """
    if run_dir is None or distribution is None or distribution.role.is_chief:
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"digit-studio-{distribution.role.task_type}"
                                           f"{distribution.role.task_index}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
