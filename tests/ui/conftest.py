"""Fixtures: one Chromium per test module, a fresh touch-enabled context per test, a served kiosk per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.ui.rig import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Kiosk, build, serve

expect.set_options(timeout=30_000)  # expect() returns as soon as the state is there; 30 s only bounds a broken test


# Playwright's sync API runs an event loop in the calling (main) thread for as long as it is open. Module scope keeps
# that loop to the browser tests' own module: pytest tears a module's fixtures down before the next module's tests run
# on the same xdist worker, so a later test there can still call asyncio.run(). Starting Chromium per module costs
# about a second, four times in the suite.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(has_touch=True, viewport=VIEWPORT, locale="de-DE")
    context.set_default_timeout(30_000)  # waits end when the state is there; this only bounds a broken test
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def kiosk_factory(tmp_path: Path) -> Iterator[Callable[..., Kiosk]]:
    with ExitStack() as stack:
        count = 0

        def make(**kwargs: Any) -> Kiosk:
            nonlocal count
            count += 1
            d = tmp_path / f"k{count}"
            d.mkdir()
            return stack.enter_context(serve(build(d, **kwargs)))

        yield make


@pytest.fixture
def kiosk(kiosk_factory: Callable[..., Kiosk]) -> Kiosk:
    return kiosk_factory()
