"""The collection's database: what a labelled drawing stores, the schema, the limits and deletions.

Every test runs on SQLite, and again on PostgreSQL when DIGIT_TEST_PG_URL is set (``database_url``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from digit_core import config
from digit_core.store.collection import Collection
from digit_core.store.database import SCHEMA_VERSION, CollectionError, CollectionFullError, RateLimitError, schema_table
from digit_core.store.drawings import check_label, counts_by_person, labelled_drawing
from digit_core.inference.predict import Prediction
from digit_core.images.preprocess import Preprocessed
from digit_core.data.synthetic import digit_styles, render_strokes


def drawing_of(digit: int, style: int = 0) -> np.ndarray:
    """A canvas drawing, (280, 280, 4) uint8 RGBA, as the Draw page hands it over."""
    return render_strokes(digit_styles(digit)[style % len(digit_styles(digit))], background="transparent")


def reading(digit: int | None, confidence: float = 0.8, seed: int = 0) -> Prediction:
    """A model's reading of a drawing: the digit, its confidence and a made-up 28×28 input."""
    if digit is None:
        return Prediction(None, 0.0, np.zeros(10, np.float32),
                          Preprocessed(None, False, "No digit found: the image is blank."))
    model_input = np.random.default_rng(seed).random((28, 28), np.float32)
    probabilities = np.full(10, (1 - confidence) / 9, np.float32)
    probabilities[digit] = confidence
    return Prediction(digit, confidence, probabilities, Preprocessed(model_input, True, ""))


@pytest.fixture
def collection(database_url: str):
    opened = Collection.open(database_url)
    yield opened
    opened.close()


def test_a_new_database_gets_the_schema_and_its_version(database_url: str) -> None:
    collection = Collection.open(database_url)
    try:
        with collection.engine.connect() as connection:
            assert connection.execute(sa.select(schema_table.c.version)).scalars().all() == [SCHEMA_VERSION]
            if collection.engine.url.get_backend_name() == "sqlite":
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert collection.drawings() == [] and len(collection.images().ids) == 0
    finally:
        collection.close()
    # Opening it again keeps the one version row and the tables.
    again = Collection.open(database_url)
    with again.engine.connect() as connection:
        assert connection.execute(sa.select(schema_table.c.version)).scalars().all() == [SCHEMA_VERSION]
    again.close()


def test_a_labelled_drawing_keeps_the_image_the_input_the_reading_and_who(collection: Collection) -> None:
    image, prediction = drawing_of(1), reading(7, confidence=0.62)
    before = datetime.now(timezone.utc)
    saved = collection.add(labelled_drawing(image, prediction, "1", model_id="default", who=" Ada ",
                                            session_id="session-a"))
    assert saved.outcome == "stored"
    (stored,) = collection.drawings()
    assert (stored.id, stored.label, stored.predicted, stored.who, stored.model_id) == (saved.id, 1, 7, "Ada", "default")
    assert stored.confidence == pytest.approx(0.62)
    assert before - timedelta(seconds=1) <= stored.created <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert set(stored.to_json()) >= {"id", "label", "predicted", "who", "created"}
    # The PNG is the drawing as drawn, colours and transparency kept.
    png = np.frombuffer(collection.image_png(saved.id), np.uint8)
    decoded = cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    np.testing.assert_array_equal(decoded, image)
    # The model input is the 28×28 the model saw, as 0-255.
    collected = collection.images()
    np.testing.assert_array_equal(collected.images[0], np.round(prediction.preprocessed.image * 255).astype(np.uint8))
    assert collected.labels.tolist() == [1] and collected.predicted.tolist() == [7] and collected.who == ("Ada",)


def test_a_double_click_stores_once_and_a_second_answer_relabels(collection: Collection) -> None:
    image, prediction = drawing_of(4), reading(9)
    first = collection.add(labelled_drawing(image, prediction, 9, model_id="default", who="Ada", session_id="s1"))
    second = collection.add(labelled_drawing(image, prediction, 9, model_id="default", who="Ada", session_id="s1"))
    assert (first.outcome, second.outcome, second.id) == ("stored", "already stored", first.id)
    corrected = collection.add(labelled_drawing(image, prediction, 4, model_id="default", who="Ada", session_id="s1"))
    assert (corrected.outcome, corrected.id) == ("relabelled", first.id)
    assert [drawing.label for drawing in collection.drawings()] == [4]
    # The same pixels from another session, or without a session (the command line), are other drawings.
    other = collection.add(labelled_drawing(image, prediction, 4, model_id="default", who="Bob", session_id="s2"))
    cli = collection.add(labelled_drawing(image, prediction, 4, model_id="default", who="Bob"))
    cli_again = collection.add(labelled_drawing(image, prediction, 4, model_id="default", who="Bob"))
    assert len({first.id, other.id, cli.id, cli_again.id}) == 4


def test_each_session_may_save_only_so_many_drawings_a_minute(database_url: str) -> None:
    collection = Collection.open(database_url, max_per_minute=3)
    try:
        for digit in (0, 1, 2):
            collection.add(labelled_drawing(drawing_of(digit), reading(digit), digit, model_id="m", who="Ada",
                                            session_id="busy"))
        with pytest.raises(RateLimitError, match="3 drawings in the last minute; the limit is 3"):
            collection.add(labelled_drawing(drawing_of(3), reading(3), 3, model_id="m", who="Ada", session_id="busy"))
        # Another session, and the command line (no session), are not held back.
        collection.add(labelled_drawing(drawing_of(3), reading(3), 3, model_id="m", who="Bob", session_id="calm"))
        for _ in range(4):
            collection.add(labelled_drawing(drawing_of(5), reading(5), 5, model_id="m", who="cli"))
        assert len(collection.drawings()) == 3 + 1 + 4
    finally:
        collection.close()


def test_a_full_database_refuses_new_drawings(database_url: str) -> None:
    collection = Collection.open(database_url)
    collection.add(labelled_drawing(drawing_of(6), reading(6), 6, model_id="m", who="Ada"))
    size = collection.size_bytes()
    assert size > 0
    collection.close()
    full = Collection.open(database_url, max_bytes=size)
    try:
        with pytest.raises(CollectionFullError, match="The collection is full.*Delete drawings"):
            full.add(labelled_drawing(drawing_of(8), reading(8), 8, model_id="m", who="Ada"))
        assert [drawing.label for drawing in full.drawings()] == [6]
    finally:
        full.close()


def test_counts_per_person_and_per_digit(collection: Collection) -> None:
    for digit, who in ((1, "Bob"), (7, "Ada"), (7, "Bob"), (1, "Bob")):
        collection.add(labelled_drawing(drawing_of(digit), reading(digit), digit, model_id="m", who=who))
    collected = collection.images()
    rows = counts_by_person(collected.who, collected.labels)
    assert [(row["who"], row["drawings"], row["1"], row["7"]) for row in rows] == [("Bob", 3, 2, 1), ("Ada", 1, 0, 1)]
    assert (collection.count(), collection.count("Bob"), collection.count("nobody")) == (4, 3, 0)


def test_drawings_are_deleted_by_id_and_by_who(collection: Collection) -> None:
    ids = [collection.add(labelled_drawing(drawing_of(digit), reading(digit), digit, model_id="m", who=who)).id
           for digit, who in ((0, "Ada"), (1, "Bob"), (2, "Ada"), (3, "Cy"))]
    assert collection.delete([ids[1], 10_000]) == [ids[1]]
    assert collection.delete_by("Ada") == 2
    assert [(drawing.id, drawing.who) for drawing in collection.drawings()] == [(ids[3], "Cy")]
    assert collection.delete_by("nobody") == 0
    with pytest.raises(KeyError, match=f"No drawing #{ids[0]}"):
        collection.image_png(ids[0])


def test_a_database_from_a_newer_version_is_refused(database_url: str) -> None:
    collection = Collection.open(database_url)
    with collection.engine.begin() as connection:
        connection.execute(schema_table.update().values(version=SCHEMA_VERSION + 1))
    collection.close()
    with pytest.raises(CollectionError, match=f"newer Digit Studio \\(schema version {SCHEMA_VERSION + 1}"):
        Collection.open(database_url)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "collection.db"
    path.write_bytes(b"These are my notes, not a database.\n" * 200)
    with pytest.raises(CollectionError) as raised:
        Collection.open(f"sqlite:///{path}")
    message = str(raised.value)
    assert str(path) in message and "file is not a database" in message and "Move the file aside" in message
    assert path.read_bytes().startswith(b"These are my notes")  # left as it was


@pytest.mark.parametrize("label, expected", [("7", 7), (0, 0), (" 9 ", 9), (np.int64(3), 3)])
def test_labels_are_digits(label: object, expected: int) -> None:
    assert check_label(label) == expected


@pytest.mark.parametrize("label", ["x", "10", 10, -1, "-1", 7.5, "", "٣"])
def test_anything_else_is_not_a_label(label: object) -> None:
    with pytest.raises(ValueError, match="The label must be one digit 0-9"):
        check_label(label)


def test_a_reading_without_a_digit_cannot_be_labelled() -> None:
    with pytest.raises(ValueError, match="No digit found: the image is blank. There is nothing to label"):
        labelled_drawing(drawing_of(1), reading(None), 1, model_id="m", who="Ada")


def test_the_database_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(config.DB_URL_ENV, raising=False)
    monkeypatch.delenv(config.DB_ENV, raising=False)
    assert config.database_url() == f"sqlite:///{config.PROJECT_ROOT / 'data' / 'collection.db'}"
    monkeypatch.setenv(config.DB_ENV, str(tmp_path / "mine.db"))
    assert config.database_url() == f"sqlite:///{tmp_path / 'mine.db'}"
    monkeypatch.setenv(config.DB_URL_ENV, "postgresql+psycopg2://app@db.example/digits")
    assert config.database_url() == "postgresql+psycopg2://app@db.example/digits"


def test_an_unusable_url_is_a_collection_error() -> None:
    with pytest.raises(CollectionError, match="is not a database URL"):
        Collection.open("not a url")
    with pytest.raises(CollectionError, match="nosuchdriver"):
        Collection.open("nosuchdriver://somewhere/db")


def test_a_model_input_of_another_shape_is_refused(collection: Collection) -> None:
    drawing = labelled_drawing(drawing_of(1), reading(1), 1, model_id="m", who="Ada")
    with pytest.raises(ValueError, match=r"\(28, 28\) uint8"):
        collection.add(dataclasses.replace(drawing, model_input=np.zeros((14, 14), np.uint8)))
    assert collection.drawings() == []
