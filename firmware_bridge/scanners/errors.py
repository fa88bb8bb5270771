"""Errors of the code scanners: camera, decoders, keyboard-wedge and serial scanner devices."""

from __future__ import annotations

from firmware_bridge.errors import ScannerError


class CameraError(ScannerError):
    """The camera could not be opened or stopped delivering frames."""


class ScannerDeviceError(ScannerError):
    """A keyboard-wedge or serial scanner device could not be opened or read."""


class ScannerConfigError(ScannerError, ValueError):
    """A scanner setting is invalid (unknown decoder, variant or keymap, out-of-range number)."""


class ImageReadError(ScannerError):
    """An image file is missing, unreadable or not an image."""


__all__ = ["CameraError", "ImageReadError", "ScannerConfigError", "ScannerDeviceError", "ScannerError"]
