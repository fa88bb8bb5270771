"""Fixtures: a hub over a fresh SQLite database with two cities, their admins, API keys and kiosks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend_sync.hub import tables as hubdb
from backend_sync.hub.app import create_app
from backend_sync.hub.auth import AdminPrincipal, Role, create_admin, create_api_key
from backend_sync.hub.config import HubConfig
from backend_sync.hub.db import HubStore
from backend_sync.hub.keys import load_hub_keys
from backend_sync.hub.notices import CityNotifier
from backend_sync.hub.tables import KioskStatus
from locker.clock import ManualClock

PASSWORD = "correct horse battery staple"


class ListMailer:
    """A mailer that keeps the messages (the SMTP path has its own test with a real server)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail = False

    def send(self, message: EmailMessage) -> None:
        if self.fail:
            raise ConnectionRefusedError("smtp down")
        self.sent.append(message)


@dataclass
class City:
    id: str
    kiosk: str
    api_key: str
    admin_user: str
    office_user: str
    monitor_user: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hub:
    client: TestClient
    store: HubStore
    clock: ManualClock
    mailer: ListMailer
    notifier: CityNotifier
    a: City
    b: City
    platform_user: str

    def login(self, username: str) -> TestClient:
        client = TestClient(self.client.app)
        r = client.post("/admin/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin/", r.text
        return client


def add_city(store: HubStore, city_id: str, now: float, *, dob: bool = False) -> City:
    kiosk = f"{city_id}-k1"
    with store.write() as conn:
        store.add_city(conn, city_id, city_id.title())
        conn.execute(
            sa.insert(hubdb.city_settings).values(
                city_id=city_id, dob_factor=dob, pin_length=6, office_contact=f"Bürgeramt {city_id}, 030 1234"
            )
        )
        conn.execute(
            sa.insert(hubdb.kiosks).values(
                device_id=kiosk,
                city_id=city_id,
                name=f"{city_id.title()} Rathaus",
                status=KioskStatus.APPROVED.value,
                sign_public="00" * 32,
                enc_public="00" * 32,
                version="1.2.3",
                created_at=now,
                approved_at=now,
                last_seen=now,
            )
        )
        conn.execute(
            sa.insert(hubdb.kiosk_sites).values(
                device_id=kiosk,
                location=f"Marktplatz 1, {city_id.title()}",
                opening_hours="24/7",
                latitude=52.5,
                longitude=13.4,
            )
        )
        users = {}
        for role in (Role.ADMIN, Role.OFFICE, Role.MONITOR):
            users[role] = f"{city_id}-{role.value}"
            create_admin(conn, users[role], PASSWORD, role=role, city_id=city_id, now=now)
        admin = AdminPrincipal("setup", city_id, Role.ADMIN)
        key, _ = create_api_key(conn, admin, "case management", now)
    return City(
        id=city_id,
        kiosk=kiosk,
        api_key=key,
        admin_user=users[Role.ADMIN],
        office_user=users[Role.OFFICE],
        monitor_user=users[Role.MONITOR],
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    store = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}")
    clock = ManualClock()
    config = HubConfig(data_dir=str(tmp_path))
    keys = load_hub_keys(tmp_path / "keys")
    mailer = ListMailer()
    notifier = CityNotifier(store, clock, mailer, "wibox@city.example")
    now = clock.now()
    a = add_city(store, "alpha", now)
    b = add_city(store, "beta", now)
    with store.write() as conn:
        create_admin(conn, "platform-op", PASSWORD, role=Role.PLATFORM, city_id=None, now=now)
    app = create_app(store, config, keys, clock, mailer=mailer, notifier=notifier)
    with TestClient(app) as client:
        yield Hub(client, store, clock, mailer, notifier, a, b, "platform-op")
    store.close()


def order_body(city: City, reference: str = "REF-1", **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "reference": reference,
        "kiosk": city.kiosk,
        "document_kind": "id_card",
        "size": "S",
        "language": "de",
        "email": "citizen@example.org",
        "valid_days": 7,
    }
    body.update(over)
    return body


def mark_stored(store: HubStore, order_id: str, at: float) -> None:
    """What the kiosk's ``stored`` event does at the hub (ingest.py), without the signed transport."""
    with store.write() as conn:
        conn.execute(sa.update(hubdb.orders).where(hubdb.orders.c.id == order_id).values(state="stored", stored_at=at))
