"""Orders REST API: idempotency by reference, conflicts, validation, cancel and extend."""

from __future__ import annotations

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from locker import codes
from tests.hub_city.conftest import Hub, order_body


def test_create_is_idempotent_by_reference(hub: Hub) -> None:
    c, a = hub.client, hub.a
    r1 = c.post("/api/v1/orders", json=order_body(a), headers=a.headers)
    assert r1.status_code == 201, r1.text
    r2 = c.post("/api/v1/orders", json=order_body(a), headers=a.headers)
    assert r2.status_code == 200
    assert r1.json() == r2.json()
    out = r1.json()
    assert out["state"] == "announced" and len(out["pickup_number"]) == 8
    assert "pin" not in out and "email" not in out and out["has_email"] is True
    with hub.store.read() as conn:
        row = conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == out["id"])).one()
    assert row.dirty and row.qr_payload_clear.startswith("WIBOX1:" + out["id"])
    qr = codes.parse_qr(row.qr_payload_clear)
    assert codes.check_qr(out["id"], qr.token, "", bytes.fromhex(row.qr_verifier))
    assert codes.check_pin(out["id"], row.pin_clear, "", row.pin_verifier)


def test_same_reference_other_content_conflicts(hub: Hub) -> None:
    c, a = hub.client, hub.a
    assert c.post("/api/v1/orders", json=order_body(a), headers=a.headers).status_code == 201
    r = c.post("/api/v1/orders", json=order_body(a, size="L"), headers=a.headers)
    assert r.status_code == 409
    assert "REF-1" in r.json()["error"]


def test_same_reference_in_two_cities_is_two_orders(hub: Hub) -> None:
    ra = hub.client.post("/api/v1/orders", json=order_body(hub.a), headers=hub.a.headers)
    rb = hub.client.post("/api/v1/orders", json=order_body(hub.b), headers=hub.b.headers)
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["id"] != rb.json()["id"]


def test_validation(hub: Hub) -> None:
    c, a = hub.client, hub.a
    bad = [
        order_body(a, size="XL"),
        order_body(a, language="fr"),
        order_body(a, email=None),
        order_body(a, email="not-an-address"),
        order_body(a, valid_days=0),
        order_body(a, reference=""),
        order_body(a, unknown_field=1),
        order_body(a, date_of_birth="1990-01-01"),  # this city does not use the second factor
    ]
    for body in bad:
        r = c.post("/api/v1/orders", json=body, headers=a.headers)
        assert r.status_code == 422, (body, r.text)
    r = c.post("/api/v1/orders", json=order_body(a, kiosk=hub.b.kiosk), headers=a.headers)
    assert r.status_code == 404
    with hub.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(hubdb.orders)).scalar() == 0


def test_postal_address_only_is_enough(hub: Hub) -> None:
    body = order_body(hub.a, email=None, postal_address="Erika Mustermann\nHauptstr. 1\n10115 Berlin")
    r = hub.client.post("/api/v1/orders", json=body, headers=hub.a.headers)
    assert r.status_code == 201 and r.json()["has_postal_address"]


def test_second_factor_city(hub: Hub) -> None:
    with hub.store.write() as conn:
        conn.execute(
            sa.update(hubdb.city_settings).where(hubdb.city_settings.c.city_id == "alpha").values(dob_factor=True)
        )
    c, a = hub.client, hub.a
    assert c.post("/api/v1/orders", json=order_body(a), headers=a.headers).status_code == 422
    r = c.post("/api/v1/orders", json=order_body(a, date_of_birth="17041990"), headers=a.headers)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    with hub.store.read() as conn:
        row = conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == oid)).one()
    assert codes.check_pin(oid, row.pin_clear, "1990-04-17", row.pin_verifier)
    assert not codes.check_pin(oid, row.pin_clear, "", row.pin_verifier)
    assert "1990" not in repr(tuple(row))


def test_get_cancel_extend(hub: Hub) -> None:
    c, a = hub.client, hub.a
    oid = c.post("/api/v1/orders", json=order_body(a), headers=a.headers).json()["id"]
    got = c.get(f"/api/v1/orders/{oid}", headers=a.headers)
    assert got.status_code == 200 and got.json()["id"] == oid
    until = got.json()["valid_until"]
    ext = c.post(f"/api/v1/orders/{oid}/extend", json={"days": 3}, headers=a.headers)
    assert ext.status_code == 200 and ext.json()["valid_until"] == until + 3 * 86400
    assert c.post(f"/api/v1/orders/{oid}/extend", json={"days": 0}, headers=a.headers).status_code == 422
    with hub.store.read() as conn:
        version = conn.execute(sa.select(hubdb.orders.c.version).where(hubdb.orders.c.id == oid)).scalar()
    assert version == 2
    can = c.post(f"/api/v1/orders/{oid}/cancel", headers=a.headers)
    assert can.status_code == 200 and can.json()["state"] == "cancelled"
    assert c.post(f"/api/v1/orders/{oid}/cancel", headers=a.headers).status_code == 200  # idempotent
    assert c.post(f"/api/v1/orders/{oid}/extend", json={"days": 3}, headers=a.headers).status_code == 409
    with hub.store.read() as conn:
        row = conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == oid)).one()
    assert row.dirty and row.qr_payload_clear is None and row.pin_clear is None
    assert c.get("/api/v1/orders/W-NOPE", headers=a.headers).status_code == 404


def test_every_change_is_audited(hub: Hub) -> None:
    c, a = hub.client, hub.a
    oid = c.post("/api/v1/orders", json=order_body(a), headers=a.headers).json()["id"]
    c.post(f"/api/v1/orders/{oid}/cancel", headers=a.headers)
    with hub.store.read() as conn:
        rows = conn.execute(sa.select(hubdb.admin_audit).where(hubdb.admin_audit.c.target == oid)).all()
    assert [r.action for r in rows] == ["order.create", "order.cancel"]
    assert all(r.city_id == "alpha" and r.admin_id.startswith("apikey:") for r in rows)
    assert "citizen@example.org" not in repr([tuple(r) for r in rows])
