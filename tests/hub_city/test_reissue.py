"""New codes for an order: new verifiers into the next bundle, a new notice for a stored order, the old codes dead."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from locker import codes
from tests.hub_city.conftest import Hub, mark_stored, order_body


def _row(hub: Hub, oid: str) -> Any:
    with hub.store.read() as conn:
        return conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == oid)).one()


def _notices(hub: Hub, oid: str) -> list[Any]:
    n = hubdb.notices
    with hub.store.read() as conn:
        return list(conn.execute(sa.select(n).where(n.c.order_id == oid).order_by(n.c.id)).all())


def test_reissue_gives_new_codes_and_a_new_notice(hub: Hub) -> None:
    c, a = hub.client, hub.a
    oid = c.post("/api/v1/orders", json=order_body(a), headers=a.headers).json()["id"]
    first = _row(hub, oid)
    old_qr, old_pin = codes.parse_qr(first.qr_payload_clear), first.pin_clear
    mark_stored(hub.store, oid, hub.clock.now())
    hub.notifier.notify_stored(oid)
    assert len(hub.mailer.sent) == 1 and _row(hub, oid).pin_clear is None  # sent, codes wiped

    hub.mailer.fail = True  # the new notice is kept (and retried) until it has gone out
    r = c.post(f"/api/v1/orders/{oid}/reissue", json={}, headers=a.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["pickup_number"] == first.pickup_number and "pin" not in out
    after = _row(hub, oid)
    assert after.dirty and after.version == first.version + 1  # into the next bundle
    assert after.qr_verifier != first.qr_verifier and after.pin_verifier != first.pin_verifier
    # the old codes no longer fit the verifiers the kiosk gets; the new ones do
    assert not codes.check_qr(oid, old_qr.token, "", bytes.fromhex(after.qr_verifier))
    assert not codes.check_pin(oid, old_pin, "", after.pin_verifier)
    new_qr = codes.parse_qr(after.qr_payload_clear)
    assert codes.check_qr(oid, new_qr.token, "", bytes.fromhex(after.qr_verifier))
    assert codes.check_pin(oid, after.pin_clear, "", after.pin_verifier)
    notices = _notices(hub, oid)
    assert [(x.kind, x.sent_at is None) for x in notices] == [("notice", False), ("notice", True)]
    hub.mailer.fail = False
    assert hub.notifier.retry_failed() == 1
    assert len(hub.mailer.sent) == 2
    body = hub.mailer.sent[1].get_body(("plain",))
    assert body is not None and after.pin_clear in body.get_content()
    assert _row(hub, oid).pin_clear is None  # wiped once the new notice went out
    with hub.store.read() as conn:
        actions = conn.execute(sa.select(hubdb.admin_audit.c.action)).scalars().all()
    assert "order.reissue" in actions


def test_reissue_of_an_announced_order_waits_for_stored_and_other_states_conflict(hub: Hub) -> None:
    c, a = hub.client, hub.a
    oid = c.post("/api/v1/orders", json=order_body(a), headers=a.headers).json()["id"]
    assert c.post(f"/api/v1/orders/{oid}/reissue", json={}, headers=a.headers).status_code == 200
    assert hub.mailer.sent == [] and _notices(hub, oid) == []  # no notice before the document is stored
    dob = {"date_of_birth": "1990-01-01"}  # this city does not use the second factor
    assert c.post(f"/api/v1/orders/{oid}/reissue", json=dob, headers=a.headers).status_code == 422
    assert c.post(f"/api/v1/orders/{oid}/cancel", headers=a.headers).status_code == 200
    assert c.post(f"/api/v1/orders/{oid}/reissue", json={}, headers=a.headers).status_code == 409
    other = c.post("/api/v1/orders", json=order_body(hub.b), headers=hub.b.headers).json()["id"]
    assert c.post(f"/api/v1/orders/{other}/reissue", json={}, headers=a.headers).status_code == 404
