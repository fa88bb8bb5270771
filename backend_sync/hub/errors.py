"""The hub's exception family; ``app.py`` maps each class to one HTTP status in one place."""

from __future__ import annotations

from locker.errors import LockerError


class HubError(LockerError):
    """Base of every error the hub raises on purpose."""


class NotFound(HubError):
    """The named kiosk, order, city or command does not exist (or belongs to another city)."""


class Conflict(HubError):
    """The request contradicts the stored state (duplicate reference, wrong enrollment state, audit not extended)."""


class CheckpointBase(Conflict):
    """A checkpoint whose entries start elsewhere than the last checkpoint the hub countersigned for this
    enrollment: the answer names that size (``since``), and the kiosk sends its entries from there."""

    def __init__(self, message: str, since: int) -> None:
        super().__init__(message)
        self.since = since


class Unauthorized(HubError):
    """No valid credentials (admin session, API key, or a kiosk key the hub knows)."""


class Forbidden(HubError):
    """Valid credentials without the right to do this (role, city, revoked kiosk)."""


class Invalid(HubError):
    """Well-formed request with values the hub refuses; the message names the field."""


class Gone(HubError):
    """The thing existed but is no longer usable (expired enrollment code, expired command)."""


class TooManyAttempts(HubError):
    """Too many failed attempts (logins, approval codes) from this identity: wait ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
