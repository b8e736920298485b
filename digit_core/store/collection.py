"""The collection: drawings people labelled ("Right", "It was: 7"), kept in a real database.

SQLAlchemy Core over SQLite by default (``data/collection.db``, ``$DIGIT_DB`` for another file), or
any SQLAlchemy URL in ``$DIGIT_DB_URL``, such as PostgreSQL's, so that several app replicas share one
collection. Each drawing is one row written in one transaction: a process killed mid-write loses at
most that drawing. SQLite runs in WAL mode, so readers do not block the writer, and a writer waits
for another (up to ``BUSY_TIMEOUT_S``) instead of failing.

The schema is made on first use and records its version (``collection_schema``) for later
migrations; a database written by a newer version is refused rather than misread. Every database
problem reaches callers as a ``CollectionError`` that says what to do, never as a driver's exception.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import sqlalchemy as sa

from digit_core import config

SCHEMA_VERSION = 1
# Per app session: a stuck key or a script clicking "Right" cannot flood the collection.
MAX_DRAWINGS_PER_MINUTE = 30
# A drawing takes about 4 KB (its PNG and the 784-byte model input), so about 100,000 drawings.
MAX_DATABASE_BYTES = 400 * 1024 * 1024
# How long a SQLite writer waits for another writer's transaction to end.
BUSY_TIMEOUT_S = 15.0
MAX_WHO_LENGTH = 80

metadata = sa.MetaData()
drawings_table = sa.Table(
    "collected_drawings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created", sa.DateTime, nullable=False),  # UTC
    sa.Column("who", sa.String(MAX_WHO_LENGTH), nullable=False),
    sa.Column("label", sa.SmallInteger, nullable=False),
    sa.Column("predicted", sa.SmallInteger, nullable=True),  # the model's reading
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("model_id", sa.String(200), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=True),  # None: the command line (no rate limit)
    # One row per drawing per session: a double click, or a second label, does not store it twice.
    sa.Column("drawing_key", sa.String(64), nullable=True, unique=True),
    sa.Column("image_png", sa.LargeBinary, nullable=False),  # the image as drawn or uploaded
    sa.Column("model_input", sa.LargeBinary, nullable=False),  # (28, 28) uint8: what the model saw
    sa.CheckConstraint("label BETWEEN 0 AND 9", name="label_is_a_digit"),
    sa.Index("collected_drawings_by_session", "session_id", "created"),
    sa.Index("collected_drawings_by_who", "who"),
)
schema_table = sa.Table("collection_schema", metadata, sa.Column("version", sa.Integer, nullable=False))


class CollectionError(RuntimeError):
    """The collection cannot be used or cannot take this drawing; the message says why and what to do."""


class RateLimitError(CollectionError):
    """This session saved too many drawings in the last minute."""


class CollectionFullError(CollectionError):
    """The database has reached its size limit."""


@dataclass(frozen=True)
class LabelledDrawing:
    """A drawing to store: what was drawn, what the model read, what it really was, and who drew it."""

    image_png: bytes  # the image as drawn, PNG-encoded
    model_input: np.ndarray  # (28, 28) uint8
    label: int
    predicted: int | None
    confidence: float
    model_id: str
    who: str
    session_id: str | None = None  # None: no per-session rate limit
    drawing_key: str | None = None  # None: never deduplicated


@dataclass(frozen=True)
class SaveResult:
    """What ``Collection.add`` did: stored a new row, found it stored already, or changed its label."""

    id: int
    outcome: str  # "stored", "already stored" or "relabelled"


@dataclass(frozen=True)
class StoredDrawing:
    """One row of the collection, without its images."""

    id: int
    created: datetime  # UTC
    who: str
    label: int
    predicted: int | None
    confidence: float
    model_id: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "predicted": self.predicted,
                "confidence": round(self.confidence, 6), "who": self.who, "model_id": self.model_id,
                "created": self.created.isoformat(timespec="seconds")}


@dataclass(frozen=True)
class CollectedImages:
    """The collection as arrays: ids (N,), the model inputs (N, 28, 28) uint8, labels, readings, who."""

    ids: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray  # -1 where the model found no digit
    who: tuple[str, ...]


def counts_by_person(who: Sequence[str], labels: np.ndarray) -> list[dict[str, Any]]:
    """One row per person, most drawings first: their name, their drawings, and how many of each digit."""
    rows = []
    for person in sorted(set(who), key=lambda name: (-who.count(name), name)):
        theirs = np.asarray(labels)[[index for index, name in enumerate(who) if name == person]]
        rows.append({"who": person, "drawings": len(theirs),
                     **{str(digit): int((theirs == digit).sum()) for digit in range(10)}})
    return rows


def check_label(label: object) -> int:
    """The label as an int 0-9; ValueError for anything else ("7" is fine, "x", 10 or 7.5 are not)."""
    text = str(label).strip()
    if len(text) != 1 or text not in "0123456789":
        raise ValueError(f"The label must be one digit 0-9, got {label!r}.")
    return int(text)


def labelled_drawing(image: np.ndarray, prediction: Any, label: object, *, model_id: str, who: str,
                     session_id: str | None = None) -> LabelledDrawing:
    """A drawing ready to store, from the image as drawn and the model's ``Prediction`` of it.

    With a ``session_id``, the same pixels in the same session get the same ``drawing_key``, so a
    double click stores them once. Raises ValueError for a bad label or when no digit was found.
    """
    label = check_label(label)
    if not prediction.found:
        raise ValueError(f"{prediction.preprocessed.message} There is nothing to label.")
    pixels = np.ascontiguousarray(image)
    key = None
    if session_id is not None:
        key = hashlib.sha256(session_id.encode() + str(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    model_input = np.round(np.clip(prediction.preprocessed.image, 0, 1) * 255).astype(np.uint8)  # (28, 28)
    return LabelledDrawing(image_png=encode_png(pixels), model_input=model_input, label=label,
                           predicted=prediction.digit, confidence=float(prediction.confidence),
                           model_id=model_id, who=(who.strip() or "anonymous")[:MAX_WHO_LENGTH],
                           session_id=session_id, drawing_key=key)


def encode_png(image: np.ndarray) -> bytes:
    """An image (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA as PNG bytes, colours kept."""
    pixels = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    # Fast settings: a canvas is mostly flat, so PNG's row filters gain nothing and cost most of the
    # time (0.5 ms instead of 4-6 ms for a 280×280 canvas, and a smaller file).
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                                cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])
    if not ok:
        raise ValueError(f"Cannot encode an image of shape {image.shape} as PNG.")
    return encoded.tobytes()


class Collection:
    """The labelled drawings in one database. ``Collection.open()`` it once per process and share it."""

    def __init__(self, engine: sa.Engine, max_bytes: int, max_per_minute: int) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self.max_per_minute = max_per_minute

    @classmethod
    def open(cls, url: str | None = None, *, max_bytes: int = MAX_DATABASE_BYTES,
             max_per_minute: int = MAX_DRAWINGS_PER_MINUTE) -> Collection:
        """Connect to ``url`` (default: ``config.database_url()``) and create the schema if it is new."""
        engine = _create_engine(url or config.database_url())
        collection = cls(engine, max_bytes, max_per_minute)
        try:
            with collection._translated("opened"):
                _ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return collection

    @property
    def where(self) -> str:
        """The database, as a person can find it: a SQLite file's path, else the URL without password."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            return url.database or "an in-memory SQLite database"
        return url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def add(self, drawing: LabelledDrawing) -> SaveResult:
        """Store a labelled drawing in one transaction, within the rate and size limits.

        A drawing whose ``drawing_key`` is stored already is not stored again; its label is updated
        if it differs. Raises ``RateLimitError``, ``CollectionFullError`` or ``CollectionError``.
        """
        label = check_label(drawing.label)
        if drawing.model_input.shape != (28, 28) or drawing.model_input.dtype != np.uint8:
            raise ValueError(f"The model input must be (28, 28) uint8, got {drawing.model_input.shape} "
                             f"{drawing.model_input.dtype}.")
        with self._translated("written"):
            now = _utc_now()
            if drawing.session_id is not None:
                self._check_rate(drawing.session_id, now)
            self._check_size(len(drawing.image_png) + drawing.model_input.nbytes)
            row = {"created": now, "who": drawing.who[:MAX_WHO_LENGTH], "label": label,
                   "predicted": drawing.predicted, "confidence": float(drawing.confidence),
                   "model_id": drawing.model_id, "session_id": drawing.session_id,
                   "drawing_key": drawing.drawing_key, "image_png": drawing.image_png,
                   "model_input": drawing.model_input.tobytes()}
            try:
                with self.engine.begin() as connection:
                    new_id = connection.execute(drawings_table.insert(), row).inserted_primary_key[0]
                return SaveResult(int(new_id), "stored")
            except sa.exc.IntegrityError:
                if drawing.drawing_key is None:
                    raise
                return self._relabel(drawing.drawing_key, label)

    def _relabel(self, drawing_key: str, label: int) -> SaveResult:
        # The drawing is stored already (a double click, or a second answer for the same drawing).
        table = drawings_table
        with self.engine.begin() as connection:
            stored = connection.execute(sa.select(table.c.id, table.c.label)
                                        .where(table.c.drawing_key == drawing_key)).one()
            if stored.label == label:
                return SaveResult(int(stored.id), "already stored")
            connection.execute(table.update().where(table.c.id == stored.id).values(label=label))
        return SaveResult(int(stored.id), "relabelled")

    def _check_rate(self, session_id: str, now: datetime) -> None:
        table = drawings_table
        with self.engine.connect() as connection:
            recent = connection.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.session_id == session_id, table.c.created > now - timedelta(minutes=1))).scalar_one()
        if recent >= self.max_per_minute:
            raise RateLimitError(f"You saved {recent} drawings in the last minute; the limit is "
                                 f"{self.max_per_minute}. Wait a moment, then label this one again.")

    def _check_size(self, adding: int) -> None:
        size = self.size_bytes()
        if size + adding > self.max_bytes:
            raise CollectionFullError(
                f"The collection is full: its database takes {size / 2**20:.0f} MB of the "
                f"{self.max_bytes / 2**20:.0f} MB allowed. Delete drawings (Explore → Collected drawings) "
                "or export them and start a new collection.")

    def size_bytes(self) -> int:
        """The space the collection takes: a SQLite file's pages, PostgreSQL's table, else the stored bytes."""
        backend = self.engine.url.get_backend_name()
        with self._translated("read"), self.engine.connect() as connection:
            if backend == "sqlite":
                pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
                return int(pages) * int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
            if backend == "postgresql":
                return int(connection.execute(sa.text("SELECT pg_total_relation_size(:table)"),
                                              {"table": drawings_table.name}).scalar_one())
            table = drawings_table
            stored = sa.func.length(table.c.image_png) + sa.func.length(table.c.model_input)
            return int(connection.execute(sa.select(sa.func.coalesce(sa.func.sum(stored), 0))).scalar_one())

    def count(self, who: str | None = None) -> int:
        """How many drawings there are (``who``'s when given)."""
        query = sa.select(sa.func.count()).select_from(drawings_table)
        if who is not None:
            query = query.where(drawings_table.c.who == who)
        with self._translated("read"), self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def drawings(self, who: str | None = None) -> list[StoredDrawing]:
        """Every drawing (only ``who``'s when given), oldest first, without the images."""
        table = drawings_table
        query = sa.select(table.c.id, table.c.created, table.c.who, table.c.label, table.c.predicted,
                          table.c.confidence, table.c.model_id).order_by(table.c.id)
        if who is not None:
            query = query.where(table.c.who == who)
        with self._translated("read"), self.engine.connect() as connection:
            return [StoredDrawing(id=row.id, created=row.created.replace(tzinfo=timezone.utc), who=row.who,
                                  label=row.label, predicted=row.predicted, confidence=row.confidence,
                                  model_id=row.model_id) for row in connection.execute(query)]

    def images(self) -> CollectedImages:
        """Every drawing's model input and label, oldest first, as arrays."""
        table = drawings_table
        query = sa.select(table.c.id, table.c.model_input, table.c.label, table.c.predicted,
                          table.c.who).order_by(table.c.id)
        with self._translated("read"), self.engine.connect() as connection:
            rows = connection.execute(query).all()
        images = np.zeros((len(rows), 28, 28), np.uint8)
        for index, row in enumerate(rows):
            images[index] = np.frombuffer(row.model_input, np.uint8).reshape(28, 28)
        return CollectedImages(ids=np.array([row.id for row in rows], np.int64), images=images,
                               labels=np.array([row.label for row in rows], np.uint8),
                               predicted=np.array([-1 if row.predicted is None else row.predicted
                                                   for row in rows], np.int64),
                               who=tuple(row.who for row in rows))

    def image_png(self, drawing_id: int) -> bytes:
        """The drawing as drawn (PNG); KeyError when there is no such drawing."""
        table = drawings_table
        with self._translated("read"), self.engine.connect() as connection:
            png = connection.execute(sa.select(table.c.image_png).where(table.c.id == drawing_id)).scalar()
        if png is None:
            raise KeyError(f"No drawing #{drawing_id} in the collection.")
        return bytes(png)

    def delete(self, drawing_ids: Sequence[int]) -> list[int]:
        """Delete drawings by id; returns the ids that existed (and are now gone)."""
        table = drawings_table
        wanted = sorted({int(drawing_id) for drawing_id in drawing_ids})
        with self._translated("written"), self.engine.begin() as connection:
            found = connection.execute(sa.select(table.c.id).where(table.c.id.in_(wanted))).scalars().all()
            connection.execute(table.delete().where(table.c.id.in_(found)))
        return sorted(int(drawing_id) for drawing_id in found)

    def delete_by(self, who: str) -> int:
        """Delete every drawing of ``who``; returns how many there were."""
        with self._translated("written"), self.engine.begin() as connection:
            return connection.execute(drawings_table.delete().where(drawings_table.c.who == who)).rowcount

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Turn the driver's errors into a ``CollectionError`` naming the database and what to do."""
        try:
            yield
        except sa.exc.SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            advice = ("Move the file aside (a new collection starts there) or point DIGIT_DB at another file."
                      if self.engine.url.get_backend_name() == "sqlite" else
                      "Check that the database server is running and DIGIT_DB_URL is right.")
            raise CollectionError(f"The collection's database ({self.where}) cannot be {doing}: {reason}. "
                                  f"{advice}") from error


def _utc_now() -> datetime:
    # Stored without a time zone (SQLite keeps none); every stored time is UTC.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _create_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise CollectionError(f"The collection's database URL {url!r} is not a database URL ({error}).") from None
    if parsed.get_backend_name() != "sqlite":
        try:
            # pool_pre_ping: a replica survives the server restarting between two saves.
            return sa.create_engine(parsed, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError) as error:
            raise CollectionError(f"Cannot connect to {parsed.render_as_string(hide_password=True)}: "
                                  f"{error}. Install its driver (psycopg2-binary for PostgreSQL).") from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL: a commit appends to the log while readers keep reading. synchronous=NORMAL (SQLite's
        # advice for WAL) keeps every commit through a killed process and the file always
        # consistent; only a power cut could lose the last commits. FULL, which syncs the log at
        # each commit, made a save take a median 5.9 ms and at p95 92 ms on this busy machine (NORMAL:
        # 1.7 and 18 ms), against a budget of 20 ms a click.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _ensure_schema(engine: sa.Engine) -> None:
    """Create the tables on first use and check the schema version of an existing database."""
    try:
        metadata.create_all(engine)  # checks first: existing tables are left as they are
    except sa.exc.DatabaseError:
        # Another process may have created the tables between the check and the creation; a
        # database that cannot be used fails again here.
        metadata.create_all(engine)
    with engine.begin() as connection:
        versions = connection.execute(sa.select(schema_table.c.version)).scalars().all()
        if not versions:
            connection.execute(schema_table.insert(), {"version": SCHEMA_VERSION})
            return
    version = max(versions)
    if version > SCHEMA_VERSION:
        raise CollectionError(f"The collection's database was written by a newer Digit Studio (schema "
                              f"version {version}; this one reads up to {SCHEMA_VERSION}). Update the app.")
    # Migrations from older versions go here, one step per version, when there are any.
