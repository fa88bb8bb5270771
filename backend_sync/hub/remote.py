"""Remote commands at the hub: issue (city-checked, expiring), hand out signed at most once, expire."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, insert, select, update

from backend_sync.commands import Command, CommandKind, sign_command
from backend_sync.errors import SchemaError
from backend_sync.hub.errors import Conflict, Invalid, NotFound
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.tables import CommandStatus, KioskStatus, commands, kiosks


def issue_command(
    conn: Connection,
    *,
    device_id: str,
    city_id: str | None,
    kind: CommandKind,
    reason: str,
    issued_by: str,
    now: float,
    lifetime_s: int,
    compartment: int | None = None,
    on: bool | None = None,
) -> str:
    """Queue a command for one kiosk of ``city_id`` (None: the platform operator, any city). Returns its id."""
    k = conn.execute(select(kiosks.c.city_id, kiosks.c.status).where(kiosks.c.device_id == device_id)).first()
    if k is None or (city_id is not None and k.city_id != city_id):
        raise NotFound(f"no kiosk {device_id}")
    if k.status != KioskStatus.APPROVED:
        raise Conflict(f"kiosk {device_id} is {k.status}")
    cmd_id = uuid.uuid4().hex
    try:  # validate through the wire schema before anything is stored
        Command(cmd_id, device_id, kind, reason, issued_by, int(now), int(now) + lifetime_s, compartment, on)
    except SchemaError as exc:
        raise Invalid(str(exc)) from exc
    args: dict[str, Any] = {"compartment": compartment, "on": on}
    conn.execute(
        insert(commands).values(
            id=cmd_id,
            device_id=device_id,
            kind=kind.value,
            args=json.dumps(args, sort_keys=True),
            reason=reason,
            issued_by=issued_by,
            issued_at=int(now),
            expires_at=int(now) + lifetime_s,
            status=CommandStatus.PENDING.value,
            result=None,
        )
    )
    if kind == CommandKind.RESYNC:
        conn.execute(update(kiosks).where(kiosks.c.device_id == device_id).values(resync=True))
    return cmd_id


def deliver(conn: Connection, keys: HubKeys, device_id: str, now: float) -> list[dict[str, Any]]:
    """The kiosk's pending commands, signed; they become ``sent`` (never handed out twice: a door must not open
    twice because a response was lost). Pending commands past their expiry become ``expired``."""
    pending = conn.execute(
        select(commands)
        .where(commands.c.device_id == device_id, commands.c.status == CommandStatus.PENDING.value)
        .order_by(commands.c.issued_at, commands.c.id)
    ).all()
    if not pending:
        return []  # the common case: one indexed read per poll
    expired = [r.id for r in pending if r.expires_at < now]
    if expired:
        conn.execute(update(commands).where(commands.c.id.in_(expired)).values(status=CommandStatus.EXPIRED.value))
    rows = [r for r in pending if r.expires_at >= now]
    out = []
    for r in rows:
        args = json.loads(r.args)
        cmd = Command(
            r.id,
            device_id,
            CommandKind(r.kind),
            r.reason,
            r.issued_by,
            int(r.issued_at),
            int(r.expires_at),
            args.get("compartment"),
            args.get("on"),
        )
        out.append(sign_command(keys.signer, cmd))
    if rows:
        conn.execute(
            update(commands).where(commands.c.id.in_([r.id for r in rows])).values(status=CommandStatus.SENT.value)
        )
    return out
