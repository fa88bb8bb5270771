"""USB 2D scanners in keyboard-wedge mode, read from their input event device, grabbed from the desktop."""

from __future__ import annotations

import logging
from collections.abc import Callable

from firmware_bridge.linux_input import codes
from firmware_bridge.linux_input.device import InputDevice
from firmware_bridge.linux_input.errors import InputDeviceError
from firmware_bridge.linux_input.events import InputEvent
from firmware_bridge.scanners.device_loop import POLL_S, DeviceReader
from firmware_bridge.scanners.hub import ScanSink
from firmware_bridge.scanners.keymaps import KEYMAPS, Keymap
from locker.ports import Clock, ScanSource

log = logging.getLogger(__name__)

KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2
_SHIFTS = frozenset({codes.KEY_LEFTSHIFT, codes.KEY_RIGHTSHIFT})
_CTRLS = frozenset({codes.KEY_LEFTCTRL, codes.KEY_RIGHTCTRL, codes.KEY_LEFTALT})
_ENTERS = frozenset({codes.KEY_ENTER, codes.KEY_KPENTER})


class KeyTranslator:
    """Turns key events into payloads: characters by the keymap, Shift/AltGr/Caps Lock, Enter ends one.

    A partial payload older than ``idle_reset_s`` (by the events' own timestamps) is discarded: the rest of
    a scan that was cut off must not be glued to the next one. Keys the map lacks are counted and logged.
    """

    def __init__(self, keymap: Keymap = KEYMAPS["us"], idle_reset_s: float = 1.0, max_length: int = 4096) -> None:
        self.keymap = keymap
        self._idle_reset_s = idle_reset_s
        self._max_length = max_length
        self._buffer: list[str] = []
        self._last_at: float | None = None
        self._shift: set[int] = set()
        self._altgr = False
        self._ctrl: set[int] = set()
        self._caps = False
        self._skipping = False  # after an overlong payload: drop keys up to the next Enter
        self.unknown_keys = 0
        self.discarded = 0

    def feed(self, event: InputEvent) -> str | None:
        """Take one input event; returns the payload when it was ended by Enter."""
        if event.type != codes.EV_KEY:
            return None
        code, value = event.code, event.value
        if self._track_modifier(code, value):
            return None
        if value != KEY_DOWN:
            return None
        at = event.timestamp()
        if self._last_at is not None and at - self._last_at > self._idle_reset_s:
            if self._buffer:
                self._discard("idle gap inside a payload", skip_rest=False)
            self._skipping = False  # a new payload starts after a pause
        self._last_at = at
        if code == codes.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in _ENTERS:
            text, self._buffer = "".join(self._buffer), []
            skipped, self._skipping = self._skipping, False
            return None if skipped else (text or None)
        if self._skipping:
            return None
        char = (
            None if self._ctrl else self.keymap.char(code, shift=bool(self._shift), altgr=self._altgr, caps=self._caps)
        )
        if char is None:
            self.unknown_keys += 1
            log.warning("wedge: key %s has no character in keymap %s", codes.key_name(code), self.keymap.name)
            return None
        self._buffer.append(char)
        if len(self._buffer) > self._max_length:
            self._discard(f"longer than {self._max_length} characters without Enter", skip_rest=True)
        return None

    def _track_modifier(self, code: int, value: int) -> bool:
        down = value != KEY_UP
        if code in _SHIFTS:
            (self._shift.add if down else self._shift.discard)(code)
        elif code == codes.KEY_RIGHTALT:
            self._altgr = down
        elif code in _CTRLS:
            (self._ctrl.add if down else self._ctrl.discard)(code)
        else:
            return False
        return True

    def _discard(self, why: str, *, skip_rest: bool) -> None:
        self.discarded += 1
        log.warning("wedge: discarded a partial payload of %d characters: %s", len(self._buffer), why)
        self._buffer = []
        self._skipping = skip_rest


DeviceFactory = Callable[[str], InputDevice]


class WedgeScanner(DeviceReader[InputDevice]):
    """Reads a keyboard-wedge scanner at ``path`` (e.g. /dev/input/by-id/...-event-kbd), grabbed exclusively."""

    source = ScanSource.WEDGE

    def __init__(
        self,
        path: str,
        sink: ScanSink,
        clock: Clock,
        *,
        keymap: Keymap = KEYMAPS["us"],
        name: str = "wedge",
        grab: bool = True,
        dedup_s: float = 0.0,
        reopen_initial_s: float = 0.5,
        reopen_max_s: float = 10.0,
        device_factory: DeviceFactory = InputDevice.open,
    ) -> None:
        super().__init__(
            name, sink, clock, dedup_s=dedup_s, reopen_initial_s=reopen_initial_s, reopen_max_s=reopen_max_s
        )
        self.path = path
        self.translator = KeyTranslator(keymap)
        self._grab = grab
        self._device_factory = device_factory

    def _open(self) -> InputDevice:
        device = self._device_factory(self.path)
        if self._grab:
            try:
                device.grab()  # keystrokes go to us only, never to the kiosk browser; a refusal is a failed open
            except BaseException:
                device.close()
                raise
        log.info("wedge scanner %s: %s (%s) open, grabbed=%s", self.name, device.name, self.path, self._grab)
        return device

    def _read_payloads(self, handle: InputDevice) -> list[str]:
        payloads = []
        for event in handle.read(POLL_S):
            text = self.translator.feed(event)
            if text is not None:
                payloads.append(text)
        return payloads

    def _close(self, handle: InputDevice) -> None:
        if self._grab:
            try:
                handle.ungrab()
            except InputDeviceError as exc:  # already gone when unplugged; closing releases the grab anyway
                log.debug("wedge scanner %s: ungrab failed: %r", self.name, exc)
        handle.close()
