"""Averaging ensembles: several trained networks saved as one model that averages their probabilities.

An ensemble is an ordinary Keras functional model (input → each member → ``Average``), so the
registry, the predictor, the app and the CLI load and use it like any other ``.keras`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digit_core.store import registry


def check_member_count(count: int) -> None:
    if count < 2:
        raise ValueError(f"An ensemble needs at least two models, got {count}.")


def average_models(members: list[Any], name: str = "ensemble") -> Any:
    """One model whose output is the mean of the members' (N, 10) probabilities."""
    import keras

    check_member_count(len(members))
    for member in members:
        if tuple(member.input_shape[1:]) != (28, 28, 1) or tuple(member.output_shape[1:]) != (10,):
            raise ValueError(f"Model {member.name!r} does not map (28, 28, 1) images to 10 classes.")
    inputs = keras.Input(shape=(28, 28, 1))
    outputs = []
    for index, member in enumerate(members):
        # Layer names must be unique inside one model, and members often share theirs.
        renamed = keras.Sequential(member.layers, name=f"member_{index}")
        outputs.append(renamed(inputs))
    return keras.Model(inputs, keras.layers.Average(name="average")(outputs), name=name)


def member_summary(path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """What the ensemble's metadata records about one member."""
    kept = ("name", "from_run", "test_accuracy", "train_seconds", "training", "network", "extra_usps",
            "extra_writers")
    return {"file": path.name, **{key: metadata[key] for key in kept if key in metadata}}


def build_ensemble(member_paths: list[Path], name: str) -> tuple[Any, dict[str, Any]]:
    """Load the members (safe mode) and average them; returns the model and its metadata."""
    members = [registry.load_keras_model(path) for path in member_paths]
    summaries = [member_summary(path, registry.metadata_beside(path)) for path in member_paths]
    trainings = [summary.get("training", {}) for summary in summaries]
    normalizations = {training.get("normalization", "scale") for training in trainings}
    recipes = [{key: value for key, value in training.items() if key != "seed"} for training in trainings]
    if len(normalizations) != 1:
        raise ValueError("The members were trained with different input normalisations "
                         f"({', '.join(sorted(normalizations))}); an ensemble needs them all the same.")
    architectures = sorted({registry.describe_network(summary.get("network", {})) or "network"
                            for summary in summaries})
    metadata = {
        "name": name,
        "architecture": f"ensemble of {len(members)} × {' + '.join(architectures)}",
        # The members' recipe when they share one, seeds aside (it says how they were trained).
        "training": recipes[0] if all(recipe == recipes[0] for recipe in recipes)
        else {"normalization": normalizations.pop()},
        "members": summaries,
        # The ensemble's training time is its members' training time together.
        "train_seconds": round(sum(summary.get("train_seconds", 0.0) for summary in summaries), 2),
    }
    return average_models(members, name=name), metadata
