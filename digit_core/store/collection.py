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
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlalchemy as sa

from digit_core import config
from digit_core.store.database import (CollectionError, CollectionFullError, RateLimitError, create_engine,
                                       drawings_table, ensure_schema)
from digit_core.store.drawings import (MAX_WHO_LENGTH, CollectedImages, LabelledDrawing, SaveResult, StoredDrawing,
                                       check_label)

# Per app session: a stuck key or a script clicking "Right" cannot flood the collection.
MAX_DRAWINGS_PER_MINUTE = 30
# A drawing takes about 4 KB (its PNG and the 784-byte model input), so about 100,000 drawings.
MAX_DATABASE_BYTES = 400 * 1024 * 1024


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
        engine = create_engine(url or config.database_url())
        collection = cls(engine, max_bytes, max_per_minute)
        try:
            with collection._translated("opened"):
                ensure_schema(engine)
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


    # Migrations from older versions go here, one step per version, when there are any.
