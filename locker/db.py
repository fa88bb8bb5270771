"""The SQLite database: durable connection settings, the single-writer transaction, and checks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from locker.errors import StoreError

BUSY_TIMEOUT_MS = 5000


class Database:
    """One connection used by one writer at a time (writes in BEGIN IMMEDIATE), WAL with synchronous=FULL."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        try:
            if read_only:  # the file must exist (the writer made it); WAL lets this read beside the writer
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                if str(path) != ":memory:":
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if read_only:
                conn.execute("PRAGMA query_only=ON")
            else:
                if str(path) != ":memory:":
                    self.db.enable_wal()
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot use database {path}: {exc}") from exc

    def reader(self) -> Database:
        """A second, read-only connection to the same file (screens read there while the worker writes);
        an in-memory database has no second connection and answers itself."""
        if str(self.path) == ":memory:" or self.read_only:
            return self
        return Database(self.path, read_only=True)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        if self.read_only:
            raise StoreError(f"database {self.path}: this connection is read-only")
        with self._lock:
            if self._depth:
                raise StoreError("nested write transaction")
            self._depth += 1
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._depth -= 1
                raise StoreError(f"cannot begin transaction: {exc}") from exc
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                self._depth -= 1
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(f"commit failed: {exc}") from exc
            finally:
                self._depth -= 1

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, held exclusively for the duration of the block."""
        with self._lock:
            yield self.conn

    @property
    def in_write(self) -> bool:
        return self._depth > 0

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self.conn.execute(sql, params)
            cur.row_factory = sqlite3.Row
            return list(cur.fetchall())

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def integrity_check(self, quick: bool = False) -> list[str]:
        """Return SQLite's integrity report; ``["ok"]`` when the file is sound."""
        pragma = "quick_check" if quick else "integrity_check"
        with self._lock:
            return [str(r[0]) for r in self.conn.execute(f"PRAGMA {pragma}").fetchall()]

    def journal_mode(self) -> str:
        with self._lock:
            return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])

    def synchronous(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA synchronous").fetchone()[0])
