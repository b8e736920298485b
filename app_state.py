"""The app's shared state: cached loaders and the names of its session-state keys.

This is the only app module that uses ``st.cache_resource`` / ``st.cache_data``. Resources (models,
datasets, the training manager) are shared by every session of the server; data caches (profiles,
evaluations) are keyed by what they depend on, a model's file and modification time included, so a
retrained or replaced model is never served stale.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Container
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from digit_core import config, data
from digit_core.store import registry
from digit_core.training.jobs import TrainingManager
from digit_core.data.profile import DatasetProfile, profile_dataset

if TYPE_CHECKING:
    from digit_core.store.collection import Collection
    from digit_core.data.csv_import import DigitsTable
    from digit_core.inference.evaluate import Evaluation
    from digit_core.inference.explain import Explainer
    from digit_core.inference.predict import Predictor

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
STEPS = "steps"  # prefix of a reading's "Preprocessing steps" expander, open or not (then "drawing" or a file's id)
EXPLAIN_DRAWING = "explain_drawing"  # the Draw tab's "Why this answer" switch
EXPLAIN_UPLOAD = "explain_upload"  # prefix of each upload card's switch (followed by the file's id)
EXPLAIN_TEST_DIGIT = "explain_test_digit"  # the Evaluate page's test image picked to explain
COLLECTED_DIGIT = "collected_digit"  # the digit shown in the grid of collected drawings
EXPLORE_DIGIT = "explore_digit"  # the Explore page's samples: which digit ...
EXPLORE_COUNT = "explore_count"  # ... and how many
READ_CSV = "read_csv"  # the Explore page's switch that reads every digit of an uploaded CSV
EVALUATE_FIRST = "evaluate_first_image"  # the first test image of the Evaluate page's predictions grid
COMPARE_METRIC = "compare_metric"  # the Compare page's training-curve metric
MODEL_LAYER = "model_layer"  # the Model page's layer whose weights are shown

# Upload limits in MB, as Streamlit's uploaders take them (the core checks the bytes again).
IMAGE_UPLOAD_MB = config.MAX_UPLOAD_BYTES // 2 ** 20
CSV_UPLOAD_MB = config.MAX_CSV_UPLOAD_BYTES // 2 ** 20
# The URL's query parameter naming the chosen model; each page names its settings beside it.
URL_MODEL = "model"

MNIST_SOURCES = {"MNIST train": "train", "MNIST test": "test"}
USPS_SOURCES = {"USPS train": "train", "USPS test": "test"}
# pendigits' pen strokes are shown drawn once on a canvas and read by the pipeline, as the app would.
PENDIGITS_SOURCES = {"pendigits training writers": "train", "pendigits held-out writers": "held out"}
OPTDIGITS_SOURCES = {"optdigits tra": "tra", "optdigits cv": "cv"}
SOURCE_FAMILIES = (MNIST_SOURCES, USPS_SOURCES, PENDIGITS_SOURCES, OPTDIGITS_SOURCES)
CSV_SOURCE = "Uploaded CSV"
COLLECTION_SOURCE = "Collected drawings"  # the drawings labelled on the Draw page (digit_core.store.collection)
SOURCES = (*MNIST_SOURCES, *USPS_SOURCES, *PENDIGITS_SOURCES, *OPTDIGITS_SOURCES, CSV_SOURCE, COLLECTION_SOURCE)
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


def keep_user_name() -> None:
    """Keep the name typed on one page for the others (Streamlit forgets a widget's value on pages
    that do not show the widget)."""
    if USER_NAME in st.session_state:
        st.session_state[USER_NAME] = st.session_state[USER_NAME]


@st.cache_resource(show_spinner=False)
def _collection_for(url: str) -> Collection:
    from digit_core.store.collection import Collection

    return Collection.open(url)


def collection() -> Collection:
    """The server's one connection pool to the collection; raises ``CollectionError`` (and is tried
    again next time, not cached) when the database cannot be opened."""
    from digit_core import config

    return _collection_for(config.database_url())


@st.cache_resource(show_spinner=False)
def training_manager() -> TrainingManager:
    """The server's one training manager, shared by every session (one run at a time)."""
    return TrainingManager()


@st.cache_resource(show_spinner="Loading the model…", max_entries=6)
def _predictor_for_file(path: str, modified: float) -> Predictor:
    from digit_core.inference.predict import Predictor

    return Predictor.from_file(path)


def predictor(model_id: str) -> Predictor:
    """A loaded predictor for a registry id; raises ``registry.ModelLoadError`` when it cannot load."""
    path = registry.resolve(model_id)
    return _predictor_for_file(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="Preparing the explanations…", max_entries=3)
def _explainer_for_file(path: str, modified: float) -> Explainer:
    from digit_core.inference.explain import Explainer

    return Explainer.from_file(path)


def explainer(model_id: str) -> Explainer:
    """The cached explainer of a registry id; raises ``registry.ModelLoadError`` when it cannot load."""
    path = registry.resolve(model_id)
    return _explainer_for_file(str(path), path.stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=4)
def _litert_for_file(path: str, modified: float) -> bytes:
    from digit_core.models.export import export_bytes

    return export_bytes(_predictor_for_file(path, modified).model, "litert")


def model_files(model_id: str) -> dict[str, Callable[[], bytes]]:
    """The model's files to download, by ending (.keras, .onnx, .tflite), each made when asked for.

    The ``.onnx`` is the export the predictor runs; the ``.tflite`` is converted on the first click
    (a few seconds) and cached. The functions run outside the page's script, so they draw nothing.
    """
    path = registry.resolve(model_id)
    modified = path.stat().st_mtime
    return {".keras": path.read_bytes,
            ".onnx": lambda: _predictor_for_file(str(path), modified).onnx_model,
            ".tflite": lambda: _litert_for_file(str(path), modified)}


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
    from digit_core.data.writers import scan_as_mnist

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
    from digit_core.data import writers

    train, held_out = writers.split_pen_writers(data.load_pendigits())
    return writers.pen_digits_as_mnist(train if split == "train" else held_out, np.random.default_rng(0))


def sibling_sources(source: str) -> dict[str, str]:
    """The built-in sources of the same dataset as ``source``, by split ({} for the uploaded CSV)."""
    for family in SOURCE_FAMILIES:
        if source in family:
            return {split: name for name, split in family.items()}
    return {}


def seed_from_url(key: str, parameter: str, options: Container, default: object) -> None:
    """Start the widget ``key`` at the URL's ``parameter`` when that is one of ``options`` (compared as
    text, then as a whole number), else at ``default``; a widget that has a state keeps it.

    A shared link so opens the view it was copied from. The widget is then created without a default
    of its own: its state says it all.
    """
    if key in st.session_state:
        return
    text = st.query_params.get(parameter, "")
    for value in (text, int(text) if text.lstrip("-").isdigit() else None):
        if value not in (None, "") and value in options:
            st.session_state[key] = value
            return
    st.session_state[key] = default


def to_url(parameter: str, value: object) -> None:
    """Show a setting in the URL, so that copying the address shares the view."""
    if st.query_params.get(parameter) != str(value):
        st.query_params[parameter] = str(value)


@st.cache_data(show_spinner="Reading the CSV…", max_entries=2)
def csv_digits(content: bytes, name: str) -> DigitsTable:
    """Images and labels (None without a label column) of an uploaded CSV; raises ``CsvFormatError``
    listing its problems."""
    from digit_core.data.csv_import import read_digits_csv

    stream = io.BytesIO(content)
    stream.name = name  # the reader's messages name the uploaded file
    return read_digits_csv(stream)


@st.cache_data(show_spinner="Analysing the data…", max_entries=8)
def profile(source: str, csv_content: bytes = b"", csv_name: str = "") -> DatasetProfile:
    """The profile of a built-in source, or of the uploaded CSV when ``source`` is CSV_SOURCE."""
    images, labels = csv_digits(csv_content, csv_name) if source == CSV_SOURCE else dataset(source)
    return profile_dataset(images, labels)


@st.cache_data(show_spinner="Reading every digit…", max_entries=4)
def _csv_predictions_for_file(path: str, modified: float, csv_content: bytes, csv_name: str) -> np.ndarray:
    images = csv_digits(csv_content, csv_name).images
    return _predictor_for_file(path, modified).probabilities(images).argmax(axis=1).astype(np.uint8)


def csv_predictions(model_id: str, csv_content: bytes, csv_name: str) -> np.ndarray:
    """The digit the model reads in each image of an uploaded CSV (N,), cached."""
    path = registry.resolve(model_id)
    return _csv_predictions_for_file(str(path), path.stat().st_mtime, csv_content, csv_name)


@st.cache_data(show_spinner="Evaluating the model…", max_entries=8)
def _evaluation_for_file(path: str, modified: float, on: str) -> Evaluation:
    from digit_core.inference.evaluate import evaluate

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

    from digit_core.models import zoo
    from digit_core.models.inspect_model import layer_table

    return layer_table(zoo.build_network(zoo.network_from_dict(json.loads(network_json))))


def use_app_navigation() -> None:
    """Make sure a page runs inside app.py's navigation, even for the first visitor after a restart.

    Streamlit treats a ``pages/`` folder as its older automatic navigation until the entry script has
    called ``st.navigation`` once. A first visitor opening a deep link such as ``/train`` would get
    that page alone (no wide layout, a sidebar of file names); switching the old mode off and
    rerunning hands the request to app.py, which shows the same page inside its navigation.

    Every page calls it first, because app.py cannot: in that older mode Streamlit runs the page's
    file without app.py. Streamlit 1.67 has no public setting that turns the mode off while the
    pages stay in ``pages/`` (``client.showSidebarNavigation`` only hides its sidebar).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
