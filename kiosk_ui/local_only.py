"""The kiosk API answers only its own origin: Host allow-list, same-origin state changes (DNS rebinding, CSRF)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The kiosk listens on 127.0.0.1 only; its browser opens http://127.0.0.1:<port>/ (systemd/wibox-kiosk.sh).
ALLOWED_HOSTS = ("127.0.0.1", "localhost")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SameOrigin:
    """Refuses a state change (any method but GET/HEAD/OPTIONS) that a browser marks as coming from another
    origin: an ``Origin`` header other than the request's own ``http://<Host>``, or ``Sec-Fetch-Site: cross-site``.
    Requests without these headers (the kiosk's own scripts send them; local tools do not) pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            own = f"http://{headers.get('host', '')}"
            if (origin is not None and origin != own) or headers.get("sec-fetch-site") == "cross-site":
                response = PlainTextResponse("cross-origin request refused", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def protect(app: FastAPI, allowed_hosts: tuple[str, ...] = ALLOWED_HOSTS) -> None:
    """Put both checks in front of ``app``: a Host not in ``allowed_hosts`` gets 400 before anything else runs."""
    app.add_middleware(SameOrigin)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))  # added last: runs first
