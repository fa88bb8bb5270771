"""Everything the routes share, built once by create_app: no module globals."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from fastapi.templating import Jinja2Templates

from kiosk_ui.citizen import Citizens
from kiosk_ui.display import Sizing
from kiosk_ui.i18n import Catalogs
from kiosk_ui.loop_lag import LoopLag
from kiosk_ui.sim import SimControl
from kiosk_ui.speech import Speaker
from kiosk_ui.staff_desk import StaffDesk
from locker.flows import Flows
from locker.ports import HeadsetChange, Scan, ScanEvent, ScanFeed, StatusChange
from locker.station import Station

log = logging.getLogger(__name__)

KIOSK_COOKIE = "wibox_kiosk"
STAFF_COOKIE = "wibox_staff"


@dataclass
class Heartbeat:
    """Last time the kiosk page said it is alive; the daemon restarts the browser when this goes stale."""

    last_seen: float | None = None
    last_mono: float | None = None  # time.monotonic() of the last beat: immune to clock changes
    count: int = 0
    # the page's own size and its screen's, in CSS pixels, as of the last beat that sent them (None: never sent)
    viewport: tuple[int, int] | None = None
    screen: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self, now: float, viewport: tuple[int, int] | None = None, screen: tuple[int, int] | None = None) -> None:
        with self._lock:
            self.last_seen = now
            self.last_mono = time.monotonic()
            self.count += 1
            if viewport is not None and screen is not None:
                self.viewport, self.screen = viewport, screen

    def report(self, now: float) -> dict[str, object]:
        """The heartbeat's part of /healthz."""
        last = self.last_seen
        return {
            "heartbeat_last_seen": last,
            "heartbeat_age_s": None if last is None else round(now - last, 3),
            # the contract of systemd/wibox-kiosk-watch.py: monotonic ages, immune to clock jumps
            "page_heartbeat_age_s": self.age_s(),
            # the page's size and its screen's (CSS pixels): a kiosk window that came up small is
            # "page_fills_screen": false
            "page_viewport": self.viewport,
            "page_screen": self.screen,
            "page_fills_screen": self.fills_screen(),
        }

    def fills_screen(self) -> bool | None:
        """Whether the page covers its whole screen (a kiosk window that came up small does not); None: unknown."""
        if self.viewport is None or self.screen is None:
            return None
        return self.viewport[0] >= self.screen[0] and self.viewport[1] >= self.screen[1]

    def age_s(self) -> float | None:
        """Seconds since the page's last heartbeat (monotonic), None if none since start."""
        last = self.last_mono
        return None if last is None else round(time.monotonic() - last, 3)


@dataclass
class KioskUI:
    station: Station
    citizens: Citizens
    staff: StaffDesk
    catalogs: Catalogs
    sizing: Sizing
    speaker: Speaker
    templates: Jinja2Templates
    scan_hub: ScanFeed | None
    sim: SimControl | None
    pump_doors: bool
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    started_mono: float = field(default_factory=time.monotonic)
    ticker_error: str = ""  # the last failed round's error while the ticker is failing; "" when it runs
    ticker_failures: int = 0
    ticker_rounds: int = 0  # good rounds since start: it grows while the ticker is alive
    scan_failures: int = 0  # scanner events whose handling raised (logged; the next one is handled)
    loop_lag: LoopLag = field(default_factory=LoopLag)
    reload_epoch: int = 0  # bumped by a remote "reload UI" command; pages reload when it changes
    screen_token: str = field(default="", repr=False)  # "" : no browser can claim the screen (GET /screen: 404)

    # -- what remote commands may ask of the screen (backend_sync.client.UiControl) ------------------------
    def maintenance_mode(self, on: bool) -> None:
        """Show "out of service" on the start screen (doors already open still finish their cycles)."""
        self.station.maintenance = on

    def reload(self) -> None:
        """Make every open kiosk page load itself again."""
        self.reload_epoch += 1

    @property
    def timeout_s(self) -> float:
        return float(self.station.config.display.idle_timeout_s)

    def screen_state(self) -> str:
        """Whether the kiosk browser has claimed the screen: claimed, unclaimed or no_token."""
        if not self.screen_token:
            return "no_token"
        return "claimed" if self.citizens.screen_id in self.citizens.sessions else "unclaimed"

    @property
    def warning_s(self) -> float:
        return float(self.station.config.display.idle_warning_s)

    async def tick(self) -> None:
        """One round of the background ticker, on the event loop: door events (when the UI pumps them) and timers on
        the station's worker, then the screens."""
        if self.pump_doors:
            await self.station.run(_pump_doors)
        self.citizens.tick(self.timeout_s, self.warning_s)
        self.staff.tick()

    async def on_hub_event(self, event: ScanEvent) -> None:
        """One scanner event, taken from the app's scan queue on the event loop (never in the scanner's own thread):
        order labels go to staff loading, everything else to the citizen side; the headset jack to the screen."""
        if isinstance(event, Scan):
            if not await self.staff.scan(event.text):
                await self.citizens.scan(event.text)
        elif isinstance(event, StatusChange):
            for s in list(self.citizens.sessions.values()):
                s.version += 1
        elif isinstance(event, HeadsetChange):
            await self.citizens.headset(event.plugged)


def _pump_doors(flows: Flows) -> None:
    flows.doors.pump(0)
    flows.doors.check_timers()
