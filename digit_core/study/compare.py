"""The model-comparison study: every configuration trained and evaluated on the same split.

``run_comparison`` builds the study's model specs (``digit_core.study.specs``), fits each through the
shared estimator interface (``digit_core.models.estimators``), evaluates it on the MNIST test set and writes
``results/comparison.json`` atomically: a JSON list with one entry per (experiment, model)::

    name, experiment, setting, family, description    what was run (family: perceptron, mlp, cnn, classical)
    test_accuracy, test_loss, test_size               on MNIST test; test_loss is the mean cross-entropy of
                                                      the predicted probabilities for every model, classical
                                                      ones included (vote fractions for RF and KNN, so large)
    notebook_test_accuracy                            what the model's notebook reported on MNIST test with the
                                                      recipe trained here; null where there is no such figure
                                                      (every entry but the notebook models, and cnn_32_64)
    usps_scan_accuracy, sklearn_digits_accuracy       other people's handwriting, read once through the app's
                                                      pipeline as scans (no second look): USPS test (2,007
                                                      digits of US mail) and scikit-learn's digits (1,797 by
                                                      optdigits' test writers, 32 px tall); an image in which
                                                      the pipeline finds no digit counts as wrong
    params, train_seconds, predict_ms_per_image       size, fit wall time, batched predict_proba time per image
    epochs, batch_size, optimizer                     null for classical models
    train_size, subset_reason                         images trained on; the reason when it is a subset
    history                                           per-epoch loss, accuracy, val_loss, val_accuracy and
                                                      seconds, inline; null for classical models
    network, training, classical                      the configuration (null where it does not apply)
    source, note, same_run_as, mode, seed             provenance; same_run_as names the entry whose run an
                                                      identical configuration reused

Every model trains on the same seeded, stratified 90/10 split of MNIST train (networks validate on the
10%, as the notebooks' validation split of 0.1 did) and is tested on MNIST test. The full study trains
each notebook model with its notebook's recipe as its zoo entry records it (epochs, batch size,
optimizer, learning rate), so it can be held to the figure its notebook reported. The experiments
change one thing at a time from a fixed base (MLP 128-128, Adam, batch 128, 3 epochs); the
number-of-epochs experiment trains separate runs for 1, 3 and 10 epochs. To fit a shared 2-core
machine the full study fits the SVM on 10k and logistic regression on 20k images, and evaluates the
shipped ``models/default.keras`` as ``best``; without one it trains the best recipe for 1 epoch on the
whole split (not longer on fewer images: batch normalisation's moving statistics need a few hundred
steps to settle, and a trial on 10k images for 3 epochs scored near chance on test). Each entry states
its epochs, ``train_size``, ``subset_reason`` and ``note``. ``--quick`` shrinks everything to seconds
per model (3000 training images, 1 epoch, the first 300 digits of each handwriting set).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digit_core import config
from digit_core.models import zoo
from digit_core.store.atomic import atomic_write_json
from digit_core.training.recipe import json_ready
from digit_core.study.specs import (FULL, QUICK, VALIDATION_FRACTION, ModelSpec, StudyScale,
                                    build_estimator, experiment_specs)
from digit_core.study.results import load_comparison


@dataclass(frozen=True)
class StudyData:
    """The one split every model of a study sees: uint8 images (N, 28, 28) and labels (N,), and the
    handwriting proxies as model inputs: entry key -> (images (N, 28, 28), labels (N,))."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    proxies: dict[str, tuple[np.ndarray, np.ndarray]]


def study_data(scale: StudyScale, data_dir: Path | None, seed: int) -> StudyData:
    """MNIST train split 90/10 with ``seed`` (stratified, shuffled), then cut to the scale's sizes."""
    from digit_core.data import load_mnist, validation_split

    mnist = load_mnist(data_dir)
    x_train, y_train, x_val, y_val = validation_split(mnist.x_train, mnist.y_train, VALIDATION_FRACTION, seed)
    # The split is shuffled, so its first N images are a random sample of N.
    return StudyData(x_train[:scale.train_size], y_train[:scale.train_size], x_val[:scale.validation_size],
                     y_val[:scale.validation_size], mnist.x_test[:scale.test_size], mnist.y_test[:scale.test_size],
                     handwriting_proxies(scale.proxy_size))


def handwriting_proxies(limit: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """USPS test and scikit-learn's digits read as scans (``digit_core.data.writers``), keyed like the entries.

    Each set goes through the app's pipeline once, here, so every model reads the same inputs.
    """
    from digit_core.data import writers

    return {"usps_scan_accuracy": writers.usps_test_as_mnist(limit),
            "sklearn_digits_accuracy": writers.sklearn_digits_as_mnist(limit)}


def proxy_accuracy(predicted: np.ndarray, inputs: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``labels`` read right; an input in which the pipeline found no digit (all zeros) is wrong."""
    found = inputs.reshape(len(inputs), -1).any(axis=1)
    return float(np.mean((np.asarray(predicted) == labels) & found))


def run_comparison(quick: bool = False, out: Path | None = None, data_dir: Path | None = None, *,
                   only: Sequence[str] | None = None, seed: int = 0, models_dir: Path | None = None,
                   scale: StudyScale | None = None, resume: bool = False,
                   on_start: Callable[[int], None] | None = None,
                   on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run the study and write its results to ``out`` atomically.

    ``only`` restricts it to the named experiments; ``scale`` replaces the FULL / QUICK presets (tests use
    a smaller one); ``on_start`` is called with the number of entries to come, ``on_result`` with each
    entry as soon as it is measured.

    After every model the results so far are written to ``<out>.partial.json``, so a long run that is
    killed still shows how far it got; the partial file is removed once ``out`` is written. With
    ``resume`` the entries of that partial file whose description (model, settings, data sizes, seed,
    source) is unchanged are kept instead of measured again.
    """
    scale = scale or (QUICK if quick else FULL)
    specs = _select(experiment_specs(scale, seed, shipped_best=_shipped_best(scale, models_dir)), only)
    data = study_data(scale, data_dir, seed)
    out = Path(out) if out is not None else config.results_dir() / "comparison.json"
    partial = out.with_name(f"{out.stem}.partial.json")
    finished = _finished_entries(partial) if resume else []
    results: list[dict[str, Any]] = []
    if on_start is not None:
        on_start(len(specs))
    # Run key -> (name of the entry that ran it, its measurements): identical configurations run once.
    done: dict[tuple, tuple[str, dict[str, Any]]] = {}
    for spec in specs:
        described = _describe(spec, scale, seed)
        earlier = _same_description(finished, described)
        if earlier is not None:
            measured = {key: value for key, value in earlier.items() if key not in described}
            same_run_as = measured.pop("same_run_as", None)
            done.setdefault(spec.run_key(), (spec.name, measured))
        elif spec.run_key() in done:
            first_name, measured = done[spec.run_key()]
            same_run_as: str | None = first_name
        else:
            measured, same_run_as = measure(spec, data, scale, seed), None
            done[spec.run_key()] = (spec.name, measured)
        entry = {**described, **measured, "same_run_as": same_run_as}
        results.append(entry)
        atomic_write_json(partial, results)
        if on_result is not None:
            on_result(entry)
    atomic_write_json(out, results)
    partial.unlink(missing_ok=True)
    return results


def _finished_entries(partial: Path) -> list[dict[str, Any]]:
    """The entries of an interrupted run's partial file."""
    if not partial.is_file():
        raise FileNotFoundError(f"Nothing to resume: {partial} does not exist.")
    return load_comparison(partial)


def _same_description(entries: list[dict[str, Any]], described: dict[str, Any]) -> dict[str, Any] | None:
    """The entry measured for exactly this description (model, settings, sizes, seed, source), if any."""
    wanted = json_ready(described)
    return next((entry for entry in entries if all(entry.get(key) == value for key, value in wanted.items())),
                None)


def _shipped_best(scale: StudyScale, models_dir: Path | None) -> Path | None:
    # The full study evaluates the shipped default model when there is one; smaller studies train.
    path = (models_dir or config.models_dir()) / f"{config.DEFAULT_MODEL_ID}.keras"
    return path if scale.mode == "full" and path.is_file() else None


def _select(specs: list[ModelSpec], only: Sequence[str] | None) -> list[ModelSpec]:
    if only is None:
        return specs
    known = list(dict.fromkeys(spec.experiment for spec in specs))
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(f"Unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(known)}.")
    return [spec for spec in specs if spec.experiment in only]


def measure(spec: ModelSpec, data: StudyData, scale: StudyScale, seed: int) -> dict[str, Any]:
    """Fit the spec's estimator on the study split, evaluate it on the test set, time its predictions."""
    from digit_core.inference.evaluate import evaluate_probabilities

    estimator = build_estimator(spec, seed)
    x_train, y_train = data.x_train[:spec.train_size], data.y_train[:spec.train_size]
    estimator.fit(x_train, y_train, validation_data=(data.x_val, data.y_val))
    evaluation = evaluate_probabilities(estimator.predict_proba(data.x_test), data.y_test)
    history = estimator.history_
    proxies = {key: round(proxy_accuracy(estimator.predict(images), images, labels), 6)
               for key, (images, labels) in data.proxies.items()}
    return {
        "test_accuracy": round(evaluation.accuracy, 6), "test_loss": round(evaluation.loss, 6),
        "test_size": evaluation.n, **proxies, "params": int(estimator.n_parameters_),
        "train_seconds": _rounded(estimator.train_seconds_, 3),
        "predict_ms_per_image": round(predict_ms_per_image(estimator, data.x_test[:scale.timing_images]), 4),
        "epochs": estimator.epochs_, "batch_size": estimator.batch_size_, "optimizer": estimator.optimizer_,
        "train_size": estimator.train_size_,
        "history": {key: [round(value, 6) for value in values] for key, values in history.items()} or None,
    }


def predict_ms_per_image(estimator: Any, images: np.ndarray, repeats: int = 3) -> float:
    """Milliseconds per image of one batched ``predict_proba`` call, the fastest of ``repeats``.

    The fastest repeat is the least disturbed by other work on a shared machine (as ``timeit`` advises).
    """
    estimator.predict_proba(images[:10])  # warm-up: first calls pay one-off costs
    fastest = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        estimator.predict_proba(images)
        fastest = min(fastest, time.perf_counter() - started)
    return 1000.0 * fastest / len(images)


def _describe(spec: ModelSpec, scale: StudyScale, seed: int) -> dict[str, Any]:
    return {"name": spec.name, "experiment": spec.experiment, "setting": spec.setting, "family": spec.family,
            "description": spec.description, "subset_reason": spec.subset_reason or None,
            "network": json_ready(zoo.network_to_dict(spec.network)) if spec.network is not None else None,
            "training": json_ready(dataclasses.asdict(spec.training)) if spec.training is not None else None,
            "classical": spec.classical, "notebook_test_accuracy": spec.notebook_test_accuracy,
            "note": spec.note or None, "mode": scale.mode, "seed": seed,
            "source": spec.saved_model or "trained by this study"}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


