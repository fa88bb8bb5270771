"""Kiosk enrollment (kiosk shows a one-time code, an admin approves with it) and kiosk administration routes."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, update
from starlette.concurrency import run_in_threadpool

from backend_sync import protocol as p
from backend_sync.commands import CommandKind
from backend_sync.errors import SchemaError
from backend_sync.hub.auth import AdminPrincipal, Role, require_admin
from backend_sync.hub.db import HubStore
from backend_sync.hub.deps import Hub, HubContext
from backend_sync.hub.errors import Conflict, Forbidden, NotFound
from backend_sync.hub.messages import authenticate
from backend_sync.hub.remote import issue_command
from backend_sync.hub.tables import KioskStatus, kiosks
from backend_sync.keys import b64
from backend_sync.protocol import enrollment_code_hash

router = APIRouter()
CODE_DIGITS = 8


class EnrollIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=64)
    sign_public: str = Field(description="base64, raw Ed25519 public key (32 bytes)")
    enc_public: str = Field(description="base64, raw X25519 public key (32 bytes)")
    code_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="enrollment_code_hash(device_id, code)")
    version: str = Field(default="", max_length=64)


def _raw_key(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SchemaError(f"{where}: not base64") from exc
    if len(raw) != 32:
        raise SchemaError(f"{where}: expected 32 bytes")
    return raw


def request_enrollment(conn: Connection, body: EnrollIn, now: float) -> KioskStatus:
    """Store (or renew) a pending enrollment. An approved kiosk must be revoked before it can enroll again."""
    p.check_device_id(body.device_id)
    sign_pub = _raw_key(body.sign_public, "sign_public")
    enc_pub = _raw_key(body.enc_public, "enc_public")
    row = conn.execute(select(kiosks.c.status).where(kiosks.c.device_id == body.device_id).with_for_update()).first()
    values: dict[str, Any] = {
        "status": KioskStatus.PENDING.value,
        "enrollment_code_hash": body.code_hash,
        "sign_public": sign_pub.hex(),
        "enc_public": enc_pub.hex(),
        "version": body.version,
    }
    if row is None:
        conn.execute(insert(kiosks).values(device_id=body.device_id, name=body.device_id, created_at=now, **values))
    elif row.status == KioskStatus.APPROVED:
        raise Conflict(f"kiosk {body.device_id} is enrolled; an admin must revoke it before it enrolls again")
    else:
        conn.execute(update(kiosks).where(kiosks.c.device_id == body.device_id).values(**values))
    return KioskStatus.PENDING


def approve_kiosk(  # noqa: PLR0917 - the signature the admin pages call
    store: HubStore, device_id: str, code: str, city_id: str, actor: str, now: float
) -> None:
    """An admin enters the code the kiosk shows: the kiosk joins ``city_id`` and starts a fresh chain at seq 1.

    A wrong code is refused (403) and the refusal is audited (committed: the audit row is the only change).
    """
    with store.write() as conn:
        if not store.city_exists(conn, city_id):
            raise NotFound(f"no city {city_id}")
        row = conn.execute(select(kiosks).where(kiosks.c.device_id == device_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"no kiosk {device_id} waiting for approval")
        if row.status != KioskStatus.PENDING or row.enrollment_code_hash is None:
            raise Conflict(f"kiosk {device_id} is {row.status}, not pending")
        matches = hmac.compare_digest(enrollment_code_hash(device_id, code.strip()), row.enrollment_code_hash)
        if matches:
            conn.execute(
                update(kiosks)
                .where(kiosks.c.device_id == device_id)
                .values(
                    status=KioskStatus.APPROVED.value,
                    city_id=city_id,
                    approved_at=now,
                    enrollment_code_hash=None,
                    bundle_seq=0,
                    bundle_head=p.GENESIS_HASH.hex(),
                    checkpoint_size=0,
                    checkpoint_head=p.GENESIS_HASH.hex(),
                    staff_rev_acked=0,
                    resync=True,
                )
            )
        action = "kiosk.approve" if matches else "kiosk.approve_refused"
        store.audit(conn, city_id, actor, action, device_id, at=now)
    if not matches:
        raise Forbidden("the code does not match the one the kiosk shows")


def revoke_kiosk(store: HubStore, device_id: str, city_id: str | None, actor: str, *, now: float) -> None:
    with store.write() as conn:
        row = conn.execute(select(kiosks.c.city_id).where(kiosks.c.device_id == device_id).with_for_update()).first()
        if row is None or (city_id is not None and row.city_id != city_id):
            raise NotFound(f"no kiosk {device_id}")
        conn.execute(update(kiosks).where(kiosks.c.device_id == device_id).values(status=KioskStatus.REVOKED.value))
        store.audit(conn, row.city_id, actor, "kiosk.revoke", device_id, at=now)


def enrollment_status(hub: HubContext, data: bytes) -> dict[str, Any]:
    """A signed poll by the enrolling kiosk: its status, and the hub keys to pin once approved."""
    now = hub.clock.now()
    allowed = (KioskStatus.PENDING, KioskStatus.APPROVED, KioskStatus.REVOKED)
    with hub.store.write() as conn:
        _msg, row = authenticate(conn, data, now, hub.config.sync.max_clock_skew_s, allowed=allowed)
    out: dict[str, Any] = {"status": row.status}
    if row.status == KioskStatus.APPROVED:
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
def enroll(hub: Hub, body: EnrollIn) -> dict[str, str]:
    with hub.store.write() as conn:
        status = request_enrollment(conn, body, hub.clock.now())
    return {"status": status.value}


@router.post("/api/v1/enroll/status", tags=["kiosk"])
async def enroll_status(hub: Hub, request: Request) -> dict[str, Any]:
    data = await request.body()
    return await run_in_threadpool(enrollment_status, hub, data)


class ApproveIn(BaseModel):
    code: str = Field(pattern=r"^\s*[0-9]{8}\s*$")
    city_id: str = Field(min_length=1, max_length=64)


@router.post("/admin/api/kiosks/{device_id}/approve", tags=["admin"])
def approve(hub: Hub, principal: Admin, device_id: str, body: ApproveIn) -> dict[str, str]:
    _may_manage(principal, body.city_id)
    approve_kiosk(hub.store, device_id, body.code, body.city_id, principal.admin_id, now=hub.clock.now())
    return {"status": KioskStatus.APPROVED.value}


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
