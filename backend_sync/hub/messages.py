"""Authenticating kiosk messages at the hub: the kiosk's pinned key, its status, clock skew, replayed ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.errors import ExpiredError, ReplayError, SchemaError
from backend_sync.hub.errors import Forbidden, Unauthorized
from backend_sync.hub.tables import KioskStatus, kiosk_messages, kiosks
from backend_sync.keys import key_id, load_ed25519_public


def claimed_device(data: bytes) -> str:
    """The device id a message claims (unverified: only to find the key that must have signed it)."""
    raw = schema.loads(data)
    msg = raw.get("message") if isinstance(raw, dict) else None
    device = msg.get("device_id") if isinstance(msg, dict) else None
    if not isinstance(device, str):
        raise SchemaError("message.device_id: missing")
    p.check_device_id(device, "message.device_id")
    return device


def kiosk_row(conn: Connection, device_id: str, *, lock: bool) -> Row[Any] | None:
    q = select(kiosks).where(kiosks.c.device_id == device_id)
    if lock:
        q = q.with_for_update()  # one request per kiosk at a time (PostgreSQL; SQLite writers are serial anyway)
    return conn.execute(q).first()


def authenticate(
    conn: Connection,
    data: bytes,
    now: float,
    max_skew_s: int,
    *,
    allowed: tuple[KioskStatus, ...] = (KioskStatus.APPROVED,),
) -> tuple[p.KioskMessage, Row[Any]]:
    """Verify a signed kiosk message inside the request's write transaction; the kiosk row is locked.

    Order: find the kiosk the message names, verify the signature with its registered key (TamperError),
    check its status, the clock skew and that the message id was never seen (ReplayError); record the id.
    """
    device = claimed_device(data)
    row = kiosk_row(conn, device, lock=True)
    if row is None:
        raise Unauthorized(f"unknown kiosk {device!r}: enroll first")
    sign_public = bytes.fromhex(row.sign_public)
    msg = p.verify_kiosk_message(data, device, {key_id(sign_public): load_ed25519_public(sign_public)})
    if row.status not in allowed:
        raise Forbidden(f"kiosk {device} is {row.status}")
    if abs(msg.header.sent_at - now) > max_skew_s:
        raise ExpiredError(f"message sent at {msg.header.sent_at} is more than {max_skew_s} s from the hub's time")
    seen = conn.execute(select(kiosk_messages.c.msg_id).where(kiosk_messages.c.msg_id == msg.header.msg_id)).first()
    if seen is not None:
        raise ReplayError(f"message {msg.header.msg_id} was already received")
    conn.execute(
        insert(kiosk_messages).values(
            msg_id=msg.header.msg_id, device_id=device, sent_at=msg.header.sent_at, received_at=now
        )
    )
    conn.execute(update(kiosks).where(kiosks.c.device_id == device).values(last_seen=now))
    return msg, row


def prune_message_ids(conn: Connection, device_id: str, now: float, max_skew_s: int) -> None:
    """Forget message ids old enough that the skew check refuses them anyway."""
    conn.execute(
        delete(kiosk_messages).where(
            kiosk_messages.c.device_id == device_id, kiosk_messages.c.sent_at < now - 2 * max_skew_s
        )
    )
