"""A kiosk station enrolled at a running hub process (real HTTP), with its sync client and the hub's store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backend_sync.client import SyncClient
from backend_sync.hub.db import HubStore
from backend_sync.keys import KioskKeys
from tests.harness import Station
from tests.hub.servers import HubProcess
from tests.hub.test_end_to_end import DEVICE, admin_client, kiosk_station


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


Enrolled = tuple[Station, SyncClient, HubStore]


@contextmanager
def enrolled_kiosk(tmp_path: Path, hub: HubProcess, database_url: str) -> Iterator[Enrolled]:
    """Enroll a fresh kiosk the way an admin does (the code it shows, approved in the admin API)."""
    store = HubStore.open(database_url, pool_size=2)
    st = kiosk_station(tmp_path)
    client = SyncClient(hub.url, DEVICE, KioskKeys.generate(), st.flows, st.store, st.clock)
    admin = admin_client(hub)
    try:
        code = client.enroll().code
        r = admin.post(f"/admin/api/kiosks/{DEVICE}/approve", json={"code": code, "city_id": "wiesbaden"})
        assert r.status_code == 200, r.text
        assert client.poll_enrollment() == "approved"
        yield st, client, store
    finally:
        admin.close()
        client.close()
        store.close()


@contextmanager
def enrolled_on_sqlite_hub(tmp_path: Path) -> Iterator[Enrolled]:
    """A hub process on SQLite, running for the block, with a kiosk enrolled at it."""
    url = sqlite_url(tmp_path)
    with HubProcess.create(tmp_path, url).running() as hub, enrolled_kiosk(tmp_path, hub, url) as enrolled:
        yield enrolled
