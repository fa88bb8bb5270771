"""Hub and kiosk over real HTTP on loopback: enrollment, orders, events exactly once, pickups, checkpoints,
seven days offline, remote commands — with the hub on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend_sync import protocol as p
from backend_sync.client import SyncClient
from backend_sync.commands import CommandKind
from backend_sync.errors import HubRefused, HubUnreachable
from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from backend_sync.hub.orders import CreatedOrder, NewHubOrder, create_order
from backend_sync.keys import KioskKeys
from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import audit
from locker.clock import ManualClock
from locker.errors import NotCollectable
from locker.model import OrderState, Size
from tests.harness import DAY, STATEMENT, Codes, Station, station_config
from tests.hub.servers import ADMIN_PASSWORD, HubProcess

DEVICE = "test-1"


class LoseFirstEventsResponse(httpx.BaseTransport):
    """Forwards every request; once armed, the next response to /events is lost on the way back (the hub did
    process the request)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.armed = False
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/kiosk/events") and self.armed:
            response.read()
            response.close()
            self.armed = False
            self.lost += 1
            raise httpx.ReadError("connection reset (simulated)", request=request)
        return response


def kiosk_station(tmp: Path) -> Station:
    cfg = station_config(tmp / "kiosk" / "wibox.db", 6)
    clock = ManualClock(time.time())  # the kiosk's clock starts at the hub's time and then runs ahead
    bank = MemoryLockBank([c.number for c in cfg.compartments], clock, item_sensors=True)
    return Station(cfg, clock, bank)


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[HubProcess]:
    h = HubProcess.create(tmp_path, database_url)
    h.start()
    try:
        yield h
    finally:
        h.stop()


def admin_client(hub: HubProcess) -> httpx.Client:
    c = httpx.Client(base_url=hub.url, timeout=10)
    r = c.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and c.cookies, r.text
    return c


def new_order(store: HubStore, ref: str, *, days: float, size: Size = Size.S) -> CreatedOrder:
    now = time.time()
    with store.write() as conn:
        return create_order(conn, NewHubOrder("wiesbaden", DEVICE, ref, "id_card", size, now, now + days * DAY), now)


def hub_order(store: HubStore, order_id: str) -> Any:
    with store.read() as conn:
        return conn.execute(select(hubdb.orders).where(hubdb.orders.c.id == order_id)).one()


def event_count(store: HubStore, **where: str) -> int:
    t = hubdb.events
    q = select(func.count()).select_from(t).where(*(t.c[k] == v for k, v in where.items()))
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


def pick_up(st: Station, order: CreatedOrder) -> int:
    n = st.flows.pickup.confirm_receipt(st.flows.pickup.verify(st.flows.pickup.scan_qr(order.qr_payload)), STATEMENT)
    st.pump()
    st.bank.take_item(n)
    st.bank.close(n)
    st.pump()
    return n


def load(st: Station, sid: str, order: CreatedOrder) -> int:
    return st.load(sid, Codes(order.id, order.qr_payload, order.pickup_number, order.pin))


def test_hub_and_kiosk_over_http(tmp_path: Path, hub: HubProcess, database_url: str) -> None:
    store = HubStore.open(database_url, pool_size=2)
    st = kiosk_station(tmp_path)
    lossy = LoseFirstEventsResponse()
    client = SyncClient(hub.url, DEVICE, KioskKeys.generate(), st.flows, st.store, st.clock, transport=lossy)
    admin = admin_client(hub)
    try:
        # -- enrollment: the kiosk shows a code, the admin approves with it, the kiosk pins the hub key ------
        code = client.enroll().code
        assert client.poll_enrollment() == "pending"
        wrong = "00000000" if code != "00000000" else "11111111"
        r = admin.post(f"/admin/api/kiosks/{DEVICE}/approve", json={"code": wrong, "city_id": "wiesbaden"})
        assert r.status_code == 403
        r = admin.post(f"/admin/api/kiosks/{DEVICE}/approve", json={"code": code, "city_id": "wiesbaden"})
        assert r.status_code == 200, r.text
        assert client.poll_enrollment() == "approved"
        assert len(st.flows.bundle.hub_keys()) == 1

        # -- an order at the hub reaches the kiosk in a bundle; staff load it --------------------------------
        a = new_order(store, "CASE-A", days=7)
        report = client.sync_once()
        assert report.bundles == 1 and st.store.order(a.id).state == OrderState.ANNOUNCED  # type: ignore[union-attr]
        assert client.sync_once().bundles == 0  # acknowledged: nothing new
        sid = st.staff_session()
        load(st, sid, a)

        # -- "stored" arrives exactly once although the first response was lost ----------------------------
        lossy.armed = True
        with pytest.raises(HubUnreachable):
            client.sync_once()
        assert lossy.lost == 1
        client.sync_once()
        assert st.store.pending(100) == []
        assert event_count(store, kind="stored") == 1
        assert hub_order(store, a.id).state == "stored"

        # -- pickup with the codes issued at the hub: collected with its handover proof ------------------------
        pick_up(st, a)
        client.sync_once()
        o = hub_order(store, a.id)
        assert o.state == "collected"
        proof = json.loads(o.handover_proof)
        assert proof["audit_seq"] > 0 and len(proof["audit_hash"]) == 64
        kiosk_row = _kiosk(store)
        assert kiosk_row.checkpoint_size == audit.head(st.database).size > proof["audit_seq"] - 1

        # -- remote command: open a compartment for maintenance; the result comes back as an event --------------
        r = admin.post(
            f"/admin/api/kiosks/{DEVICE}/commands",
            json={"kind": CommandKind.OPEN_COMPARTMENT, "reason": "check the lock", "compartment": 2},
        )
        assert r.status_code == 201, r.text
        cmd_id = r.json()["id"]
        assert client.heartbeat() == [cmd_id]
        assert st.bank.is_open(2)
        assert client.heartbeat() == []  # handed out once only
        st.bank.close(2)
        st.pump()
        client.sync_once()
        with store.read() as conn:
            cmd = conn.execute(select(hubdb.commands).where(hubdb.commands.c.id == cmd_id)).one()
        assert cmd.status == "done", cmd.result
        health = json.loads(_kiosk(store).last_health)
        assert health["health"]["compartments"] == 6

        # -- seven days without the hub: pickups go on, expired orders are refused ---------------------------
        b = new_order(store, "CASE-B", days=7)
        c = new_order(store, "CASE-C", days=3)
        client.sync_once()
        load(st, sid, b)
        load(st, sid, c)
        client.sync_once()
        hub.stop()
        st.clock.advance(DAY)
        pick_up(st, b)
        assert client.step() is False and client.stats.failures >= 1
        assert isinstance(client.backoff_s(), float)
        st.clock.advance(6 * DAY)
        assert c.id in st.flows.orders.expire_due()
        with pytest.raises(NotCollectable):
            st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr_payload))
        assert client.step() is False
        queued = {e.id for e in st.store.pending(1000)}
        assert len(queued) >= 2

        hub.start()
        before = _kiosk(store).checkpoint_size
        assert client.step() is True
        assert st.store.pending(1000) == []
        with store.read() as conn:
            got = conn.execute(select(hubdb.events.c.event_id).where(hubdb.events.c.event_id.in_(queued))).all()
            cps = conn.execute(
                select(hubdb.checkpoints.c.size).where(hubdb.checkpoints.c.device_id == DEVICE).order_by("size")
            ).all()
        assert len(got) == len(queued)  # every queued event arrived, each once (primary key)
        assert hub_order(store, b.id).state == "collected"
        assert hub_order(store, c.id).state == "expired"
        assert _kiosk(store).checkpoint_size > before
        sizes = [r.size for r in cps]
        assert sizes == sorted(set(sizes)) and len(sizes) >= 3  # the countersigned checkpoints chain

        # -- a truncated kiosk log is refused: 409 and an alarm at the hub ------------------------------------
        entries = audit.entries(st.database)
        short = entries[len(entries) // 2]
        body = p.sign_checkpoint(client.keys.signer, DEVICE, short.seq, short.hash)
        data = p.sign_kiosk_message(client.keys.signer, DEVICE, body, int(st.clock.now()))
        with pytest.raises(HubRefused) as refused:
            client._post("/api/v1/kiosk/checkpoint", data)
        assert refused.value.status == 409
        with store.read() as conn:
            kinds = conn.execute(select(hubdb.alarms.c.kind).where(hubdb.alarms.c.device_id == DEVICE)).scalars().all()
        assert "audit_not_extended" in kinds
    finally:
        client.close()
        admin.close()
        store.close()


def _kiosk(store: HubStore) -> Any:
    with store.read() as conn:
        return conn.execute(select(hubdb.kiosks).where(hubdb.kiosks.c.device_id == DEVICE)).one()
