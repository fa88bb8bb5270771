"""Password guessing at the hub over real HTTP: 40 wrong passwords in a row, then the right one, does not log in."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from tests.hub.servers import ADMIN_PASSWORD, HubProcess
from tests.hub.test_enrollment_attack import hub  # noqa: F401 - the fixture: a hub process on SQLite


def test_forty_guesses_then_the_right_password(tmp_path: Path, hub: HubProcess) -> None:  # noqa: F811
    c = httpx.Client(base_url=hub.url, timeout=10, follow_redirects=False)
    for i in range(40):
        r = c.post("/admin/login", data={"username": "root", "password": f"guess {i}"})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?failed=1")
    r = c.post("/admin/login", data={"username": "root", "password": ADMIN_PASSWORD})
    assert r.status_code == 303 and "wait=" in r.headers["location"] and not c.cookies
    page = c.get(r.headers["location"]).text
    assert "Too many failed logins" in page
    store = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}", pool_size=1)  # the database the fixture's hub uses
    try:
        with store.read() as conn:
            a = hubdb.admin_audit.c
            n = conn.execute(sa.select(sa.func.count()).where(a.action == "login.failed", a.target == "root"))
            assert n.scalar_one() >= 5
    finally:
        store.close()
