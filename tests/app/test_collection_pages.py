"""The collection in the app: labelling a reading (Draw), the collected drawings (Explore), fine-tuning (Train)."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import app_state
from digit_core import config
from digit_core.store import registry
from digit_core.training import runs
from digit_core.store.atomic import atomic_write_json
from digit_core.store.collection import Collection
from digit_core.store.drawings import LabelledDrawing
from digit_core.training.finetune import FineTuneRequest
from digit_core.training.jobs import TrainingSnapshot
from digit_core.data.synthetic import digit_styles, render_strokes

GARBAGE = b"not a database, just some bytes\n" * 300


@pytest.fixture
def database(app_dirs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own collection file (the app keeps one connection per database)."""
    path = tmp_path / "collection.db"
    monkeypatch.setenv(config.DB_ENV, str(path))
    return path


def _stored(database: Path) -> list:
    collection = Collection.open(f"sqlite:///{database}")
    try:
        return collection.drawings()
    finally:
        collection.close()


def _png_of(digit: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(render_strokes(digit_styles(digit)[0])[..., :3]).save(buffer, format="PNG")
    return buffer.getvalue()


def _button(at: AppTest, label: str):
    (button,) = [button for button in at.button if button.label == label]
    return button


def test_right_and_it_was_store_an_upload_once_with_its_label(open_page, database: Path) -> None:
    at = open_page("draw").run()
    at.text_input(key=app_state.USER_NAME).set_value("Ada").run()
    at.file_uploader[0].set_value([("seven.png", _png_of(7), "image/png")]).run()
    assert not at.exception
    read = int(at.metric[0].value)
    assert [button.label for button in at.button] == ["Clear", "Right", *map(str, range(10))]  # canvas, upload

    _button(at, "Right").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == f"Saved as a {read} (drawing #1). Thank you!"
    (stored,) = _stored(database)
    assert (stored.label, stored.predicted, stored.who, stored.model_id) == (read, read, "Ada", "default")

    _button(at, "Right").click().run()  # a double click
    assert at.success[0].value == f"Already saved as a {read} (drawing #1)."
    other = (read + 1) % 10
    _button(at, str(other)).click().run()  # "It was: ..."
    assert at.success[0].value == f"Drawing #1 is now saved as a {other}."
    assert [(drawing.id, drawing.label) for drawing in _stored(database)] == [(1, other)]
    collection = Collection.open(f"sqlite:///{database}")
    png = collection.image_png(1)
    collection.close()
    as_uploaded = np.asarray(Image.open(io.BytesIO(_png_of(7))))
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                                               cv2.COLOR_BGR2RGB), as_uploaded)


def test_with_a_corrupt_database_drawing_still_works_and_saving_says_why(open_page, database: Path) -> None:
    database.write_bytes(GARBAGE)
    at = open_page("draw").run()
    at.file_uploader[0].set_value([("seven.png", _png_of(7), "image/png")]).run()
    assert not at.exception and not at.error
    assert at.metric[0].label == "Prediction"
    _button(at, "Right").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith(f"Not saved: The collection's database ({database}) cannot be opened: "
                                  "file is not a database. Move the file aside")
    assert at.metric[0].label == "Prediction"  # the reading is still shown
    assert database.read_bytes() == GARBAGE


def _fill(database: Path, drawings: list[tuple[int, str]]) -> None:
    rng = np.random.default_rng(0)
    collection = Collection.open(f"sqlite:///{database}")
    for label, who in drawings:
        collection.add(LabelledDrawing(image_png=_png_of(label), model_input=rng.integers(0, 256, (28, 28), np.uint8),
                                       label=label, predicted=label, confidence=0.9, model_id="default", who=who))
    collection.close()


def _explore_collection(open_page) -> AppTest:
    at = open_page("explore").run()
    at.radio(key=app_state.EXPLORE_SOURCE).set_value(app_state.COLLECTION_SOURCE).run()
    assert not at.exception
    return at


def test_explore_shows_the_collection_and_the_active_model_on_it(open_page, database: Path) -> None:
    _fill(database, [(3, "Ada"), (3, "Bob"), (8, "Ada"), (1, "Ada")])
    at = _explore_collection(open_page)
    assert not at.error
    people = at.dataframe[0].value
    assert people["who"].tolist() == ["Ada", "Bob"] and people["drawings"].tolist() == [3, 1]
    assert people["3"].tolist() == [1, 1] and people["8"].tolist() == [1, 0]
    counts = at.get("plotly_chart")[0].proto.spec
    assert '"name":"collected"' in counts
    assert at.metric[0].label == "Accuracy" and at.metric[0].value.endswith("%")
    assert "Confusion matrix" in at.get("plotly_chart")[1].proto.spec
    assert len(at.get("image")) == 2  # the grid, and the drawing chosen for deletion as drawn
    at.selectbox(key=app_state.COLLECTED_DIGIT).set_value(3).run()
    assert not at.exception and len(at.get("image")) == 2
    # The view is in the address, to share like any other Explore view.
    assert at.query_params["source"] == app_state.COLLECTION_SOURCE and at.query_params["digit"] == "3"


def test_explore_deletes_one_drawing_and_my_drawings(open_page, database: Path) -> None:
    _fill(database, [(3, "Ada"), (3, "Bob"), (8, "Ada"), (1, "Ada")])
    at = _explore_collection(open_page)
    drawing = at.selectbox[1]
    assert drawing.options[0] == "#4: a 1 by Ada"  # newest first
    drawing.set_value(2)
    _button(at, "Delete this drawing").click().run()
    assert not at.exception
    assert [stored.id for stored in _stored(database)] == [1, 3, 4]
    at.text_input(key=app_state.USER_NAME).set_value("Ada").run()
    _button(at, "Delete my drawings (3, saved as Ada)").click().run()
    assert not at.exception
    assert _stored(database) == []
    assert "No drawings yet" in at.info[0].value


def test_explore_with_a_corrupt_database_says_so(open_page, database: Path) -> None:
    database.write_bytes(GARBAGE)
    at = _explore_collection(open_page)
    (error,) = at.error
    assert f"The collection's database ({database}) cannot be opened: file is not a database" in error.value


class StubManager:
    def __init__(self, snapshot: TrainingSnapshot | None = None) -> None:
        self._snapshot, self.requests = snapshot, []

    def snapshot(self) -> TrainingSnapshot | None:
        return self._snapshot

    def start(self, request) -> None:
        self.requests.append(request)


def test_fine_tuning_starts_from_the_active_model(open_page, database: Path, monkeypatch) -> None:
    _fill(database, [(digit, "Ada") for digit in range(10)] * 2)
    manager = StubManager()
    monkeypatch.setattr(app_state, "training_manager", lambda: manager)
    at = open_page("train").run()
    assert not at.exception
    assert any("Starts from the active model, **default**, and learns the 20 drawings" in caption.value
               for caption in at.caption)
    at.slider(key="fine_tune_epochs").set_value(2).run()
    _button(at, "Fine-tune").click().run()
    assert not at.exception
    (request,) = manager.requests
    assert isinstance(request, FineTuneRequest)
    assert (request.model_id, request.training.epochs, request.name) == ("default", 2, "default-tuned")


def test_a_finished_fine_tune_shows_before_and_after_and_can_be_made_active(open_page, app_dirs, database: Path,
                                                                              monkeypatch) -> None:
    run_dir = runs.new_run_dir(app_dirs["runs"], "default-tuned")
    shutil.copy(app_dirs["models"] / "default.keras", run_dir / "best.keras")
    atomic_write_json(run_dir / "config.json", {"name": "default-tuned", "training": {"normalization": "scale"}})
    runs.write_status(run_dir, "completed")
    report = {"held_back": {"n": 40, "before": 0.9, "after": 0.95},
              "mnist_test": {"n": 10_000, "before": 0.9966, "after": 0.9963}}
    snapshot = TrainingSnapshot(status="completed", owner="Ada", owner_id="ada", name="default-tuned", epochs=4,
                                epoch=4, run_dir=run_dir, started=time.time(), metrics=MappingProxyType(
                                    {"test_accuracy": 0.9963, "fine_tuned_from": "default", "report": report}))
    monkeypatch.setattr(app_state, "training_manager", lambda: StubManager(snapshot))
    at = open_page("train")
    at.session_state[app_state.SESSION_ID] = "ada"
    at.run()
    assert not at.exception
    rows = at.table[0].value
    assert rows["measured on"].tolist() == ["held-back collected drawings (40)", "MNIST test (10,000)"]
    assert rows["before"].tolist() == ["90.00%", "99.66%"] and rows["after"].tolist() == ["95.00%", "99.63%"]
    assert rows["change"].tolist() == ["+5.00 points", "-0.03 points"]
    _button(at, "Make the fine-tuned model active").click().run()
    assert not at.exception and not at.error
    assert registry.active_model_id() == "default-tuned"
    assert (app_dirs["models"] / "default-tuned.keras").is_file()
