"""Hub authentication: admin roles, argon2id passwords, session cookies, city API keys and the admin audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from backend_sync.hub import login_throttle
from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from locker import codes

SESSION_COOKIE = "wibox_hub_session"
SESSION_IDLE_S = 30 * 60
SESSION_MAX_S = 8 * 3600
API_KEY_PREFIX = "whk"
_DUMMY_SALT = b"wibox-dummy-salt"


class Role(StrEnum):
    """Who may do what. platform > admin > office > monitor; ``api`` is a city's machine client."""

    PLATFORM = "platform"
    ADMIN = "admin"
    OFFICE = "office"
    MONITOR = "monitor"
    API = "api"


CITY_ROLES = (Role.ADMIN, Role.OFFICE, Role.MONITOR)
_RANK = {Role.MONITOR: 1, Role.OFFICE: 2, Role.ADMIN: 3}


class Clock(Protocol):
    def now(self) -> float: ...


@dataclass(frozen=True)
class AdminPrincipal:
    """The caller of an admin or API route. ``city_id`` is None only for the platform operator."""

    admin_id: str
    city_id: str | None
    role: Role

    def city(self) -> str:
        """The caller's city; the platform operator has none and is refused (403) on city data."""
        if self.city_id is None:
            raise HTTPException(status_code=403, detail="this account is not bound to a city")
        return self.city_id

    def allows(self, *roles: Role) -> bool:
        """Exact match, or a city role ranked at least as high as the lowest listed city role."""
        if self.role in roles:
            return True
        if self.role in (Role.PLATFORM, Role.API):
            return False
        ranks = [_RANK[r] for r in roles if r in _RANK]
        return bool(ranks) and _RANK[self.role] >= min(ranks)


# --- passwords and tokens -------------------------------------------------------------------------------------


def hash_password(password: str, salt: bytes | None = None) -> str:
    """argon2id PHC string (same parameters as the kiosk's PIN verifiers), random salt."""
    kdf = Argon2id(
        salt=salt if salt is not None else secrets.token_bytes(16),
        length=codes.ARGON2_LENGTH,
        iterations=codes.ARGON2_ITERATIONS,
        lanes=codes.ARGON2_LANES,
        memory_cost=codes.ARGON2_MEMORY_KIB,
    )
    return kdf.derive_phc_encoded(password.encode())


def verify_password(password: str, phc: str) -> bool:
    if not codes.verifier_strength_ok(phc):
        return False
    try:
        Argon2id.verify_phc_encoded(password.encode(), phc)
    except InvalidKey:
        return False
    return True


_DUMMY_PHC = hash_password("wibox-dummy-password", _DUMMY_SALT)


def token_hash(token: str) -> str:
    """SHA-256 hex of a session token or API key: what the database stores."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh API key ``whk_<id>_<secret>`` and its id (the secret is shown once)."""
    key_id = secrets.token_hex(6)
    return f"{API_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}", key_id


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


# --- request plumbing -----------------------------------------------------------------------------------------


def _store(request: Request) -> HubStore:
    store: HubStore = request.app.state.store
    return store


def _now(request: Request) -> float:
    clock: Clock = request.app.state.clock
    return clock.now()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def principal_from_api_key(conn: sa.Connection, key: str) -> AdminPrincipal | None:
    t = hubdb.api_keys
    row = conn.execute(sa.select(t).where(t.c.key_hash == token_hash(key), t.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    return AdminPrincipal(admin_id=f"apikey:{row.id}", city_id=row.city_id, role=Role.API)


def principal_from_session(conn: sa.Connection, token: str, now: float) -> AdminPrincipal | None:
    s, a = hubdb.admin_sessions, hubdb.admins
    row = conn.execute(
        sa.select(s.c.id, s.c.created_at, s.c.last_seen_at, a.c.id.label("admin_id"), a.c.city_id, a.c.role)
        .join(a, a.c.id == s.c.admin_id)
        .where(s.c.id == token_hash(token), a.c.active.is_(True))
    ).first()
    if row is None:
        return None
    if now - row.created_at > SESSION_MAX_S or now - row.last_seen_at > SESSION_IDLE_S:
        conn.execute(sa.delete(s).where(s.c.id == row.id))
        return None
    conn.execute(sa.update(s).where(s.c.id == row.id).values(last_seen_at=now))
    return AdminPrincipal(admin_id=row.admin_id, city_id=row.city_id, role=Role(row.role))


def require_admin(request: Request) -> AdminPrincipal:
    """FastAPI dependency: the session cookie or ``Authorization: Bearer <api key>``; 401 without either."""
    key = _bearer(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    store = _store(request)
    with store.write() as conn:
        principal = None
        if key is not None:
            principal = principal_from_api_key(conn, key)
        elif cookie:
            principal = principal_from_session(conn, cookie, _now(request))
    if principal is None:
        raise HTTPException(status_code=401, detail="authentication required", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_role(*roles: Role) -> Callable[[Request], AdminPrincipal]:
    """FastAPI dependency factory: authenticated (401) and holding one of ``roles`` or a higher city role (403)."""

    def dependency(request: Request) -> AdminPrincipal:
        principal = require_admin(request)
        if not principal.allows(*roles):
            raise HTTPException(status_code=403, detail="insufficient role")
        return principal

    return dependency


Principal = Annotated[AdminPrincipal, Depends(require_admin)]
CityReader = Annotated[AdminPrincipal, Depends(require_role(*CITY_ROLES))]
CityOffice = Annotated[AdminPrincipal, Depends(require_role(Role.OFFICE))]
CityAdmin = Annotated[AdminPrincipal, Depends(require_role(Role.ADMIN))]
Platform = Annotated[AdminPrincipal, Depends(require_role(Role.PLATFORM))]


def audit(
    conn: sa.Connection,
    principal: AdminPrincipal,
    action: str,
    target: str,
    now: float,
    *,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one admin action to ``admin_audit`` (ids and outcomes only, never secrets or personal data)."""
    conn.execute(
        sa.insert(hubdb.admin_audit).values(
            at=now,
            admin_id=principal.admin_id,
            city_id=principal.city_id,
            action=action,
            target=target,
            detail=json.dumps(dict(detail or {}), sort_keys=True),
        )
    )


# --- accounts ---------------------------------------------------------------------------------------------------


def create_admin(
    conn: sa.Connection, username: str, password: str, *, role: Role, city_id: str | None, now: float
) -> str:
    """Create an admin account; platform accounts have no city, every other account has exactly one."""
    if role is Role.API:
        raise ValueError("api is not an account role")
    if (role is Role.PLATFORM) != (city_id is None):
        raise ValueError("platform accounts have no city; city accounts need one")
    if len(password) < 12:
        raise ValueError("a password has at least 12 characters")
    admin_id = "adm-" + secrets.token_hex(8)
    conn.execute(
        sa.insert(hubdb.admins).values(
            id=admin_id,
            city_id=city_id,
            username=username,
            password_hash=hash_password(password),
            role=role.value,
            active=True,
            created_at=now,
        )
    )
    return admin_id


def login(conn: sa.Connection, username: str, password: str, now: float) -> str | None:
    """Check a password and open a session; returns the session token (cookie value) or None."""
    a = hubdb.admins
    row = conn.execute(sa.select(a).where(a.c.username == username, a.c.active.is_(True))).first()
    ok = verify_password(password, row.password_hash if row is not None else _DUMMY_PHC)
    if row is None or not ok:
        return None
    token = secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(hubdb.admin_sessions).values(id=token_hash(token), admin_id=row.id, created_at=now, last_seen_at=now)
    )
    principal = AdminPrincipal(admin_id=row.id, city_id=row.city_id, role=Role(row.role))
    audit(conn, principal, "login", row.id, now)
    return token


def create_api_key(conn: sa.Connection, principal: AdminPrincipal, name: str, now: float) -> tuple[str, str]:
    """Create an API key for the admin's city; returns (key shown once, key id)."""
    key, key_id = new_api_key()
    conn.execute(
        sa.insert(hubdb.api_keys).values(
            id=key_id,
            city_id=principal.city(),
            name=name,
            key_hash=token_hash(key),
            created_by=principal.admin_id,
            created_at=now,
            revoked_at=None,
        )
    )
    audit(conn, principal, "api_key.create", key_id, now, detail={"name": name})
    return key, key_id


# --- routes -----------------------------------------------------------------------------------------------------


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    key: str | None = None
    created_at: float
    revoked_at: float | None = None


def session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def build_router() -> APIRouter:
    """Login/logout (form posts from the admin pages) and the city's API key management."""
    router = APIRouter()

    @router.post("/admin/login", include_in_schema=False)
    def login_route(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
        now = _now(request)
        name, client = username[:200], request.client.host if request.client else "-"
        with _store(request).write() as conn:
            wait = login_throttle.wait_s(conn, name, client, now)
            token = None if wait > 0 else login(conn, name, password[:1000], now)
            if token is None and wait == 0:
                login_throttle.record_failure(conn, name, client, now)
                wait = login_throttle.wait_s(conn, name, client, now)
        if token is None:  # while throttled the password is not even checked
            return RedirectResponse(f"/admin/login?failed=1&wait={math.ceil(wait)}", status_code=303)
        response = RedirectResponse("/admin/", status_code=303)
        session_cookie(response, request, token)
        return response

    @router.post("/admin/logout", include_in_schema=False)
    def logout_route(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            with _store(request).write() as conn:
                conn.execute(sa.delete(hubdb.admin_sessions).where(hubdb.admin_sessions.c.id == token_hash(cookie)))
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/api/v1/keys", tags=["admin"])
    def list_keys(request: Request, principal: CityAdmin) -> list[ApiKeyOut]:
        t = hubdb.api_keys
        with _store(request).read() as conn:
            rows = conn.execute(sa.select(t).where(t.c.city_id == principal.city()).order_by(t.c.created_at)).all()
        return [ApiKeyOut(id=r.id, name=r.name, created_at=r.created_at, revoked_at=r.revoked_at) for r in rows]

    @router.post("/api/v1/keys", tags=["admin"], status_code=201)
    def create_key(request: Request, body: ApiKeyIn, principal: CityAdmin) -> ApiKeyOut:
        now = _now(request)
        with _store(request).write() as conn:
            key, key_id = create_api_key(conn, principal, body.name, now)
        return ApiKeyOut(id=key_id, name=body.name, key=key, created_at=now)

    @router.post("/api/v1/keys/{key_id}/revoke", tags=["admin"])
    def revoke_key(request: Request, key_id: str, principal: CityAdmin) -> ApiKeyOut:
        t = hubdb.api_keys
        now = _now(request)
        with _store(request).write() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == key_id, t.c.city_id == principal.city())).first()
            if row is None:
                raise HTTPException(status_code=404, detail="no such key")
            revoked = row.revoked_at if row.revoked_at is not None else now
            conn.execute(sa.update(t).where(t.c.id == key_id).values(revoked_at=revoked))
            audit(conn, principal, "api_key.revoke", key_id, now)
        return ApiKeyOut(id=row.id, name=row.name, created_at=row.created_at, revoked_at=revoked)

    return router


def constant_eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
