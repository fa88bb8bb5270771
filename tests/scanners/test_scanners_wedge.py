"""Keyboard-wedge scanners: real evdev InputEvents through the translator, the grabbed reader loop, uinput."""

from __future__ import annotations

import os
import threading
import time
import typing
from pathlib import Path
from typing import cast

import evdev
import pytest
from evdev import InputEvent, ecodes

from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.hub import ScanHub, ScannerState, StatusChange
from firmware_bridge.scanners.keymaps import KEYMAPS, Keymap, keymap_named
from firmware_bridge.scanners.wedge import KeyTranslator, WedgeScanner
from locker.clock import SystemClock
from locker.ports import Scan, ScanSource

e = ecodes
PAYLOAD = "WB1:Zy7-0a9Q_x;Q"


def _inverse(keymap: Keymap) -> dict[str, tuple[int, bool]]:
    inverse: dict[str, tuple[int, bool]] = {}
    for code, (plain, shifted) in keymap.keys.items():
        if code in range(e.KEY_KP7, e.KEY_KPDOT + 1) or code in (e.KEY_KPSLASH, e.KEY_KPASTERISK):
            continue  # prefer the main block, as scanners do
        inverse.setdefault(plain, (code, False))
        inverse.setdefault(shifted, (code, True))
    return inverse


def key_events(text: str, keymap: Keymap, start: float = 1000.0, step: float = 0.002) -> list[InputEvent]:
    """What a wedge scanner sends for ``text`` on ``keymap``: Shift around shifted characters, then Enter."""
    inverse = _inverse(keymap)
    events: list[InputEvent] = []
    t = start

    def emit(code: int, value: int) -> None:
        nonlocal t
        sec, usec = int(t), round((t % 1) * 1_000_000)
        events.append(InputEvent(sec, usec, e.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, e.EV_SYN, e.SYN_REPORT, 0))
        t += step

    for char in text:
        code, shift = inverse[char]
        if shift:
            emit(e.KEY_LEFTSHIFT, 1)
        emit(code, 1)
        emit(code, 0)
        if shift:
            emit(e.KEY_LEFTSHIFT, 0)
    emit(e.KEY_ENTER, 1)
    emit(e.KEY_ENTER, 0)
    return events


def feed_all(translator: KeyTranslator, events: list[InputEvent]) -> list[str]:
    return [text for event in events if (text := translator.feed(event)) is not None]


@pytest.mark.parametrize("layout", ["us", "de"])
def test_a_payload_typed_on_each_layout_reads_back(layout: str) -> None:
    keymap = keymap_named(layout)
    assert feed_all(KeyTranslator(keymap), key_events(PAYLOAD, keymap)) == [PAYLOAD]


def test_colon_and_dash_come_from_different_keys_on_us_and_de() -> None:
    def one(keymap: Keymap, code: int, shift: bool) -> str:
        events = [InputEvent(1, 0, e.EV_KEY, e.KEY_LEFTSHIFT, 1)] if shift else []
        events += [InputEvent(1, 0, e.EV_KEY, code, 1), InputEvent(1, 0, e.EV_KEY, code, 0)]
        events += [InputEvent(1, 0, e.EV_KEY, e.KEY_LEFTSHIFT, 0)] if shift else []
        events += [InputEvent(1, 0, e.EV_KEY, e.KEY_ENTER, 1)]
        return feed_all(KeyTranslator(keymap), events)[0]

    us, de = KEYMAPS["us"], KEYMAPS["de"]
    assert one(us, e.KEY_SEMICOLON, True) == ":"
    assert one(de, e.KEY_DOT, True) == ":"
    assert one(us, e.KEY_MINUS, False) == "-"
    assert one(de, e.KEY_SLASH, False) == "-"
    assert one(de, e.KEY_Y, False) == "z"
    # The German scanner's ':' read with the US map is '>' — why the keymap must match the scanner's setting.
    assert one(us, e.KEY_DOT, True) == ">"


def test_altgr_and_caps_lock_on_the_german_layout() -> None:
    events = [
        InputEvent(1, 0, e.EV_KEY, e.KEY_RIGHTALT, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_Q, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_RIGHTALT, 0),
        InputEvent(1, 0, e.EV_KEY, e.KEY_CAPSLOCK, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_A, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_1, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_KPENTER, 1),
    ]
    assert feed_all(KeyTranslator(KEYMAPS["de"]), events) == ["@A1"]


def test_a_stale_partial_payload_is_discarded_and_unknown_keys_counted() -> None:
    translator = KeyTranslator(KEYMAPS["us"], idle_reset_s=0.5)
    first = key_events("CUT", KEYMAPS["us"], start=10.0)[:-4]  # cut off before Enter
    second = key_events("WB1:OK", KEYMAPS["us"], start=20.0)
    noise = [InputEvent(20, 500000, e.EV_KEY, e.KEY_F5, 1)]
    assert feed_all(translator, first + second[:4] + noise + second[4:]) == ["WB1:OK"]
    assert translator.discarded == 1
    assert translator.unknown_keys == 1


def test_an_overlong_payload_is_dropped_up_to_its_enter() -> None:
    translator = KeyTranslator(KEYMAPS["us"], max_length=5)
    events = key_events("ABCDEFGH", KEYMAPS["us"], start=1.0) + key_events("OK", KEYMAPS["us"], start=1.1)
    assert feed_all(translator, events) == ["OK"]
    assert translator.discarded == 1


def test_enter_alone_and_non_key_events_give_nothing() -> None:
    translator = KeyTranslator()
    events = [
        InputEvent(1, 0, e.EV_MSC, e.MSC_SCAN, 458792),
        InputEvent(1, 0, e.EV_KEY, e.KEY_ENTER, 1),
        InputEvent(1, 0, e.EV_KEY, e.KEY_A, 2),  # autorepeat is not a new key press
    ]
    assert feed_all(translator, events) == []


def test_unknown_keymap_is_a_config_error() -> None:
    with pytest.raises(ScannerConfigError, match="unknown keymap 'fr'"):
        keymap_named("fr")


EventT = typing.TypeVar("EventT", Scan, StatusChange)


class _FakeDevice:
    """An input device on a pipe: its fd becomes readable when events are queued; unplugging breaks reads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "fake wedge"
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.events: list[InputEvent] = []
        self.grabbed = False
        self.unplugged = False
        self.closed = False
        self._lock = threading.Lock()

    def queue(self, events: list[InputEvent]) -> None:
        with self._lock:
            self.events.extend(events)
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b"x")

    def read(self) -> list[InputEvent]:
        os.read(self._r, 4096)
        if self.unplugged:
            raise OSError(19, "No such device")
        with self._lock:
            events, self.events = self.events, []
        return events

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        os.close(self._r)
        os.close(self._w)


def _next(hub: ScanHub, kind: type[EventT], timeout: float = 20.0) -> EventT:
    """The next event of type ``kind``, as soon as it comes (``timeout`` is a deadline for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = hub.get(timeout=0.05)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def test_wedge_scanner_grabs_reads_and_survives_unplugging() -> None:
    devices: list[_FakeDevice] = []
    present = threading.Event()
    present.set()

    def factory(path: str) -> evdev.InputDevice[str]:
        if not present.is_set():
            raise FileNotFoundError(2, "No such file or directory", path)
        devices.append(_FakeDevice(path))
        return cast("evdev.InputDevice[str]", devices[-1])

    hub = ScanHub()
    scanner = WedgeScanner(
        "/dev/input/by-id/usb-scanner-event-kbd",
        hub,
        SystemClock(),
        keymap=KEYMAPS["de"],
        reopen_initial_s=0.01,
        reopen_max_s=0.05,
        device_factory=factory,
    )
    with scanner:
        opened = _next(hub, StatusChange)
        assert (opened.source, opened.name, opened.state, opened.reason) == (
            ScanSource.WEDGE,
            "wedge",
            ScannerState.OK,
            "device open",
        )
        assert devices[0].grabbed
        devices[0].queue(key_events(PAYLOAD, KEYMAPS["de"]))
        scan = _next(hub, Scan)
        assert isinstance(scan, Scan)
        assert (scan.text, scan.source) == (PAYLOAD, ScanSource.WEDGE)

        present.clear()
        devices[0].unplug()
        failed = _next(hub, StatusChange)
        assert isinstance(failed, StatusChange)
        assert failed.state is ScannerState.FAILED
        assert "No such device" in failed.reason
        assert devices[0].closed

        present.set()
        assert _next(hub, StatusChange).state is ScannerState.OK
        devices[-1].queue(key_events("WB1:again", KEYMAPS["de"]))
        assert _next(hub, Scan).text == "WB1:again"


@pytest.mark.skipif(
    not os.path.exists("/dev/uinput"),
    reason="/dev/uinput is not available (no uinput kernel module in this container); "
    "the reader loop is covered with a fake device and the translator with real InputEvents",
)
def test_end_to_end_through_a_virtual_uinput_keyboard(tmp_path: Path) -> None:  # pragma: no cover - needs uinput
    keymap = KEYMAPS["us"]
    keys = sorted({code for code in keymap.keys} | {e.KEY_LEFTSHIFT, e.KEY_ENTER})
    with evdev.UInput({e.EV_KEY: keys}, name="wibox-test-wedge") as ui:
        time.sleep(0.3)  # udev creates the event node
        path = os.fsdecode(ui.device.path)
        hub = ScanHub()
        with WedgeScanner(path, hub, SystemClock(), keymap=keymap):
            assert _next(hub, StatusChange).state is ScannerState.OK
            for event in key_events(PAYLOAD, keymap):
                if event.type == e.EV_KEY:
                    ui.write(e.EV_KEY, event.code, event.value)
                    ui.syn()
            scan = _next(hub, Scan)
        assert scan.text == PAYLOAD


def test_the_cli_offers_exactly_the_keymaps_that_exist() -> None:
    from firmware_bridge.scanners.defaults import KEYMAP_NAMES

    assert tuple(KEYMAPS) == KEYMAP_NAMES
