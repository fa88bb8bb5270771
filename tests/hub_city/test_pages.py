"""Fleet pages render for the city's roles: fleet, kiosk timeline, orders, import form, staff, cities, commands."""

from __future__ import annotations

import json

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from tests.hub_city.conftest import Hub, order_body
from tests.hub_city.seed import seed_city


def test_fleet_and_kiosk_pages(hub: Hub) -> None:
    seeded = seed_city(hub, hub.a)
    admin = hub.login(hub.a.admin_user)
    fleet = admin.get("/admin/fleet")
    assert fleet.status_code == 200
    assert "Alpha Rathaus" in fleet.text and "online" in fleet.text and "door_forced" in fleet.text
    assert "Beta" not in fleet.text
    page = admin.get("/admin/kiosks/alpha-k1")
    assert page.status_code == 200 and "collected" in page.text and "900 MiB" in page.text
    r = admin.post(
        "/admin/kiosks/alpha-k1/command", data={"kind": "resync", "reason": "after repair"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "after repair" in admin.get("/admin/kiosks/alpha-k1").text
    orders = admin.get("/admin/orders", params={"reference": seeded.reference})
    assert seeded.order_id in orders.text
    assert admin.get("/admin/static/hub.css").status_code == 200
    assert admin.get("/admin/", follow_redirects=False).headers["location"] == "/admin/fleet"


def test_staff_add_and_deactivate(hub: Hub) -> None:
    admin = hub.login(hub.a.admin_user)
    r = admin.post("/admin/staff", data={"staff_id": "LOADER-1", "pin": "246810", "roles": ["loader", "maintenance"]})
    assert r.status_code == 200 and "WIBOXS1:LOADER-1:" in r.text
    assert admin.post("/admin/staff", data={"staff_id": "x", "pin": "1", "roles": "loader"}).status_code == 422
    assert admin.post("/admin/staff/LOADER-1/deactivate", follow_redirects=False).status_code == 303
    with hub.store.read() as conn:
        row = conn.execute(sa.select(hubdb.staff).where(hubdb.staff.c.id == "LOADER-1")).one()
    assert row.city_id == "alpha" and not row.active and row.rev == 2 and row.roles == "loader,maintenance"


def test_import_form(hub: Hub) -> None:
    office = hub.login(hub.a.office_user)
    assert office.get("/admin/orders/import").status_code == 200
    bad = "reference,kiosk,document_kind,size,email\nF-1,alpha-k1,id_card,S,a@b.de\nF-2,alpha-k1,id_card,Q,a@b.de\n"
    r = office.post("/admin/orders/import", files={"file": ("o.csv", bad)})
    assert r.status_code == 200 and "line 3" in r.text
    good = bad.replace(",Q,", ",M,")
    r = office.post("/admin/orders/import", files={"file": ("o.csv", good)})
    assert "2 orders imported" in r.text


def test_platform_creates_city_and_admin(hub: Hub) -> None:
    platform = hub.login(hub.platform_user)
    assert (
        platform.post("/admin/cities", data={"city_id": "gamma", "name": "Gamma"}, follow_redirects=False).status_code
        == 303
    )
    r = platform.post(
        "/admin/admins",
        data={"city_id": "gamma", "username": "gamma-admin", "password": "a long enough password", "role": "admin"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "gamma" in platform.get("/admin/cities").text
    gamma = hub.client.post(
        "/admin/login", data={"username": "gamma-admin", "password": "a long enough password"}, follow_redirects=False
    )
    assert gamma.status_code == 303
    with hub.store.read() as conn:
        actions = conn.execute(
            sa.select(hubdb.admin_audit.c.action).where(hubdb.admin_audit.c.city_id.is_(None))
        ).scalars()
        assert {"city.add", "admin.add"} <= set(actions)


def test_orders_page_shows_the_handover_proof_the_pin_lock_and_the_old_id(hub: Hub) -> None:
    c, a = hub.client, hub.a
    collected = c.post("/api/v1/orders", json=order_body(a, reference="REF-P1"), headers=a.headers).json()["id"]
    locked = c.post("/api/v1/orders", json=order_body(a, reference="REF-P2"), headers=a.headers).json()["id"]
    proof = {
        "audit_seq": 41,
        "audit_hash": "ab" * 32,
        "method": "counter",
        "statement": {"id": "confirm.statement", "version": "fd97ed78df102b68", "language": "tr"},
        "taken": "staff",
        "staff": ["ANNA-01", "BEN-02"],
        "compartment": 3,
        "check": "match",
    }
    o = hubdb.orders
    with hub.store.write() as conn:
        conn.execute(
            sa.update(o)
            .where(o.c.id == collected)
            .values(
                state="collected",
                collected_at=hub.clock.now(),
                handover_proof=json.dumps(proof),
                old_id_compartment=3,
                old_id_returned_at=hub.clock.now(),
            )
        )
        conn.execute(sa.update(o).where(o.c.id == locked).values(state="stored", manual_locked_at=hub.clock.now()))
    page = hub.login(hub.a.office_user).get("/admin/orders").text
    for text in (
        "compartment 3: counter by ANNA-01 + BEN-02, empty by staff",
        "statement confirm.statement vfd97ed78df102b68 (tr); audit entry 41 (match)",
        "PIN entry locked since",
        "old ID card in compartment 3",
    ):
        assert text in page, text
    api = c.get(f"/api/v1/orders/{collected}", headers=a.headers).json()
    assert api["proof"]["staff"] == ["ANNA-01", "BEN-02"] and api["proof"]["checkpoint"] is None  # none stored
    assert c.get(f"/api/v1/orders/{locked}", headers=a.headers).json()["manual_locked_at"] is not None
