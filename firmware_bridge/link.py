"""One link policy for every board driver: read retries, when a board counts as offline, when it is tried again."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from firmware_bridge.errors import BoardOffline

log = logging.getLogger(__name__)


class LinkState(enum.StrEnum):
    """What the transport knows about one board on the bus."""

    UNKNOWN = "unknown"  # never asked
    ONLINE = "online"
    OFFLINE = "offline"  # failed ``offline_after`` transactions in a row; only periodic probes go out


@dataclass(frozen=True)
class LinkPolicy:
    """Retry and offline rules of a bus."""

    read_retries: int = 2  # extra attempts for a query
    backoff_s: float = 0.05  # first pause before a retry; doubles per retry
    offline_after: int = 3  # consecutive failed transactions before a board is marked offline
    probe_interval_s: float = 5.0  # how often an offline board is tried again


LinkListener = Callable[[int, LinkState], None]


@dataclass
class _Link:
    state: LinkState = LinkState.UNKNOWN
    failures: int = 0
    last_attempt: float = float("-inf")


class BoardLinks:
    """The link state of each board on one bus, kept by the bus's ``LinkPolicy`` for every driver alike.

    Not locked itself: a driver calls it with its bus lock held, so a listener must not call back into the driver.
    """

    def __init__(
        self,
        label: str,
        policy: LinkPolicy | None = None,
        listener: LinkListener | None = None,
        boards: Iterable[int] = (),
    ) -> None:
        self.label = label  # how log lines and errors name the bus
        self.policy = policy or LinkPolicy()
        self._listener = listener
        self._links = {b: _Link() for b in boards}

    def state(self, board: int) -> LinkState:
        link = self._links.get(board)
        return LinkState.UNKNOWN if link is None else link.state

    def known(self) -> list[int]:
        """Every board that was named at the start or has been talked to."""
        return sorted(self._links)

    def begin(self, board: int, now: float, attempts: int, *, gated: bool = True, what: str = "") -> int:
        """Start a transaction: how many attempts it may make (one: the periodic probe of an offline board).

        Raises BoardOffline while an offline board waits for its next probe, unless ``gated`` is False (bus scans,
        commissioning, the safe state). The probe interval counts from the start of the last attempt.
        """
        link = self._links.setdefault(board, _Link())
        if gated and link.state is LinkState.OFFLINE:
            if now - link.last_attempt < self.policy.probe_interval_s:
                refused = f" ({what} refused)" if what else ""
                raise BoardOffline(f"{self.label}: board {board} is offline{refused}")
            attempts = 1
            log.info("%s: probing offline board %d", self.label, board)
        link.last_attempt = now
        return attempts

    def backoff_s(self, attempt: int) -> float:
        """The pause before retry ``attempt`` (1, 2, ...): doubles each time."""
        return self.policy.backoff_s * 2.0 ** (attempt - 1)

    def succeeded(self, board: int) -> None:
        link = self._links.setdefault(board, _Link())
        link.failures = 0
        if link.state is not LinkState.ONLINE:
            if link.state is LinkState.OFFLINE:
                log.warning("%s: board %d is back online", self.label, board)
            link.state = LinkState.ONLINE
            self._notify(board, link.state)

    def failed(self, board: int) -> None:
        """A transaction failed after all its attempts: ``offline_after`` of them in a row mark the board offline."""
        link = self._links.setdefault(board, _Link())
        link.failures += 1
        if link.state is not LinkState.OFFLINE and link.failures >= self.policy.offline_after:
            log.error("%s: board %d is offline after %d failures", self.label, board, link.failures)
            link.state = LinkState.OFFLINE
            self._notify(board, link.state)

    def _notify(self, board: int, state: LinkState) -> None:
        if self._listener is not None:
            self._listener(board, state)


class LinkRelay:
    """Forwards transport link changes to a bank that is built after its drivers."""

    def __init__(self) -> None:
        self._target: Callable[[str, int, LinkState], None] | None = None
        self._early: list[tuple[str, int, LinkState]] = []
        self._lock = threading.Lock()

    def listener(self, bus: str) -> LinkListener:
        def on_change(board: int, state: LinkState) -> None:
            with self._lock:
                target = self._target
                if target is None:
                    self._early.append((bus, board, state))
                    return
            target(bus, board, state)

        return on_change

    def attach(self, target: Callable[[str, int, LinkState], None]) -> None:
        with self._lock:
            self._target, early = target, self._early
            self._early = []
        for change in early:
            target(*change)
