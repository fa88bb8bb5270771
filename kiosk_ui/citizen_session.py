"""One kiosk browser's citizen session: what it shows, what was typed (secrets in memory only), its modes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from kiosk_ui.errors import ErrorKind
from kiosk_ui.i18n import DEFAULT_LANGUAGE
from kiosk_ui.screens import Field, Page, Screen
from locker.flows import PendingPickup, VerifiedPickup


@dataclass
class CitizenSession:
    """What one kiosk browser shows. ``version`` changes whenever the page must be re-rendered."""

    id: str
    last_activity: float
    lang: str = DEFAULT_LANGUAGE
    screen: Screen = Screen.START
    error: ErrorKind | None = None
    message: str = ""  # catalog key of an inline message (aria-live)
    number: str = ""
    pin: str = field(default="", repr=False)
    dob: str = field(default="", repr=False)
    active_field: Field = Field.NUMBER
    pending: PendingPickup | None = field(default=None, repr=False)
    verified: VerifiedPickup | None = None
    compartment: int | None = None
    wait_s: int = 0
    manual_failures: int = 0  # wrong codes typed in this visit (tries left are counted per visit: no number oracle)
    large: bool = False
    contrast: bool = False
    speech: bool = False
    warning: bool = False
    extensions: int = 0
    entered_at: float = 0.0
    page: Page = Page.CITIZEN
    staff_badge: str = field(default="", repr=False)  # a badge scanned for the staff login page
    version: int = 0
    # When this browser was last in front (an action, or its page opening the event stream): a counter, not the
    # clock, so two sessions never tie and a screen that resets itself does not come to the front.
    front: int = 0
    # One citizen's visit, from the start screen until it is cleared: the identity wrong codes are throttled by.
    visit: str = field(default_factory=lambda: secrets.token_hex(8))
    # Held while an action or a scan works on this session (it may await a door cycle on the station's worker):
    # a second action on the same session waits its turn; the ticker skips a busy session (it is not idle).
    busy: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    def touch(self, now: float) -> None:
        self.last_activity = now
        self.warning = False
        self.version += 1

    def clear(self, now: float) -> None:
        """Back to a fresh start screen: input, secrets, language and modes are all cleared (privacy)."""
        keep_version, keep_id, keep_front = self.version, self.id, self.front
        fresh = CitizenSession(keep_id, now)
        for name in fresh.__dataclass_fields__:
            if name != "busy":
                setattr(self, name, getattr(fresh, name))
        self.version, self.front = keep_version + 1, keep_front

    def is_default(self) -> bool:
        return (
            self.screen == Screen.START
            and self.lang == DEFAULT_LANGUAGE
            and not (self.large or self.contrast or self.speech or self.message)
        )


@asynccontextmanager
async def rendered_after(s: CitizenSession) -> AsyncIterator[None]:
    """A new version when an action or a scan ends, however it ends. ``touch`` gave one as it began, but the flow
    it awaits on the worker lets the loop run on: a page may re-render in between and show the old screen under the
    new version, and without this second change the screen the action ended on would never reach that page."""
    try:
        yield
    finally:
        s.version += 1
