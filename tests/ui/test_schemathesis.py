"""schemathesis against the kiosk UI's OpenAPI over loopback HTTP: no server error; staff routes need a session.

The kiosk routes parse their form and JSON bodies by hand, so FastAPI's schema does not describe them; the test
declares the bodies each route reads (``BODIES``) before generating requests, positive and negative. The operations
are driven through hypothesis directly (schemathesis' pytest plugin does not run under pytest 9).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from kiosk_ui.i18n import LANGUAGES
from kiosk_ui.runtime import STAFF_COOKIE
from kiosk_ui.screens import Action, StaffAction, StaffScreen
from tests.ui.rig import Kiosk, build, serve

EXAMPLES = 12
STAFF_PIN = "246810"
FORM = "application/x-www-form-urlencoded"
CODES = [lang.code for lang in LANGUAGES]
STREAMS = {("GET", "/events")}  # server-sent events never end: checked on their own below
FAULTS = {"/sim/api/boards/silence", "/sim/api/doors/{compartment}/jam"}  # simulated hardware faults


def _op(actions: type[Action] | type[StaffAction], values: Iterable[str]) -> dict[str, Any]:
    """``action:value`` with the actions the route knows and values it may accept, or any printable text."""
    names = "|".join(a.value for a in actions)
    known = "|".join(values)
    return {"type": "string", "pattern": f"^({names}):({known}|[ -~]{{0,12}})$"}


def _body(media_type: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"required": True, "content": {media_type: {"schema": schema}}}


_TEXT: dict[str, Any] = {"type": "string", "maxLength": 80}
_FLAG: dict[str, Any] = {"type": "boolean"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/act"): _body(FORM, {"op": _op(Action, [*"0123456789", *CODES])}, ["op"]),
    ("post", "/staff/login"): _body(FORM, {"badge": _TEXT, "pin": _TEXT}, ["badge", "pin"]),
    ("post", "/staff/act"): _body(
        FORM, {"op": _op(StaffAction, [*"123456", *StaffScreen, *CODES]), "label": _TEXT, "reason": _TEXT}, ["op"]
    ),
    ("post", "/api/headset"): _body("application/json", {"plugged": _FLAG}, ["plugged"]),
    ("post", "/sim/api/scan"): _body("application/json", {"text": _TEXT}, ["text"]),
    ("post", "/sim/api/doors/{compartment}/item"): _body("application/json", {"present": _FLAG}, ["present"]),
    ("post", "/sim/api/doors/{compartment}/jam"): _body("application/json", {"jammed": _FLAG}, []),
    ("post", "/sim/api/boards/silence"): _body("application/json", {"silent": _FLAG}, []),
}


def kiosk_schema(kiosk: Kiosk) -> dict[str, Any]:
    """The app's own OpenAPI (it is not served: ``openapi_url=None``) with the hand-parsed bodies declared."""
    raw = copy.deepcopy(kiosk.app.openapi())
    for (method, path), body in BODIES.items():
        raw["paths"][path][method]["requestBody"] = body
    return raw


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    with serve(build(tmp_path)) as k:
        yield k


def staff_cookie(kiosk: Kiosk) -> str:
    """Log a loader + maintenance person in over HTTP; returns the staff session cookie."""
    badge = kiosk.station.add_staff("ANNA-01", STAFF_PIN, ("loader", "maintenance"))
    with httpx.Client(base_url=kiosk.url) as c:
        r = c.post("/staff/login", data={"badge": badge.payload, "pin": STAFF_PIN}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return str(r.cookies[STAFF_COOKIE])


def repair(kiosk: Kiosk) -> None:
    """Undo the simulated hardware faults: boards answer again, no lock is jammed."""
    with httpx.Client(base_url=kiosk.url) as c:
        assert c.post("/sim/api/boards/silence", json={"silent": False}).status_code == 200
        for comp in kiosk.station.config.compartments:
            assert c.post(f"/sim/api/doors/{comp.number}/jam", json={"jammed": False}).status_code == 200


def test_no_server_error(kiosk: Kiosk) -> None:
    raw = kiosk_schema(kiosk)
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    operations = [op for op in operations if (op.method.upper(), op.path) not in STREAMS]
    assert len(operations) >= 19
    # Simulated hardware faults go last (a silent board or a jammed lock rightly answers 503 on the routes that
    # need it, so they are undone after each pass), and logging out after them (it ends the staff pass's session).
    operations.sort(key=lambda op: (op.path in FAULTS, op.path == "/staff/logout"))
    staff = staff_cookie(kiosk)
    seen: dict[tuple[str, str, str], set[int]] = {}
    for who, cookies in (("anonymous", {}), ("staff", {STAFF_COOKIE: staff})):  # the staff pass reaches the handlers
        for operation in operations:
            declared = raw["paths"][operation.path][operation.method.lower()]
            negative = bool(declared.get("parameters") or declared.get("requestBody"))  # else nothing to break
            statuses = seen.setdefault((who, operation.method.upper(), operation.path), set())
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negative else (GenerationMode.POSITIVE,):
                _fuzz(operation, mode, kiosk.url, cookies, statuses)
        repair(kiosk)
    assert seen["anonymous", "GET", "/staff/api/state"] == {401}
    assert seen["staff", "GET", "/staff/api/state"] == {200}
    # The staff pass reached the handlers: positive cases always name a known action, so each passed the session
    # check (a lost or refused cookie would answer 401); what the handlers then answer depends on the generated
    # values (which vary with the hash seed), so only the session is asserted, never a lucky 303.
    staff_act = seen["staff", "POST", "/staff/act"]
    assert staff_act and 401 not in staff_act, staff_act
    assert not kiosk.ui.ticker_error


def test_event_stream_opens(kiosk: Kiosk) -> None:
    with httpx.Client(base_url=kiosk.url, timeout=5) as c, c.stream("GET", "/events") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines) == "retry: 1000"


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps them as ``original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes)


def staff_routes(kiosk: Kiosk) -> list[tuple[str, str]]:
    """Every (method, path) under /staff except logging in (and out: it ends only the caller's own session)."""
    routes = list(_walk(kiosk.app.routes))
    served = kiosk.app.openapi()["paths"]
    assert all(route.path in served for route in routes)  # the walked paths are the paths the app serves
    return sorted(
        (method, route.path)
        for route in routes
        if route.path.startswith("/staff") and route.path not in {"/staff/login", "/staff/logout"}
        for method in route.methods or ()
    )


def test_staff_routes_refuse_without_a_staff_session(kiosk: Kiosk) -> None:
    routes = staff_routes(kiosk)
    assert {("GET", "/staff"), ("POST", "/staff/act"), ("GET", "/staff/api/state")} <= set(routes)
    staff_cookie(kiosk)  # somebody is logged in elsewhere: that session must not be reachable without its cookie
    bodies = [{"op": f"{a.value}:1", "label": "x", "reason": "test"} for a in StaffAction]
    for cookies in ({}, {STAFF_COOKIE: "forged"}, {STAFF_COOKIE: ""}):
        with httpx.Client(base_url=kiosk.url, cookies=cookies) as c:
            for method, path in routes:
                for data in bodies if method == "POST" else [None]:
                    r = c.request(method, path, data=data, follow_redirects=False)
                    assert r.status_code in {401, 403}, (method, path, cookies, data, r.status_code)
    assert not any(kiosk.station.bank.is_open(n) for n in kiosk.station.bank.numbers)  # and nothing was done


def test_a_missing_role_is_403(kiosk: Kiosk) -> None:
    badge = kiosk.station.add_staff("BEN-02", STAFF_PIN, ("loader",))
    with httpx.Client(base_url=kiosk.url) as c:
        r = c.post("/staff/login", data={"badge": badge.payload, "pin": STAFF_PIN}, follow_redirects=False)
        assert r.status_code == 303
        r = c.post("/staff/act", data={"op": "maint_open:1", "reason": "check the lock"})
        assert r.status_code == 403
    assert not kiosk.station.bank.is_open(1)


@pytest.mark.parametrize(
    ("path", "content", "content_type"),
    [
        ("/api/headset", b"{not json", "application/json"),
        ("/api/headset", b"\xff\xfe", "application/json"),
        ("/api/headset", b"[true]", "application/json"),
        ("/sim/api/scan", b"{", "application/json"),
        ("/sim/api/doors/1/item", b"present=1", "application/x-www-form-urlencoded"),
        ("/sim/api/boards/silence", b"\x00", "application/json"),
        ("/act", "&".join(f"f{i}=1" for i in range(50)).encode(), FORM),
        ("/staff/login", "&".join(f"f{i}=1" for i in range(50)).encode(), FORM),
        ("/act", b"op=key%3A%FF%FE", FORM),
    ],
)
def test_malformed_bodies_are_4xx(kiosk: Kiosk, path: str, content: bytes, content_type: str) -> None:
    """Bodies no generator produces from a schema: not JSON, not UTF-8, too many form fields."""
    r = httpx.post(kiosk.url + path, content=content, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500 or r.status_code == 303, (r.status_code, r.text)


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, cookies: dict[str, str], statuses: set[int]) -> None:

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, cookies=cookies, timeout=10)
        statuses.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
