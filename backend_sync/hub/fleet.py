"""Fleet queries shared by the fleet pages, /metrics and open data: one summary per kiosk, always city-scoped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.errors import NotFound
from backend_sync.hub.tables import HubOrderState, KioskStatus
from backend_sync.keys import fingerprint

ONLINE_WINDOW_S = 300
DAY_S = 86400


@dataclass(frozen=True)
class KioskSummary:
    device_id: str
    city_id: str
    name: str
    status: str
    version: str
    last_seen: float | None
    online: bool
    compartments: dict[str, int] = field(default_factory=dict)  # free / occupied / faulty / disabled
    compartments_total: int = 0
    doors_open: int = 0
    outbox_depth: int = 0
    disk_free_bytes: int | None = None
    temperature_celsius: float | None = None
    pin_failures_total: int | None = None
    browser_heartbeat_age_s: float | None = None
    open_alarms: dict[str, int] = field(default_factory=dict)
    pickups_total: int = 0
    pickups_24h: int = 0
    stored_orders: int = 0
    approved_at: float = 0.0  # start of the current enrollment: its history begins here
    key_fingerprint: str = ""  # the approved signing key (keys.fingerprint), to compare with the kiosk's journal

    @property
    def fill_percent(self) -> int | None:
        if not self.compartments_total:
            return None
        return round(100 * self.compartments.get("occupied", 0) / self.compartments_total)


def _health(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    data = json.loads(raw)
    health = data.get("health") if isinstance(data, dict) else None
    return health if isinstance(health, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def enrolled_since(kiosk: Any) -> float:
    """When the kiosk's current enrollment began: what it did before (another city's, a revoked key's) is not its
    history any more."""
    return float(kiosk.approved_at or 0.0)


def summarize(conn: sa.Connection, kiosk: Any, now: float) -> KioskSummary:
    h = _health(kiosk.last_health)
    a, e, o = hubdb.alarms, hubdb.events, hubdb.orders
    since = enrolled_since(kiosk)
    alarms = conn.execute(
        sa.select(a.c.kind, sa.func.count())
        .where(a.c.device_id == kiosk.device_id, a.c.cleared_at.is_(None), a.c.raised_at >= since)
        .group_by(a.c.kind)
    ).all()
    pickups = conn.execute(
        sa.select(e.c.received_at).where(
            e.c.device_id == kiosk.device_id,
            e.c.kind == "collected",
            e.c.outcome == "applied",
            e.c.received_at >= since,
        )
    ).scalars()
    times = list(pickups)
    stored = conn.execute(
        sa.select(sa.func.count()).where(
            o.c.kiosk_id == kiosk.device_id, o.c.city_id == kiosk.city_id, o.c.state == HubOrderState.STORED.value
        )
    ).scalar_one()
    compartments = {k: n for k in ("free", "occupied", "faulty", "disabled") if (n := _int(h.get(k))) is not None}
    disk_mb = _int(h.get("disk_free_mb"))
    temp_mc = _int(h.get("temperature_mc"))
    browser = h.get("browser_heartbeat_age_s")
    return KioskSummary(
        device_id=kiosk.device_id,
        city_id=kiosk.city_id or "",
        name=kiosk.name or kiosk.device_id,
        status=kiosk.status,
        version=kiosk.version or "",
        last_seen=kiosk.last_seen,
        online=kiosk.last_seen is not None and now - kiosk.last_seen <= ONLINE_WINDOW_S,
        compartments=compartments,
        compartments_total=_int(h.get("compartments")) or 0,
        doors_open=_int(h.get("doors_open")) or 0,
        outbox_depth=_int(h.get("outbox_depth")) or 0,
        disk_free_bytes=None if disk_mb is None else disk_mb * 1024 * 1024,
        temperature_celsius=None if temp_mc is None else temp_mc / 1000,
        pin_failures_total=_int(h.get("pin_failures_total")),
        browser_heartbeat_age_s=float(browser) if isinstance(browser, int | float) else None,
        open_alarms={str(k): int(n) for k, n in alarms},
        pickups_total=len(times),
        pickups_24h=sum(1 for t in times if now - t <= DAY_S),
        stored_orders=int(stored),
        approved_at=since,
        key_fingerprint=fingerprint(bytes.fromhex(kiosk.sign_public)),
    )


def city_kiosks(conn: sa.Connection, city_id: str, now: float) -> list[KioskSummary]:
    """Every approved or revoked kiosk of one city (pending kiosks belong to no city yet)."""
    k = hubdb.kiosks
    rows = conn.execute(sa.select(k).where(k.c.city_id == city_id).order_by(k.c.device_id)).all()
    return [summarize(conn, r, now) for r in rows]


def city_kiosk_summary(conn: sa.Connection, city_id: str, device_id: str, now: float) -> KioskSummary:
    k = hubdb.kiosks
    row = conn.execute(sa.select(k).where(k.c.device_id == device_id, k.c.city_id == city_id)).first()
    if row is None:
        raise NotFound(f"kiosk {device_id!r} not found")
    return summarize(conn, row, now)


def pickups_per_day(
    conn: sa.Connection, device_id: str, now: float, days: int = 14, since: float = 0.0
) -> list[tuple[str, int]]:
    """(UTC date, pickups) for the last ``days`` days, oldest first, zero days included; only pickups from
    ``since`` on (the kiosk's current enrollment)."""
    import datetime as dt

    e = hubdb.events
    start = now - days * DAY_S
    times = conn.execute(
        sa.select(e.c.received_at).where(
            e.c.device_id == device_id,
            e.c.kind == "collected",
            e.c.outcome == "applied",
            e.c.received_at > max(start, since - 1e-6),
        )
    ).scalars()
    counts: dict[str, int] = {}
    for i in range(days):
        day = dt.datetime.fromtimestamp(now - (days - 1 - i) * DAY_S, dt.UTC).date().isoformat()
        counts[day] = 0
    for t in times:
        day = dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat()
        if day in counts:
            counts[day] += 1
    return list(counts.items())


def moved_documents(conn: sa.Connection, city_id: str, device_id: str) -> list[Any]:
    """Documents staff moved to another compartment of this kiosk, still inside: reference, compartment, when."""
    o = hubdb.orders
    return list(
        conn.execute(
            sa.select(o.c.reference, o.c.compartment, o.c.moved_at)
            .where(
                o.c.city_id == city_id,
                o.c.kiosk_id == device_id,
                o.c.moved_at.is_not(None),
                o.c.state.in_(
                    [s.value for s in (HubOrderState.STORED, HubOrderState.EXPIRED, HubOrderState.CANCELLED)]
                ),
            )
            .order_by(o.c.compartment)
        ).all()
    )


def approved(summary: KioskSummary) -> bool:
    return summary.status == KioskStatus.APPROVED.value


def old_ids_waiting(conn: sa.Connection, city_id: str, device_id: str) -> list[Any]:
    """Returned old ID cards still in a compartment of this kiosk (staff take them out): reference, compartment."""
    o = hubdb.orders
    return list(
        conn.execute(
            sa.select(o.c.reference, o.c.old_id_compartment, o.c.old_id_returned_at)
            .where(
                o.c.city_id == city_id,
                o.c.kiosk_id == device_id,
                o.c.old_id_returned_at.is_not(None),
                o.c.old_id_taken_at.is_(None),
            )
            .order_by(o.c.old_id_compartment)
        ).all()
    )
