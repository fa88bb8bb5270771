"""Citizen routes: the page, its actions, live events, speech, and the heartbeat/health endpoints."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from kiosk_ui import events
from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.forms import form, json_object, page_sizes
from kiosk_ui.i18n import is_language
from kiosk_ui.runtime import KIOSK_COOKIE, STAFF_COOKIE, KioskUI
from kiosk_ui.screens import Action, Page
from kiosk_ui.views import citizen_context, spoken


def kiosk_session(ui: KioskUI, request: Request) -> CitizenSession:
    return ui.citizens.get(request.cookies.get(KIOSK_COOKIE))


REFRESH_HEADER = "x-kiosk-refresh"  # kiosk.js sends it when it re-renders the page it is on (not a page load)


def now_showing(request: Request, s: CitizenSession, page: Page) -> None:
    """Record which page this browser shows, for the event stream to send it elsewhere later. A re-render fetch
    does not count: one from a page the browser has just left can arrive after the next page's load, and would
    otherwise send the browser back."""
    if request.headers.get(REFRESH_HEADER) != "1":
        s.page = page


def set_kiosk_cookie(response: Response, s: CitizenSession) -> None:
    response.set_cookie(KIOSK_COOKIE, s.id, httponly=True, samesite="strict", path="/")


def _keys_help(request: Request) -> bool:
    """``?keys=1``: the key help first (the keypad's "+" key asks for it); ``0`` or absent: the screen alone."""
    value = request.query_params.get("keys", "0")
    if value not in ("0", "1"):
        raise HTTPException(400, "keys: expected 0 or 1")
    return value == "1"


def citizen_router(ui: KioskUI) -> APIRouter:
    r = APIRouter()

    # Every route that reads or changes a screen session is async: sessions belong to the event loop, and the
    # flows an action needs run on the station's worker while the route awaits them.
    @r.get("/")
    async def page(request: Request, lang: str | None = None) -> Response:
        s = kiosk_session(ui, request)
        now_showing(request, s, Page.CITIZEN)
        if lang is not None:
            if not is_language(lang):
                raise HTTPException(400, f"unknown language {lang!r}")
            await ui.citizens.act(s, Action.LANG, lang)
        ctx = citizen_context(s, ui.citizens, ui.catalogs, ui.sizing, ui.timeout_s)
        response = ui.templates.TemplateResponse(request, "citizen.html", ctx)
        response.headers["Cache-Control"] = "no-store"
        set_kiosk_cookie(response, s)
        return response

    @r.post("/act")
    async def act(request: Request) -> Response:
        data = await form(request)
        name, _sep, value = data.get("op", "").partition(":")
        try:
            action = Action(name)
        except ValueError:
            raise HTTPException(400, "unknown action") from None
        s = kiosk_session(ui, request)
        await ui.citizens.act(s, action, value)  # a door cycle is awaited on the worker: the loop goes on
        response = RedirectResponse("/", status_code=303)
        set_kiosk_cookie(response, s)
        return response

    @r.get("/events")
    async def live(request: Request) -> StreamingResponse:
        s = kiosk_session(ui, request)
        staff_sid = request.cookies.get(STAFF_COOKIE)

        def signature() -> dict[str, str]:
            view = ui.staff.views.get(staff_sid) if staff_sid else None
            return {
                "citizen": str(s.version),
                "staff": f"{s.version}.{view.version if view else 0}",
                "page": s.page.value,
                "reload": str(ui.reload_epoch),
            }

        return StreamingResponse(  # a session whose page is showing is never pruned
            events.stream(
                request, signature, lambda: ui.citizens.stream_opened(s), lambda: ui.citizens.stream_closed(s)
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )

    @r.get("/speech.wav")
    async def speech(request: Request) -> Response:
        s = kiosk_session(ui, request)
        text = spoken(s, ui.citizens, ui.catalogs, ui.timeout_s, keys_help=_keys_help(request))
        wav = await run_in_threadpool(ui.speaker.wav, s.lang, text)  # the synthesiser is a subprocess
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    @r.get("/speech.txt")
    async def speech_text(request: Request) -> Response:
        s = kiosk_session(ui, request)
        text = spoken(s, ui.citizens, ui.catalogs, ui.timeout_s, keys_help=_keys_help(request))
        return Response(text, media_type="text/plain; charset=utf-8")

    @r.post("/api/heartbeat")
    async def heartbeat(request: Request) -> dict[str, float | int]:
        """The page is alive; it may send {"viewport": [w, h], "screen": [w, h]} (CSS pixels), both or neither."""
        viewport, screen = page_sizes(await json_object(request))
        ui.heartbeat.beat(ui.station.clock.now(), viewport, screen)
        return {"last_seen": ui.heartbeat.last_seen or 0.0, "count": ui.heartbeat.count}

    @r.post("/api/headset")
    async def headset(request: Request) -> dict[str, bool]:
        """Hook for a headset-jack event: plugging in switches speech on for the person at the screen."""
        plugged = (await json_object(request)).get("plugged")
        if not isinstance(plugged, bool):
            raise HTTPException(400, 'expected {"plugged": true|false}')
        return {"speech": await ui.citizens.headset(plugged)}

    @r.get("/healthz")
    def healthz() -> JSONResponse:
        body = {
            "ok": not ui.ticker_error,
            "ticker": ui.ticker_error or "running",
            **ui.heartbeat.report(ui.station.clock.now()),
            "uptime_s": round(time.monotonic() - ui.started_mono, 3),
            "speech": ui.speaker.available(),
            "out_of_service": ui.station.out_of_service(),
            "scan_failures": ui.scan_failures,
            # "claimed": the kiosk browser holds the screen; "unclaimed": a token was issued and no browser has
            # presented it since the daemon started (wibox-kiosk-watch restarts the browser); "no_token"
            "screen": ui.screen_state(),
            "loop_lag": ui.loop_lag.summary(),  # the event loop's wake-up lag over the last 5 minutes
        }
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    return r
