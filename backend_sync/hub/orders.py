"""Orders at the hub as the sync side needs them: create with fresh codes, cancel, mark for the next bundle."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from backend_sync.hub.errors import Conflict, Invalid, NotFound
from backend_sync.hub.tables import HubOrderState, KioskStatus, kiosks, orders
from locker import codes
from locker.model import Size

LIVE = (HubOrderState.ANNOUNCED.value, HubOrderState.STORED.value)


@dataclass(frozen=True)
class NewHubOrder:
    city_id: str
    kiosk_id: str
    reference: str
    document_kind: str
    size: Size
    valid_from: float
    valid_until: float
    reachable: bool = False
    return_old_id: bool = False
    language: str = "de"
    email: str | None = None
    postal_address: str | None = None
    dob: str = ""  # folded into the verifiers when the city asks for a second factor; never stored


@dataclass(frozen=True)
class CreatedOrder:
    id: str
    pickup_number: str
    qr_payload: str  # in clear only until the notice is sent
    pin: str


def new_order_id() -> str:
    return "O-" + secrets.token_hex(6).upper()


def _free_pickup_number(conn: Connection, kiosk_id: str) -> str:
    for _ in range(20):
        n = codes.new_pickup_number()
        clash = conn.execute(
            select(orders.c.id).where(
                orders.c.kiosk_id == kiosk_id, orders.c.pickup_number == n, orders.c.state.in_(LIVE)
            )
        ).first()
        if clash is None:
            return n
    raise Conflict(f"no free pickup number for kiosk {kiosk_id}")  # pragma: no cover


def create_order(conn: Connection, o: NewHubOrder, now: float, pin_length: int = 6) -> CreatedOrder:
    """Insert an announced order for one of the city's approved kiosks, with fresh codes and verifiers."""
    k = conn.execute(select(kiosks.c.city_id, kiosks.c.status).where(kiosks.c.device_id == o.kiosk_id)).first()
    if k is None or k.city_id != o.city_id:
        raise NotFound(f"no kiosk {o.kiosk_id} in city {o.city_id}")
    if k.status != KioskStatus.APPROVED:
        raise Conflict(f"kiosk {o.kiosk_id} is {k.status}")
    if o.valid_until <= o.valid_from:
        raise Invalid("valid_until: must be after valid_from")
    dup = conn.execute(
        select(orders.c.id).where(orders.c.city_id == o.city_id, orders.c.reference == o.reference)
    ).first()
    if dup is not None:
        raise Conflict(f"reference {o.reference!r} already exists")
    order_id = new_order_id()
    issued = codes.issue_codes(order_id, _free_pickup_number(conn, o.kiosk_id), pin_length, o.dob)
    conn.execute(
        insert(orders).values(
            id=order_id,
            city_id=o.city_id,
            kiosk_id=o.kiosk_id,
            reference=o.reference,
            pickup_number=issued.pickup_number,
            document_kind=o.document_kind,
            size=o.size.value,
            reachable=o.reachable,
            return_old_id=o.return_old_id,
            language=o.language,
            email=o.email,
            postal_address=o.postal_address,
            valid_from=o.valid_from,
            valid_until=o.valid_until,
            state=HubOrderState.ANNOUNCED.value,
            qr_verifier=issued.qr_verifier.hex(),
            pin_verifier=issued.pin_verifier,
            qr_payload_clear=issued.qr.payload,
            pin_clear=issued.pin,
            dirty=True,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    return CreatedOrder(order_id, issued.pickup_number, issued.qr.payload, issued.pin)


def mark_dirty(conn: Connection, order_id: str, now: float, **values: object) -> None:
    """Change an order in a way the kiosk must learn: it goes into the next bundle again."""
    conn.execute(
        update(orders)
        .where(orders.c.id == order_id)
        .values(dirty=True, version=orders.c.version + 1, updated_at=now, **values)
    )


def cancel_order(conn: Connection, city_id: str, order_id: str, now: float) -> None:
    """Cancel an announced or stored order; the kiosk learns it in the next bundle (staff take a stored one out)."""
    row = conn.execute(
        select(orders.c.state).where(orders.c.id == order_id, orders.c.city_id == city_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no order {order_id}")
    if row.state not in LIVE:
        raise Conflict(f"order {order_id} is {row.state} and cannot be cancelled")
    mark_dirty(conn, order_id, now, state=HubOrderState.CANCELLED.value)


def reissue_codes(conn: Connection, city_id: str, order_id: str, now: float, *, pin_length: int, dob: str) -> str:
    """New codes for an order (a lost letter, a code seen by others): a new QR token and PIN under the same pickup
    number, new verifiers into the next bundle (from then on the kiosk refuses the old codes), the clear codes kept
    for the new notice. Returns the order's state (a stored order's notice goes out at once)."""
    row = conn.execute(
        select(orders.c.state, orders.c.pickup_number)
        .where(orders.c.id == order_id, orders.c.city_id == city_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no order {order_id}")
    if row.state not in (HubOrderState.ANNOUNCED.value, HubOrderState.STORED.value):
        raise Conflict(f"order {order_id} is {row.state}: only announced or stored orders get new codes")
    issued = codes.issue_codes(order_id, row.pickup_number, pin_length, dob)
    mark_dirty(
        conn,
        order_id,
        now,
        qr_verifier=issued.qr_verifier.hex(),
        pin_verifier=issued.pin_verifier,
        qr_payload_clear=issued.qr.payload,
        pin_clear=issued.pin,
        notice_sent_at=None,
    )
    return str(row.state)
