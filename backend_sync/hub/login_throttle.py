"""Throttle of admin logins per user name and per client address: growing delays, failures audited and counted."""

from __future__ import annotations

import json

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb

WINDOW_S = 86_400  # failures older than a day count for nothing (longer than any delay)
FREE_FAILURES = 5  # per user name and per client within the window, before delays start
BASE_DELAY_S = 1.0  # doubles with every further failure
MAX_DELAY_ACCOUNT_S = 60.0  # an account is slowed down, never locked out by someone else's guessing
MAX_DELAY_CLIENT_S = 900.0  # a client that keeps guessing waits up to 15 minutes


def _delay(failures: int, cap: float) -> float:
    extra = failures - FREE_FAILURES
    return 0.0 if extra < 0 else min(cap, BASE_DELAY_S * 2 ** min(extra, 30))


def wait_s(conn: sa.Connection, username: str, client: str, now: float) -> float:
    """Seconds before this user name may be tried again from this client (0: now)."""
    f = hubdb.login_failures.c
    wait = 0.0
    for column, value, cap in ((f.username, username, MAX_DELAY_ACCOUNT_S), (f.client, client, MAX_DELAY_CLIENT_S)):
        n, newest = conn.execute(
            sa.select(sa.func.count(), sa.func.max(f.at)).where(column == value, f.at > now - WINDOW_S)
        ).one()
        if n:
            wait = max(wait, float(newest) + _delay(int(n), cap) - now)
    return max(0.0, wait)


def record_failure(conn: sa.Connection, username: str, client: str, now: float) -> None:
    """One wrong password (or unknown user name): counted for both keys, audited as ``login.failed``."""
    t = hubdb.login_failures
    conn.execute(sa.delete(t).where(t.c.at <= now - WINDOW_S))
    conn.execute(sa.insert(t).values(username=username, client=client, at=now))
    a = hubdb.admins.c
    city = conn.execute(sa.select(a.city_id).where(a.username == username)).scalar_one_or_none()
    conn.execute(
        sa.insert(hubdb.admin_audit).values(
            city_id=city,
            admin_id="-",
            action="login.failed",
            target=username,
            detail=json.dumps({"client": client}),
            at=now,
        )
    )


def failures_by_city(conn: sa.Connection) -> dict[str | None, int]:
    """Failed logins ever recorded, by the city of the user name tried (None: platform or unknown names)."""
    a = hubdb.admin_audit.c
    rows = conn.execute(sa.select(a.city_id, sa.func.count()).where(a.action == "login.failed").group_by(a.city_id))
    return {city: int(n) for city, n in rows}
