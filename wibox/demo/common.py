"""What the demo's parts share: names and accounts, the clock both sides use, waiting, listening sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from locker.clock import SystemClock
from locker.errors import LockerError
from locker.files import write_atomic

DEVICE = "demo-1"
CITY = "demo"
PLATFORM_ADMIN = ("platform", "platform-demo-password")
CITY_ADMIN = ("demo-admin", "city-demo-password")
STAFF = (("ANNA-01", "246810"), ("BERT-02", "135790"))
POLL_S = 2.0  # the kiosk syncs every two seconds in the demo (30 s in production)
MARKER = ".wibox-demo"  # a data folder is only ever wiped when it carries this file


class DemoError(LockerError):
    """The demo could not be set up (a port in use, a folder that is not a demo folder, a step that timed out)."""


class DemoClock(SystemClock):
    """Wall time plus an offset the scenario moves forward; the kiosk and the hub share one, so they agree."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = 0.0

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._offset += seconds

    def now(self) -> float:
        return max(time.time() + self._offset, self.floor)


def poll(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done()`` (blocking) until it holds or ``timeout`` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_for(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Like ``poll``, but a DemoError naming ``what`` when it does not hold in time."""
    if not poll(done, timeout):
        raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (mode 0600), replacing it atomically: the demo's files hold codes."""
    write_atomic(path, data, 0o600)  # readers never see half a file


def listen(port: int) -> socket.socket:
    """A listening socket on loopback (port 0: any free port); a clear error when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise DemoError(
            f"port {port} on 127.0.0.1 is in use ({exc.strerror}); choose another one (--kiosk-port, --hub-port)"
        ) from exc
    sock.listen(128)
    return sock
