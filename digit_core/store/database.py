"""The collection's database: its tables, its engine (SQLite tuned for one writer and many readers,
or any SQLAlchemy URL such as PostgreSQL's), its schema version and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from digit_core.store.drawings import MAX_WHO_LENGTH

SCHEMA_VERSION = 1


# How long a SQLite writer waits for another writer's transaction to end.
BUSY_TIMEOUT_S = 15.0


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


def create_engine(url: str) -> sa.Engine:
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


def ensure_schema(engine: sa.Engine) -> None:
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
