"""systemd notification protocol (sd_notify): READY=1, WATCHDOG=1, STATUS=..., STOPPING=1 over $NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SdNotify:
    """Sends datagrams to the socket systemd names in ``NOTIFY_SOCKET``; a no-op when not run by systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + path[1:] if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        owned = not pid or (pid.isdigit() and int(pid) == os.getpid())
        self.watchdog_s: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and owned else None
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, message: str) -> bool:
        """Send one message; returns whether it went out (failures are logged and counted, never raised)."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(self.address)
                s.sendall(message.encode())
        except OSError as exc:
            self.failures += 1
            log.error("sd_notify %r failed: %s", message, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


class InProcessNotify(SdNotify):
    """No systemd (the demo, benchmarks): nothing is sent; ``up`` is set when the daemon reports READY."""

    def __init__(self) -> None:
        super().__init__(env={})
        self.up = threading.Event()

    def ready(self, status: str = "") -> bool:
        self.up.set()
        return super().ready(status)
