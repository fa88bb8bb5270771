"""Hub login attacks: guessing a password is throttled per user name and per client with growing delays, the
right password does not get in during a delay, failures are audited and counted in /metrics (manual clock)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from backend_sync.hub import login_throttle
from backend_sync.hub import tables as hubdb
from tests.hub_city.conftest import PASSWORD, Hub


def attempt(client: TestClient, username: str, password: str) -> httpx.Response:
    r: httpx.Response = client.post(
        "/admin/login", data={"username": username, "password": password}, follow_redirects=False
    )
    return r


def logged_in(r: httpx.Response) -> bool:
    return r.status_code == 303 and r.headers["location"] == "/admin/"


def test_guessing_is_slowed_down_and_the_right_password_waits_too(hub: Hub) -> None:
    user = hub.a.admin_user
    results = [attempt(hub.client, user, f"wrong guess {i}") for i in range(40)]  # 40 guesses at once
    assert not any(logged_in(r) for r in results)
    assert "wait=" in results[-1].headers["location"]
    assert not logged_in(attempt(hub.client, user, PASSWORD))  # refused without being checked
    with hub.store.read() as conn:
        a = hubdb.admin_audit.c
        audited = conn.execute(sa.select(sa.func.count()).where(a.action == "login.failed", a.target == user))
        assert audited.scalar_one() == login_throttle.FREE_FAILURES  # the others were refused unchecked

    # Growing delays: each further failure doubles the wait (1 s, 2 s, 4 s ...), capped.
    waits = []
    for _ in range(6):
        with hub.store.read() as conn:
            wait = login_throttle.wait_s(conn, user, "testclient", hub.clock.now())
        waits.append(wait)
        hub.clock.advance(wait + 0.01)
        assert not logged_in(attempt(hub.client, user, "still wrong"))
    assert waits == sorted(waits) and waits[-1] >= 16 * waits[0] > 0
    with hub.store.read() as conn:
        wait = login_throttle.wait_s(conn, user, "testclient", hub.clock.now())
    hub.clock.advance(wait + 0.01)
    assert logged_in(attempt(hub.client, user, PASSWORD))  # after the delay the right password works

    # /metrics counts the failures per city; another city's admin does not see them.
    fams = {f.name: f for f in text_string_to_metric_families(hub.client.get("/metrics", headers=hub.a.headers).text)}
    samples = {s.labels["city"]: s.value for s in fams["wibox_hub_login_failures"].samples}
    assert samples == {"alpha": login_throttle.FREE_FAILURES + 6}
    other = hub.client.get("/metrics", headers=hub.b.headers).text
    assert 'city="alpha"' not in other


def test_the_account_is_slowed_down_not_locked_out(hub: Hub) -> None:
    user = hub.b.admin_user
    for _ in range(30):  # someone else keeps guessing, each time the account lets them
        with hub.store.read() as conn:
            hub.clock.advance(login_throttle.wait_s(conn, user, "testclient", hub.clock.now()) + 0.01)
        attempt(hub.client, user, "a guess")
    with hub.store.read() as conn:
        assert login_throttle.wait_s(conn, user, "elsewhere", hub.clock.now()) <= login_throttle.MAX_DELAY_ACCOUNT_S
