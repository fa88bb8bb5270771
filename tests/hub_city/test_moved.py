"""A document staff moved to another compartment: the hub records the new compartment, shows it, sends no notice."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from backend_sync import protocol as p
from backend_sync.hub import tables as hubdb
from backend_sync.hub.ingest import ingest
from tests.hub_city.conftest import Hub, order_body


def _send(hub: Hub, kind: str, **body: Any) -> str:
    """One kiosk event of the alpha kiosk, through the hub's ingest; returns its recorded outcome."""
    event_id = uuid.uuid4().hex
    data = json.dumps({"id": event_id, "kind": kind, "t": hub.clock.now(), **body})
    with hub.store.write() as conn:
        kiosk = conn.execute(sa.select(hubdb.kiosks).where(hubdb.kiosks.c.device_id == hub.a.kiosk)).one()
        result = ingest(conn, kiosk, p.EventsBody((p.EventItem(event_id, 1, kind, data),)), hub.clock.now())
        assert result.accepted == [event_id], result.refused
        outcome: str = conn.execute(
            sa.select(hubdb.events.c.outcome).where(hubdb.events.c.event_id == event_id)
        ).scalar_one()
    return outcome


def _row(hub: Hub, oid: str) -> Any:
    with hub.store.read() as conn:
        return conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == oid)).one()


def test_moved_records_the_new_compartment_and_the_pages_show_it(hub: Hub) -> None:
    c, a = hub.client, hub.a
    oid = c.post("/api/v1/orders", json=order_body(a), headers=a.headers).json()["id"]
    assert _send(hub, "moved", order=oid, compartment=7, from_compartment=3) == "ignored: order is announced"
    assert _send(hub, "stored", order=oid, compartment=3) == "applied"
    assert _row(hub, oid).compartment == 3
    notices = len(hub.mailer.sent)
    hub.clock.advance(60)
    assert _send(hub, "moved", order=oid, compartment=7, from_compartment=3) == "applied"
    row = _row(hub, oid)
    assert (row.state, row.compartment, row.moved_at) == ("stored", 7, hub.clock.now())
    assert len(hub.mailer.sent) == notices  # same codes, same station: no new notice
    got = c.get(f"/api/v1/orders/{oid}", headers=a.headers).json()
    assert (got["compartment"], got["moved_at"]) == (7, hub.clock.now())
    admin = hub.login(a.monitor_user)
    assert "compartment 7: document of order REF-1, moved" in admin.get(f"/admin/kiosks/{a.kiosk}").text
    assert "in compartment 7 (moved" in admin.get("/admin/orders").text


def test_a_moved_event_is_checked_like_every_other() -> None:
    from backend_sync import event_bodies
    from backend_sync.errors import SchemaError

    good = {"id": "m" * 32, "kind": "moved", "t": 1.0, "order": "O-1", "compartment": 7, "from_compartment": 3}
    assert event_bodies.check(p.EventItem("m" * 32, 1, "moved", json.dumps(good)))["compartment"] == 7
    for bad in ({**good, "from": 3}, {k: v for k, v in good.items() if k != "from_compartment"}):
        try:
            event_bodies.check(p.EventItem("m" * 32, 1, "moved", json.dumps(bad)))
        except SchemaError:
            continue
        raise AssertionError(f"accepted {bad}")
