"""Orders in: the city's case-management REST API (idempotent by reference), codes issued by the hub."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend_sync.hub import orders as hub_orders
from backend_sync.hub import tables as hubdb
from backend_sync.hub.auth import CITY_ROLES, AdminPrincipal, Role, audit, require_role
from backend_sync.hub.checkpoints import covering_checkpoint
from backend_sync.hub.city_policy import city_settings, document_policy
from backend_sync.hub.deps import Hub
from backend_sync.hub.errors import Conflict, Invalid, NotFound
from backend_sync.hub.notice_texts import Language
from backend_sync.hub.tables import HubOrderState
from locker import codes
from locker.doctypes import DocumentPolicy, DocumentType, legacy_type
from locker.errors import BadInput
from locker.model import Size as ModelSize

DAY_S = 86400
MAX_VALID_DAYS = 60
MAX_TOTAL_DAYS = 120
LIVE_STATES = (HubOrderState.ANNOUNCED.value, HubOrderState.STORED.value)
EMAIL_PATTERN = r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"

OrderWriter = Annotated[AdminPrincipal, Depends(require_role(Role.OFFICE, Role.API))]
OrderReader = Annotated[AdminPrincipal, Depends(require_role(*CITY_ROLES, Role.API))]


class Size(StrEnum):
    S = "S"
    M = "M"
    L = "L"


class OrderIn(BaseModel):
    """One order from the case-management system (or one CSV line)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    kiosk: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    document_kind: DocumentType = Field(default=DocumentType.ID_CARD, description="id_card, passport, eat, certificate")
    size: Size
    reachable: bool = False
    return_old_id: bool = False
    language: Language = Language.DE
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    postal_address: str | None = Field(default=None, min_length=5, max_length=500)
    date_of_birth: str | None = Field(default=None, max_length=10, description="only if the city uses it")
    valid_days: int = Field(default=7, ge=1, le=MAX_VALID_DAYS)

    @field_validator("document_kind", mode="before")
    @classmethod
    def _exact_type(cls, v: object) -> object:
        return DocumentType.exact(v) if isinstance(v, str) else v  # no earlier free-text aliases at the door

    @model_validator(mode="after")
    def _contact(self) -> OrderIn:
        if not self.email and not self.postal_address:
            raise ValueError("an e-mail address or a postal address is required")
        return self


class CheckpointOut(BaseModel):
    size: int  # the countersigned log size; the proof's entry is at or before it
    at: float  # when the hub countersigned it


class ProofOut(BaseModel):
    """The handover proof of a collected order, as the kiosk reported it and the hub checked it."""

    at: float | None  # when (the kiosk's time of the handover)
    kiosk: str  # where
    compartment: int | None  # null: handed over at the counter after staff had taken it out
    method: str  # how: qr | manual | counter ("" from stations before kiosk migration 0007)
    statement: dict[str, str] | None  # the receipt statement confirmed: id, version, language
    taken: str  # who says the compartment was empty: sensor | citizen | staff
    staff: list[str]  # counter handovers: who handed it over
    audit_seq: int | None  # the kiosk's audit entry pickup.handover
    audit_hash: str | None
    check: str  # pending (no countersigned checkpoint covers it yet) | match | mismatch | missing
    checkpoint: CheckpointOut | None = None  # the countersigned checkpoint that covers it (single-order answers)


class OrderOut(BaseModel):
    """An order as the city sees it: never the codes, never the contact data (only whether it exists)."""

    id: str
    reference: str
    kiosk: str
    document_kind: str
    size: str
    reachable: bool
    return_old_id: bool
    language: str
    state: str
    pickup_number: str
    valid_from: float
    valid_until: float
    created_at: float
    stored_at: float | None
    collected_at: float | None
    notice_sent_at: float | None
    reminder_sent_at: float | None
    has_email: bool
    has_postal_address: bool
    proof: ProofOut | None = None  # collected orders
    compartment: int | None = None  # where the document lies at the kiosk (stored; after a move the new one)
    moved_at: float | None = None  # staff last moved it to another compartment
    old_id_compartment: int | None = None  # where the returned old ID card lies (until staff take it out)
    old_id_returned_at: float | None = None
    old_id_taken_at: float | None = None
    manual_locked_at: float | None = None  # the kiosk locked pickup number + PIN (too many wrong PINs); QR still works


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(ge=1, le=MAX_VALID_DAYS)


def to_out(row: Any) -> OrderOut:
    return OrderOut(
        id=row.id,
        reference=row.reference,
        kiosk=row.kiosk_id,
        document_kind=row.document_kind,
        size=row.size,
        reachable=row.reachable,
        return_old_id=row.return_old_id,
        language=row.language,
        state=row.state,
        pickup_number=row.pickup_number,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        created_at=row.created_at,
        stored_at=row.stored_at,
        collected_at=row.collected_at,
        notice_sent_at=row.notice_sent_at,
        reminder_sent_at=row.reminder_sent_at,
        has_email=bool(row.email),
        has_postal_address=bool(row.postal_address),
        proof=_proof(row),
        compartment=row.compartment,
        moved_at=row.moved_at,
        old_id_compartment=row.old_id_compartment,
        old_id_returned_at=row.old_id_returned_at,
        old_id_taken_at=row.old_id_taken_at,
        manual_locked_at=row.manual_locked_at,
    )


def _proof(row: Any) -> ProofOut | None:
    if not row.handover_proof:
        return None
    p = json.loads(row.handover_proof)
    return ProofOut(
        at=row.collected_at,
        kiosk=row.kiosk_id,
        compartment=p.get("compartment"),
        method=p.get("method", ""),
        statement=p.get("statement"),
        taken=p.get("taken", ""),
        staff=list(p.get("staff", [])),
        audit_seq=p.get("audit_seq"),
        audit_hash=p.get("audit_hash"),
        check=p.get("check", "pending"),
    )


def with_checkpoint(conn: sa.Connection, out: OrderOut) -> OrderOut:
    """The order with the countersigned checkpoint that covers its handover proof, where one does."""
    p = out.proof
    if p is None or p.audit_seq is None or p.check != "match":
        return out
    cp = covering_checkpoint(conn, p.kiosk, p.audit_seq)
    if cp is None:
        return out
    size, at = cp
    return out.model_copy(update={"proof": p.model_copy(update={"checkpoint": CheckpointOut(size=size, at=at)})})


def _same_content(row: Any, body: OrderIn) -> bool:
    """Idempotency: the stored order matches the request (the date of birth is not stored and not compared)."""
    return (
        row.kiosk_id == body.kiosk
        and row.document_kind == body.document_kind
        and row.size == body.size.value
        and bool(row.reachable) == body.reachable
        and bool(row.return_old_id) == body.return_old_id
        and row.language == body.language.value
        and (row.email or None) == (body.email or None)
        and (row.postal_address or None) == (body.postal_address or None)
    )


def city_kiosk(conn: sa.Connection, city_id: str, device_id: str) -> Any:
    """The approved kiosk ``device_id`` of this city; NotFound for unknown kiosks and other cities' kiosks alike."""
    k = hubdb.kiosks
    row = conn.execute(
        sa.select(k).where(
            k.c.device_id == device_id, k.c.city_id == city_id, k.c.status == hubdb.KioskStatus.APPROVED.value
        )
    ).first()
    if row is None:
        raise NotFound(f"kiosk {device_id!r} is not an approved kiosk of this city")
    return row


def city_order(conn: sa.Connection, city_id: str, order_id: str) -> Any:
    o = hubdb.orders
    row = conn.execute(sa.select(o).where(o.c.id == order_id, o.c.city_id == city_id)).first()
    if row is None:
        raise NotFound(f"order {order_id!r} not found")
    return row


def _dob_of(policy: DocumentPolicy, date_of_birth: str | None) -> str:
    """The date of birth to fold into the verifiers, as the policy of the order's document type asks."""
    if not policy.asks_date_of_birth:
        if date_of_birth:
            raise Invalid(f"date_of_birth: this city does not use the date of birth for a {policy.document_type}")
        return ""
    if not date_of_birth:
        raise Invalid(f"date_of_birth: required by this city for a {policy.document_type} (second factor)")
    try:
        return codes.normalize_dob(date_of_birth)
    except BadInput as exc:
        raise Invalid(f"date_of_birth: {exc}") from exc


def create_order(conn: sa.Connection, principal: AdminPrincipal, body: OrderIn, now: float) -> tuple[OrderOut, bool]:
    """Create the order (codes issued, clear codes kept for the notice) or return the identical existing one."""
    city_id = principal.city()
    o = hubdb.orders
    existing = conn.execute(sa.select(o).where(o.c.city_id == city_id, o.c.reference == body.reference)).first()
    if existing is not None:
        if not _same_content(existing, body):
            raise Conflict(f"reference {body.reference!r} exists with different content (order {existing.id})")
        return to_out(existing), False
    settings = city_settings(conn, city_id)
    dob = _dob_of(document_policy(conn, city_id, body.document_kind), body.date_of_birth)
    city_kiosk(conn, city_id, body.kiosk)
    created = hub_orders.create_order(
        conn,
        hub_orders.NewHubOrder(
            city_id=city_id,
            kiosk_id=body.kiosk,
            reference=body.reference,
            document_kind=body.document_kind,
            size=ModelSize(body.size.value),
            valid_from=now,
            valid_until=now + body.valid_days * DAY_S,
            reachable=body.reachable,
            return_old_id=body.return_old_id,
            language=body.language.value,
            email=body.email or None,
            postal_address=body.postal_address or None,
            dob=dob,
        ),
        now,
        settings.pin_length,
    )
    order_id = created.id
    audit(conn, principal, "order.create", order_id, now, detail={"reference": body.reference, "kiosk": body.kiosk})
    return to_out(city_order(conn, city_id, order_id)), True


def cancel_order(conn: sa.Connection, principal: AdminPrincipal, order_id: str, now: float) -> OrderOut:
    """Cancel a live order (the kiosk learns it in its next bundle); the clear codes are wiped."""
    row = city_order(conn, principal.city(), order_id)
    if row.state == HubOrderState.CANCELLED.value:
        return to_out(row)
    if row.state not in LIVE_STATES:
        raise Conflict(f"order {order_id} is {row.state} and cannot be cancelled")
    hub_orders.mark_dirty(
        conn, order_id, now, state=HubOrderState.CANCELLED.value, qr_payload_clear=None, pin_clear=None
    )
    audit(conn, principal, "order.cancel", order_id, now)
    return to_out(city_order(conn, principal.city(), order_id))


def extend_order(conn: sa.Connection, principal: AdminPrincipal, order_id: str, days: int, now: float) -> OrderOut:
    """Push the end of the pickup window; a new reminder will be sent before the new end."""
    row = city_order(conn, principal.city(), order_id)
    if row.state not in LIVE_STATES:
        raise Conflict(f"order {order_id} is {row.state} and cannot be extended")
    until = max(row.valid_until, now) + days * DAY_S
    if until - row.valid_from > MAX_TOTAL_DAYS * DAY_S:
        raise Invalid(f"days: the pickup window may not exceed {MAX_TOTAL_DAYS} days in total")
    hub_orders.mark_dirty(conn, order_id, now, valid_until=until, reminder_sent_at=None)
    audit(conn, principal, "order.extend", order_id, now, detail={"days": days})
    return to_out(city_order(conn, principal.city(), order_id))


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_of_birth: str | None = None  # only and always when the city uses the second factor (as at creation)


def reissue_order(conn: sa.Connection, principal: AdminPrincipal, order_id: str, dob: str | None, now: float) -> str:
    """New QR token and PIN (same pickup number) for an announced or stored order; returns its state."""
    city_id = principal.city()
    row = city_order(conn, city_id, order_id)
    settings = city_settings(conn, city_id)
    dob_norm = _dob_of(document_policy(conn, city_id, legacy_type(row.document_kind)), dob)
    state = hub_orders.reissue_codes(conn, city_id, order_id, now, pin_length=settings.pin_length, dob=dob_norm)
    audit(conn, principal, "order.reissue", order_id, now)
    return state


def search_orders(
    conn: sa.Connection,
    city_id: str,
    *,
    reference: str | None = None,
    state: str | None = None,
    kiosk: str | None = None,
    pickup_number: str | None = None,
    limit: int = 100,
) -> list[OrderOut]:
    o = hubdb.orders
    query = sa.select(o).where(o.c.city_id == city_id)
    if reference:
        query = query.where(o.c.reference == reference)
    if state:
        query = query.where(o.c.state == state)
    if kiosk:
        query = query.where(o.c.kiosk_id == kiosk)
    if pickup_number:
        query = query.where(o.c.pickup_number == pickup_number)
    rows = conn.execute(query.order_by(o.c.created_at.desc()).limit(limit)).all()
    return [to_out(r) for r in rows]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

    @router.post("", status_code=201, responses={200: {"model": OrderOut, "description": "the identical order"}})
    def post_order(hub: Hub, body: OrderIn, principal: OrderWriter, response: Response) -> OrderOut:
        with hub.store.write() as conn:
            out, created = create_order(conn, principal, body, hub.clock.now())
        if not created:
            response.status_code = 200
        return out

    @router.get("")
    def list_orders(
        hub: Hub,
        principal: OrderReader,
        *,
        reference: Annotated[str | None, Query(max_length=64)] = None,
        state: HubOrderState | None = None,
        kiosk: Annotated[str | None, Query(max_length=64)] = None,
        pickup_number: Annotated[str | None, Query(max_length=8)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[OrderOut]:
        with hub.store.read() as conn:
            return search_orders(
                conn,
                principal.city(),
                reference=reference,
                state=state.value if state else None,
                kiosk=kiosk,
                pickup_number=pickup_number,
                limit=limit,
            )

    @router.get("/{order_id}")
    def get_order(hub: Hub, order_id: str, principal: OrderReader) -> OrderOut:
        with hub.store.read() as conn:
            return with_checkpoint(conn, to_out(city_order(conn, principal.city(), order_id)))

    @router.post("/{order_id}/cancel")
    def post_cancel(hub: Hub, order_id: str, principal: OrderWriter) -> OrderOut:
        with hub.store.write() as conn:
            return cancel_order(conn, principal, order_id, hub.clock.now())

    @router.post("/{order_id}/extend")
    def post_extend(hub: Hub, order_id: str, body: ExtendIn, principal: OrderWriter) -> OrderOut:
        with hub.store.write() as conn:
            return extend_order(conn, principal, order_id, body.days, hub.clock.now())

    @router.post("/{order_id}/reissue")
    def post_reissue(hub: Hub, order_id: str, body: ReissueIn, principal: OrderWriter) -> OrderOut:
        """New codes: the old QR code and PIN are refused once the kiosk has the next bundle; a stored order's
        citizen gets a new notice now (an announced order's goes out when it is stored, as always)."""
        with hub.store.write() as conn:
            state = reissue_order(conn, principal, order_id, body.date_of_birth, hub.clock.now())
        if state == HubOrderState.STORED.value:
            hub.notifier.notify_reissued(order_id)
        with hub.store.read() as conn:
            return to_out(city_order(conn, principal.city(), order_id))

    return router
