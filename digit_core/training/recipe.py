"""A run's data recipe: how its training images are gathered, what it records of them, and the checks
that a resumed run trains on the same images as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from digit_core.training import runs
from digit_core.models import zoo


# How a run's training images were chosen, as recorded in its config.json ("data"), with the defaults;
# "extra_data" (train --extra-data's CSV) is recorded only when one was given.
DATA_RECIPE = {"subset": None, "extra_usps": False, "extra_writers": False, "extra_data": None, "usps_rescans": 1}


MNIST_TRAIN_IMAGES = 60_000


def training_images(data_dir: Path | None, subset: int | None, extra_usps: bool, seed: int,
                    validation_split: float, extra_writers: bool = False,
                    extra_data: Path | None = None, usps_rescans: int = 1) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val, x_test, y_test) as uint8 images and labels.

    ``extra_usps`` adds USPS train, ``extra_writers`` USPS train and the training writers of pendigits
    and optdigits (``digit_core.data.writers``, USPS rescanned ``usps_rescans`` times), all read through the
    pipeline; ``extra_data`` a
    ``label,pixel0..pixel783`` CSV's images as they are (e.g. ``collection export``'s). Validation
    stays MNIST's.
    """
    from digit_core import data
    from digit_core.data.csv_import import read_digits_csv
    from digit_core.data.writers import other_writers_training_set, scan_as_mnist

    # Before MNIST: a bad CSV fails at once.
    csv_images, csv_labels = read_digits_csv(extra_data) if extra_data is not None else (None, None)
    if extra_data is not None and csv_labels is None:
        raise ValueError(f"{extra_data} has no label column (like Kaggle's test.csv): --extra-data needs "
                         "label,pixel0..pixel783 rows to train on.")
    mnist = data.load_mnist(data_dir)
    x, y = mnist.x_train, mnist.y_train
    if subset is not None:
        if subset < 10:
            raise ValueError(f"--subset must be at least 10 images, got {subset}.")
        x, y = x[:subset], y[:subset]
    x_train, y_train, x_val, y_val = data.validation_split(x, y, validation_split, seed)
    if extra_writers:
        extra_images, extra_labels = other_writers_training_set(seed, usps_rescans=usps_rescans)
    elif extra_usps:
        usps_images, extra_labels = data.load_usps("train")
        extra_images = scan_as_mnist(usps_images)
    if extra_writers or extra_usps:
        x_train = np.concatenate([x_train, extra_images])
        y_train = np.concatenate([y_train, extra_labels])
    if csv_images is not None:
        x_train = np.concatenate([x_train, csv_images])
        y_train = np.concatenate([y_train, csv_labels])
    return x_train, y_train, x_val, y_val, mnist.x_test, mnist.y_test


def check_data_options(extra_writers: bool, usps_rescans: int) -> None:
    """ValueError for data options that do not go together or are out of range."""
    if usps_rescans != 1 and not extra_writers:
        raise ValueError("--usps-rescans only applies with --extra-writers.")
    if not 0 <= usps_rescans <= 10:
        raise ValueError(f"--usps-rescans must be between 0 and 10, got {usps_rescans}.")


def data_description(subset: int | None = None, extra_usps: bool = False, extra_writers: bool = False,
                     extra_data: Path | None = None, usps_rescans: int = 1) -> dict[str, Any]:
    """The ``data`` a run records: ``DATA_RECIPE``'s keys, ``extra_data`` only when a CSV was added and
    ``usps_rescans`` only when it is not the default."""
    data: dict[str, Any] = {"subset": subset, "extra_usps": extra_usps, "extra_writers": extra_writers}
    if extra_data is not None:
        data["extra_data"] = str(extra_data)
    if usps_rescans != 1:
        data["usps_rescans"] = usps_rescans
    return data


def recorded_data_recipe(run_id: str, recorded: dict[str, Any]) -> dict[str, Any]:
    """The run's data recipe (``DATA_RECIPE``'s keys), from its config or, for an older run, its sizes."""
    data = recorded.get("data")
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(DATA_RECIPE))
        if unknown:
            raise ValueError(f"Run {run_id!r} was trained on data this version cannot gather again "
                             f"({', '.join(unknown)}), so it cannot be resumed.")
        return {**DATA_RECIPE, **data}
    # Runs recorded before the data recipe was: MNIST alone tells its size, a subset included.
    images = int(recorded.get("train_size", 0)) + int(recorded.get("validation_size", 0))
    if not 0 < images <= MNIST_TRAIN_IMAGES:
        raise ValueError(f"Run {run_id!r} did not record which data it was trained on and used more than "
                         "MNIST's training images, so it cannot be resumed; start a new run instead.")
    return {**DATA_RECIPE, "subset": None if images == MNIST_TRAIN_IMAGES else images}


def check_same_recipe(run_dir: Path, network: zoo.NetworkConfig, data: dict[str, Any], train_size: int,
                       validation_size: int) -> None:
    """Refuse to continue a run as another network or on other images than it started with."""
    recorded = runs.read_run(run_dir).config
    if recorded.get("network") not in (None, json_ready(zoo.network_to_dict(network))):
        raise ValueError(f"Run {run_dir.name!r} trains another network; resume it with its own recipe.")
    if recorded.get("data") is not None and {**DATA_RECIPE, **recorded["data"]} != {**DATA_RECIPE, **data}:
        raise ValueError(f"Run {run_dir.name!r} was trained on other data ({recorded['data']}); "
                         "resume it with its own recipe.")
    sizes = (recorded.get("train_size", train_size), recorded.get("validation_size", validation_size))
    if sizes != (train_size, validation_size):
        raise ValueError(f"Run {run_dir.name!r} trained on {sizes[0]:,} images and validated on {sizes[1]:,}; "
                         f"these data give {train_size:,} and {validation_size:,}. Is it the same data directory?")


def json_ready(payload: dict[str, Any]) -> dict[str, Any]:
    # Tuples become lists, as in config.json.
    return json.loads(json.dumps(payload))
