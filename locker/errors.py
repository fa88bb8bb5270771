"""The core's exception family: every error the core raises derives from LockerError."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Self


class LockerError(Exception):
    """Base of every error raised by the locker core.

    ``key`` and ``params`` say it in the station's languages: a catalog key of the kiosk UI (``staff.err.*``) and
    its parameters, set with ``keyed`` where a person at the station sees the refusal. The message stays English,
    for logs and the API."""

    key: str = ""
    params: Mapping[str, object] = MappingProxyType({})

    def keyed(self, key: str, **params: object) -> Self:
        self.key, self.params = key, MappingProxyType(dict(params))
        return self


class ConfigError(LockerError):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class StoreError(LockerError):
    """The database could not be opened, migrated or written."""


class IntegrityError(StoreError):
    """The database or the audit chain failed a consistency check."""


class TransitionError(LockerError):
    """A state change that the state model does not allow was attempted."""


class BadInput(LockerError):
    """Input from a person or a scanner is malformed; nothing was changed."""


class CodeError(LockerError):
    """A pickup, staff or label code was refused."""


class WrongCode(CodeError):
    """The code does not match (deliberately without saying which part was wrong)."""


class ManualPathLocked(CodeError):
    """Too many wrong PINs for this order: the manual path is off, the QR code still works."""


class SecondFactorLocked(CodeError):
    """Too many wrong second factors after this order's valid QR code: only staff or the office can help now."""


class Throttled(CodeError):
    """Too many recent failures by this identity (or at this station within the hour): wait before trying again."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"too many failed attempts; try again in {wait_s:.0f} s")
        self.wait_s = wait_s


class NotCollectable(CodeError):
    """The order exists but cannot be collected (expired, cancelled, already collected, not loaded)."""


class FlowError(LockerError):
    """A flow cannot proceed in the current state of the station."""


class NoFreeCompartment(FlowError):
    """No free, working compartment fits the order."""


class DoorDidNotOpen(FlowError):
    """The lock was pulsed (and retried once) but the door never read open."""

    def __init__(self, compartment: int) -> None:
        super().__init__(f"compartment {compartment} did not open")
        self.compartment = compartment
        self.keyed("staff.err.did_not_open", n=compartment)


class SessionError(FlowError):
    """A staff session is missing, expired, or lacks what the action needs (e.g. a second person)."""


class HardwareError(LockerError):
    """Base for errors that lock-bank implementations report through the port."""


class BoardUnavailable(HardwareError):
    """A lock board did not answer."""
