"""A virtual USB keyboard made through /dev/uinput with raw ioctls: a real input event device for the wedge tests."""

from __future__ import annotations

import fcntl
import os
import struct
import time
from collections.abc import Iterable
from pathlib import Path

from firmware_bridge.linux_input import codes
from firmware_bridge.linux_input.events import IOC_READ, IOC_WRITE, InputEvent, io, ioc, iow_int

UINPUT = "/dev/uinput"
# struct uinput_setup (linux/uinput.h): struct input_id {__u16 bustype, vendor, product, version},
# char name[UINPUT_MAX_NAME_SIZE = 80], __u32 ff_effects_max: 92 bytes.
SETUP = struct.Struct("HHHH80sI")
UI_DEV_CREATE = io("U", 1)
UI_DEV_DESTROY = io("U", 2)
UI_DEV_SETUP = ioc(IOC_WRITE, "U", 3, SETUP.size)
UI_SET_EVBIT = iow_int("U", 100)
UI_SET_KEYBIT = iow_int("U", 101)
BUS_USB = 0x03
SYSFS_INPUT = Path("/sys/devices/virtual/input")


def ui_get_sysname(length: int) -> int:
    """``UI_GET_SYSNAME(len)``: the created device's name under /sys/devices/virtual/input (``input42``)."""
    return ioc(IOC_READ, "U", 44, length)


class VirtualKeyboard:
    """A keyboard the kernel shows as /dev/input/eventN; ``key`` types on it as a wedge scanner does."""

    def __init__(self, name: str, keys: Iterable[int]) -> None:
        self.name = name
        self._fd = os.open(UINPUT, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(self._fd, UI_SET_EVBIT, codes.EV_KEY)
            for key in keys:
                fcntl.ioctl(self._fd, UI_SET_KEYBIT, key)
            fcntl.ioctl(self._fd, UI_DEV_SETUP, SETUP.pack(BUS_USB, 0x1D50, 0x6157, 1, name.encode(), 0))
            fcntl.ioctl(self._fd, UI_DEV_CREATE)
        except BaseException:
            os.close(self._fd)
            raise

    def event_path(self, timeout: float = 5.0) -> str:
        """The device's /dev/input/eventN, once it exists and can be read (udev may set its mode after creating it)."""
        raw = fcntl.ioctl(self._fd, ui_get_sysname(64), bytes(64))
        sysname = raw.split(b"\0", 1)[0].decode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in sorted((SYSFS_INPUT / sysname).glob("event*")):
                path = Path("/dev/input") / node.name
                if path.exists() and os.access(path, os.R_OK):
                    return str(path)
            time.sleep(0.05)
        raise TimeoutError(f"no /dev/input node for {sysname} within {timeout} s")

    def key(self, code: int, value: int) -> None:
        """One key event and its SYN_REPORT (the kernel stamps the time)."""
        key = InputEvent(0, 0, codes.EV_KEY, code, value)
        report = InputEvent(0, 0, codes.EV_SYN, codes.SYN_REPORT, 0)
        os.write(self._fd, key.pack() + report.pack())

    def close(self) -> None:
        try:
            fcntl.ioctl(self._fd, UI_DEV_DESTROY)
        finally:
            os.close(self._fd)

    def __enter__(self) -> VirtualKeyboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
