"""Progress of a long command on stderr, with the time left, through tqdm.

On a terminal it is tqdm's bar, redrawn in place. Anywhere else (a log file, a pipe) carriage returns
would garble the output, so it writes whole lines instead: one per finished entry or epoch, and at
most one every ``interval_s`` seconds between them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

# What a plain line says after its own text, from tqdm's figures.
PLAIN_STATUS = "{n_fmt}/{total_fmt} {unit}, {elapsed} elapsed, {remaining} left"
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]"


class _Nowhere:
    """A file that drops what tqdm draws; plain lines are written by ``Progress`` itself."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Counts finished steps of ``total`` (None: not known yet) and shows them with the time left."""

    def __init__(self, total: int | None, description: str, unit: str, *, stream: TextIO | None = None,
                 interval_s: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = is_terminal(self.stream)
        self.description, self.interval_s = description, interval_s
        # smoothing=0: the time left comes from the average rate so far, steadier than a recent burst.
        self._bar = tqdm(total=total, desc=description, unit=unit, file=self.stream if self.terminal else _Nowhere(),
                         smoothing=0, dynamic_ncols=True, bar_format=BAR_FORMAT, leave=True)
        self._last_line, self._last_count = time.monotonic(), None

    @property
    def count(self) -> float:
        return self._bar.n

    @property
    def total(self) -> int | None:
        return self._bar.total

    def set_total(self, total: int) -> None:
        """Say how many steps there are, once it is known (a training run knows after its first batch).

        Before the first step, the clock starts again too: setting up is not part of the time per step.
        """
        if self.count == 0:
            self._bar.reset(total=total)
        else:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, steps: float = 1, note: str | None = None, **postfix: object) -> None:
        """``steps`` more steps done, with a ``note`` on the finished step if given (see ``note``);
        ``postfix`` figures (loss, accuracy) go beside the bar."""
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(steps)
        if note is not None:
            self.note(note)
        elif not self.terminal and time.monotonic() - self._last_line >= self.interval_s:
            self._write_line(self.description)

    def update_to(self, done: int, total: int) -> None:
        """``done`` of ``total`` steps, for callbacks that count that way."""
        if self.total != total:
            self.set_total(total)
        self.advance(done - self.count)

    def note(self, text: str) -> None:
        """A line that stays: above the bar on a terminal, else with the count and the time left."""
        if self.terminal:
            self._bar.write(text, file=self.stream)
        else:
            self._write_line(text)

    def print(self, text: str, file: TextIO | None = None) -> None:
        """Print a result (to stdout by default) without tearing a bar drawn on the same terminal."""
        file = file if file is not None else sys.stdout
        if self.terminal:
            self._bar.write(text, file=file)
        else:
            print(text, file=file, flush=True)

    def status(self) -> str:
        """The count, the time spent and the time left, e.g. ``3/10 files, 00:02 elapsed, 00:05 left``."""
        figures = self._bar.format_dict
        return tqdm.format_meter(**{**figures, "bar_format": PLAIN_STATUS, "postfix": None})

    def close(self) -> None:
        # A log ends with the final count, unless the last line already said it.
        if not self.terminal and self.count and self.count != self._last_count:
            self._write_line(self.description)
        self._bar.close()

    def _write_line(self, text: str) -> None:
        self.stream.write(f"{text} ({self.status()})\n")
        self.stream.flush()
        self._last_line = time.monotonic()
        self._last_count = self.count

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def training_progress(epochs: int, first_epoch: int = 0, stream: TextIO | None = None) -> tuple[
        Progress, Callable[[int, int, dict[str, float]], None], Callable[[int, dict[str, float]], None]]:
    """A progress display over a run's batches, and the batch and epoch callbacks that drive it.

    Each finished epoch leaves a line with its loss and accuracy; the time left is the whole run's.
    """
    progress = Progress(None, "train", "batches", stream=stream)

    def on_batch_end(batch: int, batches: int, metrics: dict[str, float]) -> None:
        if progress.total is None:
            progress.set_total(batches * (epochs - first_epoch))
        progress.advance(loss=f"{metrics.get('loss', 0):.4f}", acc=f"{metrics.get('accuracy', 0):.4f}")

    def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
        validation = f" val_acc {metrics['val_accuracy']:.4f}" if "val_accuracy" in metrics else ""
        progress.note(f"epoch {epoch + 1}/{epochs} done in {metrics['seconds']:.1f}s: loss {metrics['loss']:.4f} "
                      f"acc {metrics['accuracy']:.4f}{validation}")

    return progress, on_batch_end, on_epoch_end
