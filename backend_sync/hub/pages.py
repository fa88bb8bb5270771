"""Admin pages (Jinja2, no JS build): fleet, kiosk timeline and commands, orders, CSV import, staff, letters, cities."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from backend_sync import protocol as p
from backend_sync.commands import CommandKind
from backend_sync.hub import notices
from backend_sync.hub import tables as hubdb
from backend_sync.hub.alarm_ops import resolve_alarm
from backend_sync.hub.auth import (
    CITY_ROLES,
    SESSION_COOKIE,
    AdminPrincipal,
    Role,
    audit,
    create_admin,
    require_role,
)
from backend_sync.hub.csv_import import COLUMNS, CsvInvalid, ImportResult, decode_upload, import_csv
from backend_sync.hub.deps import Hub
from backend_sync.hub.enrollment import approve_kiosk
from backend_sync.hub.errors import Conflict, Invalid, NotFound
from backend_sync.hub.fleet import (
    city_kiosk_summary,
    city_kiosks,
    moved_documents,
    old_ids_waiting,
    pickups_per_day,
)
from backend_sync.hub.orders_api import city_order, search_orders
from backend_sync.hub.remote import issue_command
from backend_sync.hub.tables import HubOrderState, NoticeKind
from locker import codes
from locker.errors import BadInput

HERE = Path(__file__).parent / "templates" / "city"
STAFF_ROLES = ("loader", "maintenance", "admin")
ADMIN_ROLES = (Role.ADMIN, Role.OFFICE, Role.MONITOR)

Reader = Annotated[AdminPrincipal, Depends(require_role(*CITY_ROLES))]
Office = Annotated[AdminPrincipal, Depends(require_role(Role.OFFICE))]
CityAdmin = Annotated[AdminPrincipal, Depends(require_role(Role.ADMIN))]
Platform = Annotated[AdminPrincipal, Depends(require_role(Role.PLATFORM))]


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates = Jinja2Templates(directory=str(HERE))
templates.env.filters["ts"] = _ts


def render(request: Request, name: str, principal: AdminPrincipal | None, **ctx: Any) -> HTMLResponse:
    """A city page with the hub's headers (no caching, no framing)."""
    response = templates.TemplateResponse(request, name, {"principal": principal, **ctx})
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _next_staff_rev(conn: sa.Connection, city_id: str) -> int:
    t = hubdb.staff
    current = conn.execute(sa.select(sa.func.max(t.c.rev)).where(t.c.city_id == city_id)).scalar()
    return int(current or 0) + 1


def build_router() -> APIRouter:  # noqa: PLR0915  (one route per page; each is short)
    router = APIRouter(include_in_schema=False)

    @router.get("/admin/static/hub.css")
    def stylesheet() -> FileResponse:
        return FileResponse(HERE / "static" / "hub.css", media_type="text/css")

    # -- entry ------------------------------------------------------------------------------------------
    @router.get("/admin/login")
    def login_page(request: Request, failed: int = 0, wait: int = 0) -> HTMLResponse:
        return render(request, "login.html", None, failed=bool(failed), wait=max(0, min(wait, 3600)))

    @router.get("/admin/")
    def index(request: Request) -> Response:
        if not request.cookies.get(SESSION_COOKIE):
            return _back("/admin/login")
        return _back("/admin/fleet")

    # -- fleet --------------------------------------------------------------------------------------------
    @router.get("/admin/fleet")
    def fleet(request: Request, hub: Hub, principal: Reader) -> HTMLResponse:
        with hub.store.read() as conn:
            kiosks = city_kiosks(conn, principal.city(), hub.clock.now())
        online = sum(1 for k in kiosks if k.online)
        return render(
            request,
            "fleet.html",
            principal,
            kiosks=kiosks,
            online=online,
            can_manage=principal.allows(Role.ADMIN),
        )

    @router.get("/admin/kiosks/{device_id}")
    def kiosk_page(request: Request, hub: Hub, device_id: str, principal: Reader) -> HTMLResponse:
        now = hub.clock.now()
        e, a, c = hubdb.events, hubdb.alarms, hubdb.commands
        with hub.store.read() as conn:
            summary = city_kiosk_summary(conn, principal.city(), device_id, now)
            since = summary.approved_at  # this enrollment's history only (kiosk ids can be enrolled again)
            events = conn.execute(
                sa.select(e)
                .where(e.c.device_id == device_id, e.c.received_at >= since)
                .order_by(e.c.received_at.desc())
                .limit(200)
            ).all()
            alarms = conn.execute(
                sa.select(a)
                .where(a.c.device_id == device_id, a.c.cleared_at.is_(None), a.c.raised_at >= since)
                .order_by(a.c.raised_at)
            ).all()
            commands = conn.execute(
                sa.select(c)
                .where(c.c.device_id == device_id, c.c.issued_at >= since)
                .order_by(c.c.issued_at.desc())
                .limit(50)
            ).all()
            per_day = pickups_per_day(conn, device_id, now, since=since)
            old_ids = old_ids_waiting(conn, principal.city(), device_id)
            moved = moved_documents(conn, principal.city(), device_id)
        return render(
            request,
            "kiosk.html",
            principal,
            k=summary,
            events=events,
            alarms=alarms,
            commands=commands,
            per_day=per_day,
            old_ids=old_ids,
            moved=moved,
            command_kinds=[k.value for k in CommandKind],
            can_manage=principal.allows(Role.ADMIN),
        )

    @router.post("/admin/kiosks/approve")
    def approve(
        hub: Hub, principal: CityAdmin, device_id: Annotated[str, Form(max_length=64)], code: Annotated[str, Form()]
    ) -> Response:
        code = code.replace(" ", "")
        if not (len(code) == 8 and code.isdigit()):
            raise Invalid("code: the kiosk shows 8 digits")
        approve_kiosk(hub.store, device_id, code, principal.city(), principal.admin_id, now=hub.clock.now())
        return _back(f"/admin/kiosks/{device_id}")

    @router.post("/admin/kiosks/{device_id}/command")
    def command(
        hub: Hub,
        *,
        device_id: str,
        principal: CityAdmin,
        kind: Annotated[CommandKind, Form()],
        reason: Annotated[str, Form(min_length=3, max_length=200)],
        compartment: Annotated[str, Form(max_length=6)] = "",
    ) -> Response:
        number = int(compartment) if compartment.strip().isdigit() else None
        now = hub.clock.now()
        with hub.store.write() as conn:
            cmd_id = issue_command(
                conn,
                device_id=device_id,
                city_id=principal.city(),
                kind=kind,
                reason=reason,
                issued_by=principal.admin_id,
                now=now,
                lifetime_s=hub.config.sync.command_lifetime_s,
                compartment=number,
                on=True if kind is CommandKind.MAINTENANCE_MODE else None,
            )
            audit(conn, principal, f"kiosk.command.{kind.value}", device_id, now, detail={"command": cmd_id})
        return _back(f"/admin/kiosks/{device_id}")

    @router.post("/admin/kiosks/{device_id}/alarms/{alarm_id}/resolve")
    def resolve(
        hub: Hub,
        *,
        device_id: str,
        alarm_id: int,
        principal: CityAdmin,
    ) -> Response:
        now = hub.clock.now()
        with hub.store.write() as conn:
            kind = resolve_alarm(conn, principal.city(), device_id, alarm_id, by=principal.admin_id, now=now)
            audit(conn, principal, "alarm.resolve", device_id, now, detail={"alarm": alarm_id, "kind": kind})
        return _back(f"/admin/kiosks/{device_id}")

    # -- orders -------------------------------------------------------------------------------------------
    @router.get("/admin/orders")
    def orders_page(
        request: Request,
        *,
        hub: Hub,
        principal: Reader,
        reference: Annotated[str, Query(max_length=64)] = "",
        pickup_number: Annotated[str, Query(max_length=9)] = "",
        state: Annotated[str, Query(max_length=16)] = "",
    ) -> HTMLResponse:
        with hub.store.read() as conn:
            found = search_orders(
                conn,
                principal.city(),
                reference=reference or None,
                state=state or None,
                pickup_number=pickup_number.replace(" ", "") or None,
            )
        q = {"reference": reference, "pickup_number": pickup_number, "state": state}
        return render(request, "orders.html", principal, orders=found, q=q, states=[s.value for s in HubOrderState])

    @router.get("/admin/orders/import")
    def import_page(request: Request, principal: Office) -> HTMLResponse:
        return render(request, "import.html", principal, columns=COLUMNS, errors=[])

    @router.post("/admin/orders/import")
    async def import_form(request: Request, hub: Hub, principal: Office, file: UploadFile) -> Response:
        data = await file.read()

        def run_import(data: bytes) -> ImportResult:  # blocking work off the event loop
            text = decode_upload(data)
            with hub.store.write() as conn:
                return import_csv(conn, principal, text, hub.clock.now())

        try:
            result = await run_in_threadpool(run_import, data)
        except CsvInvalid as exc:
            errors = [str(e) for e in exc.errors]
            return render(request, "import.html", principal, columns=COLUMNS, errors=errors)
        msg = f"{len(result.created)} orders imported, {len(result.existing)} already known."
        return render(request, "import.html", principal, columns=COLUMNS, errors=[], message=msg)

    @router.get("/admin/orders/{order_id}/letter")
    def letter(hub: Hub, order_id: str, principal: Office) -> HTMLResponse:
        with hub.store.read() as conn:
            row = city_order(conn, principal.city(), order_id)
            waiting = conn.execute(
                sa.select(hubdb.notices.c.id).where(
                    hubdb.notices.c.order_id == order_id,
                    hubdb.notices.c.kind == NoticeKind.LETTER.value,
                    hubdb.notices.c.sent_at.is_(None),
                )
            ).first()
            if row.state != HubOrderState.STORED.value or waiting is None:
                raise Conflict(f"order {order_id}: no letter to print (only after 'stored', and only once)")
            data = notices.load_notice_data(conn, order_id)
        response = HTMLResponse(notices.render_letter(data))
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.post("/admin/orders/{order_id}/letter/printed")
    def letter_printed(hub: Hub, order_id: str, principal: Office) -> Response:
        now = hub.clock.now()
        with hub.store.write() as conn:
            city_order(conn, principal.city(), order_id)
            notices.mark_letter_printed(conn, order_id, now)
            audit(conn, principal, "order.letter_printed", order_id, now)
        return _back("/admin/orders")

    # -- staff --------------------------------------------------------------------------------------------
    @router.get("/admin/staff")
    def staff_page(request: Request, hub: Hub, principal: Reader) -> HTMLResponse:
        t = hubdb.staff
        with hub.store.read() as conn:
            rows = conn.execute(sa.select(t).where(t.c.city_id == principal.city()).order_by(t.c.id)).all()
        return render(
            request,
            "staff.html",
            principal,
            staff=rows,
            staff_roles=STAFF_ROLES,
            can_manage=principal.allows(Role.ADMIN),
        )

    @router.post("/admin/staff")
    def add_staff(
        request: Request,
        *,
        hub: Hub,
        principal: CityAdmin,
        staff_id: Annotated[str, Form(max_length=32)],
        pin: Annotated[str, Form(max_length=12)],
        roles: Annotated[list[str], Form()],
    ) -> HTMLResponse:
        if not codes.valid_order_id(staff_id):
            raise Invalid("staff_id: 4-32 capital letters, digits or dashes")
        try:
            codes.normalize_pin(pin, len(pin))
        except BadInput as exc:
            raise Invalid(f"pin: {exc}") from exc
        if not roles or any(r not in STAFF_ROLES for r in roles):
            raise Invalid(f"roles: one or more of {', '.join(STAFF_ROLES)}")
        badge = codes.Badge(staff_id, secrets.token_bytes(codes.TOKEN_BYTES))
        city_id, now, t = principal.city(), hub.clock.now(), hubdb.staff
        with hub.store.write() as conn:
            if conn.execute(sa.select(t.c.id).where(t.c.city_id == city_id, t.c.id == staff_id)).first():
                raise Conflict(f"staff account {staff_id} exists")
            conn.execute(
                sa.insert(t).values(
                    id=staff_id,
                    city_id=city_id,
                    badge_hash=codes.badge_hash(badge).hex(),
                    pin_verifier=codes.staff_pin_verifier(staff_id, pin),
                    roles=",".join(sorted(set(roles))),
                    active=True,
                    updated_at=now,
                    rev=_next_staff_rev(conn, city_id),
                )
            )
            audit(conn, principal, "staff.add", staff_id, now, detail={"roles": sorted(set(roles))})
            rows = conn.execute(sa.select(t).where(t.c.city_id == city_id).order_by(t.c.id)).all()
        shown = {"staff_id": staff_id, "payload": badge.payload}
        return render(
            request, "staff.html", principal, staff=rows, staff_roles=STAFF_ROLES, can_manage=True, badge=shown
        )

    @router.post("/admin/staff/{staff_id}/deactivate")
    def deactivate_staff(hub: Hub, staff_id: str, principal: CityAdmin) -> Response:
        city_id, now, t = principal.city(), hub.clock.now(), hubdb.staff
        with hub.store.write() as conn:
            row = conn.execute(sa.select(t.c.id).where(t.c.city_id == city_id, t.c.id == staff_id)).first()
            if row is None:
                raise NotFound(f"staff account {staff_id!r} not found")
            conn.execute(
                sa.update(t)
                .where(t.c.city_id == city_id, t.c.id == staff_id)
                .values(active=False, updated_at=now, rev=_next_staff_rev(conn, city_id))
            )
            audit(conn, principal, "staff.deactivate", staff_id, now)
        return _back("/admin/staff")

    # -- platform -----------------------------------------------------------------------------------------
    @router.get("/admin/cities")
    def cities_page(request: Request, hub: Hub, principal: Platform) -> HTMLResponse:
        c, k, a = hubdb.cities, hubdb.kiosks, hubdb.admins
        with hub.store.read() as conn:
            rows = conn.execute(sa.select(c).order_by(c.c.id)).all()
            cities = [
                {
                    "id": r.id,
                    "name": r.name,
                    "kiosks": conn.execute(sa.select(sa.func.count()).where(k.c.city_id == r.id)).scalar_one(),
                    "admins": conn.execute(sa.select(sa.func.count()).where(a.c.city_id == r.id)).scalar_one(),
                }
                for r in rows
            ]
        return render(request, "cities.html", principal, cities=cities, roles=[r.value for r in ADMIN_ROLES])

    @router.post("/admin/cities")
    def add_city(
        hub: Hub,
        *,
        principal: Platform,
        city_id: Annotated[str, Form(pattern=r"^[a-z0-9-]{2,40}$")],
        name: Annotated[str, Form(min_length=1, max_length=100)],
        dob_factor: Annotated[str, Form(max_length=1)] = "",
        max_data_age_h: Annotated[int, Form(ge=1, le=p.MAX_DATA_AGE_H)] = 72,
    ) -> Response:
        now = hub.clock.now()
        with hub.store.write() as conn:
            if hub.store.city_exists(conn, city_id):
                raise Conflict(f"city {city_id} exists")
            hub.store.add_city(conn, city_id, name)
            settings = {"dob_factor": dob_factor == "1", "max_data_age_h": max_data_age_h}
            conn.execute(sa.insert(hubdb.city_settings).values(city_id=city_id, **settings))
            audit(conn, principal, "city.add", city_id, now)
        return _back("/admin/cities")

    @router.post("/admin/admins")
    def add_admin(
        hub: Hub,
        *,
        principal: Platform,
        city_id: Annotated[str, Form(max_length=40)],
        username: Annotated[str, Form(min_length=3, max_length=80)],
        password: Annotated[str, Form(min_length=12, max_length=200)],
        role: Annotated[Role, Form()],
    ) -> Response:
        if role not in ADMIN_ROLES:
            raise Invalid("role: admin, office or monitor")
        now = hub.clock.now()
        a = hubdb.admins
        with hub.store.write() as conn:
            if not hub.store.city_exists(conn, city_id):
                raise NotFound(f"no city {city_id!r}")
            if conn.execute(sa.select(a.c.id).where(a.c.username == username)).first():
                raise Conflict(f"user name {username!r} is taken")
            admin_id = create_admin(conn, username, password, role=role, city_id=city_id, now=now)
            audit(conn, principal, "admin.add", admin_id, now, detail={"city": city_id, "role": role.value})
        return _back("/admin/cities")

    return router
