"""Two cities on one hub: every route, called with the other city's session or API key, neither shows nor changes
city A's kiosks, orders or staff; without credentials every admin route answers 401/403. Routes are enumerated from
the app, so a new route is covered automatically."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from tests.hub_city.conftest import Hub
from tests.hub_city.seed import Seeded, seed_city, snapshot

# Routes anyone may call: kiosk-facing (authenticated by the kiosk's signature inside the body), login, open data.
PUBLIC = re.compile(
    r"^(/api/v1/kiosk/|/api/v1/enroll|/admin/login$|/admin/logout$|/admin/$|/admin/static/|/opendata/|/healthz$"
    r"|/openapi.json$|/api/docs|/$)"  # "/" redirects to the admin pages
)
KIOSK_FACING = re.compile(r"^(/api/v1/kiosk/|/api/v1/enroll)")

JSON_BODY = {
    "days": 3,
    "name": "x",
    "code": "12345678",
    "city_id": "alpha",
    "kind": "resync",
    "reason": "testing isolation",
}


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps them as ``original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for route in _walk(client.app.routes):  # type: ignore[attr-defined]
        out.extend((method, route.path) for method in sorted(route.methods or ()))
    assert len(out) > 30
    return out


def _fill(path: str, a: Seeded, hub: Hub) -> str:
    values = {
        "order_id": a.order_id,
        "device_id": hub.a.kiosk,
        "key_id": a.key_id,
        "staff_id": a.staff_id,
        "city_id": "alpha",
        "alarm_id": str(a.alarm_id),
        "document_type": "passport",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _form(a: Seeded, hub: Hub) -> dict[str, str]:
    return {
        "device_id": hub.a.kiosk,
        "code": "12345678",
        "kind": "resync",
        "reason": "testing isolation",
        "staff_id": "NEW-STAFF",
        "pin": "123456",
        "roles": "loader",
        "city_id": "alpha",
        "name": "Alpha 2",
        "username": "alpha-intruder",
        "password": "a long enough password",
        "role": "admin",
    }


def _call(client: TestClient, method: str, url: str, a: Seeded, hub: Hub, headers: dict[str, str]) -> tuple[int, str]:
    if method == "GET":
        r = client.get(url, headers=headers, follow_redirects=False)
    elif url.startswith("/admin/") and not url.startswith("/admin/api/"):
        if url == "/admin/orders/import":
            files = {
                "file": ("o.csv", f"reference,kiosk,document_kind,size,email\nX-1,{hub.a.kiosk},id_card,S,a@b.de\n")
            }
            r = client.post(url, files=files, headers=headers, follow_redirects=False)
        else:
            r = client.post(url, data=_form(a, hub), headers=headers, follow_redirects=False)
    elif url == "/api/v1/orders/import":
        csv = f"reference,kiosk,document_kind,size,email\nX-1,{hub.a.kiosk},id_card,S,a@b.de\n"
        r = client.post(url, content=csv, headers=headers | {"content-type": "text/csv"})
    elif url == "/api/v1/orders":
        body = {"reference": "X-2", "kiosk": hub.a.kiosk, "document_kind": "id_card", "size": "S", "email": "a@b.de"}
        r = client.post(url, json=body, headers=headers)
    else:
        r = client.post(url, json=JSON_BODY, headers=headers)
    return r.status_code, r.text


def test_other_city_neither_sees_nor_changes(hub: Hub) -> None:
    a = seed_city(hub, hub.a)
    seed_city(hub, hub.b)
    before = snapshot(hub, hub.a)
    b_session = hub.login(hub.b.admin_user)
    callers = {"b-session": (b_session, {}), "b-apikey": (TestClient(hub.client.app), hub.b.headers)}
    checked = 0
    for method, path in _routes(hub.client):
        if PUBLIC.match(path):
            continue
        url = _fill(path, a, hub)
        for who, (client, headers) in callers.items():
            status, text = _call(client, method, url, a, hub, headers)
            assert status < 500, (who, method, url, text)
            echoed = {hub.a.kiosk, a.staff_id} if method == "POST" else set()  # sent in the request body
            leaked = [s for s in a.secrets if s in text and s not in url and s not in echoed]
            assert not leaked, (who, method, url, leaked, text[:500])
            if "{" in path:  # an object of city A named in the URL: never found for city B
                assert status in (401, 403, 404, 409, 422), (who, method, url, status, text[:300])
            checked += 1
    assert checked > 40
    assert snapshot(hub, hub.a) == before


def test_no_credentials_no_access(hub: Hub) -> None:
    a = seed_city(hub, hub.a)
    before = snapshot(hub, hub.a)
    anon = TestClient(hub.client.app)
    checked = 0
    for method, path in _routes(hub.client):
        if PUBLIC.match(path):
            continue
        status, text = _call(anon, method, _fill(path, a, hub), a, hub, {})
        assert status in (401, 403), (method, path, status, text[:300])
        checked += 1
    assert checked > 20
    bogus = {"Authorization": "Bearer whk_nope_nope", "Cookie": "wibox_hub_session=forged"}
    for method, path in _routes(hub.client):
        if not PUBLIC.match(path):
            status, _ = _call(anon, method, _fill(path, a, hub), a, hub, bogus)
            assert status in (401, 403), (method, path, status)
    assert snapshot(hub, hub.a) == before


def test_roles(hub: Hub) -> None:
    a = seed_city(hub, hub.a)
    monitor = hub.login(hub.a.monitor_user)
    assert monitor.get("/admin/fleet").status_code == 200
    assert monitor.get(f"/admin/orders/{a.order_id}/letter").status_code == 403
    assert (
        monitor.post("/admin/staff", data={"staff_id": "NEW-1", "pin": "123456", "roles": "loader"}).status_code == 403
    )
    office = hub.login(hub.a.office_user)
    assert office.get(f"/admin/orders/{a.order_id}/letter").status_code == 200
    assert office.post(f"/admin/staff/{a.staff_id}/deactivate").status_code == 403
    assert office.get("/admin/cities").status_code == 403
    platform = hub.login(hub.platform_user)
    assert platform.get("/admin/cities").status_code == 200
    assert platform.get("/admin/fleet").status_code == 403  # the platform operator is no city's admin
    assert platform.get(f"/api/v1/orders/{a.order_id}").status_code == 403
    api = TestClient(hub.client.app)
    assert api.get("/admin/fleet", headers=hub.a.headers).status_code == 403  # machines do not use the pages
    assert api.get("/api/v1/keys", headers=hub.a.headers).status_code == 403  # nor manage keys


def test_session_expiry_and_logout(hub: Hub) -> None:
    admin = hub.login(hub.a.admin_user)
    assert admin.get("/admin/fleet").status_code == 200
    hub.clock.advance(31 * 60)  # idle longer than 30 minutes
    assert admin.get("/admin/fleet").status_code == 401
    admin = hub.login(hub.a.admin_user)
    cookie = admin.cookies.get("wibox_hub_session")
    assert admin.post("/admin/logout", follow_redirects=False).status_code == 303
    again = TestClient(hub.client.app)
    assert again.get("/admin/fleet", headers={"Cookie": f"wibox_hub_session={cookie}"}).status_code == 401
    r = TestClient(hub.client.app).post(
        "/admin/login", data={"username": hub.a.admin_user, "password": "wrong"}, follow_redirects=False
    )
    assert r.status_code == 303 and "failed" in r.headers["location"]


def test_api_keys_shown_once_and_revocable(hub: Hub) -> None:
    admin = hub.login(hub.a.admin_user)
    r = admin.post("/api/v1/keys", json={"name": "second system"})
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["id"]
    listed = admin.get("/api/v1/keys").json()
    assert all(k["key"] is None for k in listed) and key_id in [k["id"] for k in listed]
    headers = {"Authorization": f"Bearer {key}"}
    assert hub.client.get("/api/v1/orders", headers=headers).status_code == 200
    assert admin.post(f"/api/v1/keys/{key_id}/revoke").status_code == 200
    assert hub.client.get("/api/v1/orders", headers=headers).status_code == 401
