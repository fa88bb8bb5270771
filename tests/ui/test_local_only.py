"""The kiosk API answers only its own origin (finding 5 of the security review), over real HTTP on loopback:
another Host is refused, a cross-origin state change is refused, JSON must be sent as JSON, a scanned badge's token
never appears in a page, and scans reach the screen that is showing, not a session that acted last."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk_ui.runtime import KIOSK_COOKIE
from kiosk_ui.screens import Screen
from tests.ui.rig import Kiosk, build, serve


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    with serve(build(tmp_path)) as k:
        yield k


def test_other_hosts_and_origins_are_refused(kiosk: Kiosk) -> None:
    with httpx.Client(base_url=kiosk.url, timeout=10) as c:
        assert c.get("/").status_code == 200
        assert c.get("/", headers={"Host": "rebound.example:80"}).status_code == 400  # DNS rebinding
        evil = {"Origin": "http://evil.example"}
        assert c.post("/act", data={"op": "lang:en"}, headers=evil).status_code == 403
        fetched = {"Sec-Fetch-Site": "cross-site"}
        assert c.post("/act", data={"op": "lang:en"}, headers=fetched).status_code == 403
        own = {"Origin": kiosk.url}
        assert c.post("/act", data={"op": "lang:en"}, headers=own).status_code in (200, 303)
        # A cross-site form can send text/plain without a preflight; JSON endpoints take only application/json.
        plain = c.post("/sim/api/scan", content=b'{"text": "x"}', headers={"Content-Type": "text/plain"})
        assert plain.status_code == 415


def test_a_scanned_badge_stays_in_the_daemon(kiosk: Kiosk) -> None:
    badge = kiosk.station.add_staff("ANNA-01", "246810", ("loader",))
    with httpx.Client(base_url=kiosk.url, timeout=10, follow_redirects=False) as c:
        c.get("/")
        streaming = hold_stream(c)
        try:
            assert c.post("/sim/api/scan", json={"text": badge.payload}).status_code == 200
            wait_for(lambda: "ANNA-01" in c.get("/staff/login").text)
            page = c.get("/staff/login").text
            token = badge.payload.rsplit(":", 1)[1]
            assert token not in page and badge.payload not in page
            r = c.post("/staff/login", data={"pin": "246810"})  # the scanned badge, held by the daemon
            assert r.status_code == 303 and r.headers["location"] == "/staff"
        finally:
            streaming.set()


def test_scans_reach_the_screen_that_is_showing(kiosk: Kiosk) -> None:
    c = kiosk.station.announce("ORDER-SCREEN")
    kiosk.station.load(kiosk.station.staff_session(), c)
    with httpx.Client(base_url=kiosk.url, timeout=10) as screen, httpx.Client(base_url=kiosk.url, timeout=10) as other:
        other.get("/")  # the older session, and (manual clock) no later than the screen's
        screen.get("/")
        streaming = hold_stream(screen)  # the kiosk's screen: its page follows the event stream
        try:
            acted = other.post("/act", data={"op": "lang:en"})  # another local client acts later, shows nothing
            assert acted.status_code in (200, 303)
            screen.post("/sim/api/scan", json={"text": c.qr})
            sessions = kiosk.ui.citizens.sessions
            mine = sessions[screen.cookies[KIOSK_COOKIE]]
            wait_for(lambda: mine.screen == Screen.CONFIRM)
            assert sessions[other.cookies[KIOSK_COOKIE]].screen == Screen.START
        finally:
            streaming.set()


def test_a_claimed_screen_gets_every_scan(tmp_path: Path) -> None:
    token = "t" * 43
    with serve(build(tmp_path, screen_token=token)) as kiosk:
        c = kiosk.station.announce("ORDER-CLAIM")
        kiosk.station.load(kiosk.station.staff_session(), c)
        with (
            httpx.Client(base_url=kiosk.url, timeout=10) as screen,
            httpx.Client(base_url=kiosk.url, timeout=10) as other,
        ):
            assert screen.get("/screen", params={"token": "x" * 43}).status_code == 403
            claimed = screen.get("/screen", params={"token": token})
            assert claimed.status_code == 303 and claimed.headers["location"] == "/"
            assert token not in claimed.text and KIOSK_COOKIE in claimed.cookies
            # another local client shows a page (open stream) and acts after the claim: it stays out of the scans
            other.get("/")
            streaming = hold_stream(other)
            try:
                assert other.post("/act", data={"op": "lang:en"}).status_code in (200, 303)
                other.post("/sim/api/scan", json={"text": c.qr})
                sessions = kiosk.ui.citizens.sessions
                wait_for(lambda: sessions[screen.cookies[KIOSK_COOKIE]].screen == Screen.CONFIRM)
                assert sessions[other.cookies[KIOSK_COOKIE]].screen == Screen.START
            finally:
                streaming.set()


def test_no_screen_can_be_claimed_without_a_token(kiosk: Kiosk) -> None:
    with httpx.Client(base_url=kiosk.url, timeout=10) as client:
        assert client.get("/screen", params={"token": ""}).status_code == 404
    assert kiosk.ui.citizens.screen_id is None


def hold_stream(client: httpx.Client) -> threading.Event:
    """Keep the client's event stream open (as a showing page does) until the returned event is set."""
    stop, opened = threading.Event(), threading.Event()

    def follow() -> None:
        try:
            with client.stream("GET", "/events") as r:
                for _ in r.iter_lines():
                    opened.set()
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            if not stop.is_set():  # the client closes under the stream at the end of the test: that is expected
                raise

    threading.Thread(target=follow, daemon=True).start()
    assert opened.wait(10), "the event stream did not open"
    return stop


def wait_for(done: object, timeout_s: float = 10.0) -> None:
    assert callable(done)
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
