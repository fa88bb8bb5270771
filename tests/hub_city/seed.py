"""City A's objects for the isolation tests: a stored order with a letter waiting, staff, events, an alarm."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.auth import token_hash
from tests.hub_city.conftest import City, Hub, mark_stored, order_body


@dataclass(frozen=True)
class Seeded:
    order_id: str
    reference: str
    pickup_number: str
    staff_id: str
    key_id: str
    alarm_id: int  # the kiosk's open door_forced alarm
    secrets: tuple[str, ...]  # strings of city A that must never appear in answers to city B


def seed_city(hub: Hub, city: City) -> Seeded:
    now = hub.clock.now()
    body = order_body(city, reference=f"{city.id.upper()}-SECRET-REF", postal_address="Erika Mustermann\nHauptstr. 1")
    out = hub.client.post("/api/v1/orders", json=body, headers=city.headers).json()
    mark_stored(hub.store, out["id"], now)
    hub.notifier.notify_stored(out["id"])  # e-mail sent, letter waiting
    staff_id = f"{city.id.upper()}-STAFF"
    health = {
        "software": "1.2.3",
        "health": {
            "clock": int(now),
            "compartments": 10,
            "free": 6,
            "occupied": 3,
            "faulty": 1,
            "disabled": 0,
            "doors_open": 1,
            "outbox_depth": 0,
            "alarms": ["door_forced"],
            "disk_free_mb": 900,
            "temperature_mc": 51000,
        },
    }
    with hub.store.write() as conn:
        conn.execute(
            sa.insert(hubdb.staff).values(
                id=staff_id,
                city_id=city.id,
                badge_hash="00" * 32,
                pin_verifier="x",
                roles="loader",
                active=True,
                updated_at=now,
                rev=1,
            )
        )
        conn.execute(
            sa.update(hubdb.kiosks).where(hubdb.kiosks.c.device_id == city.kiosk).values(last_health=json.dumps(health))
        )
        conn.execute(
            sa.insert(hubdb.events).values(
                event_id=f"{city.id}-ev1",
                device_id=city.kiosk,
                kind="collected",
                body="{}",
                received_at=now,
                outcome="applied",
            )
        )
        alarm_id = conn.execute(
            sa.insert(hubdb.alarms)
            .values(device_id=city.kiosk, kind="door_forced", compartment=3, raised_at=now)
            .returning(hubdb.alarms.c.id)
        ).scalar_one()
        key_id = conn.execute(
            sa.select(hubdb.api_keys.c.id).where(hubdb.api_keys.c.key_hash == token_hash(city.api_key))
        ).scalar_one()
    return Seeded(
        order_id=out["id"],
        reference=body["reference"],  # type: ignore[arg-type]
        pickup_number=out["pickup_number"],
        staff_id=staff_id,
        key_id=key_id,
        alarm_id=alarm_id,
        secrets=(
            out["id"],
            str(body["reference"]),
            out["pickup_number"],
            staff_id,
            city.kiosk,
            "Erika",
            "citizen@",
            f"{city.id.title()} Rathaus",
            "Marktplatz 1",
        ),
    )


CITY_TABLES = (
    "orders",
    "kiosks",
    "staff",
    "api_keys",
    "admins",
    "commands",
    "notices",
    "city_settings",
    "kiosk_sites",
    "alarms",
)


def snapshot(hub: Hub, city: City) -> dict[str, list[tuple[object, ...]]]:
    """Every row that belongs to ``city`` (by city id, kiosk or order)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with hub.store.read() as conn:
        order_ids = conn.execute(sa.select(hubdb.orders.c.id).where(hubdb.orders.c.city_id == city.id)).scalars().all()
        for name in CITY_TABLES:
            t = hubdb.metadata.tables[name]
            if "city_id" in t.c:
                q = sa.select(t).where(t.c.city_id == city.id)
            elif "device_id" in t.c:
                q = sa.select(t).where(t.c.device_id == city.kiosk)
            else:
                q = sa.select(t).where(t.c.order_id.in_(order_ids))
            out[name] = sorted(tuple(r) for r in conn.execute(q).all())
    return out
