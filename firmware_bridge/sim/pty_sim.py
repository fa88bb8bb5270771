"""Base of the board simulators: a pseudo-terminal served by a background thread that answers real frames."""

from __future__ import annotations

import abc
import logging
import os
import select
import threading
import time
import tty
from types import TracebackType

from firmware_bridge.errors import FrameError
from firmware_bridge.sim.faults import FaultPlan, Faults, OneShot
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from locker.config import Polarity

log = logging.getLogger(__name__)

_STALE_S = 0.05  # an incomplete request older than this is discarded (a new frame starts afresh)


class PtySimulator(abc.ABC):
    """All boards of one bus behind one pseudo-terminal; ``port`` is the path a driver opens.

    Subclasses name their request length and turn one request into the wall action and the reply bytes.
    """

    request_length: int = 0

    def __init__(
        self,
        wall: Wall,
        bus: str,
        *,
        polarity: Polarity = Polarity.OPEN_HIGH,
        baud: int | None = None,
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        self.wall = wall
        self.bus = bus
        self.polarity = polarity
        self.baud = baud  # when set, replies wait for the wire time of request and reply (10 bits a byte)
        self.plan = FaultPlan(faults, seed=seed)
        self._master = -1
        self._slave = -1
        self._wake_r = -1
        self._wake_w = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.port = ""
        self.error: BaseException | None = None  # set if the thread died

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> str:
        """Open the pty pair and start answering; returns the port path."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self.port = os.ttyname(self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.bus}", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop the thread and close every descriptor (idempotent)."""
        self._stop.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():  # pragma: no cover - a stuck thread is a bug worth seeing
                raise RuntimeError(f"simulator thread for {self.bus} did not stop")
            self._thread = None
        for name in ("_master", "_slave", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def __enter__(self) -> PtySimulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- fault control -----------------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        self.plan.update(faults)

    def queue_fault(self, fault: OneShot) -> None:
        self.plan.queue(fault)

    def set_silent(self, board: int, silent: bool = True) -> None:
        """Board silent (no power / broken cable); same as ``wall.set_powered(bus, board, not silent)``."""
        self.wall.set_powered(self.bus, board, not silent)

    # -- protocol hooks ----------------------------------------------------------------------------

    @abc.abstractmethod
    def board_of(self, frame: bytes) -> int:
        """The board a request is addressed to; raises FrameError if ``frame`` is no valid request."""

    @abc.abstractmethod
    def respond(self, frame: bytes) -> bytes | None:
        """Carry out a valid request on the wall and return the reply (None: this request has no reply)."""

    # -- the thread --------------------------------------------------------------------------------

    def _record(self, event: SimEvent, where: str, detail: str = "") -> None:
        self.wall.recorder.add(Record(self.wall.clock(), event, where, detail))

    def _run(self) -> None:
        buf = bytearray()
        last_rx = 0.0
        try:
            while not self._stop.is_set():
                ready, _w, _x = select.select([self._master, self._wake_r], [], [], 0.5)
                if self._wake_r in ready:
                    return
                if self._master not in ready:
                    continue
                data = os.read(self._master, 4096)
                now = time.monotonic()
                if buf and now - last_rx > _STALE_S:
                    self._record(SimEvent.GARBAGE, self.bus, f"stale {bytes(buf).hex(' ')}")
                    buf.clear()
                last_rx = now
                buf += data
                self._consume(buf)
        except Exception as exc:  # record why the thread died, then re-raise
            self.error = exc
            log.exception("simulator %s stopped", self.bus)
            raise

    def _consume(self, buf: bytearray) -> None:
        n = self.request_length
        while len(buf) >= n:
            frame = bytes(buf[:n])
            try:
                board = self.board_of(frame)
            except FrameError:
                self._record(SimEvent.GARBAGE, self.bus, f"{buf[0]:02x}")
                del buf[0]
                continue
            del buf[:n]
            self._serve(board, frame)

    def _serve(self, board: int, frame: bytes) -> None:
        where = f"{self.bus}/{board}"
        self._record(SimEvent.RX, where, frame.hex(" "))
        if not self.wall.is_powered(self.bus, board):
            self._record(SimEvent.IGNORED, where)
            return
        faults = self.plan.next_request()
        if OneShot.DROP_REQUEST in faults:
            self._record(SimEvent.DROPPED_REQUEST, where, frame.hex(" "))
            return
        reply = self.respond(frame)
        if reply is None:
            return
        if OneShot.DROP_REPLY in faults:
            self._record(SimEvent.DROPPED_REPLY, where, reply.hex(" "))
            return
        if OneShot.CORRUPT_REPLY in faults:
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            self._record(SimEvent.CORRUPTED_REPLY, where, reply.hex(" "))
        delay = 0.0
        if self.baud:
            delay += (len(frame) + len(reply)) * 10 / self.baud
        if OneShot.LATE_REPLY in faults:
            delay += self.plan.faults.late_s
            self._record(SimEvent.LATE_REPLY, where, f"{delay:.3f}s")
        if delay > 0:
            self._stop.wait(delay)
        self._record(SimEvent.TX, where, reply.hex(" "))
        os.write(self._master, reply)
