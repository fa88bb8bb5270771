"""Keyboard-wedge scanners: key events through the translator, the reader loop on a pipe, a uinput keyboard."""

from __future__ import annotations

import os
import threading
import time
import typing
from collections.abc import Iterator

import pytest

from firmware_bridge.linux_input import codes
from firmware_bridge.linux_input.device import InputDevice
from firmware_bridge.linux_input.errors import GrabFailed
from firmware_bridge.linux_input.events import InputEvent
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.hub import ScanHub, ScannerState, StatusChange
from firmware_bridge.scanners.keymaps import KEYMAPS, Keymap, keymap_named
from firmware_bridge.scanners.wedge import KeyTranslator, WedgeScanner
from locker.clock import SystemClock
from locker.ports import Scan, ScanSource
from tests.scanners.virtual_keyboard import UINPUT, VirtualKeyboard

e = codes
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
    noise = [InputEvent(20, 500000, e.EV_KEY, e.KEY_102ND, 1)]  # the ISO key: not on the US layout
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
DEVICE = "/dev/input/by-id/usb-scanner-event-kbd"


class _PipeWedge:
    """A wedge scanner's event device on a pipe: the real InputDevice reads the packed events the test writes."""

    def __init__(self, path: str) -> None:
        read_end, self._write_end = os.pipe()
        self.device = InputDevice(read_end, path, name="pipe wedge")
        self.unplugged = False

    def send(self, events: list[InputEvent]) -> None:
        os.write(self._write_end, b"".join(event.pack() for event in events))

    def unplug(self) -> None:
        """The reader sees end of file, as a gone device's reader sees ENODEV."""
        if not self.unplugged:
            self.unplugged = True
            os.close(self._write_end)


@pytest.fixture
def pipe_wedges() -> Iterator[list[_PipeWedge]]:
    wedges: list[_PipeWedge] = []
    yield wedges
    for wedge in wedges:
        wedge.unplug()


def _next(hub: ScanHub, kind: type[EventT], timeout: float = 20.0) -> EventT:
    """The next event of type ``kind``, as soon as it comes (``timeout`` is a deadline for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = hub.get(timeout=0.05)
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def test_wedge_scanner_reads_a_device_and_survives_unplugging(pipe_wedges: list[_PipeWedge]) -> None:
    present = threading.Event()
    present.set()

    def factory(path: str) -> InputDevice:
        if not present.is_set():
            return InputDevice.open(path)  # the real open of a path that is not there
        pipe_wedges.append(_PipeWedge(path))
        return pipe_wedges[-1].device

    hub = ScanHub()
    scanner = WedgeScanner(
        "/nonexistent/usb-scanner-event-kbd",
        hub,
        SystemClock(),
        keymap=KEYMAPS["de"],
        grab=False,  # a pipe cannot be grabbed: the grab has its own tests below
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
        pipe_wedges[0].send(key_events(PAYLOAD, KEYMAPS["de"]))
        scan = _next(hub, Scan)
        assert isinstance(scan, Scan)
        assert (scan.text, scan.source) == (PAYLOAD, ScanSource.WEDGE)

        present.clear()
        pipe_wedges[0].unplug()
        failed = _next(hub, StatusChange)
        assert failed.state is ScannerState.FAILED
        assert failed.reason.startswith("read failed: cannot read /nonexistent/usb-scanner-event-kbd: end of file")
        assert pipe_wedges[0].device.closed
        deadline = time.monotonic() + 20
        while scanner.failures < 2 and time.monotonic() < deadline:  # it tries the missing path again
            time.sleep(0.01)
        assert scanner.failures >= 2

        present.set()
        assert _next(hub, StatusChange).state is ScannerState.OK
        pipe_wedges[-1].send(key_events("WB1:again", KEYMAPS["de"]))
        assert _next(hub, Scan).text == "WB1:again"


def test_a_refused_grab_is_a_failed_open_reported_with_its_reason(pipe_wedges: list[_PipeWedge]) -> None:
    def factory(path: str) -> InputDevice:
        pipe_wedges.append(_PipeWedge(path))
        return pipe_wedges[-1].device

    hub = ScanHub()
    scanner = WedgeScanner(DEVICE, hub, SystemClock(), reopen_initial_s=0.01, reopen_max_s=0.05, device_factory=factory)
    with scanner:
        failed = _next(hub, StatusChange)
        deadline = time.monotonic() + 20
        while len(pipe_wedges) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert failed.state is ScannerState.FAILED
    assert failed.reason.startswith(f"cannot open: cannot grab {DEVICE} (EVIOCGRAB): [Errno 25] ")
    assert len(pipe_wedges) >= 3, "the scanner tries again"
    assert all(wedge.device.closed for wedge in pipe_wedges), "a device it could not grab is closed, not read"
    assert scanner.state is ScannerState.FAILED
    assert scanner.scans_reported == 0


@pytest.fixture
def keyboard() -> Iterator[VirtualKeyboard]:
    if not os.path.exists(UINPUT):
        pytest.skip(
            f"{UINPUT} is not available (no uinput kernel module in this container): the grab on a real input "
            "device is not tested here; the reader loop is, on a pipe, and the translator with packed events"
        )
    keys = sorted({*KEYMAPS["us"].keys, e.KEY_LEFTSHIFT, e.KEY_ENTER})
    with VirtualKeyboard("wibox-test-wedge", keys) as made:
        yield made


def test_the_grab_takes_a_real_device_for_one_reader_alone(keyboard: VirtualKeyboard) -> None:  # pragma: no cover
    path = keyboard.event_path()
    first, second = InputDevice.open(path), InputDevice.open(path)
    try:
        assert first.name == second.name == "wibox-test-wedge"
        first.grab()
        with pytest.raises(GrabFailed, match=r"\[Errno 16\] .*another program has grabbed it") as refused:
            second.grab()
        assert refused.value.errno == 16
        keyboard.key(e.KEY_A, 1)
        assert [(ev.type, ev.code, ev.value) for ev in first.read(2.0)][:1] == [(e.EV_KEY, e.KEY_A, 1)]
        assert second.read(0.2) == [], "a grabbed device's events reach no other reader"
        first.ungrab()
        second.grab()  # released: another reader may take it
        second.ungrab()
    finally:
        first.close()
        second.close()


def test_end_to_end_through_a_virtual_uinput_keyboard(keyboard: VirtualKeyboard) -> None:  # pragma: no cover
    keymap = KEYMAPS["us"]
    path = keyboard.event_path()
    hub = ScanHub()
    with WedgeScanner(path, hub, SystemClock(), keymap=keymap):
        assert _next(hub, StatusChange).state is ScannerState.OK
        other = InputDevice.open(path)
        try:
            with pytest.raises(GrabFailed):
                other.grab()  # the scanner holds it
            for event in key_events(PAYLOAD, keymap):
                if event.type == e.EV_KEY:
                    keyboard.key(event.code, event.value)
            assert _next(hub, Scan).text == PAYLOAD
            assert other.read(0.2) == []
        finally:
            other.close()
    after = InputDevice.open(path)
    try:
        after.grab()  # the stopped scanner let it go
    finally:
        after.close()


def test_the_cli_offers_exactly_the_keymaps_that_exist() -> None:
    from firmware_bridge.scanners.defaults import KEYMAP_NAMES

    assert tuple(KEYMAPS) == KEYMAP_NAMES
