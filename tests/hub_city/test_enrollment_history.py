"""Kiosk history belongs to the enrollment, not the device id: a kiosk revoked by one city and approved by another
shows the new city none of the old city's events, alarms, commands, pickups or orders."""

from __future__ import annotations

import sqlalchemy as sa

from backend_sync import protocol as p
from backend_sync.commands import CommandKind
from backend_sync.hub import tables as hubdb
from backend_sync.hub.enrollment import approve_kiosk, request_enrollment, revoke_kiosk
from backend_sync.hub.fleet import city_kiosk_summary
from backend_sync.hub.remote import issue_command
from backend_sync.keys import KioskKeys
from tests.hub_city.conftest import Hub
from tests.hub_city.seed import seed_city


def test_a_kiosk_moved_to_another_city_brings_no_history(hub: Hub) -> None:
    seed_city(hub, hub.a)  # alpha's kiosk: a pickup, an open alarm, a stored order, health
    device = hub.a.kiosk
    with hub.store.write() as conn:
        issue_command(
            conn,
            device_id=device,
            city_id="alpha",
            kind=CommandKind.RESYNC,
            reason="before the move",
            issued_by="test",
            now=hub.clock.now(),
            lifetime_s=3600,
        )
    revoke_kiosk(hub.store, device, "alpha", "test", now=hub.clock.now())
    hub.clock.advance(60)
    keys = KioskKeys.generate()
    pub = keys.public()
    announce = p.KeyAnnounceBody(pub.sign_public, pub.enc_public)
    data = p.sign_kiosk_message(keys.signer, device, announce, int(hub.clock.now()))
    with hub.store.write() as conn:
        code = request_enrollment(conn, data, hub.clock.now(), 300)["code"]
    approve_kiosk(hub.store, device, code, "beta", "test", hub.clock.now())

    with hub.store.read() as conn:
        summary = city_kiosk_summary(conn, "beta", device, hub.clock.now())
        old_alarms = conn.execute(sa.select(sa.func.count()).select_from(hubdb.alarms)).scalar_one()
    assert old_alarms == 1  # kept for alpha's records, but not beta's history
    assert summary.open_alarms == {} and summary.pickups_total == 0 and summary.stored_orders == 0
    page = hub.login(hub.b.admin_user).get(f"/admin/kiosks/{device}").text
    assert "door_forced" not in page and "before the move" not in page
    feed = hub.client.get(f"/opendata/beta/{device}.json").json()
    assert all(d["pickups"] == 0 for d in feed["pickups_per_day"])
