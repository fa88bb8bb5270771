"""ScanHub: the one thread-safe stream of scans and scanner status changes that the flows consume."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from locker.ports import HeadsetChange, Scan, ScanEvent, ScannerState, StatusChange

__all__ = ["HubEvent", "ScanHub", "ScanSink", "ScannerState", "StatusChange", "Subscriber"]

log = logging.getLogger(__name__)


HubEvent = ScanEvent  # what the hub carries: the core's scan event types (locker.ports)
Subscriber = Callable[[HubEvent], None]


class ScanSink(Protocol):
    """Where scanners deliver what they read (ScanHub implements it)."""

    def publish(self, scan: Scan) -> None: ...

    def publish_status(self, change: StatusChange) -> None: ...


class ScanHub:
    """Fans scans and status changes out to subscribers and to a bounded pull queue.

    Scanners call ``publish``/``publish_status`` from their own threads. Consumers either subscribe a callback
    (called in the scanner's thread; an asyncio daemon wraps it with ``loop.call_soon_threadsafe``) or pull
    with ``get``. Events are queued for pulling while nobody subscribes, or always with ``pull=True`` (a station
    whose UI subscribes keeps no queue nobody reads). The pull queue is bounded: when nobody pulls, the oldest
    events are dropped and counted.
    """

    def __init__(self, max_queued: int = 64, *, pull: bool = False) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self._pull = pull
        self._cond = threading.Condition()
        self._queue: collections.deque[HubEvent] = collections.deque()
        self._max_queued = max_queued
        self._subscribers: list[Subscriber] = []
        self._states: dict[str, StatusChange] = {}
        self.dropped = 0
        self.subscriber_errors = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` for every future event; returns a function that unsubscribes it."""
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, scan: Scan) -> None:
        self._dispatch(scan)

    def publish_status(self, change: StatusChange) -> None:
        with self._cond:
            self._states[change.name] = change
        log.log(
            logging.WARNING if change.state is ScannerState.FAILED else logging.INFO,
            "scanner %s (%s) is %s%s",
            change.name,
            change.source,
            change.state,
            f": {change.reason}" if change.reason else "",
        )
        self._dispatch(change)

    def publish_headset(self, change: HeadsetChange) -> None:
        log.info("%s %s", change.name, "plugged in" if change.plugged else "pulled out")
        self._dispatch(change)

    def _dispatch(self, event: HubEvent) -> None:
        with self._cond:
            subscribers = list(self._subscribers)
            if self._pull or not subscribers:
                if len(self._queue) >= self._max_queued:
                    self._queue.popleft()
                    self.dropped += 1
                    log.warning("scan hub queue full: dropped the oldest event (%d dropped so far)", self.dropped)
                self._queue.append(event)
                self._cond.notify_all()
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a faulty consumer must not stop the scanner thread; counted and logged
                with self._cond:
                    self.subscriber_errors += 1
                log.exception("scan hub subscriber %r failed", callback)

    def get(self, timeout: float | None = None) -> HubEvent | None:
        """The oldest queued event, waiting up to ``timeout`` seconds; None if none arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._queue), timeout):
                return None
            return self._queue.popleft()

    def states(self) -> Mapping[str, StatusChange]:
        """The latest status change of every scanner that reported one (by scanner name)."""
        with self._cond:
            return dict(self._states)

    def state_of(self, name: str) -> ScannerState | None:
        with self._cond:
            change = self._states.get(name)
        return change.state if change else None
