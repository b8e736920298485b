"""Shared helpers for the benchmark scripts: argument parsing, timing and printing."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="a .keras path or registry id (default: active model)")


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 10) -> list[float]:
    """Wall-clock milliseconds of ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def describe_ms(label: str, timings: list[float]) -> str:
    return (f"{label:<46} median {statistics.median(timings):7.2f} ms   p95 {percentile(timings, 95):7.2f} ms"
            f"   (n={len(timings)})")
