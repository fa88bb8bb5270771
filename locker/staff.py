"""Staff credentials (badge hash + argon2id PIN verifier) and staff sessions that time out."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from locker import codes, throttle
from locker.codes import Badge
from locker.config import StationConfig
from locker.errors import BadInput, SessionError, Throttled, WrongCode
from locker.ports import Clock
from locker.store import Store

ROLES = ("loader", "maintenance", "admin")


@dataclass
class StaffSession:
    id: str
    staff: list[str]
    started: float
    last_activity: float
    roles: set[str] = field(default_factory=set)


class StaffAuth:
    """Checks badge + PIN, opens sessions, and enforces timeouts and the four-eyes rule."""

    def __init__(self, store: Store, config: StationConfig, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._sessions: dict[str, StaffSession] = {}

    def add(self, staff_id: str, pin: str, roles: tuple[str, ...] = ("loader",), *, actor: str = "system") -> Badge:
        """Create or replace a local staff account; returns the badge to print (its token is not stored)."""
        if not codes.valid_order_id(staff_id):
            raise BadInput("staff id must be 4-32 characters of A-Z, 0-9 and -")
        codes.normalize_pin(pin, len(pin) if len(pin) >= codes.MIN_PIN_LENGTH else codes.MIN_PIN_LENGTH)
        for r in roles:
            if r not in ROLES:
                raise BadInput(f"unknown role {r!r} (known: {', '.join(ROLES)})")
        badge = Badge(staff_id, codes.new_token())
        verifier = codes.staff_pin_verifier(staff_id, pin)
        with self.store.change(actor) as tx:
            tx.conn.execute(
                "INSERT INTO staff (id, badge_hash, pin_verifier, roles, active, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT(id) DO UPDATE SET badge_hash = excluded.badge_hash,"
                " pin_verifier = excluded.pin_verifier, roles = excluded.roles, active = 1,"
                " updated_at = excluded.updated_at",
                (staff_id, codes.badge_hash(badge), verifier, ",".join(roles), tx.now),
            )
            tx.audit("staff.enrolled", staff=staff_id, roles=",".join(roles))
        return badge

    def authenticate(self, badge_text: str, pin: str) -> str:
        """Return the staff id for a valid badge + PIN. Failures slow down that badge's staff id (a fake badge
        only its own id) and count towards the station's budget and the ``staff_brute_force`` alarm."""
        badge = codes.parse_badge(badge_text)
        if not pin.isascii() or not pin.isdigit() or len(pin) < codes.MIN_PIN_LENGTH:
            raise BadInput("a staff PIN has at least 6 digits")
        wait = self.store.throttle_state(throttle.SCOPE_STAFF, badge.staff_id, self.config.throttle).wait_s
        if wait > 0:
            raise Throttled(wait)
        rec = self.store.staff(badge.staff_id)
        ok = (
            rec is not None
            and rec.active
            and hmac.compare_digest(rec.badge_hash, codes.badge_hash(badge))
            and codes.check_staff_pin(badge.staff_id, pin, rec.pin_verifier)
        )
        if not ok:
            with self.store.change("staff-login") as tx:
                tx.record_failure(throttle.SCOPE_STAFF, badge.staff_id, self.config.throttle)
                tx.audit("staff.login_failed", staff=badge.staff_id)
            raise WrongCode("badge or PIN not accepted")
        with self.store.change(f"staff:{badge.staff_id}") as tx:
            tx.audit("staff.login", staff=badge.staff_id)
        return badge.staff_id

    def open_session(self, staff_id: str) -> StaffSession:
        rec = self.store.staff(staff_id)
        now = self.clock.now()
        s = StaffSession(secrets.token_urlsafe(16), [staff_id], now, now, set(rec.roles if rec else ()))
        self._sessions[s.id] = s
        return s

    def add_second(self, session_id: str, staff_id: str) -> StaffSession:
        """Add a second, different person to a session (four-eyes)."""
        s = self.require(session_id)
        if staff_id in s.staff:
            raise SessionError("the second person must be someone else").keyed("staff.err.same_person")
        s.staff.append(staff_id)
        rec = self.store.staff(staff_id)
        s.roles |= set(rec.roles if rec else ())
        return s

    def require(self, session_id: str, *, four_eyes: bool = False, role: str | None = None) -> StaffSession:
        """Return a live session (refreshing its idle timer) or raise SessionError."""
        s = self._sessions.get(session_id)
        now = self.clock.now()
        if s is None:
            raise SessionError("not logged in")
        if now - s.last_activity > self.config.timing.staff_session_timeout_s:
            del self._sessions[session_id]
            raise SessionError("session timed out")
        if four_eyes and len(s.staff) < 2:
            raise SessionError("a second staff member must log in (four-eyes rule)").keyed("staff.err.four_eyes")
        if role is not None and role not in s.roles and "admin" not in s.roles:
            raise SessionError(f"this needs the {role} role").keyed("staff.err.role", role=role)
        s.last_activity = now
        return s

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    @staticmethod
    def actor(session: StaffSession) -> str:
        return "staff:" + "+".join(session.staff)
