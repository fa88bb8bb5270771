"""A page that re-renders while a scan or an action awaits the station's worker still learns where it ended.

The event stream tells a page to re-render when its session's version changes. A scan or an action bumps the version
as it begins and then awaits flows on the worker; a page that re-renders in that gap shows the old screen under the
new version. These tests hold the worker (the rig's shared flow lock) in that gap, take the version a page would
have rendered, and check that the screen the scan or action ended on carries a different one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.screens import Action, Screen
from tests.ui.rig import Kiosk, build


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    k = build(tmp_path)
    yield k
    k.close()


Start = Callable[[], Coroutine[Any, Any, None]]


async def _in_flight(kiosk: Kiosk, s: CitizenSession, start: Start) -> tuple[int, Screen]:
    """Run ``start()`` with the worker held; return the version and screen a re-render in the gap would show."""
    before = s.version
    kiosk.station.lock.acquire()  # the UI station's worker takes this lock for every job: it waits for us
    try:
        task = asyncio.create_task(start())
        while s.version == before:  # the scan or action has begun: touched, and its flow is queued for the worker
            await asyncio.sleep(0)
        seen = (s.version, s.screen)
    finally:
        kiosk.station.lock.release()
    await asyncio.wait_for(task, timeout=60)
    return seen


def test_a_scan_ends_on_a_new_version(kiosk: Kiosk) -> None:
    c = kiosk.station.announce("ORDER-V1")
    kiosk.station.load(kiosk.station.staff_session(), c)
    citizens = kiosk.ui.citizens

    async def go() -> None:
        s = citizens.get(None)
        citizens.stream_opened(s)  # the kiosk page is showing: the scan goes to it
        version, screen = await _in_flight(kiosk, s, lambda: citizens.scan(c.qr))
        assert screen == Screen.START  # what a page re-rendered in the gap would show
        assert s.screen == Screen.CONFIRM
        assert s.version != version  # so the event stream tells that page to render again

    asyncio.run(go())


def test_an_action_ends_on_a_new_version(kiosk: Kiosk) -> None:
    c = kiosk.station.announce("ORDER-V2")
    kiosk.station.load(kiosk.station.staff_session(), c)
    citizens = kiosk.ui.citizens

    async def go() -> None:
        s = citizens.get(None)
        citizens.stream_opened(s)
        await citizens.act(s, Action.MANUAL)
        for d in c.pickup_number + c.pin:
            await citizens.act(s, Action.KEY, d)
        version, screen = await _in_flight(kiosk, s, lambda: citizens.act(s, Action.OK))
        assert screen == Screen.MANUAL
        assert s.screen == Screen.CONFIRM
        assert s.version != version

    asyncio.run(go())
