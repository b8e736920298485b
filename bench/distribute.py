"""Distributed training's overhead: the `fast` preset in one process, then on two localhost workers.

    python bench/distribute.py [--subset 12000] [--epochs 3] [--seed 0]

Both trainings run `python -m digit_core train` on the same images (the first SUBSET MNIST training
images, 10% kept for validation) with the same recipe and seed: first `--distribute none` (today's
single process), then `--distribute multi-worker` as two processes on 127.0.0.1, one TF_CONFIG each,
the global batch of 128 split 64 + 64. Prints, for each, training steps per second after the first
epoch (which also connects the workers and traces the graph; each epoch's time includes validation
and checkpoints) and the test accuracy of the run's best checkpoint on all 10,000 MNIST test digits.

One machine's cores are shared by both workers, so two workers cannot be faster here: this measures
what the all-reduce between processes costs, and that the accuracy stays the same.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the project on the import path, quiets TensorFlow)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 3600


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_training(train_args: list[str], workers: int, runs_dir: Path) -> dict:
    """Train with ``workers`` processes (1: --distribute none); the chief's summary and its run's history."""
    command = [sys.executable, "-m", "digit_core", "train", "--quiet", *train_args]
    environments = [{**os.environ, "DIGIT_RUNS_DIR": str(runs_dir)}]
    if workers > 1:
        cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(workers)]}
        environments = [{**environments[0], "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                     "task": {"type": "worker", "index": index}})}
                        for index in range(workers)]
        command += ["--distribute", "multi-worker"]
    processes = [subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for env in environments]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=TIMEOUT_S)
        if process.returncode != 0:
            raise RuntimeError(f"training failed ({process.returncode}): {err[-2000:]}")
        outputs.append(json.loads(out))
    summary = outputs[0]
    history = json.loads((runs_dir / summary["run_id"] / "history.json").read_text())
    return {**summary, "history": history}


def steps_per_second(summary: dict, batch_size: int) -> float:
    """Training steps per second over every epoch but the first."""
    steps_per_epoch = -(-summary["train_size"] // batch_size)
    later_epochs = summary["history"]["seconds"][1:]
    return steps_per_epoch * len(later_epochs) / sum(later_epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=12000, help="MNIST training images used (default: 12000)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs, at least 2 (default: the preset's 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not timed")
    from digit_core.models import zoo

    batch_size = zoo.get_entry("fast").training.batch_size
    train_args = ["--preset", "fast", "--subset", str(args.subset), "--epochs", str(args.epochs),
                  "--seed", str(args.seed)]
    print(f"fast preset, {args.subset:,} MNIST images (10% for validation), {args.epochs} epochs, global batch "
          f"{batch_size}, seed {args.seed}")
    for workers, label in ((1, "one process (--distribute none)"), (2, "two localhost workers")):
        with tempfile.TemporaryDirectory(prefix="bench-distribute-") as runs_dir:
            started = time.perf_counter()
            summary = run_training(train_args, workers, Path(runs_dir))
            wall = time.perf_counter() - started
        print(f"{label:<34} {steps_per_second(summary, batch_size):6.2f} steps/s   "
              f"test accuracy {summary['test_accuracy']:.2%}   wall {wall:6.1f} s "
              f"(of which training {summary['train_seconds']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
