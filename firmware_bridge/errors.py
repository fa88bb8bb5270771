"""Errors of the hardware layer; all derive from the core's HardwareError so flows can map them."""

from __future__ import annotations

from locker.errors import BoardUnavailable, HardwareError


class BridgeError(HardwareError):
    """Base of every error raised inside firmware_bridge."""


class FrameError(BridgeError):
    """Bytes that are not a valid frame of the protocol (bad length, header, checksum or command)."""


class NoReply(BridgeError, BoardUnavailable):
    """A board did not answer within the timeout (after the allowed read retries)."""


class BoardOffline(BridgeError, BoardUnavailable):
    """A board is marked offline after repeated failures; requests are refused until it answers again."""


class TransportError(BridgeError):
    """The serial port could not be opened, read or written."""


class ScannerError(BridgeError):
    """A code scanner (camera or device) failed or went away."""


class UnknownCompartment(BridgeError):
    """The compartment number is not in the compartment map."""


class LockMapError(BridgeError):
    """The compartment map names a lock or board the driver does not have."""


class PollerFailed(BridgeError):
    """A poller thread died of an unexpected error; the bank no longer watches that bus."""
