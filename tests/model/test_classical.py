"""The classical baselines and the Keras estimators share one scikit-learn-style interface."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from digit_core.models import zoo
from digit_core.models.classical import CLASSICAL_NAMES, PCA_COMPONENTS, ClassicalClassifier, make_classical
from digit_core.models.estimators import KerasClassifier, SavedKerasClassifier

TRAIN_IMAGES, TEST_IMAGES = 2000, 500
# Every baseline reaches 0.87–0.94 on these 500 test images after training on the first 2,000;
# below 0.8 something is broken (wrong scaling, shuffled labels), not merely untuned.
ACCURACY_FLOOR = 0.8
FITTED_ATTRIBUTES = ("n_parameters_", "train_seconds_", "train_size_", "epochs_", "batch_size_", "optimizer_",
                     "history_", "classes_")


@pytest.fixture(scope="module")
def fitted(mnist) -> dict[str, tuple[ClassicalClassifier, object]]:
    """Each baseline fitted once on the first 2,000 training images, with what ``fit`` returned."""
    x, y = mnist.x_train[:TRAIN_IMAGES], mnist.y_train[:TRAIN_IMAGES]
    models = {}
    for name in CLASSICAL_NAMES:
        model = make_classical(name, seed=0)
        models[name] = (model, model.fit(x, y))
    return models


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSICAL_NAMES)
def test_each_baseline_beats_the_floor_and_fit_returns_self(fitted, mnist, name: str) -> None:
    model, returned = fitted[name]
    assert returned is model
    assert model.score(mnist.x_test[:TEST_IMAGES], mnist.y_test[:TEST_IMAGES]) > ACCURACY_FLOOR
    for attribute in FITTED_ATTRIBUTES:
        assert hasattr(model, attribute), attribute
    assert model.train_size_ == TRAIN_IMAGES and model.train_seconds_ > 0
    assert model.epochs_ is None and model.optimizer_ is None and model.history_ == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSICAL_NAMES)
def test_probabilities_are_ten_per_image_and_agree_with_predict(fitted, mnist, name: str) -> None:
    model, _ = fitted[name]
    images = mnist.x_test[:50]
    probabilities = model.predict_proba(images)
    assert probabilities.shape == (50, 10)
    assert np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(images), probabilities.argmax(axis=1))
    # Float images in [0, 1] are the same images as uint8 0–255.
    np.testing.assert_allclose(model.predict_proba(images / 255.0), probabilities, atol=1e-6)


@pytest.mark.slow
def test_parameter_counts_are_what_the_docstring_says(fitted) -> None:
    pca = PCA_COMPONENTS * 784 + 784  # components and mean
    assert fitted["logistic_regression"][0].n_parameters_ == 784 * 10 + 10
    assert fitted["knn"][0].n_parameters_ == TRAIN_IMAGES * PCA_COMPONENTS + pca
    forest = fitted["random_forest"][0]
    assert forest.n_parameters_ == sum(tree.tree_.node_count for tree in forest.pipeline_[-1].estimators_)
    svm = fitted["svm_rbf"][0]
    svc = svm.pipeline_[-1].calibrated_classifiers_[0].estimator
    assert svm.n_parameters_ == (svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size
                                 + 2 * 10 + pca)
    assert svc.support_vectors_.shape[1] == PCA_COMPONENTS


def test_the_same_seed_gives_the_same_model(mnist) -> None:
    x, y = mnist.x_train[:300], mnist.y_train[:300]
    first = make_classical("random_forest", seed=3).fit(x, y).predict_proba(mnist.x_test[:20])
    second = make_classical("random_forest", seed=3).fit(x, y).predict_proba(mnist.x_test[:20])
    np.testing.assert_array_equal(first, second)


def test_a_digit_missing_from_training_gets_probability_zero(mnist) -> None:
    keep = mnist.y_train[:600] != 9
    model = make_classical("knn").fit(mnist.x_train[:600][keep], mnist.y_train[:600][keep])
    probabilities = model.predict_proba(mnist.x_test[:30])
    assert probabilities.shape == (30, 10) and np.all(probabilities[:, 9] == 0)


def test_bad_names_and_inputs_are_clear_errors(mnist) -> None:
    with pytest.raises(ValueError, match="choose one of logistic_regression"):
        make_classical("xgboost")
    with pytest.raises(NotFittedError):
        make_classical("knn").predict_proba(mnist.x_test[:2])
    model = make_classical("knn").fit(mnist.x_train[:100], mnist.y_train[:100])
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\)"):
        model.predict_proba(np.zeros((3, 784), np.uint8))
    with pytest.raises(ValueError, match="labels"):
        make_classical("knn").fit(mnist.x_train[:10], mnist.y_train[:9])
    # Nothing happens in __init__: an unknown kind is reported when fitting.
    with pytest.raises(ValueError, match="Unknown classical model"):
        ClassicalClassifier(kind="nope").fit(mnist.x_train[:10], mnist.y_train[:10])


def test_keras_classifier_has_the_same_interface(mnist) -> None:
    entry = zoo.get_entry("tiny")
    model = KerasClassifier(entry.network, entry.training, name="tiny")
    returned = model.fit(mnist.x_train[:1000], mnist.y_train[:1000],
                         validation_data=(mnist.x_train[-200:], mnist.y_train[-200:]))
    assert returned is model
    probabilities = model.predict_proba(mnist.x_test[:100])
    assert probabilities.shape == (100, 10) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert 0.3 < model.score(mnist.x_test[:100], mnist.y_test[:100]) <= 1.0
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(model.history_)
    assert model.epochs_ == len(model.history_["loss"]) == entry.training.epochs
    assert model.n_parameters_ == zoo.count_parameters(entry.network)
    assert model.train_seconds_ > 0 and model.train_size_ == 1000
    assert (model.batch_size_, model.optimizer_) == (entry.training.batch_size, entry.training.optimizer)


def test_a_saved_model_is_fitted_by_loading_it(tiny_models_dir, mnist) -> None:
    model = SavedKerasClassifier(tiny_models_dir / "default.keras", name="tiny")
    assert model.fit() is model
    assert model.predict_proba(mnist.x_test[:20]).shape == (20, 10)
    assert model.n_parameters_ == zoo.count_parameters(zoo.get_entry("tiny").network)
    assert model.train_seconds_ is None and model.history_ == {}
