"""The writer side of the SIGKILL crash test: a station process doing QR pickups, acknowledging only committed ones."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker.clock import ManualClock
from locker.db import Database
from locker.errors import WrongCode
from locker.flows import Flows
from locker.model import CompartmentState
from locker.store import Store
from tests.harness import STATEMENT, station_config

# Lines the writer puts on its pipe (each one os.write() of < PIPE_BUF bytes, so never torn):
BEGIN = b"B"  # about to BEGIN IMMEDIATE
COMMIT = b"C"  # COMMIT returned
ACK = b"ACK"  # "ACK <order id>": the pickup's receipt commit and its door-closed commit both returned
DONE = b"DONE"  # every pickup acknowledged; the writer now waits to be killed
ERR = b"ERR"  # "ERR <text>": the writer hit an exception (a test failure, never expected)


class MarkedDatabase(Database):
    """A Database that reports on the pipe where each write transaction starts and when its COMMIT returned."""

    def __init__(self, path: str | Path, fd: int) -> None:
        super().__init__(path)
        self._fd = fd

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        os.write(self._fd, BEGIN + b"\n")
        with super().write() as conn:
            yield conn
        os.write(self._fd, COMMIT + b"\n")


def wrong_payload(payload: str) -> str:
    """The same order's QR payload with a different (valid-looking) token."""
    prefix, order_id, token = payload.split(":")
    flipped = "A" if token[0] != "A" else "B"
    return f"{prefix}:{order_id}:{flipped}{token[1:]}"


def pickups(db_path: Path, n_compartments: int, payloads: Sequence[str], fd: int, seed: int) -> None:
    """Open the station's own connection and collect every order whose QR payload is given, in a random order."""
    cfg = station_config(db_path, n_compartments)
    clock = ManualClock()
    database = MarkedDatabase(db_path, fd)
    store = Store.open(database, clock, cfg.compartments)
    bank = MemoryLockBank([c.number for c in cfg.compartments], clock)
    for comp in store.compartments():
        if comp.state == CompartmentState.OCCUPIED:
            bank.put_item(comp.number)
    flows = Flows(store, bank, clock, cfg)
    rng = random.Random(seed)
    order = list(payloads)
    rng.shuffle(order)
    for payload in order:
        if rng.random() < 0.2:  # now and then a wrong token first: a refused attempt is a write too
            try:
                flows.pickup.verify(flows.pickup.scan_qr(wrong_payload(payload)))
            except WrongCode:
                pass
            else:
                raise AssertionError("a wrong QR token was accepted")
        verified = flows.pickup.verify(flows.pickup.scan_qr(payload))
        number = flows.pickup.confirm_receipt(verified, STATEMENT)  # commit (code consumed), unlock, commit (door open)
        bank.take_item(number)
        bank.close(number)
        flows.doors.pump(0)  # the close: commit (order collected, compartment free)
        os.write(fd, ACK + b" " + verified.order_id.encode() + b"\n")
        clock.advance(rng.uniform(0.5, 5.0))
    os.write(fd, DONE + b"\n")


def child_entry(db_path: Path, n_compartments: int, payloads: Sequence[str], conn: Connection, seed: int) -> NoReturn:
    """Entry point in a process forked by the forkserver: writes raw lines to the pipe's descriptor."""
    child_main(db_path, n_compartments, payloads, conn.fileno(), seed)


def child_main(db_path: Path, n_compartments: int, payloads: Sequence[str], fd: int, seed: int) -> NoReturn:
    """Entry point of the forked writer: never returns and never runs the parent's cleanup (os._exit)."""
    try:
        pickups(db_path, n_compartments, payloads, fd, seed)
        while True:  # wait for the SIGKILL, so every trial ends the same way
            signal.pause()
    except BaseException as exc:
        try:
            os.write(fd, ERR + b" " + f"{type(exc).__name__}: {exc}".encode()[:400] + b"\n")
        finally:
            os._exit(70)
