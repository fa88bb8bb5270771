"""An admin resolves an open alarm at the hub (audited); other cities' admins and monitors cannot."""

from __future__ import annotations

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from tests.hub_city.conftest import Hub
from tests.hub_city.seed import seed_city


def _open(hub: Hub, device: str) -> list[int]:
    a = hubdb.alarms
    with hub.store.read() as conn:
        q = sa.select(a.c.id).where(a.c.device_id == device, a.c.cleared_at.is_(None))
        return list(conn.execute(q).scalars())


def test_an_admin_resolves_an_alarm_of_the_citys_kiosk(hub: Hub) -> None:
    seed_city(hub, hub.a)  # alpha's kiosk has an open door_forced alarm
    seed_city(hub, hub.b)
    device = hub.a.kiosk
    (alarm,) = _open(hub, device)
    url = f"/admin/kiosks/{device}/alarms/{alarm}/resolve"
    assert hub.login(hub.b.admin_user).post(url).status_code == 404  # another city's: as if it did not exist
    assert hub.login(hub.a.monitor_user).post(url).status_code == 403
    assert _open(hub, device) == [alarm]
    admin = hub.login(hub.a.admin_user)
    page = admin.get(f"/admin/kiosks/{device}").text
    assert url in page  # the kiosk page offers it
    r = admin.post(url, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert _open(hub, device) == []
    assert admin.post(url).status_code == 404  # resolved once
    with hub.store.read() as conn:
        by = conn.execute(sa.select(hubdb.alarms.c.cleared_by).where(hubdb.alarms.c.id == alarm)).scalar_one()
        acts = conn.execute(
            sa.select(hubdb.admin_audit.c.action).where(hubdb.admin_audit.c.action == "alarm.resolve")
        ).scalars()
        assert by and by.startswith("adm-") and list(acts) == ["alarm.resolve"]
    assert "door_forced" not in admin.get(f"/admin/kiosks/{device}").text.split("Open alarms")[1].split("</ul>")[0]
