"""The collection under stress: writers killed mid-write, five sessions saving at once, a corrupt file.

Each database test runs on SQLite, and on PostgreSQL when DIGIT_TEST_PG_URL is set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from digit_core import config
from digit_core.store.collection import Collection
from digit_core.store.database import CollectionError
from digit_core.store.drawings import LabelledDrawing

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A child that stores big drawings (so that a kill often lands inside a write) and prints each
# drawing's id once its transaction has committed.
WRITER = """
import sys
import numpy as np
from digit_core.store.collection import Collection
from digit_core.store.database import CollectionError
from digit_core.store.drawings import LabelledDrawing
collection = Collection.open(sys.argv[1], max_bytes=2**40)
rng = np.random.default_rng(int(sys.argv[2]))
while True:
    drawing = LabelledDrawing(image_png=rng.bytes(400_000), model_input=rng.integers(0, 256, (28, 28), np.uint8),
                              label=int(rng.integers(10)), predicted=None, confidence=0.0, model_id="m", who="writer")
    print(collection.add(drawing).id, flush=True)
"""


def _drawing(number: int, session: str | None = None) -> LabelledDrawing:
    pixels = np.full((28, 28), number % 256, np.uint8)
    return LabelledDrawing(image_png=number.to_bytes(4, "big") * 100, model_input=pixels, label=number % 10,
                           predicted=None, confidence=0.0, model_id="m", who=session or "cli", session_id=session,
                           drawing_key=None if session is None else f"{session}-{number}")


def _kill_while_writing(url: str, seed: int, committed_before_kill: int) -> list[int]:
    """Start a writer, SIGKILL it after it reported ``committed_before_kill`` ids; the ids it reported."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, url, str(seed)], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    reported = []
    try:
        while len(reported) < committed_before_kill:
            line = process.stdout.readline()
            assert line, f"the writer stopped: {process.stderr.read()}"
            reported.append(int(line))
        time.sleep(np.random.default_rng(seed).uniform(0, 0.004))  # land anywhere in the next write
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # What it printed after the last readline was committed as well.
    reported += [int(line) for line in process.stdout.read().split()]
    return reported


@pytest.mark.slow
def test_a_writer_killed_mid_write_loses_at_most_that_drawing(database_url: str) -> None:
    reported: list[int] = []
    for seed, count in ((1, 5), (2, 12), (3, 3)):
        reported += _kill_while_writing(database_url, seed, count)
    collection = Collection.open(database_url)
    try:
        if collection.engine.url.get_backend_name() == "sqlite":
            with collection.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        stored = [drawing.id for drawing in collection.drawings()]
        # Every reported drawing is there; at most one unreported one per kill (committed, not yet printed).
        assert set(reported) <= set(stored)
        assert len(stored) - len(reported) <= 3
        # The database still takes drawings.
        assert collection.add(_drawing(7)).outcome == "stored"
    finally:
        collection.close()


@pytest.mark.parametrize("one_pool", [True, False], ids=["one server", "five replicas"])
def test_five_sessions_saving_at_once_all_land(database_url: str, one_pool: bool) -> None:
    shared = Collection.open(database_url) if one_pool else None
    collections = [shared or Collection.open(database_url) for _ in range(5)]
    barrier, errors, saved = threading.Barrier(5), [], [[] for _ in range(5)]

    def session(index: int) -> None:
        barrier.wait()
        try:
            for number in range(12):
                saved[index].append(collections[index].add(_drawing(100 * index + number, f"session-{index}")).id)
        except Exception as error:  # noqa: BLE001 (checked below)
            errors.append(error)

    threads = [threading.Thread(target=session, args=(index,)) for index in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(thread.is_alive() for thread in threads), errors
    ids = [drawing_id for session_ids in saved for drawing_id in session_ids]
    assert len(ids) == len(set(ids)) == 60
    stored = collections[0].drawings()
    assert sorted(drawing.id for drawing in stored) == sorted(ids)
    assert {drawing.who for drawing in stored} == {f"session-{index}" for index in range(5)}
    for collection in set(collections):
        collection.close()


def test_the_rate_limit_holds_when_a_session_saves_from_many_threads(database_url: str) -> None:
    collection = Collection.open(database_url, max_per_minute=10)
    outcomes: list = []

    def click(number: int) -> None:
        try:
            outcomes.append(collection.add(_drawing(number, "clicker")).outcome)
        except Exception as error:  # noqa: BLE001 (checked below)
            outcomes.append(type(error).__name__)

    for batch in range(3):
        threads = [threading.Thread(target=click, args=(10 * batch + number,)) for number in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    # Checked before each insert, so a burst can pass the limit by the threads racing it, never more.
    assert 10 <= outcomes.count("stored") <= 10 + 9
    assert outcomes.count("RateLimitError") == 30 - outcomes.count("stored")
    collection.close()


def test_the_app_starts_and_draw_works_beside_a_corrupt_database(isolated_dirs, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    database = tmp_path / "collection.db"
    database.write_bytes(b"\x00" * 4096 + b"SQLite format 3\x00" * 100)
    monkeypatch.setenv(config.DB_ENV, str(database))
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.title[0].value == "Train a model"
    (error,) = at.error  # inside "Fine-tune on collected drawings"; the rest of the page works
    assert f"The collection's database ({database}) cannot be opened" in error.value
    assert any(button.label == "Start training" for button in at.button)


def test_a_truncated_database_file_is_reported_not_repaired(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'collection.db'}"
    collection = Collection.open(url)
    for number in range(200):
        collection.add(_drawing(number))
    with collection.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    collection.close()
    path = tmp_path / "collection.db"
    size = path.stat().st_size
    with path.open("r+b") as stream:
        stream.truncate(size // 3)
    with pytest.raises(CollectionError, match="cannot be (opened|read): database disk image is malformed"):
        reopened = Collection.open(url)
        reopened.images()
    assert path.stat().st_size == size // 3
