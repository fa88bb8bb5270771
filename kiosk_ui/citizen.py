"""The citizen screen state machine: one session per kiosk browser; secrets and input live only here, in memory.

Sessions belong to the event loop: routes, scans and the ticker change them there, and flows run on the station's
worker while the action awaits them (``Station.run``). No thread touches a session, so no lock guards one.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future

from kiosk_ui.citizen_session import CitizenSession, rendered_after
from kiosk_ui.errors import ErrorKind, citizen_error
from kiosk_ui.i18n import RECEIPT_STATEMENT, is_language
from kiosk_ui.screens import ANSWER_SCREENS, DOOR_SCREENS, SCAN_SCREENS, Action, Field, Page, Screen
from locker import codes
from locker.errors import BadInput, LockerError
from locker.flows import Flows, PendingPickup, VerifiedPickup
from locker.model import CompartmentState, OpenPurpose, OrderState, Statement
from locker.station import Station

log = logging.getLogger(__name__)
# The answers each after-close screen takes.
_AFTER_CLOSE: dict[Screen, tuple[Action, ...]] = {
    Screen.TAKEN: (Action.TAKEN, Action.OPEN_AGAIN),
    Screen.LEFT_BEHIND: (Action.OPEN_AGAIN,),
    Screen.OLD_ID: (Action.OLD_ID_OPEN,),
    Screen.OLD_ID_CHECK: (Action.INSIDE, Action.NOT_INSIDE),
}

NUMBER_DIGITS = codes.PICKUP_NUMBER_DIGITS
DOB_DIGITS = 8
MAX_EXTENSIONS = 20  # WCAG 2.2.1 asks for at least 10
DONE_RESET_S = 10.0
SESSION_IDLE_S = 900.0  # a browser that has not been heard of for this long, with no open event stream, is forgotten
MAX_SESSIONS = 256  # requests without a cookie create sessions: beyond this many, the oldest idle ones go first


class Citizens:
    """All citizen sessions and the transitions between screens; every method runs on the event loop."""

    def __init__(self, station: Station, statement: Callable[[str, str], Statement]) -> None:
        self.station = station
        self.statement = statement  # (language, statement id) -> the receipt statement as that screen shows it
        self.sessions: dict[str, CitizenSession] = {}
        self._streams: Counter[str] = Counter()  # session id -> open event streams (a kiosk page that is showing)
        self._fronts = itertools.count(1)
        # The kiosk's own browser, once it has claimed the screen with the token only its launcher can read: from
        # then on scans go to it alone, whatever other local pages open streams or act (security.md).
        self.screen_id: str | None = None

    # -- sessions -------------------------------------------------------------------------------------------
    def get(self, sid: str | None) -> CitizenSession:
        if sid and sid in self.sessions:
            return self.sessions[sid]
        s = CitizenSession(secrets.token_urlsafe(16), self.station.clock.now())
        self.sessions[s.id] = s
        if len(self.sessions) > MAX_SESSIONS:
            self._prune(self.station.clock.now(), keep=s.id, over_limit=True)
        return s

    def stream_opened(self, s: CitizenSession) -> None:
        self._streams[s.id] += 1
        s.front = next(self._fronts)

    def stream_closed(self, s: CitizenSession) -> None:
        self._streams[s.id] -= 1
        if self._streams[s.id] <= 0:
            del self._streams[s.id]

    def showing(self, s: CitizenSession) -> bool:
        """True while a page of this session follows the event stream."""
        return s.id in self._streams

    def _prune(self, now: float, keep: str = "", over_limit: bool = False) -> None:
        """Forget sessions no page shows: idle ones on a fresh start screen after SESSION_IDLE_S; when there are
        more than MAX_SESSIONS, the longest idle of those without an open stream first, whatever their screen."""
        streaming = set(self._streams) | ({self.screen_id} if self.screen_id else set())
        idle = [x for x in self.sessions.values() if x.id != keep and x.id not in streaming]
        for x in idle:
            if x.is_default() and now - x.last_activity >= SESSION_IDLE_S:
                del self.sessions[x.id]
        if over_limit:
            idle = sorted((x for x in idle if x.id in self.sessions), key=lambda x: x.last_activity)
            for x in idle[: max(0, len(self.sessions) - MAX_SESSIONS)]:
                del self.sessions[x.id]

    def bind_screen(self, s: CitizenSession) -> None:
        """This session is the kiosk browser's (it presented the screen token); a later claim moves the binding
        (the browser restarted with a fresh profile)."""
        self.screen_id = s.id

    def active(self) -> CitizenSession | None:
        """The kiosk's screen, where scans from the station's scanner go: the session the kiosk browser claimed;
        before any claim (development, tests, the demo's own browser), of the sessions whose page is showing (an
        open event stream) the one in front last, and a session no page shows gets a scan only if none is."""
        if self.screen_id is not None:
            return self.sessions.get(self.screen_id)
        showing = [s for s in self.sessions.values() if s.id in self._streams]
        return max(showing or self.sessions.values(), key=lambda s: s.front, default=None)

    async def headset(self, plugged: bool) -> bool:
        """A headset plugged in turns speech on for the person at the kiosk's screen, pulled out turns it off;
        whether speech is on there now (False: no screen)."""
        s = self.active()
        if s is None:
            return False
        if s.speech != plugged:
            await self.act(s, Action.SPEECH)
        return s.speech

    # -- actions ------------------------------------------------------------------------------------------
    async def act(self, s: CitizenSession, action: Action, value: str = "") -> None:
        s.front = next(self._fronts)
        async with s.busy, rendered_after(s):
            now = self.station.clock.now()
            s.touch(now)
            if action == Action.MORE_TIME:
                s.extensions = min(MAX_EXTENSIONS, s.extensions + 1)
            elif action == Action.LANG and is_language(value):
                s.lang = value
            elif action == Action.SPEECH:
                s.speech = not s.speech
            elif action == Action.LARGE:
                s.large = not s.large
            elif action == Action.CONTRAST:
                s.contrast = not s.contrast
            elif action in (Action.START, Action.CANCEL):
                unanswered = s.verified if s.screen in ANSWER_SCREENS else None
                if unanswered is not None:  # leaving an unanswered question: the safe side, as a timeout would
                    await self.station.run(lambda f: f.pickup.walked_away(unanswered))
                self._restart(s, now)
            elif action == Action.MANUAL and s.screen in SCAN_SCREENS:
                self._go(s, Screen.MANUAL, now)
                s.number = s.pin = ""
                s.active_field = Field.NUMBER
            elif action in (Action.KEY, Action.DELETE, Action.OK, Action.FIELD):
                await self._keypad(s, action, value)
            elif action == Action.CONFIRM and s.screen == Screen.CONFIRM:
                await self._confirm(s, now)
            elif action == Action.NEXT:
                self._next(s, now)
            elif action in _AFTER_CLOSE.get(s.screen, ()):
                await self._after_close(s, action, now)

    def _restart(self, s: CitizenSession, now: float) -> None:
        """Cancel: back to start but keep language and accessibility modes of the person at the screen."""
        lang, large, contrast, speech = s.lang, s.large, s.contrast, s.speech
        s.clear(now)
        s.lang, s.large, s.contrast, s.speech = lang, large, contrast, speech

    def _go(self, s: CitizenSession, screen: Screen, now: float) -> None:
        s.screen = screen
        s.message = ""
        s.entered_at = now

    def _fail(self, s: CitizenSession, exc: LockerError, now: float) -> None:
        kind = citizen_error(exc)
        if kind == ErrorKind.WRONG_CODE and s.screen == Screen.MANUAL:
            s.manual_failures += 1
        s.pending = None
        s.verified = None
        s.number = s.pin = s.dob = ""
        s.error = kind
        s.wait_s = int(getattr(exc, "wait_s", 0) + 0.999)
        s.compartment = getattr(exc, "compartment", s.compartment)
        self._go(s, Screen.ERROR, now)

    async def _keypad(self, s: CitizenSession, action: Action, value: str) -> None:
        if s.screen == Screen.MANUAL:
            if action == Action.FIELD and value in (Field.NUMBER, Field.PIN):
                s.active_field = Field(value)
                return
            limit = NUMBER_DIGITS if s.active_field == Field.NUMBER else self.station.config.policy.pin_length
            text = s.number if s.active_field == Field.NUMBER else s.pin
        elif s.screen == Screen.DOB:
            limit, text = DOB_DIGITS, s.dob
        else:
            return
        s.message = ""
        if action == Action.KEY and len(value) == 1 and value.isdigit() and len(text) < limit:
            text += value
        elif action == Action.DELETE:
            text = text[:-1]
        self._store_field(s, text)
        if action == Action.KEY and s.active_field == Field.NUMBER and len(text) == limit and s.screen == Screen.MANUAL:
            s.active_field = Field.PIN
        if action == Action.OK:
            await self._submit(s, limit, text)

    def _store_field(self, s: CitizenSession, text: str) -> None:
        if s.screen == Screen.DOB:
            s.dob = text
        elif s.active_field == Field.NUMBER:
            s.number = text
        else:
            s.pin = text

    async def _submit(self, s: CitizenSession, limit: int, text: str) -> None:
        now = self.station.clock.now()
        if len(text) < limit:
            s.message = "manual.incomplete"
            return
        if s.screen == Screen.MANUAL and s.active_field == Field.NUMBER:
            s.active_field = Field.PIN
            return
        try:
            if s.screen == Screen.MANUAL:
                number, pin = s.number, s.pin
                s.pin = ""
                pending = await self.station.run(lambda f: f.pickup.enter_manual(number, pin))
                await self._pending(s, pending, now)
            else:
                dob = s.dob
                s.dob = ""
                pending2 = s.pending
                if pending2 is None:
                    self._restart(s, now)
                    return
                s.verified = await self.station.run(lambda f: f.pickup.verify(pending2, dob, identity=s.visit))
                s.pending = None
                self._go(s, Screen.CONFIRM, now)
        except LockerError as exc:
            self._fail(s, exc, now)

    async def _pending(self, s: CitizenSession, pending: PendingPickup, now: float) -> None:
        if pending.needs_second_factor:
            s.pending = pending
            s.dob = ""
            s.active_field = Field.DOB
            self._go(s, Screen.DOB, now)
            return
        s.verified = await self.station.run(lambda f: f.pickup.verify(pending, identity=s.visit))
        self._go(s, Screen.CONFIRM, now)

    async def _confirm(self, s: CitizenSession, now: float) -> None:
        verified = s.verified
        if verified is None:
            self._restart(s, now)
            return
        statement = self.statement_of(s)
        await self._door(s, lambda f: f.pickup.confirm_receipt(verified, statement), Screen.OPEN, now)

    def statement_of(self, s: CitizenSession) -> Statement:
        """The receipt statement of the verified order's document type, in the session's language."""
        return self.statement(s.lang, s.verified.statement if s.verified is not None else RECEIPT_STATEMENT)

    async def _door(self, s: CitizenSession, opener: Callable[[Flows], int], screen: Screen, now: float) -> None:
        try:
            s.compartment = await self.station.run(opener)
        except LockerError as exc:
            self._fail(s, exc, now)
            return
        self._go(s, screen, now)

    def _next(self, s: CitizenSession, now: float) -> None:
        if s.screen == Screen.OPEN:
            self._go(s, Screen.CLOSE, now)
        elif s.screen == Screen.OLD_ID:  # "I do not have it with me"
            self._go(s, Screen.DONE, now)

    async def _after_close(self, s: CitizenSession, action: Action, now: float) -> None:
        """The citizen's answer once the door has closed: open again, taken, the old ID card's door, inside or not."""
        v = s.verified
        if v is None:
            self._restart(s, now)
            return
        if action == Action.OPEN_AGAIN:
            await self._door(s, lambda f: f.pickup.open_again(v), Screen.OPEN, now)
        elif action == Action.OLD_ID_OPEN:
            await self._door(s, lambda f: f.pickup.open_for_old_id(v), Screen.OLD_ID_OPEN, now)
        else:
            try:
                if action == Action.TAKEN:
                    await self.station.run(lambda f: f.pickup.taken(v))
                else:
                    inside = action == Action.INSIDE
                    await self.station.run(lambda f: f.pickup.old_id_inside(v, inside))
            except LockerError as exc:
                self._fail(s, exc, now)
                return
            self._ended(s, now)

    def _ended(self, s: CitizenSession, now: float) -> None:
        """What follows a door that has closed, by what the station now knows of the compartment and the order."""
        v, n = s.verified, s.compartment
        if v is None or n is None:
            self._go(s, Screen.DONE, now)
            return
        c = self.station.compartment(n)  # the screens' read-only connection, not the worker
        order = self.station.order(v.order_id)
        if c.state == CompartmentState.CHECKING:
            self._go(s, Screen.TAKEN if c.purpose == OpenPurpose.PICKUP else Screen.OLD_ID_CHECK, now)
        elif order is not None and order.state == OrderState.STORED and c.order_id == order.id:
            self._go(s, Screen.LEFT_BEHIND, now)
        elif (
            s.screen in (Screen.OPEN, Screen.CLOSE, Screen.TAKEN)
            and order is not None
            and order.state == OrderState.COLLECTED
            and v.return_old_id  # the order asks for it and the policy of its type wants it
        ):
            self._go(s, Screen.OLD_ID, now)
        else:
            self._go(s, Screen.DONE, now)

    # -- scans --------------------------------------------------------------------------------------------
    async def scan(self, text: str) -> None:
        """A pickup code read by the scanner, for the active session; a staff badge opens the staff login."""
        s = self.active()
        if s is None:
            return
        async with s.busy, rendered_after(s):
            now = self.station.clock.now()
            if text.strip().startswith(codes.BADGE_PREFIX + ":"):
                s.staff_badge = text.strip()
                s.page = Page.STAFF_LOGIN
                s.touch(now)
                return
            if s.page != Page.CITIZEN or s.screen not in SCAN_SCREENS:
                return
            s.touch(now)
            try:
                pending = await self.station.run(lambda f: f.pickup.scan_qr(text))
            except BadInput:
                self._restart(s, now)
                s.message = "start.not_code"
                return
            try:
                await self._pending(s, pending, now)
            except LockerError as exc:
                self._fail(s, exc, now)

    # -- time ---------------------------------------------------------------------------------------------
    def tick(self, timeout_s: float, warning_s: float) -> None:
        """Inactivity warning and reset, door-closed detection and the auto-return from the done screen."""
        now = self.station.clock.now()
        self._prune(now)
        for s in list(self.sessions.values()):
            if s.busy.locked():
                continue  # an action or a scan is working on it right now: not idle, looked at next round
            self._tick_one(s, now, timeout_s, warning_s)

    def _tick_one(self, s: CitizenSession, now: float, timeout_s: float, warning_s: float) -> None:
        if s.screen in DOOR_SCREENS and s.compartment is not None:
            c = self.station.compartment(s.compartment)  # the screens' read-only connection, not the worker
            if c.state != CompartmentState.OPENING:
                self._ended(s, now)
                s.version += 1
            return
        if s.screen == Screen.DONE:
            if now - s.entered_at >= DONE_RESET_S:
                s.clear(now)
            return
        if s.is_default() or s.page != Page.CITIZEN:
            return
        idle = now - s.last_activity
        if idle >= timeout_s:
            if s.screen in ANSWER_SCREENS and s.verified is not None:
                self._walked_away(s.verified)
            s.clear(now)
        elif idle >= timeout_s - warning_s and not s.warning:
            s.warning = True
            s.version += 1

    def _walked_away(self, v: VerifiedPickup) -> None:
        """The screen timed out on an unanswered question: settle the compartment (on the worker; a failure is
        logged, and the answer timer settles it anyway)."""

        def report(done: Future[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.error("settling compartment %s after a timeout failed: %s", v.compartment, done.exception())

        self.station.submit(lambda f: f.pickup.walked_away(v)).add_done_callback(report)

    def remaining(self, s: CitizenSession, timeout_s: float) -> int:
        return max(0, int(timeout_s - (self.station.clock.now() - s.last_activity)))

    def screen_of_start(self, s: CitizenSession) -> Screen:
        """START, or OUT_OF_SERVICE when nothing can be opened."""
        if s.screen == Screen.START and self.station.out_of_service():
            return Screen.OUT_OF_SERVICE
        return s.screen

    def tries_left(self, s: CitizenSession) -> int:
        """At most this many more wrong codes in this visit before code entry locks (0: not shown). Counted per
        visit, the same for a pickup number that exists and one that does not, so it tells an attacker nothing;
        "at most", because wrong codes of earlier visits count towards an order's lock too."""
        if s.error != ErrorKind.WRONG_CODE or s.manual_failures == 0:
            return 0
        return max(0, self.station.config.policy.manual_max_failures - s.manual_failures)

    def extensions_left(self, s: CitizenSession) -> bool:
        return s.extensions < MAX_EXTENSIONS

    def compartment_state(self, number: int) -> CompartmentState:
        return self.station.compartment(number).state
