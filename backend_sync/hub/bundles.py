"""Each kiosk's next bundle: acknowledge the head it reports, then build a delta (or a full sync) on that head."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from backend_sync import protocol as p
from backend_sync.builder import Recipient, build_bundle
from backend_sync.hub.city_policy import city_settings, document_policies
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.tables import HubOrderState, bundles, kiosks, orders, staff
from locker.doctypes import DocumentType
from locker.model import NewOrder, Size, StaffAccount

log = logging.getLogger(__name__)

_ITEM_STATES = (HubOrderState.ANNOUNCED.value, HubOrderState.STORED.value)


def acknowledge(conn: Connection, kiosk: Row[Any], seq: int, head: bytes, now: float) -> bool:
    """The kiosk reports its chain head (pull, heartbeat). If it is a bundle we built, what it carried is applied:
    those order versions are no longer dirty and the staff revision is acknowledged. Returns whether it matched."""
    device = kiosk.device_id
    values: dict[str, Any] = {"bundle_seq": seq, "bundle_head": head.hex()}
    row = conn.execute(
        select(bundles).where(
            bundles.c.device_id == device, bundles.c.manifest_hash == head.hex(), bundles.c.seq == seq
        )
    ).first()
    matched = row is not None
    if row is not None and row.acked_at is None:
        for order_id, version in json.loads(row.orders).items():
            conn.execute(
                update(orders)
                .where(orders.c.id == order_id, orders.c.version == version, orders.c.kiosk_id == device)
                .values(dirty=False)
            )
        values["staff_rev_acked"] = max(kiosk.staff_rev_acked, row.staff_rev)
        if row.full_sync:
            values["resync"] = False
        conn.execute(
            update(bundles)
            .where(bundles.c.device_id == device, bundles.c.manifest_hash == row.manifest_hash)
            .values(acked_at=now)
        )
        conn.execute(delete(bundles).where(bundles.c.device_id == device, bundles.c.seq < seq))
    elif row is None and seq == 0 and kiosk.bundle_seq > 0:
        log.warning("kiosk %s reports an empty chain after seq %d (wiped?): full sync", device, kiosk.bundle_seq)
        values["resync"] = True
    elif row is None and seq > 0 and (seq, head.hex()) != (kiosk.bundle_seq, kiosk.bundle_head):
        log.warning("kiosk %s reports head %d we did not build: full sync", device, seq)
        values["resync"] = True
    conn.execute(update(kiosks).where(kiosks.c.device_id == device).values(**values))
    return matched


def _order_item(r: Row[Any]) -> NewOrder:
    return NewOrder(
        id=r.id,
        pickup_number=r.pickup_number,
        document_kind=DocumentType(r.document_kind),
        size=Size(r.size),
        reachable=r.reachable,
        return_old_id=r.return_old_id,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        qr_verifier=bytes.fromhex(r.qr_verifier),
        pin_verifier=r.pin_verifier,
    )


def next_bundle(
    conn: Connection,
    keys: HubKeys,
    device_id: str,
    *,
    now: float,
    lifetime_days: int,
    max_orders: int,
) -> bytes | None:
    """Build the kiosk's next bundle on the head it last reported, or None when it has nothing to learn.

    A delta carries the orders changed since the kiosk last acknowledged them (dirty) and staff changed after
    the acknowledged revision; a full sync (after enrollment, a wipe, an unknown head, or a resync command)
    carries every live order and every staff account. Not-yet-acknowledged content is simply sent again.
    """
    k = conn.execute(select(kiosks).where(kiosks.c.device_id == device_id)).one()
    full = bool(k.resync)
    oq = select(orders).where(orders.c.kiosk_id == device_id, orders.c.city_id == k.city_id)
    if full:
        oq = oq.where((orders.c.state.in_(_ITEM_STATES)) | (orders.c.dirty.is_(True)))
    else:
        oq = oq.where(orders.c.dirty.is_(True)).limit(max_orders)
    rows = conn.execute(oq.order_by(orders.c.created_at, orders.c.id)).all()
    items = [_order_item(r) for r in rows if r.state in _ITEM_STATES]
    cancellations = [r.id for r in rows if r.state == HubOrderState.CANCELLED.value]
    sq = select(staff).where(staff.c.city_id == k.city_id)
    if not full:
        sq = sq.where(staff.c.rev > k.staff_rev_acked)
    staff_rows = conn.execute(sq.order_by(staff.c.rev)).all()
    if not full and not items and not cancellations and not staff_rows:
        # Orders that became dirty in states the kiosk need not hear about (e.g. collected) are settled here.
        if rows:
            conn.execute(update(orders).where(orders.c.id.in_([r.id for r in rows])).values(dirty=False))
        return None
    staff_items = [
        StaffAccount(s.id, bytes.fromhex(s.badge_hash), s.pin_verifier, tuple(s.roles.split(",")), s.active)
        for s in staff_rows
    ]
    staff_rev = max([s.rev for s in staff_rows], default=k.staff_rev_acked)
    built = build_bundle(
        keys.signer,
        Recipient(device_id, bytes.fromhex(k.enc_public)),
        seq=k.bundle_seq + 1,
        prev_hash=bytes.fromhex(k.bundle_head),
        issued_at=int(now),
        orders=items,
        cancellations=cancellations,
        staff=staff_items,
        full_sync=full,
        lifetime_s=lifetime_days * p.DAY_S,
        max_data_age_h=city_settings(conn, k.city_id).max_data_age_h,
        document_policies=list(document_policies(conn, k.city_id).values()),
    )
    conn.execute(
        insert(bundles).values(
            device_id=device_id,
            manifest_hash=built.manifest_hash.hex(),
            seq=built.manifest.seq,
            issued_at=int(now),
            full_sync=full,
            staff_rev=staff_rev,
            orders=json.dumps({r.id: r.version for r in rows}),
            acked_at=None,
        )
    )
    return built.data


def next_staff_rev(conn: Connection, city_id: str) -> int:
    return (
        int(
            conn.execute(select(func.coalesce(func.max(staff.c.rev), 0)).where(staff.c.city_id == city_id)).scalar_one()
        )
        + 1
    )
