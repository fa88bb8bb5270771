"""Typed reads of the station state and the one place where state changes are written (with their audit)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from locker import audit, throttle
from locker.config import CompartmentConfig, ThrottleConfig
from locker.db import Database
from locker.doctypes import DocumentType
from locker.errors import StoreError
from locker.migrations import migrate
from locker.model import (
    LIVE,
    AlarmKind,
    Compartment,
    CompartmentState,
    Content,
    NewOrder,
    OpenPurpose,
    Order,
    OrderState,
    Size,
    StaffAccount,
    check_compartment_transition,
    check_order_transition,
)
from locker.ports import Clock, OutboxEvent

_ORDER_FIELDS = frozenset({"compartment", "manual_failures", "code_used", "factor_failures", "receipt"})
_COMP_FIELDS = frozenset(
    {"order_id", "content", "purpose", "resume_state", "door_confirmed_at", "door_alarmed", "reason", "move_from"}
)


def _order(r: sqlite3.Row) -> Order:
    return Order(
        id=r["id"],
        pickup_number=r["pickup_number"],
        document_kind=DocumentType(r["document_kind"]),
        size=Size(r["size"]),
        reachable=bool(r["reachable"]),
        return_old_id=bool(r["return_old_id"]),
        state=OrderState(r["state"]),
        compartment=r["compartment"],
        valid_from=float(r["valid_from"]),
        valid_until=float(r["valid_until"]),
        qr_verifier=bytes(r["qr_verifier"]),
        pin_verifier=r["pin_verifier"],
        manual_failures=int(r["manual_failures"]),
        code_used=bool(r["code_used"]),
        factor_failures=int(r["factor_failures"]),
        receipt=r["receipt"],
    )


def _compartment(r: sqlite3.Row) -> Compartment:
    return Compartment(
        number=int(r["number"]),
        size=Size(r["size"]),
        height_mm=int(r["height_mm"]),
        state=CompartmentState(r["state"]),
        order_id=r["order_id"],
        content=Content(r["content"]),
        purpose=OpenPurpose(r["purpose"]) if r["purpose"] else None,
        resume_state=CompartmentState(r["resume_state"]) if r["resume_state"] else None,
        door_confirmed_at=r["door_confirmed_at"],
        door_alarmed=bool(r["door_alarmed"]),
        reason=r["reason"],
        changed_at=float(r["updated_at"]),
        move_from=r["move_from"],
    )


def _db_value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    return v.value if hasattr(v, "value") else v


def _json_value(v: Any) -> Any:
    """An outbox field as JSON: enums by value, booleans stay booleans (the hub's event schemas check types)."""
    return v if isinstance(v, bool) else _db_value(v)


class Tx:
    """One write transaction: every state change goes through here and gets its audit entry."""

    def __init__(self, conn: sqlite3.Connection, now: float, actor: str) -> None:
        self.conn = conn
        self.now = now
        self.actor = actor

    def audit(self, kind: str, **fields: Any) -> audit.AuditEntry:
        event = {"type": kind, "t": round(self.now, 3), "actor": self.actor}
        event.update({k: _db_value(v) for k, v in fields.items()})
        return audit.append(self.conn, event)

    def insert_order(self, o: NewOrder) -> None:
        self.conn.execute(
            "INSERT INTO orders (id, pickup_number, document_kind, size, reachable, return_old_id, state,"
            " compartment, valid_from, valid_until, qr_verifier, pin_verifier, manual_failures, code_used,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, 0, 0, ?)",
            (
                o.id,
                o.pickup_number,
                o.document_kind.value,
                o.size.value,
                int(o.reachable),
                int(o.return_old_id),
                OrderState.ANNOUNCED.value,
                o.valid_from,
                o.valid_until,
                o.qr_verifier,
                o.pin_verifier,
                self.now,
            ),
        )
        self.audit("order.state", order=o.id, to=OrderState.ANNOUNCED, why="announced")

    def order(self, order_id: str) -> Order:
        r = self.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,))
        r.row_factory = sqlite3.Row
        row = r.fetchone()
        if row is None:
            raise StoreError(f"no order {order_id}")
        return _order(row)

    def compartment(self, number: int) -> Compartment:
        r = self.conn.execute("SELECT * FROM compartments WHERE number = ?", (number,))
        r.row_factory = sqlite3.Row
        row = r.fetchone()
        if row is None:
            raise StoreError(f"no compartment {number}")
        return _compartment(row)

    def compartments(self, state: CompartmentState) -> list[Compartment]:
        """The compartments in ``state``, by number."""
        r = self.conn.execute("SELECT * FROM compartments WHERE state = ? ORDER BY number", (state.value,))
        r.row_factory = sqlite3.Row
        return [_compartment(row) for row in r.fetchall()]

    def set_order(self, order: Order, new: OrderState | None = None, *, why: str, **fields: Any) -> Order:
        """Change an order's state (checked against the model) and/or fields, with one audit entry."""
        current = self.order(order.id)
        if current.state != order.state:
            raise StoreError(f"order {order.id} changed underneath: {current.state} != {order.state}")
        bad = set(fields) - _ORDER_FIELDS
        if bad:
            raise StoreError(f"unknown order fields {bad}")
        cols = {k: _db_value(v) for k, v in fields.items()}
        if new is not None:
            check_order_transition(current.state, new)
            cols["state"] = new.value
        cols["updated_at"] = self.now
        sets = ", ".join(f"{k} = ?" for k in cols)
        self.conn.execute(f"UPDATE orders SET {sets} WHERE id = ?", (*cols.values(), order.id))
        if new is not None:
            self.audit("order.state", order=order.id, to=new, why=why, **{"from": current.state}, **fields)
        else:
            self.audit("order.update", order=order.id, why=why, **fields)
        return self.order(order.id)

    def set_compartment(
        self, comp: Compartment, new: CompartmentState | None = None, *, why: str, **fields: Any
    ) -> Compartment:
        """Change a compartment's state (checked against the model) and/or fields, with one audit entry."""
        current = self.compartment(comp.number)
        if current.state != comp.state:
            raise StoreError(f"compartment {comp.number} changed underneath: {current.state} != {comp.state}")
        bad = set(fields) - _COMP_FIELDS
        if bad:
            raise StoreError(f"unknown compartment fields {bad}")
        cols = {k: _db_value(v) for k, v in fields.items()}
        if new is not None:
            check_compartment_transition(current.state, new)
            cols["state"] = new.value
        cols["updated_at"] = self.now
        sets = ", ".join(f"{k} = ?" for k in cols)
        self.conn.execute(f"UPDATE compartments SET {sets} WHERE number = ?", (*cols.values(), comp.number))
        if new is not None:
            self.audit(
                "compartment.state",
                compartment=comp.number,
                to=new,
                why=why,
                **{"from": current.state},
                **fields,
            )
        else:
            self.audit("compartment.update", compartment=comp.number, why=why, **fields)
        return self.compartment(comp.number)

    def outbox(self, kind: str, **body: Any) -> str:
        event_id = uuid.uuid4().hex
        payload = {"id": event_id, "kind": kind, "t": round(self.now, 3)}
        payload.update({k: _json_value(v) for k, v in body.items()})
        self.conn.execute(
            "INSERT INTO outbox (id, kind, body, created_at) VALUES (?, ?, ?, ?)",
            (event_id, kind, json.dumps(payload, sort_keys=True, separators=(",", ":")), self.now),
        )
        return event_id

    def raise_alarm(self, kind: AlarmKind, compartment: int | None = None, board: str = "") -> bool:
        """Raise an alarm unless the same one is already open; returns whether a new alarm was raised."""
        row = self.conn.execute(
            "SELECT id FROM alarms WHERE kind = ? AND compartment IS ? AND board = ? AND cleared_at IS NULL",
            (kind.value, compartment, board),
        ).fetchone()
        if row:
            return False
        self.conn.execute(
            "INSERT INTO alarms (kind, compartment, board, raised_at) VALUES (?, ?, ?, ?)",
            (kind.value, compartment, board, self.now),
        )
        self.audit("alarm.raised", alarm=kind, compartment=compartment, board=board)
        self.outbox("alarm", alarm=kind, compartment=compartment, board=board, raised=True)
        return True

    def clear_alarm(self, kind: AlarmKind, compartment: int | None = None, board: str = "") -> bool:
        cur = self.conn.execute(
            "UPDATE alarms SET cleared_at = ? WHERE kind = ? AND compartment IS ? AND board = ? AND cleared_at IS NULL",
            (self.now, kind.value, compartment, board),
        )
        if cur.rowcount:
            self.audit("alarm.cleared", alarm=kind, compartment=compartment, board=board)
            self.outbox("alarm", alarm=kind, compartment=compartment, board=board, raised=False)
            return True
        return False

    def count(self, key: str) -> None:
        """Add one to the station counter ``key`` (kept in ``meta``; reported in the heartbeat)."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1')"
            " ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            (key,),
        )

    def record_failure(self, scope: str, identity: str, cfg: ThrottleConfig) -> None:
        """Count a failure of ``identity``; once the station's count is high, raises ``brute_force`` (citizen
        codes) or ``staff_brute_force`` (staff logins)."""
        if throttle.record_failure(self.conn, scope, identity, self.now, cfg):
            staff = scope == throttle.SCOPE_STAFF
            self.raise_alarm(AlarmKind.STAFF_BRUTE_FORCE if staff else AlarmKind.BRUTE_FORCE)


class Store:
    """Reads of orders, compartments, staff and alarms, and ``change()`` for write transactions."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    @classmethod
    def open(cls, database: Database, clock: Clock, compartments: Sequence[CompartmentConfig]) -> Store:
        migrate(database)
        store = cls(database, clock)
        store.sync_compartments(compartments)
        return store

    @contextmanager
    def change(self, actor: str) -> Iterator[Tx]:
        with self.database.write() as conn:
            yield Tx(conn, self.clock.now(), actor)

    def sync_compartments(self, compartments: Sequence[CompartmentConfig]) -> None:
        """Make the compartments table match the configured map (new ones free; size/height updated)."""
        existing = {c.number: c for c in self.compartments()}
        configured = {c.number for c in compartments}
        with self.change("system") as tx:
            for c in compartments:
                old = existing.get(c.number)
                if old is None:
                    tx.conn.execute(
                        "INSERT INTO compartments (number, size, height_mm, state, updated_at)"
                        " VALUES (?, ?, ?, 'free', ?)",
                        (c.number, c.size.value, c.height_mm, tx.now),
                    )
                    tx.audit("compartment.state", compartment=c.number, to=CompartmentState.FREE, why="configured")
                elif old.size != c.size or old.height_mm != c.height_mm:
                    tx.conn.execute(
                        "UPDATE compartments SET size = ?, height_mm = ?, updated_at = ? WHERE number = ?",
                        (c.size.value, c.height_mm, tx.now, c.number),
                    )
                    tx.audit(
                        "compartment.update",
                        compartment=c.number,
                        why="configured",
                        size=c.size,
                        height_mm=c.height_mm,
                    )
            for number, old in existing.items():
                if number not in configured and old.state != CompartmentState.DISABLED:
                    if old.order_id is not None:
                        raise StoreError(f"compartment {number} holds order {old.order_id} but is not configured")
                    tx.set_compartment(old, CompartmentState.DISABLED, why="unconfigured", reason="not configured")

    # -- reads -------------------------------------------------------------------------------------------
    def order(self, order_id: str) -> Order | None:
        r = self.database.query_one("SELECT * FROM orders WHERE id = ?", (order_id,))
        return _order(r) if r else None

    def order_by_pickup_number(self, pickup_number: str) -> Order | None:
        states = tuple(s.value for s in LIVE)
        marks = ",".join("?" * len(states))
        r = self.database.query_one(
            f"SELECT * FROM orders WHERE pickup_number = ? AND state IN ({marks})", (pickup_number, *states)
        )
        return _order(r) if r else None

    def orders(self, states: Iterable[OrderState] | None = None) -> list[Order]:
        if states is None:
            rows = self.database.query("SELECT * FROM orders ORDER BY id")
        else:
            vals = tuple(s.value for s in states)
            marks = ",".join("?" * len(vals))
            rows = self.database.query(f"SELECT * FROM orders WHERE state IN ({marks}) ORDER BY id", vals)
        return [_order(r) for r in rows]

    def compartment(self, number: int) -> Compartment:
        r = self.database.query_one("SELECT * FROM compartments WHERE number = ?", (number,))
        if r is None:
            raise StoreError(f"no compartment {number}")
        return _compartment(r)

    def compartments(self) -> list[Compartment]:
        return [_compartment(r) for r in self.database.query("SELECT * FROM compartments ORDER BY number")]

    def staff(self, staff_id: str) -> StaffAccount | None:
        r = self.database.query_one("SELECT * FROM staff WHERE id = ?", (staff_id,))
        if r is None:
            return None
        return StaffAccount(
            r["id"],
            bytes(r["badge_hash"]),
            r["pin_verifier"],
            tuple(r["roles"].split(",")),
            bool(r["active"]),
        )

    def open_alarms(self) -> list[tuple[AlarmKind, int | None, str, float]]:
        rows = self.database.query(
            "SELECT kind, compartment, board, raised_at FROM alarms WHERE cleared_at IS NULL ORDER BY id"
        )
        return [(AlarmKind(r["kind"]), r["compartment"], r["board"], float(r["raised_at"])) for r in rows]

    def throttle_state(self, scope: str, identity: str, cfg: ThrottleConfig) -> throttle.ThrottleState:
        with self.database.read() as conn:
            return throttle.state(conn, scope, identity, self.clock.now(), cfg)

    def meta(self, key: str) -> str | None:
        r = self.database.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(r["value"]) if r else None

    # -- outbox (implements locker.ports.Outbox) ---------------------------------------------------------
    def pending(self, limit: int) -> list[OutboxEvent]:
        rows = self.database.query(
            "SELECT id, seq, kind, body, created_at FROM outbox WHERE delivered_at IS NULL AND refused IS NULL"
            " ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [OutboxEvent(r["id"], int(r["seq"]), r["kind"], r["body"], float(r["created_at"])) for r in rows]

    def mark_refused(self, reasons: Mapping[str, str]) -> None:
        """Events the hub refused (its reason kept with each): not sent again, kept for whoever fixes the cause."""
        with self.database.write() as conn:
            conn.executemany(
                "UPDATE outbox SET refused = ? WHERE id = ? AND delivered_at IS NULL",
                [(str(why)[:500], i) for i, why in reasons.items()],
            )

    def mark_delivered(self, ids: Sequence[str], at: float) -> None:
        with self.database.write() as conn:
            conn.executemany(
                "UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                [(at, i) for i in ids],
            )
