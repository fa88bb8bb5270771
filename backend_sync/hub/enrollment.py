"""Kiosk enrollment (the kiosk asks with its keys and shows the code the hub gave it; an admin approves with that
code) and kiosk administration routes."""

from __future__ import annotations

import enum
import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Row, delete, func, insert, select, update
from starlette.concurrency import run_in_threadpool

from backend_sync import protocol as p
from backend_sync.commands import CommandKind
from backend_sync.errors import ExpiredError, SchemaError
from backend_sync.hub.auth import AdminPrincipal, Role, require_admin
from backend_sync.hub.db import HubStore
from backend_sync.hub.deps import Hub, HubContext
from backend_sync.hub.errors import Conflict, Forbidden, Invalid, NotFound, TooManyAttempts
from backend_sync.hub.remote import issue_command
from backend_sync.hub.tables import KioskStatus, admin_audit, enrollment_requests, kiosks
from backend_sync.keys import b64, fingerprint, load_x25519_public

router = APIRouter()
r = enrollment_requests.c
MAX_REQUESTS = 10_000  # enrollment requests the hub keeps at most; beyond, the least recently seen go first
REQUEST_TTL_S = 86_400  # a request whose kiosk has not polled for a day is dropped (kiosks poll every 10 s)
APPROVAL_WINDOW_S = 3600
MAX_REFUSED_APPROVALS = 10  # wrong codes per kiosk id, and per admin, within APPROVAL_WINDOW_S


class EnrollmentStatus(enum.StrEnum):
    """What ``/api/v1/enroll/status`` tells a kiosk about the keys it signed with."""

    PENDING = "pending"  # its request waits for an admin
    APPROVED = "approved"  # these keys are the kiosk's: pin the hub keys and sync
    REVOKED = "revoked"  # an admin revoked these keys
    UNKNOWN = "unknown"  # no request for these keys (dropped, or another request was approved): ask again


def _announced(data: bytes, now: float, max_skew_s: int) -> tuple[str, bytes, bytes]:
    """(device id, signing key, encryption key) of a ``key_announce`` signed by the key it names."""
    msg = p.verify_self_signed(data)
    if not isinstance(msg.body, p.KeyAnnounceBody):  # verify_self_signed decodes nothing else
        raise SchemaError("message.body: expected a key_announce")
    load_x25519_public(msg.body.enc_public)
    if abs(msg.header.sent_at - now) > max_skew_s:
        raise ExpiredError(f"message sent at {msg.header.sent_at} is more than {max_skew_s} s from the hub's time")
    return msg.header.device_id, msg.body.sign_public, msg.body.enc_public


def _new_code(conn: Connection, device_id: str) -> str:
    """A random code no other request of this device holds: an admin's code always names one request."""
    taken = set(conn.execute(select(r.code).where(r.device_id == device_id)).scalars())
    while True:
        code = f"{secrets.randbelow(10**p.ENROLLMENT_CODE_DIGITS):0{p.ENROLLMENT_CODE_DIGITS}d}"
        if code not in taken:
            return code


def _drop_expired(conn: Connection, now: float) -> None:
    conn.execute(delete(enrollment_requests).where(r.last_seen < now - REQUEST_TTL_S))


def _make_room(conn: Connection) -> None:
    held = conn.execute(select(func.count()).select_from(enrollment_requests)).scalar_one()
    if held >= MAX_REQUESTS:
        oldest = select(r.id).order_by(r.last_seen, r.id).limit(held - MAX_REQUESTS + 1).scalar_subquery()
        conn.execute(delete(enrollment_requests).where(r.id.in_(oldest)))


def request_enrollment(conn: Connection, data: bytes, now: float, max_skew_s: int) -> dict[str, str]:
    """A kiosk asks to be enrolled with the keys it signed with; the answer is the code it must show.

    Asking again with the same keys gives the same code. No request changes a kiosk row or another request:
    the kiosk row is written only when an admin approves the code the kiosk shows.
    """
    device_id, sign_pub, enc_pub = _announced(data, now, max_skew_s)
    _drop_expired(conn, now)
    row = conn.execute(
        select(r.id, r.code, r.enc_public).where(r.device_id == device_id, r.sign_public == sign_pub.hex())
    ).first()
    if row is not None and row.enc_public == enc_pub.hex():
        conn.execute(update(enrollment_requests).where(r.id == row.id).values(last_seen=now))
        code = str(row.code)
    else:
        if row is not None:  # the owner of the signing key names another encryption key: a new request
            conn.execute(delete(enrollment_requests).where(r.id == row.id))
        _make_room(conn)
        code = _new_code(conn, device_id)
        conn.execute(
            insert(enrollment_requests).values(
                device_id=device_id,
                sign_public=sign_pub.hex(),
                enc_public=enc_pub.hex(),
                code=code,
                created_at=now,
                last_seen=now,
            )
        )
    return {"status": EnrollmentStatus.PENDING.value, "code": code, "key_fingerprint": fingerprint(sign_pub)}


def _check_attempts(conn: Connection, device_id: str, actor: str, now: float) -> None:
    a = admin_audit.c
    refused = a.action == "kiosk.approve_refused"
    for who, where in (("this kiosk id", a.target == device_id), ("you", a.admin_id == actor)):
        times = (
            conn.execute(select(a.at).where(refused, where, a.at > now - APPROVAL_WINDOW_S).order_by(a.at))
            .scalars()
            .all()
        )
        if len(times) >= MAX_REFUSED_APPROVALS:
            wait = int(times[-MAX_REFUSED_APPROVALS] + APPROVAL_WINDOW_S - now) + 1
            raise TooManyAttempts(f"too many wrong codes for {who}; try again in {wait} s", wait)


def approve_kiosk(  # noqa: PLR0917 - the signature the admin pages call
    store: HubStore, device_id: str, code: str, city_id: str, actor: str, now: float
) -> str:
    """An admin enters the code the kiosk shows: the request holding it becomes the kiosk of ``city_id``, with a
    fresh chain at seq 1. Returns the approved signing key's fingerprint.

    A code no request of ``device_id`` holds is refused (403, the same answer for unknown, foreign and enrolled
    ids) and audited; after MAX_REFUSED_APPROVALS refusals per kiosk id or per admin within an hour, 429.
    """
    code = code.strip()
    with store.write() as conn:
        if not store.city_exists(conn, city_id):
            raise NotFound(f"no city {city_id}")
        _check_attempts(conn, device_id, actor, now)
        _drop_expired(conn, now)
        requests = conn.execute(select(enrollment_requests).where(r.device_id == device_id)).all()
        match = next((q for q in requests if hmac.compare_digest(str(q.code), code)), None)
        if match is not None:
            _admit(conn, match, city_id, now)
        store.audit(conn, city_id, actor, "kiosk.approve" if match else "kiosk.approve_refused", device_id, at=now)
    if match is None:  # the refusal's audit row is committed: it is the only change
        raise Forbidden(f"no enrollment request of kiosk {device_id} holds this code")
    return fingerprint(bytes.fromhex(match.sign_public))


def _admit(conn: Connection, request: Row[Any], city_id: str, now: float) -> None:
    device_id = request.device_id
    kiosk = conn.execute(select(kiosks.c.status).where(kiosks.c.device_id == device_id).with_for_update()).first()
    if kiosk is not None and kiosk.status == KioskStatus.APPROVED:
        raise Conflict(f"kiosk {device_id} is enrolled; revoke it before approving new keys for it")
    values: dict[str, Any] = {
        "status": KioskStatus.APPROVED.value,
        "sign_public": request.sign_public,
        "enc_public": request.enc_public,
        "city_id": city_id,
        "approved_at": now,
        "bundle_seq": 0,
        "bundle_head": p.GENESIS_HASH.hex(),
        "checkpoint_size": 0,
        "checkpoint_head": p.GENESIS_HASH.hex(),
        "staff_rev_acked": 0,
        "resync": True,
    }
    if kiosk is None:
        conn.execute(insert(kiosks).values(device_id=device_id, name=device_id, created_at=now, **values))
    else:
        conn.execute(update(kiosks).where(kiosks.c.device_id == device_id).values(**values))
    conn.execute(delete(enrollment_requests).where(r.device_id == device_id))


def revoke_kiosk(store: HubStore, device_id: str, city_id: str | None, actor: str, *, now: float) -> None:
    with store.write() as conn:
        row = conn.execute(select(kiosks.c.city_id).where(kiosks.c.device_id == device_id).with_for_update()).first()
        if row is None or (city_id is not None and row.city_id != city_id):
            raise NotFound(f"no kiosk {device_id}")
        conn.execute(update(kiosks).where(kiosks.c.device_id == device_id).values(status=KioskStatus.REVOKED.value))
        store.audit(conn, row.city_id, actor, "kiosk.revoke", device_id, at=now)


def enrollment_status(hub: HubContext, data: bytes) -> dict[str, Any]:
    """A kiosk's poll, signed by the key it asked with: its status, and the hub keys to pin once approved."""
    now = hub.clock.now()
    device_id, sign_pub, enc_pub = _announced(data, now, hub.config.sync.max_clock_skew_s)
    with hub.store.write() as conn:
        asked = conn.execute(
            update(enrollment_requests)
            .where(r.device_id == device_id, r.sign_public == sign_pub.hex(), r.enc_public == enc_pub.hex())
            .where(r.last_seen >= now - REQUEST_TTL_S)  # an expired request is dropped at the next enroll
            .values(last_seen=now)
        ).rowcount
        kiosk = conn.execute(
            select(kiosks.c.status).where(kiosks.c.device_id == device_id, kiosks.c.sign_public == sign_pub.hex())
        ).first()
    if asked:
        status = EnrollmentStatus.PENDING
    elif kiosk is not None and kiosk.status in (KioskStatus.APPROVED, KioskStatus.REVOKED):
        status = EnrollmentStatus(kiosk.status)
    else:
        status = EnrollmentStatus.UNKNOWN
    out: dict[str, Any] = {"status": status.value}
    if status == EnrollmentStatus.APPROVED:
        out["hub_keys"] = [{"key_id": kid, "public_key": b64(pub)} for kid, pub in hub.keys.pinned]
    return out


# -- routes ---------------------------------------------------------------------------------------------------
Admin = Annotated[AdminPrincipal, Depends(require_admin)]


def _may_manage(principal: AdminPrincipal, city_id: str | None) -> None:
    if not principal.allows(Role.PLATFORM, Role.ADMIN):
        raise Forbidden("only a city admin or the platform operator manages kiosks")
    if principal.role != Role.PLATFORM and city_id != principal.city_id:
        raise Forbidden("kiosks of another city")


@router.post("/api/v1/enroll", tags=["kiosk"])
async def enroll(hub: Hub, request: Request) -> dict[str, str]:
    data = await request.body()

    def store() -> dict[str, str]:
        with hub.store.write() as conn:
            return request_enrollment(conn, data, hub.clock.now(), hub.config.sync.max_clock_skew_s)

    return await run_in_threadpool(store)


@router.post("/api/v1/enroll/status", tags=["kiosk"])
async def enroll_status(hub: Hub, request: Request) -> dict[str, Any]:
    data = await request.body()
    return await run_in_threadpool(enrollment_status, hub, data)


class ApproveIn(BaseModel):
    code: str = Field(pattern=r"^\s*[0-9]{8}\s*$")
    city_id: str | None = Field(default=None, min_length=1, max_length=64, description="default: the admin's city")


@router.post("/admin/api/kiosks/{device_id}/approve", tags=["admin"])
def approve(hub: Hub, principal: Admin, device_id: str, body: ApproveIn) -> dict[str, str]:
    city_id = body.city_id or principal.city_id
    if city_id is None:
        raise Invalid("city_id: the platform operator names the city the kiosk joins")
    _may_manage(principal, city_id)
    fp = approve_kiosk(hub.store, device_id, body.code, city_id, principal.admin_id, now=hub.clock.now())
    return {"status": KioskStatus.APPROVED.value, "key_fingerprint": fp}


@router.post("/admin/api/kiosks/{device_id}/revoke", tags=["admin"])
def revoke(hub: Hub, principal: Admin, device_id: str) -> dict[str, str]:
    _may_manage(principal, principal.city_id)
    city = None if principal.role == Role.PLATFORM else principal.city_id
    revoke_kiosk(hub.store, device_id, city, principal.admin_id, now=hub.clock.now())
    return {"status": KioskStatus.REVOKED.value}


class CommandIn(BaseModel):
    kind: CommandKind
    reason: str = Field(min_length=3, max_length=200)
    compartment: int | None = None
    on: bool | None = None


@router.post("/admin/api/kiosks/{device_id}/commands", tags=["admin"], status_code=201)
def command(hub: Hub, principal: Admin, device_id: str, body: CommandIn) -> dict[str, str]:
    _may_manage(principal, principal.city_id)
    city = None if principal.role == Role.PLATFORM else principal.city_id
    with hub.store.write() as conn:
        cmd_id = issue_command(
            conn,
            device_id=device_id,
            city_id=city,
            kind=body.kind,
            reason=body.reason,
            issued_by=principal.admin_id,
            now=hub.clock.now(),
            lifetime_s=hub.config.sync.command_lifetime_s,
            compartment=body.compartment,
            on=body.on,
        )
        hub.store.audit(conn, city, principal.admin_id, f"kiosk.command.{body.kind}", device_id, at=hub.clock.now())
    return {"id": cmd_id}
