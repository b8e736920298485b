"""The app's shared state: cached loaders and the names of its session-state keys.

This is the only app module that uses ``st.cache_resource`` / ``st.cache_data``. Resources (models,
datasets, the training manager) are shared by every session of the server; data caches (profiles,
evaluations) are keyed by what they depend on, a model's file and modification time included, so a
retrained or replaced model is never served stale.
"""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digit_core import data, registry
from digit_core.jobs import TrainingManager
from digit_core.profile import DatasetProfile, profile_dataset

if TYPE_CHECKING:
    from digit_core.evaluate import Evaluation
    from digit_core.explain import Explainer
    from digit_core.predict import Predictor

# Session-state keys.
SESSION_ID = "session_id"  # opaque id of this browser session; only it may stop the run it started
USER_NAME = "user_name"  # the name other sessions see while this session trains
MODEL_ID = "model_id"  # the model picked on Draw, Evaluate and Model (one choice for all three)
CANVAS_VERSION = "canvas_version"  # bumped by "Clear": a new canvas key gives an empty canvas
BRUSH_WIDTH = "brush_width"
DRAW_MODE = "draw_mode"  # the Draw page reads one of DRAW_MODES
DRAW_MODES = ("One digit", "A number")
NUMBER_MODE = DRAW_MODES[1]
EXPLORE_SOURCE = "explore_source"
EVALUATE_TRUE = "evaluate_true_digit"  # the confusion-matrix cell shown: true digit ...
EVALUATE_PREDICTED = "evaluate_predicted_digit"  # ... and predicted digit
EVALUATE_CLICKED = "evaluate_clicked_cell"  # the last confusion cell clicked, applied once to the two above
SEEN_TRAINING_ACTIVE = "seen_training_active"  # the Train page's live panel saw a run in progress
PAST_RUNS = "past_runs"  # run ids chosen for the overlay of curves
EXPLAIN_DRAWING = "explain_drawing"  # the Draw tab's "Why this answer" switch
EXPLAIN_UPLOAD = "explain_upload"  # prefix of each upload card's switch (followed by the file's id)
EXPLAIN_TEST_DIGIT = "explain_test_digit"  # the Evaluate page's test image picked to explain

MNIST_SOURCES = {"MNIST train": "train", "MNIST test": "test"}
USPS_SOURCES = {"USPS train": "train", "USPS test": "test"}
# pendigits' pen strokes are shown drawn once on a canvas and read by the pipeline, as the app would.
PENDIGITS_SOURCES = {"pendigits training writers": "train", "pendigits held-out writers": "held out"}
OPTDIGITS_SOURCES = {"optdigits tra": "tra", "optdigits cv": "cv"}
SOURCE_FAMILIES = (MNIST_SOURCES, USPS_SOURCES, PENDIGITS_SOURCES, OPTDIGITS_SOURCES)
CSV_SOURCE = "Uploaded CSV"
SOURCES = (*MNIST_SOURCES, *USPS_SOURCES, *PENDIGITS_SOURCES, *OPTDIGITS_SOURCES, CSV_SOURCE)
NO_MODEL_HELP = ("Train one with `python -m digit_core train --preset best --out models/default.keras` "
                 "(or on the Train page, then make it active), or pick another model.")


def use_number_mode() -> None:
    """Switch the Draw page to reading numbers (a button's callback, so it runs before the page)."""
    st.session_state[DRAW_MODE] = NUMBER_MODE


def session_id() -> str:
    """This session's opaque id, created on first use."""
    return st.session_state.setdefault(SESSION_ID, uuid.uuid4().hex)


def user_name() -> str:
    """The name this session trains under: the one typed on the Train page, else 'visitor <id>'."""
    return (st.session_state.get(USER_NAME) or "").strip() or f"visitor {session_id()[:4]}"


@st.cache_resource(show_spinner=False)
def training_manager() -> TrainingManager:
    """The server's one training manager, shared by every session (one run at a time)."""
    return TrainingManager()


@st.cache_resource(show_spinner="Loading the model…", max_entries=6)
def _predictor_for_file(path: str, modified: float) -> Predictor:
    from digit_core.predict import Predictor

    return Predictor.from_file(path)


def predictor(model_id: str) -> Predictor:
    """A loaded predictor for a registry id; raises ``registry.ModelLoadError`` when it cannot load."""
    path = registry.resolve(model_id)
    return _predictor_for_file(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="Preparing the explanations…", max_entries=3)
def _explainer_for_file(path: str, modified: float) -> Explainer:
    from digit_core.explain import Explainer

    return Explainer.from_file(path)


def explainer(model_id: str) -> Explainer:
    """The cached explainer of a registry id; raises ``registry.ModelLoadError`` when it cannot load."""
    path = registry.resolve(model_id)
    return _explainer_for_file(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist() -> data.MnistData:
    """MNIST, loaded once per server (the arrays are shared: never modify them)."""
    return data.load_mnist(allow_download=False)


@st.cache_resource(show_spinner="Loading USPS…")
def usps(split: str) -> tuple[np.ndarray, np.ndarray]:
    return data.load_usps(split)


@st.cache_resource(show_spinner="Preparing the USPS test digits the way MNIST was made…")
def usps_test_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """USPS test digits through the preprocessing pipeline, as uint8 (N, 28, 28), with labels."""
    from digit_core.writers import scan_as_mnist

    images, labels = usps("test")
    return scan_as_mnist(images), labels


def dataset(source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a built-in source (one of SOURCES except the uploaded CSV)."""
    if source in MNIST_SOURCES:
        loaded = mnist()
        splits = {"train": (loaded.x_train, loaded.y_train), "test": (loaded.x_test, loaded.y_test)}
        return splits[MNIST_SOURCES[source]]
    if source in PENDIGITS_SOURCES:
        return pen_writers(PENDIGITS_SOURCES[source])
    if source in OPTDIGITS_SOURCES:
        return data.load_optdigits(OPTDIGITS_SOURCES[source])
    return usps(USPS_SOURCES[source])


@st.cache_resource(show_spinner="Drawing the pen strokes on a canvas and reading them…")
def pen_writers(split: str) -> tuple[np.ndarray, np.ndarray]:
    """pendigits' training (``"train"``) or held-out writers' digits, each drawn once (seeded) and
    preprocessed: uint8 (N, 28, 28) and labels."""
    from digit_core import writers

    train, held_out = writers.split_pen_writers(data.load_pendigits())
    return writers.pen_digits_as_mnist(train if split == "train" else held_out, np.random.default_rng(0))


def sibling_sources(source: str) -> dict[str, str]:
    """The built-in sources of the same dataset as ``source``, by split ({} for the uploaded CSV)."""
    for family in SOURCE_FAMILIES:
        if source in family:
            return {split: name for name, split in family.items()}
    return {}


@st.cache_data(show_spinner="Reading the CSV…", max_entries=2)
def csv_digits(content: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of an uploaded CSV; raises ``CsvFormatError`` listing its problems."""
    from digit_core.csv_import import read_digits_csv

    stream = io.BytesIO(content)
    stream.name = name  # the reader's messages name the uploaded file
    return read_digits_csv(stream)


@st.cache_data(show_spinner="Analysing the data…", max_entries=8)
def profile(source: str, csv_content: bytes = b"", csv_name: str = "") -> DatasetProfile:
    """The profile of a built-in source, or of the uploaded CSV when ``source`` is CSV_SOURCE."""
    images, labels = csv_digits(csv_content, csv_name) if source == CSV_SOURCE else dataset(source)
    return profile_dataset(images, labels)


@st.cache_data(show_spinner="Evaluating the model…", max_entries=8)
def _evaluation_for_file(path: str, modified: float, on: str) -> Evaluation:
    from digit_core.evaluate import evaluate

    images, labels = usps_test_as_mnist() if on == "usps" else (mnist().x_test, mnist().y_test)
    return evaluate(_predictor_for_file(path, modified).probabilities, images, labels)


def evaluation(model_id: str, on: str = "mnist") -> Evaluation:
    """The model's evaluation on the MNIST test set (``on="usps"``: the USPS test set), cached."""
    path = registry.resolve(model_id)
    return _evaluation_for_file(str(path), path.stat().st_mtime, on)


@st.cache_data(show_spinner="Building the network…", max_entries=32)
def layer_rows(network_json: str) -> list[dict]:
    """The layer table of a network config given as JSON (so the cache can key on it)."""
    import json

    from digit_core import zoo
    from digit_core.inspect_model import layer_table

    return layer_table(zoo.build_network(zoo.network_from_dict(json.loads(network_json))))


def use_app_navigation() -> None:
    """Make sure a page runs inside app.py's navigation, even for the first visitor after a restart.

    Streamlit treats a ``pages/`` folder as its older automatic navigation until the entry script has
    called ``st.navigation`` once. A first visitor opening a deep link such as ``/train`` would get
    that page alone (no wide layout, a sidebar of file names); switching the old mode off and
    rerunning hands the request to app.py, which shows the same page inside its navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
