"""Tamper-evident audit log: a SHA-256 hash chain written in the same transaction as each change."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from locker.db import Database
from locker.errors import StoreError

GENESIS = bytes(32)
_HEAD_KEY = "audit_head"
_FORBIDDEN_KEYS = frozenset({"pin", "token", "code", "qr", "dob", "date_of_birth", "name", "payload"})


def canonical(event: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed: compact JSON with sorted keys."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(prev: bytes, seq: int, event_bytes: bytes) -> bytes:
    """h_n = SHA-256(h_{n-1} || seq (8 bytes, big-endian) || event)."""
    return hashlib.sha256(prev + seq.to_bytes(8, "big") + event_bytes).digest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    event: dict[str, Any]
    hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head: bytes


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    size: int
    head: bytes
    problem: str = ""
    bad_seq: int | None = None


def append(conn: sqlite3.Connection, event: dict[str, Any]) -> AuditEntry:
    """Append one entry; call inside the write transaction of the change it records."""
    if not conn.in_transaction:
        raise StoreError("audit entries must be written inside the change's transaction")
    bad = _FORBIDDEN_KEYS.intersection(event)
    if bad:
        raise StoreError(f"audit event must not carry {', '.join(sorted(bad))}")
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    prev_seq, prev_hash = (int(row[0]), bytes(row[1])) if row else (0, GENESIS)
    seq = prev_seq + 1
    data = canonical(event)
    h = chain_hash(prev_hash, seq, data)
    conn.execute("INSERT INTO audit (seq, event, hash) VALUES (?, ?, ?)", (seq, data.decode(), h))
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (_HEAD_KEY, f"{seq}:{h.hex()}"),
    )
    return AuditEntry(seq, event, h)


def entries(database: Database, after: int = 0) -> list[AuditEntry]:
    rows = database.query("SELECT seq, event, hash FROM audit WHERE seq > ? ORDER BY seq", (after,))
    return [AuditEntry(int(r["seq"]), json.loads(r["event"]), bytes(r["hash"])) for r in rows]


def head(database: Database) -> Checkpoint:
    row = database.query_one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
    return Checkpoint(int(row["seq"]), bytes(row["hash"])) if row else Checkpoint(0, GENESIS)


def verify(database: Database) -> AuditReport:
    """Recompute the chain; find any edited, deleted, reordered or truncated entry."""
    prev = GENESIS
    expected_seq = 1
    rows = database.query("SELECT seq, event, hash FROM audit ORDER BY seq")
    hashes: dict[int, bytes] = {}
    for r in rows:
        seq = int(r["seq"])
        if seq != expected_seq:
            return AuditReport(False, expected_seq - 1, prev, f"entry {expected_seq} is missing", expected_seq)
        h = chain_hash(prev, seq, str(r["event"]).encode())
        if h != bytes(r["hash"]):
            return AuditReport(False, seq - 1, prev, f"entry {seq} does not match its hash", seq)
        hashes[seq] = h
        prev = h
        expected_seq += 1
    size = expected_seq - 1
    stored = database.query_one("SELECT value FROM meta WHERE key = ?", (_HEAD_KEY,))
    if stored is not None:
        s_seq, s_hash = str(stored["value"]).split(":")
        if int(s_seq) != size or bytes.fromhex(s_hash) != prev:
            return AuditReport(False, size, prev, f"log ends at {size} but its head record says {s_seq}", size + 1)
    elif size:
        return AuditReport(False, size, prev, "the head record is missing", None)
    for cp in database.query("SELECT size, head FROM audit_checkpoints ORDER BY size"):
        cp_size = int(cp["size"])
        if cp_size > size:
            return AuditReport(False, size, prev, f"log is shorter than checkpoint {cp_size} (truncated)", size + 1)
        if cp_size and hashes.get(cp_size) != bytes(cp["head"]):
            return AuditReport(False, size, prev, f"checkpoint {cp_size} does not match the log", cp_size)
    return AuditReport(True, size, prev)


def make_checkpoint(conn: sqlite3.Connection, at: float) -> Checkpoint:
    """Record the current (size, head) as a checkpoint, ready to be signed and uploaded."""
    row = conn.execute("SELECT max(seq) FROM audit").fetchone()
    return checkpoint_at(conn, int(row[0] or 0), at)


def checkpoint_at(conn: sqlite3.Connection, size: int, at: float) -> Checkpoint:
    """Record the log's (size, head) at entry ``size`` (0: the genesis head) as a checkpoint."""
    if size == 0:
        cp = Checkpoint(0, GENESIS)
    else:
        row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (size,)).fetchone()
        if row is None:
            raise StoreError(f"the audit log has no entry {size}")
        cp = Checkpoint(size, bytes(row[0]))
    conn.execute(
        "INSERT OR IGNORE INTO audit_checkpoints (size, head, created_at) VALUES (?, ?, ?)", (size, cp.head, at)
    )
    return cp


def entry_texts(database: Database, after: int, upto: int) -> tuple[str, ...]:
    """The stored event text of entries ``after + 1`` to ``upto``, exactly the bytes their hashes cover."""
    rows = database.query("SELECT event FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq", (after, upto))
    return tuple(str(r["event"]) for r in rows)


def checkpoint_message(device_id: str, cp: Checkpoint) -> bytes:
    """The bytes a checkpoint signature covers: device, size and head."""
    return canonical({"device": device_id, "size": cp.size, "head": cp.head.hex()})
