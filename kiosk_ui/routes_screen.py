"""The kiosk browser claims the screen: the one session that the station's scans go to from then on."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from kiosk_ui.routes_citizen import kiosk_session, set_kiosk_cookie
from kiosk_ui.runtime import KioskUI


def screen_router(ui: KioskUI) -> APIRouter:
    r = APIRouter()

    @r.get("/screen")
    async def claim_screen(request: Request, token: str = "") -> Response:
        """The kiosk browser's first page (its launcher reads the token from a file only it and the daemon can
        read): this browser's session becomes the screen that scans go to, then it goes on to ``/``."""
        if not ui.screen_token:
            raise HTTPException(404, "this station has no screen token")
        if not hmac.compare_digest(token.encode(), ui.screen_token.encode()):
            raise HTTPException(403, "wrong screen token")
        s = kiosk_session(ui, request)
        ui.citizens.bind_screen(s)
        response = RedirectResponse("/", status_code=303)  # the token stays out of the page and its address
        response.headers["Cache-Control"] = "no-store"
        set_kiosk_cookie(response, s)
        return response

    return r
