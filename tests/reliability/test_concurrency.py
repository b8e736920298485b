"""Concurrency in one process, as in the app's server: many sessions share one predictor, the registry
is read while a model is saved, and only one of many simultaneous training requests wins."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from digit_core.store import registry
from digit_core.data.synthetic import digit_styles, render_strokes


def _run_together(count: int, work) -> list:
    """Run ``work(index)`` on ``count`` threads released at the same moment; results (or exceptions)."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 (returned to the test, which checks them)
            results[index] = error

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def test_sessions_sharing_one_predictor_get_the_same_answers_as_one_session_alone(tiny_predictor) -> None:
    canvases = [render_strokes(digit_styles(digit)[0], background="transparent") for digit in range(10)]
    alone = [tiny_predictor.predict_image(canvas).probabilities for canvas in canvases]

    def session(index: int) -> list[np.ndarray]:
        order = np.roll(np.arange(10), index)  # each session draws the digits in another order
        return [(int(digit), tiny_predictor.predict_image(canvases[digit], keep_steps=True).probabilities)
                for digit in order]

    for answers in _run_together(8, session):
        assert not isinstance(answers, Exception), answers
        for digit, probabilities in answers:
            np.testing.assert_allclose(probabilities, alone[digit], atol=1e-5)


def test_the_registry_never_shows_a_half_saved_model(isolated_dirs) -> None:
    model = registry.load("default")
    saves = 4

    def work(index: int) -> int:
        if index == 0:  # one thread saves the default again and again ...
            for number in range(saves):
                registry.save(model, "default", {"name": f"save {number}"})
            return saves
        loaded = 0  # ... while the others list and load it
        while loaded < 6:
            listed = {entry.model_id: entry for entry in registry.list_models()}
            assert set(listed) == {"default"} and not listed["default"].broken, listed
            assert registry.load("default").output_shape == (None, 10)
            loaded += 1
        return loaded

    results = _run_together(4, work)
    assert results == [saves, 6, 6, 6], results
    assert sorted(path.name for path in isolated_dirs["models"].iterdir()) == ["default.json", "default.keras",
                                                                            "default.onnx"]


def test_of_many_simultaneous_training_requests_exactly_one_starts(tmp_path: Path, monkeypatch) -> None:
    from digit_core.training import jobs
    from digit_core.models import zoo

    release = threading.Event()
    # The job only waits, so the test is about the manager's lock, not about training.
    monkeypatch.setattr(jobs.TrainingJob, "_train_and_evaluate", lambda self: release.wait(60))
    manager = jobs.TrainingManager(runs_root=tmp_path)
    entry = zoo.get_entry("tiny")

    def request(index: int):
        return manager.start(jobs.TrainingRequest(name=f"run {index}", network=entry.network,
                                                  training=entry.training, owner=f"user {index}"))

    try:
        results = _run_together(8, request)
    finally:
        release.set()
    started = [result for result in results if isinstance(result, jobs.TrainingSnapshot)]
    refused = [result for result in results if isinstance(result, jobs.TrainingBusyError)]
    assert len(started) == 1 and len(refused) == 7, results
    owner = started[0].owner
    for error in refused:
        assert str(error) == f"A training run started by {owner} is in progress; watch it or wait for it to finish."
    manager.wait(timeout=60)
