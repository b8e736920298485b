"""What the model-comparison study trains: its scales, and one spec per model it measures.

``experiment_specs`` lists the study in order: the notebooks' models, the one-change-at-a-time
experiments from a fixed base (MLP 128-128, Adam, batch 128), and the classical baselines.
``build_estimator`` turns a spec into an estimator with the shared fit / predict_proba interface.
Running and recording the study is ``digit_core.study.compare``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digit_core import config
from digit_core.models import zoo

VALIDATION_FRACTION = 0.1
NOTEBOOK_EXPERIMENT = "notebook models"
NOTEBOOK_MODELS = ("slp", "mlp_128_128", "mlp_300_100", "mlp_64_64", "mlp_128_dropout", "mlp_512_dropout",
                   "cnn_32_64", "cnn_32_64_64", "best")
CLASSICAL_MODELS = ("logistic_regression", "svm_rbf", "random_forest", "knn")

# The fixed base of the one-change-at-a-time experiments: MLP 128-128, ReLU, Adam, batch 128.
BASE_NETWORK = zoo.MLPConfig(hidden_units=(128, 128))
BASE_TRAINING = zoo.TrainConfig(optimizer="adam", batch_size=128, validation_split=VALIDATION_FRACTION)
OPTIMIZER_LABELS = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam"}
# (experiment, setting label, network changes, training changes) relative to the base.
BASE_EXPERIMENTS: tuple[tuple[str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("dropout", "no dropout", {}, {}),
    ("dropout", "dropout 0.3", {"dropout_rate": 0.3}, {}),
    *(("hidden width", f"{units} units", {"hidden_units": (units, units)}, {}) for units in (64, 128, 512)),
    *(("depth", f"{depth} hidden layer{'s' * (depth > 1)}", {"hidden_units": (128,) * depth}, {})
      for depth in (1, 2, 3)),
    *(("optimizer", label, {}, {"optimizer": name}) for name, label in OPTIMIZER_LABELS.items()),
    *(("batch size", f"batch {size}", {}, {"batch_size": size}) for size in (32, 128, 512)),
)


@dataclass(frozen=True)
class StudyScale:
    """How big the study is: the full run, or ``--quick`` (seconds per model, for tests)."""

    mode: str
    train_size: int | None  # images of the training split used; None: all of it
    validation_size: int | None
    test_size: int | None
    base_epochs: int  # epochs of the one-change-at-a-time experiments
    epoch_settings: tuple[int, ...]  # the number-of-epochs experiment
    mlp_epoch_cap: int | None  # notebook perceptron and MLPs train min(their notebook's epochs, this)
    cnn_epoch_cap: int | None  # notebook CNNs; None: their notebook's own epochs
    classical_sizes: dict[str, int]  # training images per classical model, when fewer than train_size
    best_epoch_cap: int  # when ``best`` is trained rather than loaded: it is by far the slowest model
    best_train_size: int | None
    timing_images: int  # test images in the batch timed for predict_ms_per_image
    proxy_size: int | None = None  # images of each handwriting proxy set read; None: all of them


# The full study trains every notebook model with its notebook's own recipe, uncapped.
FULL = StudyScale("full", None, None, None, base_epochs=3, epoch_settings=(1, 3, 10), mlp_epoch_cap=None,
                  cnn_epoch_cap=None, classical_sizes={"svm_rbf": 10_000, "logistic_regression": 20_000},
                  best_epoch_cap=1, best_train_size=None, timing_images=1000)
QUICK = StudyScale("quick", 3000, 500, 1000, base_epochs=1, epoch_settings=(1, 2, 3), mlp_epoch_cap=1,
                   cnn_epoch_cap=1, classical_sizes={"svm_rbf": 1000, "logistic_regression": 1000,
                                                      "random_forest": 1000, "knn": 1000},
                   best_epoch_cap=1, best_train_size=1000, timing_images=200, proxy_size=300)
# Why a notebook model has no notebook figure to be held to.
NOTEBOOK_NOTES = {"cnn_32_64": 'Its notebook reports only "98%", so no figure is recorded for it.'}
CLASSICAL_SUBSET_REASONS = {
    "svm_rbf": "an RBF SVM's fit grows with the square of the images and its calibration fits it 4 times",
    "logistic_regression": "L-BFGS on 784 raw pixels needs ~200 passes over the data; 20k images keep the fit "
                           "to minutes on a shared 2-core machine",
}


@dataclass(frozen=True)
class ModelSpec:
    """One model of the study: what to fit and how to label its results."""

    experiment: str
    name: str
    setting: str  # the value this entry varies within its experiment, for charts and conclusions
    family: str
    description: str = ""
    network: zoo.NetworkConfig | None = None
    training: zoo.TrainConfig | None = None
    classical: str | None = None
    saved_model: str | None = None  # evaluate this .keras file instead of training
    notebook_test_accuracy: float | None = None  # what the model's notebook reported, where it did
    train_size: int | None = None  # None: the study's whole training split
    subset_reason: str = ""
    note: str = ""

    def run_key(self) -> tuple:
        """Specs with equal keys train the same model on the same data, so one run serves both."""
        return (self.network, self.training, self.classical, self.saved_model, self.train_size)


def experiment_specs(scale: StudyScale = FULL, seed: int = 0, shipped_best: Path | None = None) -> list[ModelSpec]:
    """Every model of the study, in order; ``shipped_best`` is evaluated instead of training ``best``."""
    return (_notebook_specs(scale, seed, shipped_best) + _base_experiment_specs(scale, seed)
            + _classical_specs(scale))


def _notebook_specs(scale: StudyScale, seed: int, shipped_best: Path | None) -> list[ModelSpec]:
    specs = []
    for name in NOTEBOOK_MODELS:
        entry = zoo.get_entry(name)
        common = {"experiment": NOTEBOOK_EXPERIMENT, "name": name, "setting": name, "family": entry.family,
                  "description": entry.description, "notebook_test_accuracy": entry.notebook_test_accuracy}
        if name == "best" and shipped_best is not None:
            architecture = _saved_architecture(shipped_best)
            specs.append(ModelSpec(**common, saved_model=display_path(shipped_best),
                                   note=f"The shipped {shipped_best.name}{architecture}, evaluated, not retrained: "
                                        "training the best recipe from scratch does not fit the study's time budget."))
            continue
        if name == "best":
            cap = scale.best_epoch_cap
        else:
            cap = scale.cnn_epoch_cap if entry.family == "cnn" else scale.mlp_epoch_cap
        epochs = entry.training.epochs if cap is None else min(entry.training.epochs, cap)
        note = (f"Its recipe trains {entry.training.epochs} epochs; capped at {epochs} here to fit the study's "
                "time budget." if epochs < entry.training.epochs else "")
        note = " ".join(filter(None, [note, NOTEBOOK_NOTES.get(name, "")]))
        if name == "best":
            note += f" There was no shipped {config.DEFAULT_MODEL_ID}.keras to evaluate instead."
        train_size, reason = None, ""
        if name == "best" and scale.best_train_size is not None:
            train_size = scale.best_train_size
            reason = "the augmented batch-normalised CNN is the slowest model per image"
        training = zoo.with_overrides(entry.training, epochs=epochs, seed=seed,
                                      validation_split=VALIDATION_FRACTION)
        specs.append(ModelSpec(**common, network=entry.network, training=training, train_size=train_size,
                               subset_reason=reason, note=note))
    return specs


def _saved_architecture(path: Path) -> str:
    """`` (ensemble of 3 × CNN …)`` from a saved model's metadata, or "" when it names none."""
    from digit_core.store.registry import metadata_beside

    try:
        architecture = metadata_beside(path).get("architecture", "")
    except (OSError, ValueError):
        return ""
    return f" ({architecture})" if architecture else ""


def _base_experiment_specs(scale: StudyScale, seed: int) -> list[ModelSpec]:
    base_training = zoo.with_overrides(BASE_TRAINING, epochs=scale.base_epochs, seed=seed)
    variations = list(BASE_EXPERIMENTS) + [
        ("epochs", f"{epochs} epoch{'s' * (epochs > 1)}", {}, {"epochs": epochs}) for epochs in scale.epoch_settings]
    specs = []
    for experiment, setting, network_changes, training_changes in variations:
        network = zoo.with_overrides(BASE_NETWORK, **network_changes)
        training = zoo.with_overrides(base_training, **training_changes)
        description = (f"MLP {'-'.join(map(str, network.hidden_units))}, dropout {network.dropout_rate}, "
                       f"{OPTIMIZER_LABELS[training.optimizer]}, batch {training.batch_size}, "
                       f"{training.epochs} epoch{'s' * (training.epochs > 1)}")
        specs.append(ModelSpec(experiment, f"{experiment}: {setting}", setting, "mlp", description,
                               network=network, training=training))
    return specs


def _classical_specs(scale: StudyScale) -> list[ModelSpec]:
    specs = []
    for name in CLASSICAL_MODELS:
        size = scale.classical_sizes.get(name)
        if size is None:
            reason = ""
        elif scale.mode == "full":
            reason = CLASSICAL_SUBSET_REASONS[name]
        else:
            reason = f"{scale.mode} mode: a small subset keeps every model to seconds"
        specs.append(ModelSpec("classical baselines", name, name, "classical",
                               f"scikit-learn {name.replace('_', ' ')} (see digit_core.models.classical)",
                               classical=name, train_size=size, subset_reason=reason))
    return specs


def build_estimator(spec: ModelSpec, seed: int):
    """The estimator a spec describes; all share fit / predict_proba / score and their fitted facts."""
    from digit_core.models.classical import make_classical
    from digit_core.models.estimators import KerasClassifier, SavedKerasClassifier

    if spec.classical is not None:
        return make_classical(spec.classical, seed=seed)
    if spec.saved_model is not None:
        # A path inside the project is stored relative to it (see _display_path).
        return SavedKerasClassifier(config.PROJECT_ROOT / spec.saved_model, name=spec.name)
    return KerasClassifier(spec.network, spec.training, name=spec.name)


def display_path(path: Path) -> str:
    """``path`` relative to the project when it lies inside it, so results name no machine's folders."""
    try:
        return str(path.resolve().relative_to(config.PROJECT_ROOT))
    except ValueError:
        return str(path)
