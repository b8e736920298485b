"""Classical scikit-learn baselines behind the same estimator interface as the Keras networks.

Every model sees the images flattened to 784 features scaled to [0, 1]. Choices, and why:

- ``logistic_regression``: multinomial ``LogisticRegression`` (L-BFGS) on the raw pixels.
- ``svm_rbf``: PCA to 50 components, then an RBF ``SVC``. An RBF kernel costs a distance per pair of
  images, and 50 components keep ~83% of the pixel variance at 1/16 of the cost with no loss of
  accuracy on MNIST. ``SVC(probability=True)`` is deprecated in scikit-learn 1.9; its replacement,
  ``CalibratedClassifierCV(SVC(), ensemble=False)``, fits Platt sigmoids on cross-validated decision
  values. Three folds instead of five make that calibration 4 fits instead of 6.
- ``random_forest``: 100 trees, every core the caller allows (``n_jobs``, 1 by default on shared machines).
- ``knn``: PCA to 50 components (distances in 50 dimensions instead of 784), then 5 nearest neighbours.
  Its probabilities are vote fractions (multiples of 0.2), so its log loss is large where it errs.

``n_parameters_`` counts the numbers each fitted model stores to predict: coefficients and intercepts
(logistic regression); support vectors, dual coefficients, intercepts and calibration sigmoids (SVC);
tree nodes (random forest; one split or leaf each); stored training values (KNN); plus the PCA
components and mean where a PCA comes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from digit_core.data.scaling import scale_255
from digit_core.models.estimators import DigitClassifier, ValidationData, check_images, check_labels
from digit_core.models.zoo import NUM_CLASSES

PCA_COMPONENTS = 50


def _logistic_regression(seed: int, n_jobs: int) -> list[tuple[str, object]]:
    return [("model", LogisticRegression(max_iter=200, random_state=seed))]


def _svm_rbf(seed: int, n_jobs: int) -> list[tuple[str, object]]:
    svc = SVC(kernel="rbf", gamma="scale", random_state=seed)
    return [("pca", PCA(PCA_COMPONENTS, random_state=seed)),
            ("model", CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False))]


def _random_forest(seed: int, n_jobs: int) -> list[tuple[str, object]]:
    return [("model", RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=n_jobs))]


def _knn(seed: int, n_jobs: int) -> list[tuple[str, object]]:
    return [("pca", PCA(PCA_COMPONENTS, random_state=seed)),
            ("model", KNeighborsClassifier(n_neighbors=5, n_jobs=n_jobs))]


# Name -> builder of the pipeline's steps; a new baseline is one entry here.
CLASSICAL_BUILDERS: dict[str, Callable[[int, int], list[tuple[str, object]]]] = {
    "logistic_regression": _logistic_regression,
    "svm_rbf": _svm_rbf,
    "random_forest": _random_forest,
    "knn": _knn,
}
CLASSICAL_NAMES = tuple(CLASSICAL_BUILDERS)


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28), uint8 or float in [0, 1], to features (N, 784) float32 in [0, 1]."""
    images = check_images(images)
    features = images.reshape(len(images), -1)
    return scale_255(features) if images.dtype == np.uint8 else features.astype(np.float32)


class ClassicalClassifier(DigitClassifier):
    """A scikit-learn baseline (one of ``CLASSICAL_NAMES``) on flattened images."""

    def __init__(self, kind: str = "logistic_regression", seed: int = 0, n_jobs: int = 1) -> None:
        self.kind = kind
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, X: np.ndarray, y: np.ndarray, validation_data: ValidationData = None) -> "ClassicalClassifier":
        """Fit on images (N, 28, 28) and labels (N,). ``validation_data`` is accepted for the shared
        interface and unused: these models have no epochs to monitor."""
        _check_name(self.kind)
        features = flatten_images(X)
        labels = check_labels(y, len(features))
        pipeline = Pipeline(CLASSICAL_BUILDERS[self.kind](self.seed, self.n_jobs))
        started = time.perf_counter()
        pipeline.fit(features, labels)
        self.train_seconds_ = time.perf_counter() - started
        self.pipeline_ = pipeline
        self.classes_ = np.arange(NUM_CLASSES)
        self.n_parameters_ = count_parameters(pipeline)
        self.train_size_ = len(features)
        self.epochs_ = self.batch_size_ = self.optimizer_ = None
        self.history_: dict[str, list[float]] = {}
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10); a digit absent from the training data gets probability 0."""
        check_is_fitted(self, "pipeline_")
        fitted = self.pipeline_.predict_proba(flatten_images(X))
        probabilities = np.zeros((len(fitted), NUM_CLASSES))
        probabilities[:, self.pipeline_.classes_.astype(np.int64)] = fitted
        return probabilities


def make_classical(name: str, seed: int = 0, n_jobs: int = 1) -> ClassicalClassifier:
    """The baseline called ``name`` (see ``CLASSICAL_NAMES``), seeded; a ValueError for unknown names."""
    _check_name(name)
    return ClassicalClassifier(kind=name, seed=seed, n_jobs=n_jobs)


def _check_name(name: str) -> None:
    if name not in CLASSICAL_BUILDERS:
        raise ValueError(f"Unknown classical model {name!r}; choose one of {', '.join(CLASSICAL_NAMES)}.")


def count_parameters(pipeline: Pipeline) -> int:
    """Numbers a fitted pipeline stores to predict (see the module docstring for what is counted)."""
    total = 0
    for _, step in pipeline.steps:
        if isinstance(step, PCA):
            total += step.components_.size + step.mean_.size
        elif isinstance(step, LogisticRegression):
            total += step.coef_.size + step.intercept_.size
        elif isinstance(step, CalibratedClassifierCV):
            calibrated = step.calibrated_classifiers_[0]
            svc = calibrated.estimator
            total += svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size
            total += 2 * len(calibrated.calibrators)  # one sigmoid (slope, offset) per class
        elif isinstance(step, RandomForestClassifier):
            total += sum(tree.tree_.node_count for tree in step.estimators_)
        elif isinstance(step, KNeighborsClassifier):
            total += step.n_samples_fit_ * step.n_features_in_
        else:
            raise ValueError(f"Cannot count the parameters of {type(step).__name__}.")
    return int(total)
