"""The remote-command ledger: one row per hub command id, written in the transactions of the changes it causes."""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from locker.errors import StoreError
from locker.store import Tx

_COLUMNS = "id, kind, compartment, received_at, state, result, answer_event, answered_at"


class CommandState(enum.StrEnum):
    STARTED = "started"  # committed before an effect outside the database (a lock pulse, the screen); no answer yet
    ANSWERED = "answered"  # the answer is in the outbox, committed in the same transaction as this state


@dataclass(frozen=True)
class Ticket:
    """What the kiosk knows of a command when it takes it on."""

    id: str
    kind: str
    compartment: int | None
    received_at: float


@dataclass(frozen=True)
class RemoteCommand:
    """One row of ``remote_commands``."""

    id: str
    kind: str
    compartment: int | None
    received_at: float
    state: CommandState
    result: dict[str, Any] | None  # the answer's fields (the outbox body without its event id, kind and time)
    answer_event: str | None  # the outbox event that carries the answer (the latest copy when it was resent)
    answered_at: float | None


class Receipt(Protocol):
    """What a flow writes about the remote command it runs, inside the flow's own transactions.

    ``started`` goes into the transaction that commits the intent of an effect outside the database (the door
    cycle before the lock pulse); ``done`` or ``failed`` into the transaction that records the outcome. The sync
    client implements it (``backend_sync/runner.py``).
    """

    def started(self, tx: Tx) -> None: ...

    def done(self, tx: Tx) -> None: ...

    def failed(self, tx: Tx, why: str) -> None: ...


def _row(r: sqlite3.Row | tuple[Any, ...]) -> RemoteCommand:
    cid, kind, comp, received, state, result, event, answered = tuple(r)
    return RemoteCommand(
        id=str(cid),
        kind=str(kind),
        compartment=None if comp is None else int(comp),
        received_at=float(received),
        state=CommandState(state),
        result=None if result is None else dict(json.loads(result)),
        answer_event=None if event is None else str(event),
        answered_at=None if answered is None else float(answered),
    )


def find(conn: sqlite3.Connection, command_id: str) -> RemoteCommand | None:
    """The ledger row of ``command_id`` (a primary-key lookup), or None for a command never taken on."""
    r = conn.execute(f"SELECT {_COLUMNS} FROM remote_commands WHERE id = ?", (command_id,)).fetchone()
    return None if r is None else _row(r)


def unanswered(conn: sqlite3.Connection) -> list[RemoteCommand]:
    """Commands started whose answer was never written, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM remote_commands WHERE state = ? ORDER BY received_at, id", (CommandState.STARTED,)
    ).fetchall()
    return [_row(r) for r in rows]


def delivered(conn: sqlite3.Connection, event_id: str) -> bool:
    """Whether the hub has acknowledged the outbox event ``event_id``."""
    r = conn.execute("SELECT delivered_at FROM outbox WHERE id = ?", (event_id,)).fetchone()
    return r is not None and r[0] is not None


def start(tx: Tx, ticket: Ticket) -> None:
    """Record that the command's effect is about to begin; refused for an id the ledger already has."""
    if find(tx.conn, ticket.id) is not None:
        raise StoreError(f"remote command {ticket.id} was already taken on")
    tx.conn.execute(
        "INSERT INTO remote_commands (id, kind, compartment, received_at, state) VALUES (?, ?, ?, ?, ?)",
        (ticket.id, ticket.kind, ticket.compartment, ticket.received_at, CommandState.STARTED),
    )


def answer(tx: Tx, ticket: Ticket, event_kind: str, result: Mapping[str, Any]) -> str:
    """Queue the answer (outbox event ``event_kind`` with the ``result`` fields) and mark the command answered, in
    the caller's transaction; returns the event id. Refused for a command that is already answered."""
    known = find(tx.conn, ticket.id)
    if known is not None and known.state == CommandState.ANSWERED:
        raise StoreError(f"remote command {ticket.id} is already answered")
    event_id = tx.outbox(event_kind, **result)
    body = json.dumps(dict(result), sort_keys=True, separators=(",", ":"))
    if known is None:
        tx.conn.execute(
            f"INSERT INTO remote_commands ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ticket.id,
                ticket.kind,
                ticket.compartment,
                ticket.received_at,
                CommandState.ANSWERED,
                body,
                event_id,
                tx.now,
            ),
        )
    else:
        tx.conn.execute(
            "UPDATE remote_commands SET state = ?, result = ?, answer_event = ?, answered_at = ? WHERE id = ?",
            (CommandState.ANSWERED, body, event_id, tx.now, ticket.id),
        )
    return event_id


def resend(tx: Tx, command: RemoteCommand, event_kind: str) -> str:
    """Queue the stored answer again as a new outbox event (the same fields); returns the new event id."""
    if command.state != CommandState.ANSWERED or command.result is None:
        raise StoreError(f"remote command {command.id} has no answer to resend")
    event_id = tx.outbox(event_kind, **command.result)
    tx.conn.execute("UPDATE remote_commands SET answer_event = ? WHERE id = ?", (event_id, command.id))
    return event_id
