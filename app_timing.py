"""Timestamps of a Draw page run's stages, for ``bench/draw_latency.py``; off unless switched on.

With ``DIGIT_DRAW_TIMINGS=1`` in the server's environment, each mark is one line on its standard
error, ``draw-timing <session id> <mark> <seconds since the epoch>``. The bench lines these up with
the browser's own timestamps (the same machine's clock) to break one drawing's time down, from the
mouse-up to the answer on screen. Switched off, a mark is one look at the environment.
"""

from __future__ import annotations

import os
import sys
import time
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

TIMINGS_ENV = "DIGIT_DRAW_TIMINGS"
LINE_PREFIX = "draw-timing"


def mark(name: str) -> None:
    """Note that this session's run has reached ``name`` (a word or a few, no line breaks)."""
    if os.environ.get(TIMINGS_ENV) != "1":
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    session = context.session_id if context is not None else "-"
    sys.stderr.write(f"{LINE_PREFIX} {session} {name} {time.time():.6f}\n")
    sys.stderr.flush()


Params = ParamSpec("Params")
Result = TypeVar("Result")


def timed_run(function: Callable[Params, Result]) -> Callable[Params, Result]:
    """Marks "start" and "end" around each call of ``function`` (a fragment), also one cut short by
    the next stroke's rerun."""

    @functools.wraps(function)
    def timed(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        mark("start")
        try:
            return function(*args, **kwargs)
        finally:
            mark("end")

    return timed
