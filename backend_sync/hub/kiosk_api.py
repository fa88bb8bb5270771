"""The kiosk-facing API (/api/v1/kiosk/...): signed messages in, bundles, commands and countersignatures out."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from backend_sync import protocol as p
from backend_sync.errors import SchemaError
from backend_sync.hub.bundles import acknowledge, next_bundle
from backend_sync.hub.checkpoints import AuditNotExtended, countersign_checkpoint, raise_audit_alarm
from backend_sync.hub.deps import Hub, HubContext
from backend_sync.hub.errors import Invalid
from backend_sync.hub.ingest import ingest
from backend_sync.hub.messages import authenticate, prune_message_ids
from backend_sync.hub.remote import deliver
from backend_sync.hub.tables import kiosks
from backend_sync.schema import encode

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/kiosk", tags=["kiosk"])
B = TypeVar("B")


def _body(msg: p.KioskMessage, kind: type[B]) -> B:
    if not isinstance(msg.body, kind):
        raise SchemaError(f"message.kind: {msg.header.kind} sent to the {kind.__name__} endpoint")
    return msg.body


def pull(hub: HubContext, data: bytes) -> dict[str, Any]:
    now = hub.clock.now()
    cfg = hub.config.sync
    with hub.store.write() as conn:
        msg, k = authenticate(conn, data, now, cfg.max_clock_skew_s)
        body = _body(msg, p.PullBody)
        acknowledge(conn, k, body.manifest_seq, body.manifest_hash, now)
        bundle = next_bundle(
            conn,
            hub.keys,
            k.device_id,
            now=now,
            lifetime_days=cfg.bundle_lifetime_days,
            max_orders=cfg.max_orders_per_bundle,
        )
        cmds = deliver(conn, hub.keys, k.device_id, now)
    return {"bundle": None if bundle is None else json.loads(bundle), "commands": cmds}


def events(hub: HubContext, data: bytes) -> dict[str, Any]:
    now = hub.clock.now()
    with hub.store.write() as conn:
        msg, k = authenticate(conn, data, now, hub.config.sync.max_clock_skew_s)
        body = _body(msg, p.EventsBody)
        if len(body.events) > hub.config.sync.max_events_per_message:
            raise Invalid(f"events: at most {hub.config.sync.max_events_per_message} per message")
        result = ingest(conn, k, body, now)
    for order_id in result.stored:  # after the commit: notify once per order, never for a re-sent event
        hub.notifier.notify_stored(order_id)
    return {"accepted": result.accepted, "refused": result.refused}


def heartbeat(hub: HubContext, data: bytes) -> dict[str, Any]:
    now = hub.clock.now()
    skew = hub.config.sync.max_clock_skew_s
    with hub.store.write() as conn:
        msg, k = authenticate(conn, data, now, skew)
        body = _body(msg, p.HeartbeatBody)
        health = encode(body) | {"received_at": now}
        conn.execute(
            update(kiosks)
            .where(kiosks.c.device_id == k.device_id)
            .values(last_health=json.dumps(health, sort_keys=True), version=body.software[:64])
        )
        if msg.header.msg_id.startswith("00"):  # about one heartbeat in 256 prunes old message ids
            prune_message_ids(conn, k.device_id, now, skew)
        cmds = deliver(conn, hub.keys, k.device_id, now)
    return {"commands": cmds, "time": int(now)}


def checkpoint(hub: HubContext, data: bytes) -> bytes:
    now = hub.clock.now()
    device = ""
    try:
        with hub.store.write() as conn:
            msg, k = authenticate(conn, data, now, hub.config.sync.max_clock_skew_s)
            device = k.device_id
            return countersign_checkpoint(conn, hub.keys, k, _body(msg, p.CheckpointBody), now)
    except AuditNotExtended:
        with hub.store.write() as conn:
            raise_audit_alarm(conn, device, now)
        raise


async def _run(hub: HubContext, request: Request, handler: Callable[[HubContext, bytes], Any]) -> Any:
    data = await request.body()
    return await run_in_threadpool(handler, hub, data)


@router.post("/pull")
async def pull_route(hub: Hub, request: Request) -> dict[str, Any]:
    result: dict[str, Any] = await _run(hub, request, pull)
    return result


@router.post("/events")
async def events_route(hub: Hub, request: Request) -> dict[str, Any]:
    result: dict[str, Any] = await _run(hub, request, events)
    return result


@router.post("/heartbeat")
async def heartbeat_route(hub: Hub, request: Request) -> dict[str, Any]:
    result: dict[str, Any] = await _run(hub, request, heartbeat)
    return result


@router.post("/checkpoint")
async def checkpoint_route(hub: Hub, request: Request) -> Response:
    cs: bytes = await _run(hub, request, checkpoint)
    return Response(cs, media_type="application/json")
