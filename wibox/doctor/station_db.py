"""What the station database says, read-only (doctor never writes it): pinned hub keys, boards the daemon lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from locker.db import Database
from locker.errors import StoreError
from locker.model import AlarmKind


def _query(database: Path, sql: str) -> list[sqlite3.Row] | None:
    """The rows, None when there is no database yet; [] when the table is not there (not migrated)."""
    if not database.is_file():
        return None
    db = Database(database, read_only=True)
    try:
        return db.query(sql)
    except sqlite3.Error as exc:
        if str(exc).startswith("no such table"):  # a database the daemon has not migrated yet
            return []
        raise StoreError(f"cannot read {database}: {exc}") from exc
    finally:
        db.close()


def pinned_hub_keys(database: Path) -> int | None:
    """How many hub keys the enrollment pinned (None: no database yet)."""
    rows = _query(database, "SELECT count(*) AS n FROM sync_hub_keys")
    return None if rows is None else (int(rows[0]["n"]) if rows else 0)


def offline_boards(database: Path) -> dict[str, float] | None:
    """``"bus/address"`` -> since when the running daemon has an open board_offline alarm for it."""
    rows = _query(
        database,
        f"SELECT board, raised_at FROM alarms WHERE kind = '{AlarmKind.BOARD_OFFLINE.value}' AND cleared_at IS NULL",
    )
    return None if rows is None else {str(r["board"]): float(r["raised_at"]) for r in rows}
