"""Errors of the input event devices: a device that cannot be opened, grabbed or read, or that went away."""

from __future__ import annotations

from firmware_bridge.errors import BridgeError


class InputDeviceError(BridgeError):
    """An input event device could not be opened or read, or went away (``errno`` as the kernel gave it)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class NotAnInputDevice(InputDeviceError):
    """The path opened but is no input event device: it does not answer EVIOCGNAME."""


class GrabFailed(InputDeviceError):
    """EVIOCGRAB was refused: the device cannot be read exclusively (another program holds it, or it is no device)."""


__all__ = ["GrabFailed", "InputDeviceError", "NotAnInputDevice"]
