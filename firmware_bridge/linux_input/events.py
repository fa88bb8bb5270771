"""The kernel's struct input_event as bytes, and the ioctl numbers of the event and uinput interfaces."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

# struct input_event (linux/input.h): struct timeval {long tv_sec; long tv_usec}, __u16 type, __u16 code,
# __s32 value, in the machine's native layout: 24 bytes on aarch64 and x86-64, 16 on 32-bit ARM (there a 64-bit
# time_t build reads two unsigned longs, the same 16 bytes).
EVENT_FORMAT: Final = "llHHi"
_EVENT: Final = struct.Struct(EVENT_FORMAT)
EVENT_SIZE: Final = _EVENT.size

# asm-generic/ioctl.h, which arm, aarch64 and x86 use: direction in bits 30-31, argument size in bits 16-29,
# type in bits 8-15, number in bits 0-7.
IOC_NONE: Final = 0
IOC_WRITE: Final = 1
IOC_READ: Final = 2
_INT_SIZE: Final = struct.calcsize("i")


def ioc(direction: int, kind: str, number: int, size: int) -> int:
    """``_IOC(dir, type, nr, size)``: the number of one ioctl request."""
    if not 0 <= size < 1 << 14:
        raise ValueError(f"ioctl argument size {size} does not fit in 14 bits")
    return direction << 30 | size << 16 | ord(kind) << 8 | number


def io(kind: str, number: int) -> int:
    """``_IO(type, nr)``: a request without an argument."""
    return ioc(IOC_NONE, kind, number, 0)


def iow_int(kind: str, number: int) -> int:
    """``_IOW(type, nr, int)``: a request that takes an int."""
    return ioc(IOC_WRITE, kind, number, _INT_SIZE)


EVIOCGRAB: Final = iow_int("E", 0x90)  # 0x40044590: 1 grabs the device for this fd alone, 0 releases it


def eviocgname(length: int) -> int:
    """``EVIOCGNAME(len)``: read the device's name into a buffer of ``length`` bytes."""
    return ioc(IOC_READ, "E", 0x06, length)


def eviocgsw(length: int) -> int:
    """``EVIOCGSW(len)``: read the state of every switch (a bit per SW_* code) into ``length`` bytes."""
    return ioc(IOC_READ, "E", 0x1B, length)


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One event as the kernel sends it: when (seconds and microseconds), its type, code and value."""

    sec: int
    usec: int
    type: int
    code: int
    value: int

    def timestamp(self) -> float:
        """The event's time in seconds (the kernel's clock: CLOCK_REALTIME unless a program set another)."""
        return self.sec + self.usec / 1_000_000

    def pack(self) -> bytes:
        """The event as the kernel writes it (and as /dev/uinput reads it)."""
        return _EVENT.pack(self.sec, self.usec, self.type, self.code, self.value)


def parse_events(data: bytes) -> tuple[list[InputEvent], bytes]:
    """The whole events at the start of ``data``, and the bytes of an event that is not complete yet."""
    whole = len(data) - len(data) % EVENT_SIZE
    events = [InputEvent(*fields) for fields in _EVENT.iter_unpack(data[:whole])]
    return events, data[whole:]
