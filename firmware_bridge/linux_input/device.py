"""An open input event device: its name, its events read with a timeout, and EVIOCGRAB to read it alone."""

from __future__ import annotations

import errno
import fcntl
import os
import select

from firmware_bridge.linux_input.codes import SW_MAX
from firmware_bridge.linux_input.errors import GrabFailed, InputDeviceError, NotAnInputDevice
from firmware_bridge.linux_input.events import EVENT_SIZE, EVIOCGRAB, InputEvent, eviocgname, eviocgsw, parse_events

READ_EVENTS = 64  # the most events one read() takes
NAME_LENGTH = 256
# What EVIOCGNAME answers on a file that is no input device.
_NOT_AN_INPUT_DEVICE = frozenset({errno.ENOTTY, errno.EINVAL})
_HINTS = {
    errno.EACCES: "the user needs the input group",
    errno.EBUSY: "another program has grabbed it",
    errno.ENODEV: "unplugged",
}


def _describe(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    hint = _HINTS.get(exc.errno or 0)
    return f"[Errno {exc.errno}] {text}" + (f" ({hint})" if hint else "")


def read_name(fd: int) -> str:
    """The device's name as its driver gives it (EVIOCGNAME), e.g. ``Honeywell Imaging & Mobility 1900``."""
    raw = fcntl.ioctl(fd, eviocgname(NAME_LENGTH), bytes(NAME_LENGTH))
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


class InputDevice:
    """One open event device (``/dev/input/eventN``) on a non-blocking fd; closing it releases a grab."""

    def __init__(self, fd: int, path: str, name: str = "") -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.path = path
        self.name = name
        self.closed = False
        self._partial = b""

    @classmethod
    def open(cls, path: str) -> InputDevice:
        """Opens ``path`` read-only and reads its name; a file that is no input device raises NotAnInputDevice."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise InputDeviceError(f"cannot open {path}: {_describe(exc)}", exc.errno) from exc
        try:
            name = read_name(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _NOT_AN_INPUT_DEVICE:
                why = f"{path} is no input event device (EVIOCGNAME: {_describe(exc)})"
                raise NotAnInputDevice(why, exc.errno) from exc
            raise InputDeviceError(f"cannot read the name of {path}: {_describe(exc)}", exc.errno) from exc
        return cls(fd, path, name)

    def fileno(self) -> int:
        return self.fd

    def read(self, timeout: float) -> list[InputEvent]:
        """The events that came within ``timeout`` seconds ([] if none); raises InputDeviceError once it is gone."""
        if self.closed:
            raise InputDeviceError(f"{self.path} is closed", errno.EBADF)
        try:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return []
            data = os.read(self.fd, EVENT_SIZE * READ_EVENTS)
        except BlockingIOError:
            return []  # another reader took the events first
        except OSError as exc:
            raise InputDeviceError(f"cannot read {self.path}: {_describe(exc)}", exc.errno) from exc
        if not data:
            raise InputDeviceError(f"cannot read {self.path}: end of file (the device went away)", errno.ENODEV)
        events, self._partial = parse_events(self._partial + data)
        return events

    def switch_on(self, code: int) -> bool:
        """Whether switch ``code`` (an SW_* code, e.g. SW_HEADPHONE_INSERT) is on now (EVIOCGSW)."""
        if not 0 <= code <= SW_MAX:
            raise ValueError(f"no switch code: {code}")
        size = SW_MAX // 8 + 1
        try:
            bits = fcntl.ioctl(self.fd, eviocgsw(size), bytes(size))
        except OSError as exc:
            raise InputDeviceError(f"cannot read the switches of {self.path}: {_describe(exc)}", exc.errno) from exc
        return bool(bits[code // 8] >> (code % 8) & 1)

    def grab(self) -> None:
        """Takes the device for this fd alone (EVIOCGRAB 1): its keys reach no other program, not the kiosk browser."""
        try:
            fcntl.ioctl(self.fd, EVIOCGRAB, 1)
        except OSError as exc:
            raise GrabFailed(f"cannot grab {self.path} (EVIOCGRAB): {_describe(exc)}", exc.errno) from exc

    def ungrab(self) -> None:
        """Releases the grab (EVIOCGRAB 0)."""
        try:
            fcntl.ioctl(self.fd, EVIOCGRAB, 0)
        except OSError as exc:
            raise InputDeviceError(f"cannot release the grab of {self.path}: {_describe(exc)}", exc.errno) from exc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
