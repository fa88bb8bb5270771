"""The pure-Python input event reader: codes against the kernel header, the struct, the ioctls, reads from a pipe."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.linux_input import codes
from firmware_bridge.linux_input.device import InputDevice
from firmware_bridge.linux_input.errors import GrabFailed, InputDeviceError, NotAnInputDevice
from firmware_bridge.linux_input.events import (
    EVENT_SIZE,
    EVIOCGRAB,
    InputEvent,
    eviocgname,
    eviocgsw,
    ioc,
    parse_events,
)
from firmware_bridge.scanners.keymaps import KEYMAPS
from tests.scanners import virtual_keyboard

INCLUDE = Path("/usr/include/linux")
NO_HEADERS = "the kernel headers are not installed (Debian: apt-get install linux-libc-dev)"
COPIED = {name: getattr(codes, name) for name in dir(codes) if re.fullmatch(r"(EV|SYN|MSC|SW|KEY)_[A-Z0-9_]+", name)}


def _defines(header: Path) -> dict[str, str]:
    return dict(re.findall(r"^#define[ \t]+(\w+(?:\(\w+\))?)[ \t]+(.+?)\s*(?:/\*.*)?$", header.read_text(), re.M))


@pytest.mark.skipif(not (INCLUDE / "input-event-codes.h").exists(), reason=NO_HEADERS)
def test_every_copied_code_is_the_headers() -> None:
    defines = _defines(INCLUDE / "input-event-codes.h")
    header = {name: int(defines[name], 0) for name in COPIED if name in defines}
    assert header == COPIED
    assert {"EV_SYN", "EV_KEY", "EV_MSC", "EV_SW", "SYN_REPORT", "MSC_SCAN", "SW_HEADPHONE_INSERT"} <= set(COPIED)


def test_the_copied_codes_cover_every_key_the_keymaps_and_the_translator_use() -> None:
    used = {code for keymap in KEYMAPS.values() for code in (*keymap.keys, *keymap.altgr, *keymap.letters)}
    assert used <= set(COPIED.values())
    assert codes.key_name(codes.KEY_102ND) == "KEY_102ND"
    assert codes.key_name(codes.KEY_KPENTER) == "KEY_KPENTER"
    assert codes.key_name(999) == "999"


def test_the_copied_codes_equal_python_evdevs_where_it_is_installed() -> None:
    evdev = pytest.importorskip("evdev", reason="python-evdev is no dependency: the header test above is the check")
    assert {name: getattr(evdev.ecodes, name) for name in COPIED} == COPIED


def test_struct_input_event_is_native_timeval_then_type_code_value() -> None:
    assert EVENT_SIZE == struct.calcsize("llHHi") == (24 if struct.calcsize("l") == 8 else 16)
    event = InputEvent(1_700_000_000, 250_000, codes.EV_KEY, codes.KEY_A, -5)
    raw = event.pack()
    word = struct.calcsize("l")
    assert raw[:word] == (1_700_000_000).to_bytes(word, sys.byteorder)
    assert raw[word : 2 * word] == (250_000).to_bytes(word, sys.byteorder)
    assert raw[2 * word :] == b"".join(
        (
            codes.EV_KEY.to_bytes(2, sys.byteorder),
            codes.KEY_A.to_bytes(2, sys.byteorder),
            (-5).to_bytes(4, sys.byteorder, signed=True),
        )
    )
    assert parse_events(raw + raw[:5]) == ([event], raw[:5])
    assert event.timestamp() == 1_700_000_000.25


def test_the_ioctl_numbers_are_the_kernels() -> None:
    # The numbers as the C headers give them on aarch64 and x86-64 (checked with gcc against linux-libc-dev 6.1).
    assert EVIOCGRAB == 0x40044590
    assert eviocgname(256) == 0x81004506
    assert eviocgsw(3) == 0x8003451B
    assert virtual_keyboard.SETUP.size == 92
    assert (virtual_keyboard.UI_DEV_CREATE, virtual_keyboard.UI_DEV_DESTROY) == (0x5501, 0x5502)
    assert virtual_keyboard.UI_DEV_SETUP == 0x405C5503
    assert (virtual_keyboard.UI_SET_EVBIT, virtual_keyboard.UI_SET_KEYBIT) == (0x40045564, 0x40045565)
    assert virtual_keyboard.ui_get_sysname(64) == 0x8040552C
    with pytest.raises(ValueError, match="14 bits"):
        ioc(2, "E", 6, 1 << 14)


@pytest.mark.skipif(not (INCLUDE / "input.h").exists(), reason=NO_HEADERS)
def test_the_headers_define_the_ioctls_as_copied() -> None:
    compact = {name: value.replace(" ", "") for name, value in _defines(INCLUDE / "input.h").items()}
    assert compact["EVIOCGRAB"] == "_IOW('E',0x90,int)"
    assert compact["EVIOCGNAME(len)"] == "_IOC(_IOC_READ,'E',0x06,len)"
    assert compact["EVIOCGSW(len)"] == "_IOC(_IOC_READ,'E',0x1b,len)"
    uinput = {name: value.replace(" ", "") for name, value in _defines(INCLUDE / "uinput.h").items()}
    assert uinput["UI_DEV_SETUP"] == "_IOW(UINPUT_IOCTL_BASE,3,structuinput_setup)"
    assert uinput["UI_SET_KEYBIT"] == "_IOW(UINPUT_IOCTL_BASE,101,int)"
    assert uinput["UI_GET_SYSNAME(len)"] == "_IOC(_IOC_READ,UINPUT_IOCTL_BASE,44,len)"


@pytest.fixture
def pipe() -> Iterator[tuple[InputDevice, int]]:
    read_end, write_end = os.pipe()
    device = InputDevice(read_end, "/dev/input/event-pipe", name="pipe")
    yield device, write_end
    device.close()
    with contextlib.suppress(OSError):  # unless the test closed it
        os.close(write_end)


def test_events_written_to_the_fd_are_read_whole_even_when_split(pipe: tuple[InputDevice, int]) -> None:
    device, write_end = pipe
    events = [InputEvent(5, i, codes.EV_KEY, codes.KEY_A + i, 1) for i in range(3)]
    raw = b"".join(event.pack() for event in events)
    os.write(write_end, raw[: EVENT_SIZE + 7])
    assert device.read(1.0) == events[:1]
    os.write(write_end, raw[EVENT_SIZE + 7 :])
    assert device.read(1.0) == events[1:]


def test_a_read_with_nothing_to_read_returns_nothing_after_its_timeout(pipe: tuple[InputDevice, int]) -> None:
    device, _ = pipe
    started = time.monotonic()
    assert device.read(0.05) == []
    assert 0.04 <= time.monotonic() - started < 5


def test_a_device_that_goes_away_raises_with_the_reason(pipe: tuple[InputDevice, int], tmp_path: Path) -> None:
    device, write_end = pipe
    os.close(write_end)
    with pytest.raises(InputDeviceError, match="end of file") as gone:
        device.read(1.0)
    assert gone.value.errno == errno.ENODEV
    unreadable = InputDevice(os.open(tmp_path, os.O_RDONLY), str(tmp_path))
    try:
        with pytest.raises(InputDeviceError, match=r"cannot read .*\[Errno 21\] Is a directory") as failed:
            unreadable.read(1.0)
        assert failed.value.errno == errno.EISDIR
    finally:
        unreadable.close()
    with pytest.raises(InputDeviceError, match="is closed"):
        unreadable.read(0.0)


def test_a_grab_that_the_kernel_refuses_raises_never_passes(pipe: tuple[InputDevice, int]) -> None:
    device, _ = pipe
    with pytest.raises(GrabFailed, match=r"cannot grab /dev/input/event-pipe \(EVIOCGRAB\): \[Errno 25\]") as refused:
        device.grab()
    assert refused.value.errno == errno.ENOTTY
    with pytest.raises(InputDeviceError, match="cannot release the grab"):
        device.ungrab()


def test_opening_what_is_not_an_input_device_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputDeviceError, match=r"cannot open .*/missing: \[Errno 2\]") as missing:
        InputDevice.open(str(tmp_path / "missing"))
    assert missing.value.errno == errno.ENOENT
    with pytest.raises(NotAnInputDevice, match=r"/dev/null is no input event device \(EVIOCGNAME: \[Errno 25\]"):
        InputDevice.open("/dev/null")
