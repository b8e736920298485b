"""Evaluation as data: loss, accuracy, per-class report, confusion matrix and mistakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ProbabilityFunction = Callable[[np.ndarray], np.ndarray]  # images (N, 28, 28) -> probabilities (N, 10)


@dataclass(frozen=True)
class Evaluation:
    """Everything the Evaluate page and the CLI show about a model on a labelled set."""

    n: int
    loss: float  # mean categorical cross-entropy
    accuracy: float
    precision: np.ndarray  # (10,) per class
    recall: np.ndarray  # (10,)
    f1: np.ndarray  # (10,)
    support: np.ndarray  # (10,) true examples per class
    confusion: np.ndarray  # (10, 10): rows are true labels, columns predictions
    predictions: np.ndarray  # (n,) predicted labels
    confidences: np.ndarray  # (n,) probability of the predicted label
    misclassified: np.ndarray  # indices of wrong predictions, most confident mistakes first

    def report_rows(self) -> list[dict[str, float | int | str]]:
        """The classification report as rows (one per digit, then macro and weighted averages)."""
        rows = [{"label": str(digit), "precision": float(self.precision[digit]),
                 "recall": float(self.recall[digit]), "f1": float(self.f1[digit]),
                 "support": int(self.support[digit])} for digit in range(10)]
        weights = self.support / max(1, self.support.sum())
        rows.append({"label": "macro avg", "precision": float(self.precision.mean()),
                     "recall": float(self.recall.mean()), "f1": float(self.f1.mean()), "support": self.n})
        rows.append({"label": "weighted avg", "precision": float(self.precision @ weights),
                     "recall": float(self.recall @ weights), "f1": float(self.f1 @ weights), "support": self.n})
        return rows

    def summary(self) -> dict[str, float | int]:
        return {"test_accuracy": self.accuracy, "test_loss": self.loss, "n": self.n}


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Evaluate predicted probabilities (n, 10) against integer labels (n,)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), 10):
        raise ValueError(f"Expected probabilities of shape ({len(labels)}, 10), got {probabilities.shape}.")
    if len(labels) == 0:
        raise ValueError("Cannot evaluate on an empty set.")
    predictions = probabilities.argmax(axis=1)
    confidences = probabilities.max(axis=1)
    true_probability = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    true_positives = np.diag(confusion).astype(np.float64)
    predicted_counts, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(true_positives, predicted_counts, out=np.zeros(10), where=predicted_counts > 0)
    recall = np.divide(true_positives, support, out=np.zeros(10), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(10), where=denominator > 0)
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-confidences[wrong], kind="stable")]
    return Evaluation(n=len(labels), loss=float(-np.log(true_probability).mean()),
                      accuracy=float((predictions == labels).mean()), precision=precision, recall=recall,
                      f1=f1, support=support, confusion=confusion, predictions=predictions,
                      confidences=confidences, misclassified=wrong)


def evaluate(predict_proba: ProbabilityFunction, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Evaluate any model given as a function from images to probabilities."""
    return evaluate_probabilities(predict_proba(images), labels)
