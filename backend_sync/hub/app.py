"""The hub's FastAPI application: composes the routers and maps domain errors to HTTP in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse

from backend_sync.errors import (
    ChainError,
    ExpiredError,
    ReplayError,
    SchemaError,
    SyncError,
    TamperError,
    WrongDeviceError,
)
from backend_sync.hub.config import HubConfig
from backend_sync.hub.db import HubStore
from backend_sync.hub.deps import HubContext
from backend_sync.hub.errors import (
    CheckpointBase,
    Conflict,
    Forbidden,
    Gone,
    HubError,
    Invalid,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.ports import Mailer, Notifier, RecordingNotifier
from locker.errors import BadInput, LockerError
from locker.ports import Clock

log = logging.getLogger(__name__)

# One table: domain error class -> HTTP status (most specific first).
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (Invalid, 422),
    (Gone, 410),
    (TooManyAttempts, 429),
    (SchemaError, 400),
    (TamperError, 401),  # signature does not verify or the key is unknown
    (WrongDeviceError, 403),
    (ReplayError, 409),  # replayed message id
    (ChainError, 409),
    (ExpiredError, 400),  # sent_at too far from the hub's time
    (SyncError, 400),
    (BadInput, 422),
    (HubError, 400),
)


def status_for(exc: Exception) -> int:
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _routers() -> list[APIRouter]:
    """Every router of the hub. Each module owns its routes; this is the only place they are put together."""
    from backend_sync.hub import (
        auth,
        csv_import,
        enrollment,
        kiosk_api,
        metrics,
        opendata,
        orders_api,
        pages,
        policy_api,
        policy_pages,
    )

    return [
        # -- kiosk-facing side (sync) ------------------------------------------------------------------
        kiosk_api.router,
        enrollment.router,
        # -- city-facing side: orders_api, admin, pages, metrics, opendata are added here ----------------
        auth.build_router(),
        csv_import.build_router(),  # before orders_api: /api/v1/orders/import is not an order id
        orders_api.build_router(),
        policy_api.build_router(),
        pages.build_router(),
        policy_pages.build_router(),
        metrics.build_router(),
        opendata.build_router(),
    ]


def create_app(
    store: HubStore,
    config: HubConfig,
    keys: HubKeys,
    clock: Clock,
    *,
    mailer: Mailer | None = None,
    notifier: Notifier | None = None,
) -> FastAPI:
    """The hub as an ASGI app over the given store, configuration, signing keys and clock."""
    app = FastAPI(title="WI-Box hub", version="1", docs_url="/api/docs", redoc_url=None)
    hub = HubContext(store, config, keys, clock, notifier or RecordingNotifier(), mailer)
    app.state.hub = hub
    app.state.store = store  # also reachable on their own for the auth layer
    app.state.clock = clock
    app.state.config = config

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("unmapped error on %s %s: %r", request.method, request.url.path, exc)
            return JSONResponse({"error": "internal error"}, status_code=500)
        log.info("%s %s refused (%d): %s", request.method, request.url.path, status, exc)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyAttempts) else None
        body: dict[str, Any] = {"error": str(exc), "kind": type(exc).__name__}
        if isinstance(exc, CheckpointBase):
            body["since"] = exc.since
        return JSONResponse(body, status_code=status, headers=headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own validation (body, query, path): the same error body as every other refusal
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5])
        log.info("%s %s refused (422): %s", request.method, request.url.path, where)
        return JSONResponse({"error": where or "invalid request", "kind": "Invalid"}, status_code=422)

    app.add_exception_handler(LockerError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for router in _routers():
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/admin/", status_code=307)  # people open the hub's address: the pages

    return app
