"""Hub storage: named migrations of the schema (tables.py), engines for SQLite (WAL) and PostgreSQL, transactions."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from backend_sync.hub.errors import HubError
from backend_sync.hub.tables import (
    admin_audit,
    admin_sessions,
    admins,
    alarms,
    api_keys,
    bundles,
    checkpoints,
    cities,
    city_settings,
    commands,
    document_policies,
    enrollment_requests,
    events,
    hub_keys,
    kiosk_messages,
    kiosk_sites,
    kiosks,
    login_failures,
    metadata,
    migrations_table,
    notices,
    orders,
    staff,
)
from locker.doctypes import legacy_type

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


INITIAL_TABLES = [
    cities,
    admins,
    admin_sessions,
    api_keys,
    kiosks,
    orders,
    staff,
    events,
    commands,
    alarms,
    admin_audit,
    checkpoints,
    notices,
    hub_keys,
    bundles,
    kiosk_messages,
]


# -- migrations -----------------------------------------------------------------------------------------------
def _m0001_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=INITIAL_TABLES)


def _m0002_city_side(conn: Connection) -> None:
    metadata.create_all(conn, tables=[city_settings, kiosk_sites])


def _m0003_enrollment_requests(conn: Connection) -> None:
    # Enrollment requests leave the kiosks table: a request no longer overwrites a kiosk row (security.md).
    metadata.create_all(conn, tables=[enrollment_requests])
    if "enrollment_code_hash" in {c["name"] for c in inspect(conn).get_columns("kiosks")}:
        conn.execute(text("ALTER TABLE kiosks DROP COLUMN enrollment_code_hash"))


# Named migrations, applied in order, each in its own transaction and recorded in hub_migrations.
# Add new ones at the end; never edit or reorder an applied one.
def _m0004_login_failures(conn: Connection) -> None:
    metadata.create_all(conn, tables=[login_failures])


def _m0005_city_data_age(conn: Connection) -> None:
    if "max_data_age_h" not in {c["name"] for c in inspect(conn).get_columns("city_settings")}:
        conn.execute(text("ALTER TABLE city_settings ADD COLUMN max_data_age_h INTEGER NOT NULL DEFAULT 72"))


def _m0006_alarm_resolution(conn: Connection) -> None:
    if "cleared_by" not in {c["name"] for c in inspect(conn).get_columns("alarms")}:
        conn.execute(text("ALTER TABLE alarms ADD COLUMN cleared_by TEXT"))


_DOUBLE = "DOUBLE PRECISION"  # what sqlalchemy's Double is on PostgreSQL; SQLite gives it REAL affinity


def _m0007_handover_truth(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("orders")}
    for name, kind in (
        ("old_id_compartment", "INTEGER"),
        ("old_id_returned_at", _DOUBLE),
        ("old_id_taken_at", _DOUBLE),
    ):
        if name not in have:
            conn.execute(text(f"ALTER TABLE orders ADD COLUMN {name} {kind}"))


def _m0008_order_compartment(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("orders")}
    for name, kind in (("compartment", "INTEGER"), ("moved_at", _DOUBLE)):
        if name not in have:
            conn.execute(text(f"ALTER TABLE orders ADD COLUMN {name} {kind}"))


def _m0009_document_types(conn: Connection) -> None:
    # Per-city policies per document type; the orders' free-text kinds become document types (known aliases map to
    # their type, anything else to an ID card, the default type).
    metadata.create_all(conn, tables=[document_policies])
    for kind in conn.execute(select(orders.c.document_kind).distinct()).scalars().all():
        doc = legacy_type(kind)
        if doc.value != kind:
            conn.execute(update(orders).where(orders.c.document_kind == kind).values(document_kind=doc.value))


def _m0010_manual_lock(conn: Connection) -> None:
    # 0007 forgot it: a hub database from before 0007 had no column for the kiosk's "manual path locked" event
    if "manual_locked_at" not in {c["name"] for c in inspect(conn).get_columns("orders")}:
        conn.execute(text(f"ALTER TABLE orders ADD COLUMN manual_locked_at {_DOUBLE}"))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_city_side", _m0002_city_side),
    ("0003_enrollment_requests", _m0003_enrollment_requests),
    ("0004_login_failures", _m0004_login_failures),
    ("0005_city_data_age", _m0005_city_data_age),
    ("0006_alarm_resolution", _m0006_alarm_resolution),
    ("0007_handover_truth", _m0007_handover_truth),
    ("0008_order_compartment", _m0008_order_compartment),
    ("0009_document_types", _m0009_document_types),
    ("0010_manual_lock", _m0010_manual_lock),
]


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied. Safe with several hub processes."""
    done: list[str] = []
    with engine.connect().execution_options(wibox_write=True) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7212001)"))  # one migrating process at a time
        metadata.create_all(conn, tables=[migrations_table])
        applied = set(conn.execute(select(migrations_table.c.name)).scalars())
        for name, step in MIGRATIONS:
            if name in applied:
                continue
            with conn.begin_nested():
                step(conn)
                conn.execute(migrations_table.insert().values(name=name, applied_at=time.time()))
            done.append(name)
    for name in done:
        log.info("hub database: applied migration %s", name)
    return done


def applied_migrations(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(migrations_table.c.name).order_by(migrations_table.c.name)).scalars())


# -- engine ---------------------------------------------------------------------------------------------------
def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is off).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE): no deadlock-prone lock upgrade mid-transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("wibox_write") else "BEGIN")


def _private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite opens it: it holds codes until the notices are sent,
    and SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and p.stat().st_mode & 0o077:
            p.chmod(0o600)


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for ``sqlite:///PATH`` (WAL, synchronous=FULL, BEGIN IMMEDIATE for writers) or PostgreSQL."""
    try:
        if url.startswith("sqlite"):
            path = make_url(url).database
            if path and path != ":memory:":
                _private_file(Path(path))
            engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_timeout=30)
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise HubError(f"cannot use database {url.rsplit('@', maxsplit=1)[-1]}: {exc}") from exc
    return engine


# -- the store ------------------------------------------------------------------------------------------------
class HubStore:
    """The hub's database: a connection per transaction; ``write()`` for changes, ``read()`` for queries.

    Query helpers for one concern live next to that concern (``sync.py``, ``enrollment.py``, ...) and take
    the connection a transaction gives them, so one request is one transaction.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, pool_size: int = 10) -> HubStore:
        engine = make_engine(url, pool_size)
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise HubError(f"cannot migrate the hub database: {exc}") from exc
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite), committed at the end, rolled back on any error."""
        with self.engine.connect().execution_options(wibox_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- small shared helpers ----------------------------------------------------------------------------
    @staticmethod
    def audit(conn: Connection, city_id: str | None, actor: str, action: str, target: str, *, at: float) -> None:
        """An admin-visible audit row (ids and outcomes only, nothing personal)."""
        conn.execute(
            admin_audit.insert().values(
                city_id=city_id, admin_id=actor, action=action, target=target, detail="{}", at=at
            )
        )

    @staticmethod
    def add_city(conn: Connection, city_id: str, name: str) -> None:
        conn.execute(cities.insert().values(id=city_id, name=name))

    @staticmethod
    def city_exists(conn: Connection, city_id: str) -> bool:
        return conn.execute(select(cities.c.id).where(cities.c.id == city_id)).first() is not None

    @staticmethod
    def register_hub_key(conn: Connection, kid: str, file_ref: str, public_hex: str) -> None:
        if conn.execute(select(hub_keys.c.key_id).where(hub_keys.c.key_id == kid)).first() is None:
            conn.execute(hub_keys.insert().values(key_id=kid, private_key=file_ref, public_key=public_hex, active=True))
