"""Fine-tuning on collected drawings: it learns a new handwriting, keeps MNIST, and runs like any run.

The "new handwriting" is MNIST test digits turned a quarter: the tiny test model reads about one in
ten of them, and ten of each digit are enough to teach it many of the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_core.store import registry
from digit_core.training import runs
from digit_core.models import zoo
from digit_core.store.atomic import read_json
from digit_core.store.collection import Collection
from digit_core.store.drawings import LabelledDrawing
from digit_core.training.finetune import (MIN_TRAINING_DRAWINGS, FineTuneConfig, FineTuneRequest, compare_models, fine_tune,
                                 held_back, load_collection_split)

TIMEOUT_S = 300
# The tiny model learns fast: a larger step than the shipped model's recipe.
TINY_RECIPE = FineTuneConfig(training=zoo.with_overrides(FineTuneConfig().training, learning_rate=3e-3, epochs=3),
                             mnist_per_drawing=2)


def turned(mnist, count: int = 1100) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits turned a quarter anticlockwise, and their labels."""
    return np.rot90(mnist.x_test[:count], 1, axes=(1, 2)).copy(), mnist.y_test[:count]


def first_of_each_digit(labels: np.ndarray, per_digit: int) -> np.ndarray:
    return np.concatenate([np.flatnonzero(labels == digit)[:per_digit] for digit in range(10)])


def store(collection: Collection, images: np.ndarray, labels: np.ndarray) -> None:
    png = b"\x89PNG not decoded by these tests"
    for image, label in zip(images, labels):
        collection.add(LabelledDrawing(image_png=png, model_input=image, label=int(label), predicted=None,
                                       confidence=0.0, model_id="default", who="Ada"))


def test_a_fifth_is_held_back_by_id_and_stays_held_back() -> None:
    ids = np.arange(1, 1001)
    chosen = held_back(ids)
    assert 190 <= chosen.sum() <= 210
    for start in range(0, 1000, 50):  # spread evenly: every run of 50 ids holds back about 10
        assert 7 <= chosen[start:start + 50].sum() <= 13
    # A drawing's place does not depend on the others: the same ids, fewer or shuffled, same answer.
    np.testing.assert_array_equal(held_back(ids[:100]), chosen[:100])
    shuffled = np.random.default_rng(0).permutation(ids)
    np.testing.assert_array_equal(held_back(shuffled), chosen[shuffled - 1])


def test_too_small_a_collection_is_refused_before_anything_loads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'collection.db'}"
    collection = Collection.open(url)
    store(collection, np.zeros((5, 28, 28), np.uint8), np.arange(5))
    collection.close()
    with pytest.raises(ValueError, match=f"at least {MIN_TRAINING_DRAWINGS} drawings .* the collection has 5"):
        load_collection_split(url, data_dir=tmp_path / "no-mnist-here")


@pytest.mark.slow
def test_fine_tuning_learns_the_writers_other_digits_and_keeps_mnist(mnist, tiny_models_dir: Path,
                                                                      tmp_path: Path) -> None:
    images, labels = turned(mnist)
    taught = first_of_each_digit(labels, 10)
    others = np.setdiff1d(np.arange(len(labels)), taught)
    run_dir = tmp_path / "run"
    epochs_seen = []
    result = fine_tune(tiny_models_dir / "default.keras", images[taught], labels[taught], mnist.x_train,
                       mnist.y_train, TINY_RECIPE, run_dir, name="tuned", x_val=images[others[:200]],
                       y_val=labels[others[:200]], on_epoch_end=lambda epoch, metrics: epochs_seen.append(epoch))
    assert result.status == "completed" and epochs_seen == [0, 1, 2]
    report = compare_models(tiny_models_dir / "default.keras", run_dir / "best.keras",
                            {"others": (images[others], labels[others]), "mnist": (mnist.x_test, mnist.y_test)})
    assert report["others"]["before"] < 0.3
    assert report["others"]["after"] >= report["others"]["before"] + 0.15, report
    assert report["mnist"]["after"] >= report["mnist"]["before"] - 0.1, report
    # Recorded like any run: its history, its status, its config with the recipe.
    run = runs.read_run(run_dir)
    assert run.status == "completed" and len(run.history["val_accuracy"]) == 3
    assert run.config["fine_tune"]["drawings"] == 100
    assert run.config["train_size"] == 100 * TINY_RECIPE.drawing_repeats * (1 + TINY_RECIPE.mnist_per_drawing)
    assert run.config["training"]["learning_rate"] == 3e-3


@pytest.mark.slow
@pytest.mark.parametrize("freeze", [True, False])
def test_batch_normalisation_keeps_what_it_learnt_on_mnist(mnist, tmp_path: Path, freeze: bool) -> None:
    import keras

    network = zoo.CNNConfig(((4,),), (True,), (16,), dropout_rate=0.0, batch_norm=True)
    registry.save(zoo.build_network(network), "bn", {"network": zoo.network_to_dict(network),
                                                     "training": {"normalization": "scale"}}, models_dir=tmp_path)
    recipe = FineTuneConfig(training=zoo.with_overrides(TINY_RECIPE.training, epochs=1), freeze_batch_norm=freeze)
    result = fine_tune(tmp_path / "bn.keras", mnist.x_test[:20], mnist.y_test[:20], mnist.x_train, mnist.y_train,
                       recipe, tmp_path / "run")
    (norm,) = [layer for layer in result.model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    unchanged = np.allclose(keras.ops.convert_to_numpy(norm.moving_mean), 0.0)
    assert unchanged == freeze


@pytest.mark.slow
def test_the_training_manager_runs_a_fine_tune_and_it_can_be_made_active(mnist, isolated_dirs, tmp_path: Path) -> None:
    from digit_core.training.jobs import TrainingManager, make_active

    url = f"sqlite:///{tmp_path / 'collection.db'}"
    images, labels = turned(mnist)
    collection = Collection.open(url)
    store(collection, images[first_of_each_digit(labels, 6)], labels[first_of_each_digit(labels, 6)])
    ids = collection.images().ids
    collection.close()

    manager = TrainingManager()
    started = manager.start(FineTuneRequest(name="tuned", model_id="default", owner="Ada", owner_id="ada-1",
                                            recipe=TINY_RECIPE, database_url=url))
    assert started.active and started.epochs == 3
    final = manager.wait(TIMEOUT_S)
    assert final.status == "completed", final.error
    assert len(final.history["val_accuracy"]) == 3  # the held-back drawings' live curve
    report = final.metrics["report"]
    assert report["held_back"]["n"] == held_back(ids).sum() == final.metrics["drawings_held_back"]
    assert final.metrics["drawings_trained"] == len(ids) - held_back(ids).sum()
    assert report["mnist_test"]["n"] == 10_000
    assert {"before", "after"} <= set(report["held_back"]) and final.metrics["test_accuracy"] == report["mnist_test"]["after"]
    assert read_json(final.run_dir / "metrics.json") == dict(final.metrics)

    make_active(final.run_id, "tuned")
    assert registry.active_model_id() == "tuned" and (isolated_dirs["models"] / "tuned.keras").is_file()


@pytest.mark.slow
def test_a_fine_tune_without_enough_drawings_fails_without_a_run(isolated_dirs, tmp_path: Path) -> None:
    from digit_core.training.jobs import TrainingManager

    manager = TrainingManager()
    manager.start(FineTuneRequest(name="tuned", model_id="default", owner="Ada",
                                  database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    final = manager.wait(TIMEOUT_S)
    assert final.status == "failed" and "the collection has 0" in final.error
    assert list(isolated_dirs["runs"].iterdir()) == []
