"""Two pseudo-terminals joined back to back that pass whole Modbus RTU frames, with wire time and line faults."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable

from firmware_bridge.errors import FrameError
from firmware_bridge.modbus_relay import (
    rtu_frame_length,
)
from firmware_bridge.protocols.frames import Direction
from firmware_bridge.sim.faults import FaultPlan, OneShot
from firmware_bridge.sim.wall import SimEvent

log = logging.getLogger(__name__)

MIN_IDLE_S = 0.005  # a partial frame this long without a further byte is given up (3.5 chars, at least 5 ms)

Recorder = Callable[[SimEvent, int | None, str], None]  # event, unit id (None: the whole bus), detail


class PtyLink:
    """Two pseudo-terminals joined back to back (like ``socat pty,raw pty,raw``) that pass whole RTU frames.

    The host side (``host_port``, the driver) and the device side (``device_port``, pymodbus's server) are
    joined by a thread that cuts each direction's byte stream into frames, then forwards every frame after
    its wire time (10 bits a byte at ``baud``; none without a baud), in order per direction.

    Frame boundaries: on a real line a frame ends after 3.5 characters of silence. A pty has no line timing
    (and the thread itself may be scheduled late), so the bridge takes the length from the frame's header,
    as a Modbus receiver does (``rtu_frame_length``: fixed for most function codes, from the byte count for
    FC 01-04 replies and FC 15/16 requests). Bytes that start no frame it knows, or a frame that stays
    incomplete for ``max(3.5 character times, MIN_IDLE_S)``, are forwarded unchanged as one unframed chunk
    after that much silence and recorded as GARBAGE; faults never touch them.

    Faults: each request frame whose unit ``listens`` draws its faults from ``plan`` (as the serial simulators
    do per request); a dropped request never reaches the server, and the faults for the reply apply to the
    next reply frame from the device side for that unit. A corrupted reply has one (seeded) random bit flipped,
    which CRC-16 always detects; a late reply is held back ``plan.faults.late_s`` longer (replies behind it
    wait, the line is serial). Every injected fault is passed to ``record``.
    """

    def __init__(
        self,
        *,
        baud: int | None = None,
        plan: FaultPlan | None = None,
        listens: Callable[[int], bool] | None = None,
        record: Recorder | None = None,
        seed: int = 0,
    ) -> None:
        self._byte_s = 10 / baud if baud else 0.0
        self._idle_s = max(3.5 * self._byte_s, MIN_IDLE_S)
        self.plan = plan or FaultPlan()
        self._listens = listens or (lambda _unit: True)
        self._record = record or (lambda _event, _unit, _detail: None)
        self._rng = random.Random(seed)  # which bit a corruption flips
        self._m1, self._s1 = os.openpty()
        self._m2, self._s2 = os.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)  # held open so the masters never see EIO while a side is closed
        self.host_port = os.ttyname(self._s1)  # the driver opens this one
        self.device_port = os.ttyname(self._s2)  # the simulated board opens this one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pty-link", daemon=True)
        self.error: BaseException | None = None  # set if the thread died
        # the thread's state: bytes not yet framed, when they last grew, frames waiting for their wire time
        self._buf = {self._m1: bytearray(), self._m2: bytearray()}
        self._last_rx = {self._m1: 0.0, self._m2: 0.0}
        self._out: dict[int, collections.deque[tuple[float, bytes]]] = {
            self._m1: collections.deque(),
            self._m2: collections.deque(),
        }
        self._pending: tuple[int, set[OneShot]] | None = None  # (unit, faults) of the request on the line

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self._m1, self._s1, self._m2, self._s2):
            with contextlib.suppress(OSError):  # already closed: nothing left to release
                os.close(fd)

    # -- the thread ----

    def _pump(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                self._deliver(now)
                self._flush_idle(now)
                ready, _w, _x = select.select(list(self._buf), [], [], self._wait_s(now))
                for fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        time.sleep(0.01)  # the far side is momentarily closed
                        continue
                    now = time.monotonic()
                    self._flush_idle(now)  # bytes after a silence start a new frame
                    self._last_rx[fd] = now
                    self._buf[fd] += data
                    self._split(fd)
        except Exception as exc:  # record why the thread died, then re-raise
            self.error = exc
            log.exception("pty link stopped")
            raise

    def _wait_s(self, now: float) -> float:
        """How long select may sleep: until the next frame is due or a partial frame goes stale."""
        due = [q[0][0] for q in self._out.values() if q]
        due += [self._last_rx[fd] + self._idle_s for fd, buf in self._buf.items() if buf]
        return max(0.0, min([now + 0.05, *due]) - now)

    def _deliver(self, now: float) -> None:
        for fd, queue in self._out.items():
            while queue and queue[0][0] <= now:
                os.write(fd, queue.popleft()[1])

    def _send(self, fd: int, data: bytes, extra_s: float = 0.0) -> None:
        """Queue ``data`` for ``fd`` after its wire time, behind whatever is still on its way there."""
        queue = self._out[fd]
        start = max(time.monotonic(), queue[-1][0] if queue else 0.0)
        queue.append((start + len(data) * self._byte_s + extra_s, data))

    def _flush_idle(self, now: float) -> None:
        """Forward, unchanged, bytes that made no complete frame before the line fell silent."""
        for fd, buf in self._buf.items():
            if buf and now - self._last_rx[fd] >= self._idle_s:
                self._record(SimEvent.GARBAGE, None, f"unframed {bytes(buf).hex(' ')}")
                self._send(self._peer(fd), bytes(buf))
                buf.clear()

    def _peer(self, fd: int) -> int:
        return self._m2 if fd == self._m1 else self._m1

    def _split(self, fd: int) -> None:
        """Cut complete frames off the front of ``fd``'s buffer and pass them on."""
        buf = self._buf[fd]
        direction = Direction.REQUEST if fd == self._m1 else Direction.REPLY
        while buf:
            try:
                length = rtu_frame_length(bytes(buf), direction)
            except FrameError:
                return  # no frame we can delimit: left for _flush_idle once the line is silent
            if length is None or len(buf) < length:
                return
            frame = bytes(buf[:length])
            del buf[:length]
            if direction is Direction.REQUEST:
                self._request(frame)
            else:
                self._reply(frame)

    def _request(self, frame: bytes) -> None:
        unit = frame[0]
        faults = self.plan.next_request() if self._listens(unit) else set()
        self._pending = None
        if OneShot.DROP_REQUEST in faults:
            self._record(SimEvent.DROPPED_REQUEST, unit, frame.hex(" "))
            return
        self._pending = (unit, faults)
        self._send(self._m2, frame)

    def _reply(self, frame: bytes) -> None:
        unit = frame[0]
        faults: set[OneShot] = set()
        if self._pending is not None and self._pending[0] == unit:
            faults = self._pending[1]
        self._pending = None
        if OneShot.DROP_REPLY in faults:
            self._record(SimEvent.DROPPED_REPLY, unit, frame.hex(" "))
            return
        if OneShot.CORRUPT_REPLY in faults:
            bit = self._rng.randrange(len(frame) * 8)
            flipped = bytearray(frame)
            flipped[bit // 8] ^= 1 << (bit % 8)
            frame = bytes(flipped)
            self._record(SimEvent.CORRUPTED_REPLY, unit, frame.hex(" "))
        late_s = 0.0
        if OneShot.LATE_REPLY in faults:
            late_s = self.plan.faults.late_s
            self._record(SimEvent.LATE_REPLY, unit, f"{late_s:.3f}s")
        self._send(self._m1, frame, late_s)
