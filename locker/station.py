"""The one owner of the station's state: every flow runs on its worker thread; screens read on their own connection."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from locker.config import StationConfig
from locker.errors import LockerError
from locker.flows import Flows
from locker.model import AlarmKind, Compartment, CompartmentState, Order
from locker.ports import Clock
from locker.store import Store

T = TypeVar("T")
_OUT = (CompartmentState.DISABLED, CompartmentState.FAULTY)
log = logging.getLogger(__name__)


class StationClosed(LockerError):
    """The station's worker has stopped: no flow runs any more (the process is shutting down)."""


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_Job = tuple[Callable[[Flows], object], Future[object]]


class Station:
    """Runs every call into the flows on one worker thread, in the order submitted: from the event loop
    ``await station.run(fn)``, from any other thread ``station.submit(fn)`` (a Future) or ``station.call(fn)`` (waits).
    A call made on the worker itself (a flow job asking for another) runs at once. Screens read compartments and
    alarms through ``reads`` (a Store on a read-only connection), so a door cycle on the worker does not hold them up.
    """

    def __init__(
        self,
        flows: Flows,
        config: StationConfig,
        clock: Clock,
        *,
        reads: Store | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.flows = flows
        self.config = config
        self.clock = clock
        self.reads = reads or flows.ctx.store
        # A test rig passes the lock its own direct flow calls take; the worker holds it for every job.
        self._lock = lock or threading.RLock()
        self.maintenance = False  # set by a remote command: the start screen says "out of service"
        # While the station waits for an admin at the hub to approve it, the start screen shows this code.
        self.enrollment_code: str | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="station-worker", daemon=True)
        self._worker.start()

    # -- the worker --------------------------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with self._lock:
                    result = fn(self.flows)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who reports it; the worker goes on
                future.set_exception(exc)
            else:
                future.set_result(result)

    def on_worker(self) -> bool:
        return threading.current_thread() is self._worker

    def submit(self, fn: Callable[[Flows], T]) -> Future[T]:
        """Queue ``fn(flows)`` for the worker; raises StationClosed after ``close()``."""
        future: Future[T] = Future()
        with self._close_lock:
            if self._closed:
                raise StationClosed("the station is shut down")
            self._jobs.put((fn, future))  # type: ignore[arg-type]
        return future

    def call(self, fn: Callable[[Flows], T]) -> T:
        """Run ``fn(flows)`` on the worker and wait for it (at once when already on the worker). Refused on a
        thread that runs an event loop: waiting there would stall the loop for a whole door cycle (use ``run``)."""
        if self.on_worker():
            return fn(self.flows)
        if _in_event_loop():
            raise RuntimeError("Station.call on an event loop's thread would block the loop: await station.run()")
        return self.submit(fn).result()

    def execute(self, fn: Callable[[], T]) -> T:
        """``call`` for a function that needs no flows argument (e.g. the sync client's bundle apply)."""
        return self.call(lambda _flows: fn())

    async def run(self, fn: Callable[[Flows], T]) -> T:
        """From the event loop: run ``fn(flows)`` on the worker without blocking the loop."""
        return await asyncio.wrap_future(self.submit(fn))

    def close(self, timeout: float = 30.0) -> None:
        """Finish the jobs already queued, then stop the worker (idempotent)."""
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
        if not self.on_worker():
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.error("the station worker did not stop within %.0f s (a flow is still running)", timeout)

    # -- what screens read (never through the worker) ---------------------------------------------------
    def compartments(self) -> list[Compartment]:
        return self.reads.compartments()

    def compartment(self, number: int) -> Compartment:
        return self.reads.compartment(number)

    def order(self, order_id: str) -> Order | None:
        return self.reads.order(order_id)

    def alarms(self) -> list[tuple[AlarmKind, int | None, str, float]]:
        return self.reads.open_alarms()

    def camera_failed(self) -> bool:
        return any(kind == AlarmKind.SCANNER_FAILED for kind, _c, _b, _t in self.alarms())

    def out_of_service(self) -> bool:
        """Maintenance mode, no compartment can be opened (all out of service), or a lock board is offline."""
        if self.maintenance:
            return True
        comps = self.compartments()
        if all(c.state in _OUT for c in comps):
            return True
        return any(kind == AlarmKind.BOARD_OFFLINE for kind, _c, _b, _t in self.alarms())
