"""Kiosk events at the hub: each outbox id processed exactly once, applied to orders, alarms and commands."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from backend_sync import event_bodies
from backend_sync import protocol as p
from backend_sync.commands import RESULT_EVENT, CommandOutcome
from backend_sync.errors import SchemaError
from backend_sync.hub.orders import mark_dirty
from backend_sync.hub.tables import CommandStatus, HubOrderState, alarms, checkpoints, commands, events, orders

log = logging.getLogger(__name__)

# Which hub order states each kiosk event may move an order out of (the kiosk is the truth about the door).
_FROM: dict[str, tuple[HubOrderState, ...]] = {
    "stored": (HubOrderState.ANNOUNCED,),
    "collected": (
        HubOrderState.ANNOUNCED,
        HubOrderState.STORED,
        HubOrderState.EXPIRED,
        HubOrderState.CANCELLED,
        HubOrderState.RETURNED,  # handed over at the counter after staff took it out
    ),
    "expired": (HubOrderState.ANNOUNCED, HubOrderState.STORED),
    "returned": (
        HubOrderState.ANNOUNCED,
        HubOrderState.STORED,
        HubOrderState.EXPIRED,
        HubOrderState.CANCELLED,
    ),
}
_TIME_COLUMN = {"stored": "stored_at", "collected": "collected_at"}


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # orders to notify about, after the commit
    refused: dict[str, str] = field(default_factory=dict)  # event id -> why (not accepted: not ours, or malformed)


@dataclass(frozen=True)
class _Ctx:
    conn: Connection
    device_id: str
    city_id: str
    now: float
    result: IngestResult


def ingest(conn: Connection, kiosk: Row[Any], body: p.EventsBody, now: float) -> IngestResult:
    """Record and apply each event not seen before; events already processed are accepted again unchanged.

    An event whose body does not fit its kind's schema (``event_bodies``), or of a kind the hub does not know, is
    refused: not recorded, listed in ``refused`` with the reason. An event that fits but cannot be applied (unknown
    order, impossible transition) is recorded and accepted, with the reason in ``events.outcome``: re-sending it
    would never help, and nothing is silently dropped.
    """
    result = IngestResult()
    ctx = _Ctx(conn, kiosk.device_id, kiosk.city_id, now, result)
    for ev in body.events:
        seen = conn.execute(select(events.c.device_id).where(events.c.event_id == ev.id)).first()
        if seen is not None:
            if seen.device_id == kiosk.device_id:
                result.accepted.append(ev.id)
            else:
                result.refused[ev.id] = "event id belongs to another kiosk"
            continue
        try:
            data = event_bodies.check(ev)
        except SchemaError as exc:  # not recorded: the kiosk hears why, and a corrected event may come later
            result.refused[ev.id] = str(exc)
            log.warning("kiosk %s event %s (%s) refused: %s", kiosk.device_id, ev.id, ev.kind, exc)
            continue
        outcome = _apply(ctx, ev.kind, data)
        if outcome != "applied":
            log.info("kiosk %s event %s (%s): %s", kiosk.device_id, ev.id, ev.kind, outcome)
        conn.execute(
            insert(events).values(
                event_id=ev.id, device_id=kiosk.device_id, kind=ev.kind, body=ev.body, received_at=now, outcome=outcome
            )
        )
        result.accepted.append(ev.id)
    return result


def _apply(ctx: _Ctx, kind: str, data: dict[str, Any]) -> str:
    handler = _HANDLERS.get(kind)
    if handler is None:
        return "recorded"
    return handler(ctx, data)


def _order(ctx: _Ctx, data: dict[str, Any]) -> Row[Any] | None:
    order_id = data.get("order")
    if not isinstance(order_id, str):
        return None
    return ctx.conn.execute(
        select(orders).where(
            orders.c.id == order_id, orders.c.city_id == ctx.city_id, orders.c.kiosk_id == ctx.device_id
        )
    ).first()


def _kiosk_time(data: dict[str, Any], fallback: float) -> float:
    t = data.get("t")
    return float(t) if isinstance(t, int | float) and not isinstance(t, bool) else fallback


def _order_event(kind: str) -> Callable[[_Ctx, dict[str, Any]], str]:
    def handler(ctx: _Ctx, data: dict[str, Any]) -> str:
        o = _order(ctx, data)
        if o is None:
            return "ignored: unknown order"
        if o.state not in _FROM[kind]:
            return f"ignored: order is {o.state}"
        values: dict[str, Any] = {"state": kind, "updated_at": ctx.now}
        if kind in _TIME_COLUMN:
            values[_TIME_COLUMN[kind]] = _kiosk_time(data, ctx.now)
        if kind == "collected":
            values["handover_proof"] = json.dumps(_proof(ctx, data), sort_keys=True)
        if kind == "stored":
            values["compartment"] = data["compartment"]
        elif kind in ("collected", "returned"):
            values["compartment"] = None  # the document is out of the station's compartments
        ctx.conn.execute(update(orders).where(orders.c.id == o.id).values(**values))
        if kind == "stored":
            ctx.result.stored.append(o.id)
        elif o.id in ctx.result.stored:  # collected (or expired, returned) in the same batch: no notice is due
            ctx.result.stored.remove(o.id)
        return "applied"

    return handler


def _proof(ctx: _Ctx, data: dict[str, Any]) -> dict[str, Any]:
    """The handover proof (audit seq and hash); checked now if a countersigned checkpoint ends exactly there,
    otherwise when one does (``checkpoints.check_proofs``)."""
    proof = data.get("proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("audit_seq"), int):
        return {"audit_seq": None, "audit_hash": None, "check": "missing"}
    out = {
        "audit_seq": proof["audit_seq"],
        "audit_hash": str(proof.get("audit_hash", "")),
        "method": proof.get("method", ""),
        "statement": proof.get("statement"),
        "taken": proof.get("taken", ""),
        "staff": proof.get("staff", []),
        "compartment": data.get("compartment"),
        "check": "pending",
    }
    cp = ctx.conn.execute(
        select(checkpoints.c.head).where(
            checkpoints.c.device_id == ctx.device_id, checkpoints.c.size == out["audit_seq"]
        )
    ).first()
    if cp is not None:
        out["check"] = "match" if cp.head == out["audit_hash"] else "mismatch"
    return out


def _alarm(ctx: _Ctx, data: dict[str, Any]) -> str:
    kind = data.get("alarm")
    if not isinstance(kind, str):
        return "ignored: no alarm kind"
    comp = data.get("compartment")
    comp = comp if isinstance(comp, int) and not isinstance(comp, bool) else None
    at = _kiosk_time(data, ctx.now)
    if data.get("raised") is False:
        ctx.conn.execute(
            update(alarms)
            .where(
                alarms.c.device_id == ctx.device_id,
                alarms.c.kind == kind,
                alarms.c.compartment.is_(comp) if comp is None else alarms.c.compartment == comp,
                alarms.c.cleared_at.is_(None),
            )
            .values(cleared_at=at)
        )
    else:
        ctx.conn.execute(insert(alarms).values(device_id=ctx.device_id, kind=kind, compartment=comp, raised_at=at))
    return "applied"


def _old_id(ctx: _Ctx, data: dict[str, Any], returned: bool) -> str:
    """An old ID card went into a compartment (``old_id_returned``) or staff took it out (``old_id_taken``)."""
    o = _order(ctx, data)
    if o is None:
        return "ignored: unknown order"
    at = _kiosk_time(data, ctx.now)
    if returned:
        values: dict[str, Any] = {"old_id_compartment": data["compartment"], "old_id_returned_at": at}
        values["old_id_taken_at"] = None
    else:
        values = {"old_id_taken_at": at}
    ctx.conn.execute(update(orders).where(orders.c.id == o.id).values(**values, updated_at=ctx.now))
    return "applied"


# Hub order states in which the kiosk's document lies in a compartment (and may be moved).
_IN_COMPARTMENT = (HubOrderState.STORED, HubOrderState.EXPIRED, HubOrderState.CANCELLED)


def _moved(ctx: _Ctx, data: dict[str, Any]) -> str:
    """Staff moved the document to another compartment: the order's compartment is the new one (no notice)."""
    o = _order(ctx, data)
    if o is None:
        return "ignored: unknown order"
    if o.state not in _IN_COMPARTMENT:
        return f"ignored: order is {o.state}"
    values = {"compartment": data["compartment"], "moved_at": _kiosk_time(data, ctx.now), "updated_at": ctx.now}
    ctx.conn.execute(update(orders).where(orders.c.id == o.id).values(**values))
    return "applied"


def _manual_path(ctx: _Ctx, data: dict[str, Any]) -> str:
    o = _order(ctx, data)
    if o is None:
        return "ignored: unknown order"
    at = _kiosk_time(data, ctx.now) if data["locked"] else None
    ctx.conn.execute(update(orders).where(orders.c.id == o.id).values(manual_locked_at=at, updated_at=ctx.now))
    return "applied"


def _cancel_deferred(ctx: _Ctx, data: dict[str, Any]) -> str:
    o = _order(ctx, data)
    if o is None:
        return "ignored: unknown order"
    if o.state != HubOrderState.CANCELLED:
        return f"ignored: order is {o.state}"
    mark_dirty(ctx.conn, o.id, ctx.now)  # the cancellation goes into the next bundle again
    return "applied"


_COMMAND_STATUS = {
    CommandOutcome.DONE: CommandStatus.DONE,
    CommandOutcome.FAILED: CommandStatus.FAILED,
    CommandOutcome.INTERRUPTED: CommandStatus.INTERRUPTED,
}


def _command_result(ctx: _Ctx, data: dict[str, Any]) -> str:
    cmd_id, outcome = data.get("command"), data.get("outcome")
    if not isinstance(cmd_id, str) or not isinstance(outcome, str) or outcome not in _COMMAND_STATUS:
        return "ignored: malformed command result"
    status = _COMMAND_STATUS[CommandOutcome(outcome)]
    res = ctx.conn.execute(
        update(commands)
        .where(commands.c.id == cmd_id, commands.c.device_id == ctx.device_id)
        .values(status=status.value, result=json.dumps({"outcome": outcome, "detail": str(data.get("detail", ""))}))
    )
    return "applied" if res.rowcount else "ignored: unknown command"


_HANDLERS: dict[str, Callable[[_Ctx, dict[str, Any]], str]] = {
    "stored": _order_event("stored"),
    "collected": _order_event("collected"),
    "expired": _order_event("expired"),
    "returned": _order_event("returned"),
    "old_id_returned": lambda ctx, data: _old_id(ctx, data, True),
    "old_id_taken": lambda ctx, data: _old_id(ctx, data, False),
    "moved": _moved,
    "manual_path": _manual_path,
    "alarm": _alarm,
    "cancel_deferred": _cancel_deferred,
    RESULT_EVENT: _command_result,
}
