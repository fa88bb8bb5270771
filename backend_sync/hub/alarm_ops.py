"""Alarms at the hub that a person closes: the ones the hub raised itself (audit_not_extended) and any a station
can no longer clear (a kiosk that was repaired, replaced or is gone)."""

from __future__ import annotations

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.errors import NotFound


def resolve_alarm(conn: sa.Connection, city_id: str, device_id: str, alarm_id: int, *, by: str, now: float) -> str:
    """Close one open alarm of a kiosk of ``city_id`` (cleared now, ``cleared_by`` the admin); returns its kind.
    NotFound for an alarm that is not open or not this city's kiosk's, the same answer either way."""
    a, k = hubdb.alarms, hubdb.kiosks
    row = conn.execute(
        sa.select(a.c.kind)
        .join(k, k.c.device_id == a.c.device_id)
        .where(a.c.id == alarm_id, a.c.device_id == device_id, k.c.city_id == city_id, a.c.cleared_at.is_(None))
    ).first()
    if row is None:
        raise NotFound(f"no open alarm {alarm_id} at kiosk {device_id}")
    conn.execute(sa.update(a).where(a.c.id == alarm_id).values(cleared_at=now, cleared_by=by))
    return str(row.kind)
