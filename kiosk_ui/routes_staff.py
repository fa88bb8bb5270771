"""Staff routes: login (badge + PIN, four-eyes), the staff screens and their actions; 401/403 without a session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from kiosk_ui.errors import staff_refusal
from kiosk_ui.forms import form
from kiosk_ui.i18n import DEFAULT_LANGUAGE, is_language
from kiosk_ui.routes_citizen import kiosk_session, now_showing, set_kiosk_cookie
from kiosk_ui.runtime import STAFF_COOKIE, KioskUI
from kiosk_ui.screens import KEYPAD_KEYS, Page, StaffAction, StaffScreen
from kiosk_ui.staff_desk import StaffDesk, StaffView
from kiosk_ui.views import common
from locker.errors import LockerError, SessionError
from locker.flows.move import is_pending_target
from locker.model import AlarmKind, Compartment, CompartmentState, OpenPurpose
from locker.staff import StaffSession


def staff_router(ui: KioskUI) -> APIRouter:  # noqa: PLR0915 (one closure per route keeps deps explicit)
    r = APIRouter(prefix="/staff")

    # Staff views and screen sessions belong to the event loop: every route here is async and awaits the flows it
    # needs on the station's worker (argon2id, a door cycle) without blocking the loop.
    async def require(request: Request) -> tuple[StaffView, StaffSession]:
        """The caller's view and live staff session, or 401 (no session / timed out)."""
        sid = request.cookies.get(STAFF_COOKIE, "")
        try:
            session = await ui.staff.session(sid)
        except SessionError as exc:
            ui.staff.forget(sid)
            raise HTTPException(401, str(exc)) from exc
        view = ui.staff.view(sid)
        view.last_activity = ui.station.clock.now()
        return view, session

    async def login_page(request: Request, status: int = 200, message: str = "") -> Response:
        s = kiosk_session(ui, request)
        now_showing(request, s, Page.STAFF_LOGIN)
        sid = request.cookies.get(STAFF_COOKIE, "")
        second = bool(sid) and await ui.staff.is_live(sid)
        ctx = common(s.lang, ui.catalogs, ui.sizing, False, False)
        # The scanned badge stays in the daemon (the login uses it): its token is never written into the page.
        badge_id = s.staff_badge.split(":")[1] if s.staff_badge.count(":") == 2 else ""
        ctx.update(badge_id=badge_id, message=message, second=second, version=s.version, keys=KEYPAD_KEYS)
        response = ui.templates.TemplateResponse(request, "staff_login.html", ctx, status_code=status)
        set_kiosk_cookie(response, s)
        return response

    async def staff_page(request: Request, view: StaffView, status: int = 200) -> Response:
        s = kiosk_session(ui, request)
        now_showing(request, s, Page.STAFF)
        session = await ui.staff.session(view.session_id)
        compartments, alarms = await run_in_threadpool(_board_view, ui)
        ctx = common(view.lang, ui.catalogs, ui.sizing, False, False)
        ctx.update(
            view=view,
            Screen=StaffScreen,
            who=" + ".join(session.staff),
            four_eyes_missing=ui.staff.four_eyes_missing(session),
            compartments=compartments,
            unconfirmed=[c for c in compartments if c.state == CompartmentState.CHECKING and c.purpose is None],
            counter_checks=[
                c for c in compartments if c.state == CompartmentState.CHECKING and c.purpose == OpenPurpose.COUNTER
            ],
            counter=await ui.station.run(lambda f: f.staffwork.counter_orders()),
            counter_statement=(await ui.staff.counter_statement(view, view.chosen)).id if view.chosen else "",
            movable=await ui.station.run(lambda f: f.move.movable()),
            move_waiting=[c for c in compartments if is_pending_target(c)],
            move_out_checks=[
                c
                for c in compartments
                if c.state == CompartmentState.CHECKING and c.purpose == OpenPurpose.MOVE and c.move_from is None
            ],
            move_in_checks=[
                c for c in compartments if c.state == CompartmentState.CHECKING and c.move_from is not None
            ],
            reasons=REASONS,
            returnable=await ui.station.run(lambda f: f.staffwork.returnable()),
            alarms=alarms,
            version=f"{s.version}.{view.version}",
        )
        response = ui.templates.TemplateResponse(request, "staff.html", ctx, status_code=status)
        set_kiosk_cookie(response, s)
        return response

    @r.get("/login")
    async def login_form(request: Request) -> Response:
        return await login_page(request)

    @r.post("/login")
    async def login(request: Request) -> Response:
        data = await form(request)
        s = kiosk_session(ui, request)
        try:
            badge = data.get("badge", "") or s.staff_badge  # typed, or scanned at this screen
            session = await ui.staff.login(badge, data.get("pin", ""), s.lang, request.cookies.get(STAFF_COOKIE))
        except LockerError as exc:
            # a wrong badge or PIN is said without saying which; a session rule (four eyes, same person) is said
            key, params = staff_refusal(exc) if isinstance(exc, SessionError) else ("staff.wrong", {"detail": ""})
            return await login_page(request, 401, ui.catalogs.text(s.lang, key, **params))
        s.staff_badge = ""
        response = RedirectResponse("/staff", status_code=303)
        response.set_cookie(STAFF_COOKIE, session.id, httponly=True, samesite="strict", path="/")
        return response

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        sid = request.cookies.get(STAFF_COOKIE, "")
        if sid:
            await ui.staff.logout(sid)
        kiosk_session(ui, request).page = Page.CITIZEN
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(STAFF_COOKIE, path="/")
        return response

    @r.get("")
    async def home(request: Request) -> Response:
        try:
            view, _session = await require(request)
        except HTTPException:
            lang = kiosk_session(ui, request).lang
            return await login_page(request, 401, ui.catalogs.text(lang, "staff.timed_out"))
        return await staff_page(request, view)

    @r.post("/act")
    async def act(request: Request) -> Response:
        data = await form(request)
        name, _sep, data["v"] = data.get("op", "").partition(":")
        try:
            action = StaffAction(name)
        except ValueError:
            raise HTTPException(400, "unknown action") from None
        view, _session = await require(request)
        status = 200
        try:
            await _do(ui, view, action, data)  # may open a door: awaited on the worker, the loop goes on
        except LockerError as exc:
            status = ui.staff.refused(view, exc)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        if status != 200:
            return await staff_page(request, view, status)
        return RedirectResponse("/staff", status_code=303)

    @r.get("/api/state")
    async def state(request: Request) -> dict[str, Any]:
        _view, session = await require(request)
        returnable = await ui.station.run(lambda f: f.staffwork.returnable())
        compartments, alarms = await run_in_threadpool(_board_view, ui)
        return {
            "staff": session.staff,
            "four_eyes_missing": ui.staff.four_eyes_missing(session),
            "compartments": [{"number": c.number, "state": c.state.value} for c in compartments],
            "returnable": [c.number for c in returnable],
            "alarms": [{"kind": k.value, "compartment": c, "board": b} for k, c, b, _t in alarms],
        }

    return r


def _board_view(ui: KioskUI) -> tuple[list[Compartment], list[tuple[AlarmKind, int | None, str, float]]]:
    """Every compartment and open alarm, read on the screens' read-only connection in a thread (456 rows on a
    large station: not on the event loop)."""
    return ui.station.compartments(), ui.station.alarms()


# Reasons staff pick on a touch screen (catalog keys); a typed text is added to the pick, or stands alone.
REASONS = ("staff.why.lock", "staff.why.door", "staff.why.sensor", "staff.why.cleaning", "staff.why.check")


def _reason(ui: KioskUI, view: StaffView, data: dict[str, str]) -> str:
    pick, typed = data.get("reason_pick", ""), " ".join(data.get("reason", "").split())
    if not pick:
        return typed
    if pick not in REASONS:
        raise ValueError("unknown reason")
    said = ui.catalogs.text(view.lang, pick)
    return f"{said}: {typed}" if typed else said


def _number(data: dict[str, str]) -> int:
    n = data.get("v", "")
    if not n.isdigit():
        raise ValueError("compartment number expected")
    return int(n)


async def _do(ui: KioskUI, view: StaffView, action: StaffAction, data: dict[str, str]) -> None:
    desk = ui.staff
    if action == StaffAction.GO:
        desk.go(view, StaffScreen(data.get("v", "")))
    elif action == StaffAction.LANG:
        lang = data.get("v", DEFAULT_LANGUAGE)
        if not is_language(lang):
            raise ValueError("unknown language")
        view.lang = lang
        view.say("")
    elif action == StaffAction.LABEL:
        await desk.label(view, data.get("label", ""))
    elif action == StaffAction.TAKE_OUT:
        await desk.take_out(view, _number(data))
    elif action == StaffAction.MAINT_OPEN:
        await desk.maintenance_open(view, _number(data), _reason(ui, view, data))
    elif action == StaffAction.DISABLE:
        await desk.disable(view, _number(data), _reason(ui, view, data))
    elif action == StaffAction.ENABLE:
        await desk.enable(view, _number(data))
    elif action in (StaffAction.INSIDE, StaffAction.EMPTY):
        await desk.envelope(view, _number(data), action == StaffAction.INSIDE)
    elif action == StaffAction.REOPEN:
        await desk.reopen(view, _number(data))
    elif action == StaffAction.CHOOSE:
        desk.choose(view, data["v"])
    elif action == StaffAction.HAND_OVER:
        await desk.hand_over(view, data["v"])
    elif action in (StaffAction.TAKEN_OUT, StaffAction.NOT_TAKEN):
        await desk.counter_taken(view, _number(data), action == StaffAction.TAKEN_OUT)
    else:
        await _do_move(desk, view, action, data)


async def _do_move(desk: StaffDesk, view: StaffView, action: StaffAction, data: dict[str, str]) -> None:
    """The steps of moving a document to another compartment."""
    if action == StaffAction.MOVE:
        await desk.move(view, data["v"])
    elif action in (StaffAction.MOVED_OUT, StaffAction.MOVE_KEPT):
        await desk.moved_out(view, _number(data), action == StaffAction.MOVED_OUT)
    elif action == StaffAction.MOVE_OPEN:
        await desk.move_open(view, _number(data))
    elif action in (StaffAction.MOVED_IN, StaffAction.MOVE_NOT_IN):
        await desk.moved_in(view, _number(data), action == StaffAction.MOVED_IN)
    elif action == StaffAction.MOVE_GIVE_UP:
        await desk.move_give_up(view, _number(data))
