"""The kiosk UI's background work survives its faults: a failing ticker round, views dropped while the ticker runs,
and sessions of browsers that went away."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from kiosk_ui.citizen import MAX_SESSIONS, SESSION_IDLE_S
from kiosk_ui.runtime import KIOSK_COOKIE
from kiosk_ui.screens import Action, Screen
from locker.model import AlarmKind
from tests.ui.rig import Kiosk, build

DEADLINE_S = 30.0  # generous: each wait ends as soon as the state is there


def wait_until(cond: object, what: str) -> None:
    assert callable(cond)
    deadline = time.monotonic() + DEADLINE_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    k = build(tmp_path)
    yield k
    k.close()


def screen_alarms(k: Kiosk) -> list[tuple[AlarmKind, int | None, str | None, float]]:
    with k.station.lock:
        return [a for a in k.station.store.open_alarms() if a[0] == AlarmKind.SCREEN_FAILED]


def test_a_failing_ticker_round_raises_an_alarm_and_the_ticker_goes_on(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui = kiosk.ui
    real_tick = ui.citizens.tick
    fail = threading.Event()
    fail.set()

    def tick(timeout_s: float, warning_s: float) -> None:
        if fail.is_set():
            raise RuntimeError("dictionary changed size during iteration")
        real_tick(timeout_s, warning_s)

    monkeypatch.setattr(ui.citizens, "tick", tick)
    with TestClient(kiosk.app, base_url="http://127.0.0.1") as client:
        wait_until(lambda: screen_alarms(kiosk), "the screen_failed alarm")
        health = client.get("/healthz")
        assert health.status_code == 503 and "dictionary changed size" in health.json()["ticker"]
        failures = ui.ticker_failures
        wait_until(lambda: ui.ticker_failures > failures, "the ticker's next round")  # it did not die
        fail.clear()
        wait_until(lambda: not screen_alarms(kiosk), "the alarm to clear")
        assert client.get("/healthz").json()["ticker"] == "running"
        # and it does its work again: an idle citizen's entry is cleared
        assert client.post("/act", data={"op": "manual"}).status_code == 200
        assert client.post("/act", data={"op": "key:7"}).status_code == 200
        s = ui.citizens.sessions[client.cookies[KIOSK_COOKIE]]
        assert (s.screen, s.number) == (Screen.MANUAL, "7")
        kiosk.station.clock.advance(kiosk.station.config.display.idle_timeout_s + 1)
        wait_until(lambda: s.screen == Screen.START and s.number == "", "the idle reset")


def test_views_dropped_while_the_ticker_walks_them(kiosk: Kiosk) -> None:
    """Views and sessions belong to the event loop: logouts dropping views interleave with ticker rounds there (at
    the rounds' awaits), never inside one. Before, a route thread popped a view while the ticker iterated them."""
    ui = kiosk.ui
    rounds = 0

    async def ticker() -> None:
        nonlocal rounds
        for _ in range(300):
            await ui.tick()  # awaits the door pump on the station's worker: the churn runs meanwhile
            rounds += 1

    async def churn() -> None:
        i = 0
        while rounds < 300:
            sid = f"s{i % 50}"
            ui.staff.view(sid).watch = 1
            await asyncio.sleep(0)
            ui.staff.forget(sid)
            i += 1

    async def both() -> None:
        await asyncio.gather(ticker(), churn())

    asyncio.run(both())
    assert rounds == 300


def test_sessions_of_browsers_that_went_away_are_pruned(kiosk: Kiosk) -> None:
    citizens = kiosk.ui.citizens
    shown = citizens.get(None)  # a kiosk page with its event stream open
    citizens.stream_opened(shown)
    typing = citizens.get(None)
    asyncio.run(citizens.act(typing, Action.MANUAL))  # the session's owner is an event loop
    for _ in range(5):
        citizens.get(None)  # requests without a cookie
    assert len(citizens.sessions) == 7
    kiosk.station.clock.advance(SESSION_IDLE_S + 1)
    citizens.tick(kiosk.ui.timeout_s, kiosk.ui.warning_s)
    assert set(citizens.sessions) == {shown.id, typing.id}  # the idle entry was reset to the start screen now
    assert typing.screen == Screen.START
    kiosk.station.clock.advance(SESSION_IDLE_S + 1)
    citizens.tick(kiosk.ui.timeout_s, kiosk.ui.warning_s)
    assert list(citizens.sessions) == [shown.id]  # the page that is showing stays
    citizens.stream_closed(shown)
    for _ in range(MAX_SESSIONS + 40):
        citizens.get(None)
    assert len(citizens.sessions) == MAX_SESSIONS  # a flood of cookieless requests cannot grow memory
