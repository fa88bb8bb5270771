"""Staff screens over the staff flows: login (with four-eyes), loading, returns, maintenance, faults.

The views belong to the event loop (routes, scans and the ticker change them there); flows run on the station's
worker while a method awaits them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk_ui.errors import http_status, staff_refusal
from kiosk_ui.screens import StaffScreen
from locker import codes
from locker.errors import LockerError, SessionError
from locker.flows import Flows
from locker.flows.move import is_pending_target
from locker.model import Compartment, CompartmentState, OpenPurpose, OrderState, Statement
from locker.staff import StaffSession
from locker.station import Station


@dataclass
class StaffView:
    """What one staff session sees; ``watch`` is a compartment whose door cycle the screen follows."""

    session_id: str
    lang: str
    screen: StaffScreen = StaffScreen.MENU
    message: str = ""  # catalog key
    params: dict[str, Any] = field(default_factory=dict)
    error: bool = False
    watch: int | None = None
    watch_done: str = ""  # catalog key shown when the watched door has closed
    chosen: str = ""  # counter: the order whose receipt statement is shown for the citizen to confirm
    moving: str = ""  # move: the order whose envelope staff are moving
    last_activity: float = 0.0
    version: int = 0

    def say(self, key: str, *, error: bool = False, **params: Any) -> None:
        self.message, self.params, self.error = key, params, error
        self.version += 1


class StaffDesk:
    def __init__(self, station: Station, statement: Callable[[str, str], Statement]) -> None:
        self.station = station
        self.statement = statement  # (language, statement id) -> the receipt statement as that screen shows it
        self.views: dict[str, StaffView] = {}

    # -- login --------------------------------------------------------------------------------------------
    async def login(self, badge: str, pin: str, lang: str, existing: str | None) -> StaffSession:
        """Authenticate; a live session in ``existing`` gets this person as its second member (four-eyes)."""

        def enter(flows: Flows) -> tuple[StaffSession, bool]:
            who = flows.staff.authenticate(badge.strip(), pin.strip())
            if existing and _live(flows, existing):
                return flows.staff.add_second(existing, who), False
            return flows.staff.open_session(who), True

        session, new = await self.station.run(enter)
        if new:
            self.views[session.id] = StaffView(session.id, lang, last_activity=self.station.clock.now())
        return session

    async def is_live(self, sid: str) -> bool:
        return await self.station.run(lambda f: _live(f, sid))

    async def session(self, sid: str) -> StaffSession:
        """The live staff session (SessionError when missing or timed out)."""
        return await self.station.run(lambda f: f.staff.require(sid))

    async def logout(self, sid: str) -> None:
        await self.station.run(lambda f: f.staff.close(sid))
        self.forget(sid)

    def forget(self, sid: str) -> None:
        """Drop the view of a session that ended."""
        self.views.pop(sid, None)

    def view(self, sid: str) -> StaffView:
        v = self.views.get(sid)
        if v is None:
            v = self.views[sid] = StaffView(sid, "de")
        return v

    def active(self) -> StaffView | None:
        return max(self.views.values(), key=lambda v: v.last_activity, default=None)

    def four_eyes_missing(self, session: StaffSession) -> bool:
        return self.station.config.policy.four_eyes_loading and len(session.staff) < 2

    # -- actions ------------------------------------------------------------------------------------------
    def go(self, v: StaffView, screen: StaffScreen) -> None:
        v.screen = screen
        v.chosen = ""
        v.moving = ""
        v.say("")

    async def label(self, v: StaffView, text: str) -> None:
        a = await self.station.run(lambda f: f.loading.scan_label(v.session_id, text.strip()))
        self._watch(v, a.compartment, "staff.stored")
        v.say("staff.load_open", n=a.compartment)

    async def envelope(self, v: StaffView, number: int, inside: bool) -> None:
        """The answer to "is the envelope inside?" after a loading's door closed on a board without item sensor."""
        await self.station.run(lambda f: f.loading.envelope_inside(v.session_id, number, inside))
        v.say("staff.stored" if inside else "staff.load_undone", n=number)

    async def reopen(self, v: StaffView, number: int) -> None:
        a = await self.station.run(lambda f: f.loading.reopen(v.session_id, number))
        self._watch(v, a.compartment, "staff.stored")
        v.say("staff.load_open", n=a.compartment)

    def choose(self, v: StaffView, order_id: str) -> None:
        v.chosen = order_id
        v.say("")

    async def counter_statement(self, v: StaffView, order_id: str) -> Statement:
        """The receipt statement of the order's document type in the staff screen's language."""
        statement_id = await self.station.run(lambda f: f.pickup.statement_id(order_id))
        return self.statement(v.lang, statement_id)

    async def hand_over(self, v: StaffView, order_id: str) -> None:
        """The citizen confirmed receipt on this screen (in its language): open the door, or record it at once
        for a document already at the office."""
        statement = await self.counter_statement(v, order_id)
        n = await self.station.run(lambda f: f.staffwork.counter_hand_over(v.session_id, order_id, statement))
        v.chosen = ""
        if n is None:
            v.say("staff.handed_over", order=order_id)
            return
        self._watch(v, n, "staff.handed_over_closed")
        v.say("staff.counter_open", n=n)

    async def counter_taken(self, v: StaffView, number: int, taken: bool) -> None:
        await self.station.run(lambda f: f.staffwork.counter_taken(v.session_id, number, taken))
        v.say("staff.handed_over_closed" if taken else "staff.closed", n=number)

    # -- move a document to another compartment ---------------------------------------------------------------
    async def move(self, v: StaffView, order_id: str) -> None:
        """Open the order's compartment for staff to take the envelope out (the target opens after that)."""
        n = await self.station.run(lambda f: f.move.start(v.session_id, order_id))
        v.moving = order_id
        self._watch(v, n, "staff.move_next")
        v.say("staff.move_source_open", n=n)

    async def moved_out(self, v: StaffView, number: int, taken: bool) -> None:
        """The answer after the source closed on a board without item sensor; taken out: the target opens now."""
        order_id = self.station.compartment(number).order_id or ""
        target = await self.station.run(lambda f: f.move.source_answer(v.session_id, number, taken))
        if not taken:
            v.say("staff.move_kept", n=number)
        elif target is None:
            v.say("staff.move_gave_up", order=order_id)
        else:
            await self.move_open(v, target)

    async def move_open(self, v: StaffView, number: int) -> None:
        n = await self.station.run(lambda f: f.move.open_target(v.session_id, number))
        self._watch(v, n, "staff.moved")
        v.say("staff.move_target_open", n=n)

    async def moved_in(self, v: StaffView, number: int, inside: bool) -> None:
        """The answer after the target closed on a board without item sensor."""
        order_id = self.station.compartment(number).order_id or ""
        await self.station.run(lambda f: f.move.target_answer(v.session_id, number, inside))
        if inside:
            v.say("staff.moved", n=number)
        else:
            v.say("staff.move_waiting", order=order_id, n=number)

    async def move_give_up(self, v: StaffView, number: int) -> None:
        order_id = await self.station.run(lambda f: f.move.give_up(v.session_id, number))
        v.say("staff.move_gave_up", order=order_id)

    async def take_out(self, v: StaffView, number: int) -> None:
        n = await self.station.run(lambda f: f.staffwork.take_out(v.session_id, number))
        self._watch(v, n, "staff.closed")
        v.say("staff.return_open", n=n)

    async def maintenance_open(self, v: StaffView, number: int, reason: str) -> None:
        n = await self.station.run(lambda f: f.staffwork.maintenance_open(v.session_id, number, reason))
        self._watch(v, n, "staff.closed")
        v.say("staff.maint_open", n=n)

    async def disable(self, v: StaffView, number: int, reason: str) -> None:
        await self.station.run(lambda f: f.staffwork.disable(v.session_id, number, reason))
        v.say("staff.done")

    async def enable(self, v: StaffView, number: int) -> None:
        await self.station.run(lambda f: f.staffwork.enable(v.session_id, number))
        v.say("staff.done")

    def refused(self, v: StaffView, exc: LockerError) -> int:
        """Show a refused action on the staff screen; returns the HTTP status the error maps to."""
        key, params = staff_refusal(exc)
        v.say(key, error=True, **params)
        return http_status(exc)

    def _watch(self, v: StaffView, number: int, done_key: str) -> None:
        v.watch, v.watch_done = number, done_key

    async def scan(self, text: str) -> bool:
        """A scanned order label goes to the staff session on the load screen; True if it was taken."""
        t = text.strip()
        if not t.startswith(codes.LABEL_PREFIX + ":"):
            return False
        v = self.active()
        if v is None or v.screen != StaffScreen.LOAD:
            return False
        try:  # the label opens a door and waits for it on the station's worker; the loop goes on meanwhile
            await self.label(v, t)
        except LockerError as exc:
            self.refused(v, exc)
        return True

    def tick(self) -> None:
        """Follow watched doors: when the door cycle is over, say so."""
        for v in list(self.views.values()):
            if v.watch is None:
                continue
            c = self.station.compartment(v.watch)  # the screens' read-only connection, not the worker
            if c.state in (CompartmentState.LOADING, CompartmentState.OPENING) and not is_pending_target(c):
                continue
            n, v.watch = v.watch, None
            if v.watch_done in ("staff.move_next", "staff.moved"):
                self._moved(v, c)
            elif c.state == CompartmentState.CHECKING:
                v.say("staff.check_taken" if c.purpose == OpenPurpose.COUNTER else "staff.check_inside", n=n)
            elif v.watch_done == "staff.handed_over_closed" and c.order_id is not None:
                v.say("staff.closed", n=n)  # the document is still inside: not handed over
            elif v.watch_done == "staff.stored" and c.state != CompartmentState.OCCUPIED:
                v.say("staff.closed", n=n)
            else:
                v.say(v.watch_done, n=n)

    def _moved(self, v: StaffView, c: Compartment) -> None:
        """Say how a move's watched door cycle ended: the source (``staff.move_next``) or the target."""
        n = c.number
        if c.state == CompartmentState.CHECKING:
            v.say("staff.move_check_in" if c.move_from is not None else "staff.move_check_out", n=n)
            return
        if v.watch_done == "staff.moved":
            if c.state == CompartmentState.OCCUPIED:
                v.say("staff.moved", n=n)
            else:
                v.say("staff.move_waiting", order=c.order_id or v.moving, n=n)
            return
        o = self.station.order(v.moving)
        if o is not None and o.state == OrderState.RETURNED:
            v.say("staff.move_gave_up", order=o.id)
        elif o is not None and o.compartment is not None and o.compartment != n:
            v.say("staff.move_next", n=o.compartment)
        else:
            v.say("staff.move_kept", n=n)


def _live(flows: Flows, sid: str) -> bool:
    try:
        flows.staff.require(sid)
    except SessionError:
        return False
    return True
