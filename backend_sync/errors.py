"""The sync layer's exception family: every refusal of a sync message derives from SyncError."""

from __future__ import annotations

from typing import Any

from locker.errors import LockerError


class SyncError(LockerError):
    """A sync message was refused; the kiosk's data is unchanged."""


class SchemaError(SyncError):
    """A message is not well-formed: unknown or missing field, wrong type or size (the message names the field)."""


class TamperError(SyncError):
    """A signature, hash or ciphertext does not verify, or the signing key is not pinned."""


class ReplayError(SyncError):
    """The bundle is not newer than the last one accepted (replay or rollback)."""


class ChainError(SyncError):
    """The bundle does not link to the last accepted manifest (gap or fork)."""


class ExpiredError(SyncError):
    """The manifest has expired, is issued too far in the future, or claims too long a lifetime."""


class WrongDeviceError(SyncError):
    """The message is meant for (or comes from) another device or another device key."""


class KeyStoreError(SyncError):
    """A key file is missing, unreadable, malformed or readable by others."""


class HubUnreachable(SyncError):
    """The hub did not answer (connection refused, timeout, 5xx): retry later with backoff."""


class HubRefused(SyncError):
    """The hub answered with a refusal (4xx); ``status`` is the HTTP status, ``detail`` the JSON error body
    (``{"error", "kind", ...}``; empty when the answer was not a JSON object)."""

    def __init__(self, status: int, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"hub refused ({status}): {message}")
        self.status = status
        self.detail: dict[str, Any] = detail or {}
