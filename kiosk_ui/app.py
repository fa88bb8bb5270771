"""The FastAPI app factory: builds the kiosk UI over the flows it is given; binds to loopback only."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kiosk_ui.citizen import Citizens
from kiosk_ui.display import sizing
from kiosk_ui.errors import http_status
from kiosk_ui.i18n import Catalogs
from kiosk_ui.local_only import protect
from kiosk_ui.routes_citizen import citizen_router
from kiosk_ui.routes_screen import screen_router
from kiosk_ui.routes_sim import sim_router
from kiosk_ui.routes_staff import staff_router
from kiosk_ui.runtime import KioskUI
from kiosk_ui.sim import SimControl
from kiosk_ui.speech import Speaker
from kiosk_ui.staff_desk import StaffDesk
from locker.config import StationConfig
from locker.errors import LockerError
from locker.flows import Flows
from locker.model import AlarmKind
from locker.ports import Clock, ScanEvent, ScanFeed
from locker.station import Station

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"  # the kiosk UI listens on loopback only
PORT = 8080


def create_app(
    flows: Flows,
    *,
    scan_hub: ScanFeed | None,
    sim: SimControl | None,
    config: StationConfig,
    clock: Clock,
    pump_doors: bool = True,
    speaker: Speaker | None = None,
    tick_s: float = 0.1,
    station: Station | None = None,
    screen_token: str = "",
) -> FastAPI:
    """The kiosk app. ``pump_doors``: the UI's ticker fetches door events (False when the daemon does it).
    ``station`` lets a caller share the flows lock (e.g. a SimControl built before the app). ``screen_token``: the
    secret the kiosk browser presents at ``/screen`` to become the one session that scans go to."""
    own = station is None  # a station made here is closed with the app; a caller's station is the caller's
    st = station or Station(flows, config, clock)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    # the station's own keypad (display.keys): the page reads its keys through this map before the default one
    templates.env.globals["keymap"] = json.dumps({k.key: k.does.value for k in config.display.keys})
    catalogs = Catalogs.load()
    ui = KioskUI(
        station=st,
        citizens=Citizens(st, catalogs.statement),
        staff=StaffDesk(st, catalogs.statement),
        catalogs=catalogs,
        sizing=sizing(config.display),
        speaker=speaker or Speaker(),
        templates=templates,
        scan_hub=scan_hub,
        sim=sim,
        pump_doors=pump_doors,
        screen_token=screen_token,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        scans: asyncio.Queue[ScanEvent] = asyncio.Queue()

        def queue_scan(event: ScanEvent) -> None:  # in the scanner's thread: hand over, return at once
            loop.call_soon_threadsafe(scans.put_nowait, event)

        unsubscribe: Callable[[], None] | None = scan_hub.subscribe(queue_scan) if scan_hub else None
        tasks = [
            asyncio.create_task(_ticker(ui, tick_s), name="kiosk-ticker"),
            asyncio.create_task(_scans(ui, scans), name="kiosk-scans"),
            asyncio.create_task(ui.loop_lag.measure(), name="kiosk-loop-lag"),
        ]
        try:
            yield
        finally:
            if unsubscribe:
                unsubscribe()
            for task in tasks:
                task.cancel()
            if own:
                await asyncio.to_thread(st.close)

    app = FastAPI(title="WI-Box kiosk", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    protect(app)
    app.state.ui = ui
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(citizen_router(ui))
    app.include_router(screen_router(ui))
    app.include_router(staff_router(ui))
    if sim is not None:
        app.include_router(sim_router(ui, sim))

    @app.exception_handler(LockerError)
    async def locker_error(_request: Request, exc: LockerError) -> JSONResponse:
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=http_status(exc))

    return app


TICKER_RETRY_S = 1.0  # after a failed round, the next one comes this much later


async def _ticker(ui: KioskUI, tick_s: float) -> None:
    """Runs ``ui.tick`` on the event loop (the screens are the loop's; flows go to the station's worker) for as long
    as the app lives. A failed round is logged, shown by /healthz and raised as alarm ``screen_failed``; the ticker
    goes on (screen timeouts clear what a citizen typed: they must not stop), and the first good round clears the
    alarm."""
    failing = False
    while True:
        try:
            await ui.tick()
        except Exception as exc:
            ui.ticker_error = f"{type(exc).__name__}: {exc}"
            ui.ticker_failures += 1
            log.exception("kiosk UI ticker round failed (the ticker goes on)")
            if not failing:
                failing = True
                await _report(ui, ok=False)
            await asyncio.sleep(max(tick_s, TICKER_RETRY_S))
            continue
        ui.ticker_rounds += 1
        if failing:
            failing = False
            ui.ticker_error = ""
            await _report(ui, ok=True)
        await asyncio.sleep(tick_s)


async def _scans(ui: KioskUI, scans: asyncio.Queue[ScanEvent]) -> None:
    """Handles scanner events one at a time, in the order read (a scan may open a door: the loop awaits its flow on
    the station's worker and goes on meanwhile). A failed one is logged and counted; the next one is handled."""
    while True:
        event = await scans.get()
        try:
            await ui.on_hub_event(event)
        except Exception:
            ui.scan_failures += 1
            log.exception("scanner event %r not handled", type(event).__name__)


async def _report(ui: KioskUI, *, ok: bool) -> None:
    reason = ui.ticker_error
    try:
        await ui.station.run(lambda f: f.health.report("kiosk-ui", ok, reason, kind=AlarmKind.SCREEN_FAILED))
    except LockerError:
        log.exception("the kiosk UI's alarm %s could not be recorded", "clear" if ok else "raise")
