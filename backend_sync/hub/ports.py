"""Interfaces the hub core needs from the city-facing side: the notifier (e-mail, letters) and the mailer."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from typing import Protocol


class Notifier(Protocol):
    """Told once per order when the kiosk reports the document stored (the citizen may now be notified), and when
    a stored order got new codes (the citizen gets a new notice)."""

    def notify_stored(self, order_id: str) -> None: ...

    def notify_reissued(self, order_id: str) -> None: ...


class Mailer(Protocol):
    """Sends one e-mail (the SMTP implementation lives with the notices module)."""

    def send(self, message: EmailMessage) -> None: ...


class RecordingNotifier:
    """The default notifier: records the calls (tests, a hub without notices configured)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stored: list[str] = []
        self.reissued: list[str] = []

    def notify_stored(self, order_id: str) -> None:
        with self._lock:
            self.stored.append(order_id)

    def notify_reissued(self, order_id: str) -> None:
        with self._lock:
            self.reissued.append(order_id)
