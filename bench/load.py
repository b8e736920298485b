"""Prediction latency under load: several sessions predicting at once while a model trains.

    python bench/load.py [--model ID_OR_PATH] [--threads 5] [--requests 100]
                         [--train-preset fast] [--train-subset 10000] [--no-training]

Runs in one process, as the app's server does: ``--threads`` threads (one per browser session) each
classify ``--requests`` canvas drawings with the Draw page's call (``predict_image(..., keep_steps=True)``)
on one shared predictor. Measured twice: idle, then while ``digit_core.training.jobs.TrainingManager`` trains
``--train-preset`` in a background thread, as the Train page does. Prints p50, p95 and max latency in
milliseconds and the throughput. The training run goes to a temporary directory and is stopped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import model_argument, percentile

import numpy as np


def predict_concurrently(predictor, canvases: list[np.ndarray], threads: int,
                         requests: int) -> tuple[list[float], float]:
    """Latencies (ms) of ``threads × requests`` predictions started together, and the wall time (s)."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_together = threading.Barrier(threads + 1)

    def session(offset: int) -> None:
        mine = []
        start_together.wait()
        for request in range(requests):
            started = time.perf_counter()
            predictor.predict_image(canvases[(offset + request) % len(canvases)], keep_steps=True)
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=session, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    start_together.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return latencies, time.perf_counter() - started


def describe(label: str, latencies: list[float], seconds: float) -> str:
    return (f"{label:<34} p50 {statistics.median(latencies):7.1f} ms   p95 {percentile(latencies, 95):7.1f} ms"
            f"   max {max(latencies):7.1f} ms   {len(latencies) / seconds:6.1f} predictions/s   (n={len(latencies)})")


def start_training(preset: str, subset: int, runs_root: Path):
    """A TrainingManager training ``preset`` in the background, once its first batch is done."""
    from digit_core.models import zoo
    from digit_core.training.jobs import TrainingManager, TrainingRequest

    entry = zoo.get_entry(preset)
    # Enough epochs to outlast the measurement; the run is stopped when it is done.
    training = zoo.with_overrides(entry.training, epochs=50, early_stopping_patience=0)
    manager = TrainingManager(runs_root=runs_root)
    manager.start(TrainingRequest(name=f"load-{preset}", network=entry.network, training=training,
                                  owner="bench/load.py", subset=subset))
    deadline = time.monotonic() + 300
    while True:
        snapshot = manager.snapshot()
        if snapshot.batch > 0 or snapshot.epoch > 0 or not snapshot.active:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the training did not start within 5 minutes")
        time.sleep(0.2)
    if not snapshot.active:
        raise RuntimeError(f"the training ended before the measurement: {snapshot.status} {snapshot.error}")
    return manager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_argument(parser)
    parser.add_argument("--threads", type=int, default=5, help="concurrent sessions")
    parser.add_argument("--requests", type=int, default=100, help="predictions per session and phase")
    parser.add_argument("--train-preset", default="fast", help="zoo model trained during the second phase")
    parser.add_argument("--train-subset", type=int, default=10_000, help="training images for that run")
    parser.add_argument("--no-training", action="store_true", help="measure the idle phase only")
    args = parser.parse_args()

    from digit_core.workflows.read import load_predictor
    from digit_core.data.synthetic import digit_styles, render_strokes

    predictor = load_predictor(args.model)
    # Canvas drawings as the browser returns them: (280, 280, 4) RGBA, black ink on transparent.
    canvases = [render_strokes(styles, background="transparent") for digit in range(10)
                for styles in digit_styles(digit)[:2]]
    for canvas in canvases[:5]:
        predictor.predict_image(canvas, keep_steps=True)  # warm up outside the timing
    print(f"model: {predictor.model.name}, {predictor.model.count_params():,} parameters; "
          f"{args.threads} sessions × {args.requests} predictions per phase")
    latencies, seconds = predict_concurrently(predictor, canvases, args.threads, args.requests)
    print(describe("idle", latencies, seconds))
    if args.no_training:
        return
    with tempfile.TemporaryDirectory(prefix="load-runs-") as runs_root:
        manager = start_training(args.train_preset, args.train_subset, Path(runs_root))
        before = manager.snapshot()
        latencies, seconds = predict_concurrently(predictor, canvases, args.threads, args.requests)
        during = manager.snapshot()
        manager.request_stop()
        manager.wait(timeout=300)
    print(describe(f"while training {args.train_preset}", latencies, seconds))
    print(f"the training was in epoch {before.epoch + 1} (batch {before.batch}) when the measurement started "
          f"and in epoch {during.epoch + 1} (batch {during.batch}) when it ended; it kept running throughout: "
          f"{during.active}")


if __name__ == "__main__":
    main()
