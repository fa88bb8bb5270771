"""The kiosk's sync as a daemon service: enroll once (code in the journal and on the staff screen), then sync."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from backend_sync.client import SyncClient
from locker.errors import LockerError

log = logging.getLogger(__name__)

ENROLL_POLL_S = 10.0


class SyncService:
    """Runs a SyncClient in its own thread. Until the hub's keys are pinned it enrolls: it asks the hub once,
    reports the one-time code (``on_code``; the daemon logs it) for an admin to enter at the hub, and polls."""

    def __init__(
        self,
        client: SyncClient,
        on_code: Callable[[str], None] | None = None,
        on_enrolled: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.on_code = on_code or (lambda code: log.warning("enrollment code for the hub admin: %s", code))
        self.on_enrolled = on_enrolled or (lambda: None)
        self.code: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enrolled(self) -> bool:
        return bool(self.client.flows.bundle.hub_keys())

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.close()

    def enroll_step(self) -> bool:
        """One enrollment attempt; returns True once approved (hub keys pinned). Failures are logged.

        The first step asks the hub, which answers with the code to show; later steps poll. A request the hub
        no longer holds (dropped, or the kiosk's keys revoked) is asked again at the next step, with a new code.
        """
        try:
            if self.code is None:
                enrollment = self.client.enroll()
                self.code = enrollment.code
                log.warning("enrollment requested; the admin sees key %s at approval", enrollment.key_fingerprint)
                self.on_code(enrollment.code)
            status = self.client.poll_enrollment()
        except LockerError as exc:
            log.warning("enrollment: %s", exc)
            return False
        if status == "approved":
            log.info("enrolled at the hub")
            self.on_enrolled()
            return True
        if status != "pending":
            log.warning("enrollment %s at the hub; asking again", status)
            self.code = None
        return False

    def _run(self) -> None:
        while not self.enrolled and not self._stop.is_set():
            if self.enroll_step():
                break
            self._stop.wait(ENROLL_POLL_S)
        if not self._stop.is_set():
            self.client.run_forever(self._stop)
