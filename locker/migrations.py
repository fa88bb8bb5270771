"""Named, transactional schema migrations, each recorded in the database when applied."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from locker.db import Database
from locker.doctypes import legacy_type
from locker.errors import StoreError


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _m0001_initial(conn: sqlite3.Connection) -> None:
    statements = [
        """CREATE TABLE compartments (
            number INTEGER PRIMARY KEY,
            size TEXT NOT NULL CHECK (size IN ('S','M','L')),
            height_mm INTEGER NOT NULL,
            state TEXT NOT NULL,
            order_id TEXT,
            content TEXT NOT NULL DEFAULT 'none',
            purpose TEXT,
            resume_state TEXT,
            door_confirmed_at REAL,
            door_alarmed INTEGER NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            pickup_number TEXT NOT NULL,
            document_kind TEXT NOT NULL,
            size TEXT NOT NULL CHECK (size IN ('S','M','L')),
            reachable INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL,
            compartment INTEGER REFERENCES compartments(number),
            valid_from REAL NOT NULL,
            valid_until REAL NOT NULL,
            qr_verifier BLOB NOT NULL,
            pin_verifier TEXT NOT NULL,
            manual_failures INTEGER NOT NULL DEFAULT 0,
            code_used INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX orders_pickup_number ON orders(pickup_number)",
        "CREATE INDEX orders_state ON orders(state)",
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            hash BLOB NOT NULL
        )""",
        """CREATE TABLE audit_checkpoints (
            size INTEGER PRIMARY KEY,
            head BLOB NOT NULL,
            created_at REAL NOT NULL,
            countersignature BLOB
        )""",
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            delivered_at REAL
        )""",
        "CREATE TABLE failures (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, at REAL NOT NULL)",
        "CREATE INDEX failures_scope_at ON failures(scope, at)",
        """CREATE TABLE staff (
            id TEXT PRIMARY KEY,
            badge_hash BLOB NOT NULL UNIQUE,
            pin_verifier TEXT NOT NULL,
            roles TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]
    for sql in statements:
        conn.execute(sql)


def _m0002_alarms_and_old_id(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE orders ADD COLUMN return_old_id INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        """CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            compartment INTEGER,
            board TEXT NOT NULL DEFAULT '',
            raised_at REAL NOT NULL,
            cleared_at REAL
        )"""
    )
    conn.execute("CREATE INDEX alarms_open ON alarms(kind, compartment) WHERE cleared_at IS NULL")


def _m0003_sync_state(conn: sqlite3.Connection) -> None:
    # Every manifest the kiosk accepted (the head is the highest seq) and the hub signing keys it pins.
    conn.execute(
        """CREATE TABLE sync_manifests (
            seq INTEGER PRIMARY KEY CHECK (seq > 0),
            hash BLOB NOT NULL UNIQUE,
            prev_hash BLOB NOT NULL,
            issued_at REAL NOT NULL,
            accepted_at REAL NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE sync_hub_keys (
            key_id TEXT PRIMARY KEY,
            public_key BLOB NOT NULL,
            pinned_at REAL NOT NULL,
            pinned_by_seq INTEGER NOT NULL DEFAULT 0
        )"""
    )


def _m0004_remote_commands(conn: sqlite3.Connection) -> None:
    # One row per remote command id (locker/remote.py): written in the transactions of the changes a command
    # causes, so "already run?" is a primary-key lookup and a crash never runs a command twice.
    conn.execute(
        """CREATE TABLE remote_commands (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            compartment INTEGER,
            received_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('started', 'answered')),
            result TEXT,
            answer_event TEXT REFERENCES outbox(id),
            answered_at REAL,
            CHECK ((state = 'answered') = (result IS NOT NULL AND answer_event IS NOT NULL))
        )"""
    )
    # Commands answered before this table existed: their command_result events become answered rows (the newest
    # answer of an id wins), so they are never run again either.
    conn.execute(
        """INSERT OR REPLACE INTO remote_commands
            (id, kind, compartment, received_at, state, result, answer_event, answered_at)
        SELECT json_extract(body, '$.command'), json_extract(body, '$.command_kind'), NULL, created_at, 'answered',
               json_remove(body, '$.id', '$.kind', '$.t'), id, created_at
        FROM outbox
        WHERE kind = 'command_result' AND json_valid(body) AND json_type(body, '$.command') = 'text'
            AND json_type(body, '$.command_kind') = 'text'
        ORDER BY seq"""
    )


def _m0005_second_factor_failures(conn: sqlite3.Connection) -> None:
    # Wrong second factors (date of birth) after a valid QR code, counted per order like wrong PINs.
    conn.execute("ALTER TABLE orders ADD COLUMN factor_failures INTEGER NOT NULL DEFAULT 0")


# Outbox fields that are JSON booleans (before 0006 they were written as 0/1, and the hub's event schemas refuse
# those); events a hub refused keep their reason and are not sent again.
_BOOL_FIELDS = {"alarm": ("raised",), "collected": ("old_id_returned",)}


def _m0006_outbox_refusals_and_booleans(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE outbox ADD COLUMN refused TEXT")
    rows = conn.execute(
        "SELECT id, kind, body FROM outbox WHERE delivered_at IS NULL AND kind IN ('alarm', 'collected')"
    ).fetchall()
    for event_id, kind, body in rows:
        data = json.loads(body)
        for name in _BOOL_FIELDS[kind]:
            if type(data.get(name)) is int:
                data[name] = bool(data[name])
        conn.execute(
            "UPDATE outbox SET body = ? WHERE id = ?",
            (json.dumps(data, sort_keys=True, separators=(",", ":")), event_id),
        )


def _m0007_receipt(conn: sqlite3.Connection) -> None:
    # How the citizen confirmed receipt (method and statement, JSON), kept from the confirmation to the handover proof.
    conn.execute("ALTER TABLE orders ADD COLUMN receipt TEXT NOT NULL DEFAULT ''")


def _m0008_move(conn: sqlite3.Connection) -> None:
    # The target of a move remembers the compartment the document came out of (for the ``moved`` event).
    conn.execute("ALTER TABLE compartments ADD COLUMN move_from INTEGER")


def _m0009_document_types(conn: sqlite3.Connection) -> None:
    # The free-text document kind becomes a document type (locker.doctypes): known aliases map to their type, any
    # other kind to an ID card, the default type.
    rows = conn.execute("SELECT id, document_kind FROM orders").fetchall()
    for order_id, kind in rows:
        doc = legacy_type(kind)
        if doc.value != kind:
            conn.execute("UPDATE orders SET document_kind = ? WHERE id = ?", (doc.value, order_id))


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _m0001_initial),
    Migration("0002_alarms_and_old_id", _m0002_alarms_and_old_id),
    Migration("0003_sync_state", _m0003_sync_state),
    Migration("0004_remote_commands", _m0004_remote_commands),
    Migration("0005_second_factor_failures", _m0005_second_factor_failures),
    Migration("0006_outbox_refusals_and_booleans", _m0006_outbox_refusals_and_booleans),
    Migration("0007_receipt", _m0007_receipt),
    Migration("0008_move", _m0008_move),
    Migration("0009_document_types", _m0009_document_types),
)


def _ensure_table(database: Database) -> None:
    database.conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")


def applied(database: Database) -> list[str]:
    if "_migrations" not in database.db.table_names():
        return []
    return [str(r["name"]) for r in database.query("SELECT name FROM _migrations ORDER BY name")]


def migrate(database: Database, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return the names applied."""
    _ensure_table(database)
    done = set(applied(database))
    known = {m.name for m in migrations}
    unknown = done - known
    if unknown:
        raise StoreError(f"database has migrations this version does not know: {', '.join(sorted(unknown))}")
    ran: list[str] = []
    for m in migrations:
        if m.name in done:
            continue
        try:
            with database.write() as conn:
                m.apply(conn)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (m.name, time.time()))
        except sqlite3.Error as exc:
            raise StoreError(f"migration {m.name} failed: {exc}") from exc
        ran.append(m.name)
    return ran
