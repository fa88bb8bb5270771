"""Kerong CU48: frame table and typed encode/decode (6-byte requests ``02 DEVID LOCK CMD 03 SUM``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from firmware_bridge.protocols.frames import (
    Checksum,
    Direction,
    Frame,
    FrameTable,
    byte,
    command,
    const,
    pack_bits,
    run,
    unpack_bits,
)

NAME = "kerong-cu48"
LOCKS = 48
STX = 0x02
ETX = 0x03


class Command(enum.IntEnum):
    STATUS = 0x60  # read all 48 locks of one board
    OPEN = 0x61  # open one lock (board-timed pulse)
    DONE = 0x75  # (reply) done / status


_REQ = (const("stx", STX), byte("devid"), byte("lock"), command(), const("etx", ETX))

TABLE = FrameTable(
    NAME,
    (
        Frame("status", Command.STATUS, Direction.REQUEST, _REQ, Checksum.SUM8, "read one board (LOCK 0)"),
        Frame("open", Command.OPEN, Direction.REQUEST, _REQ, Checksum.SUM8, "open one lock (LOCK 0-47)"),
        Frame(
            "open_reply",
            Command.DONE,
            Direction.REPLY,
            (const("stx", STX), byte("devid"), byte("lock"), command(), byte("result")),
            Checksum.SUM8,
            "open done",
        ),
        Frame(
            "status_reply",
            Command.DONE,
            Direction.REPLY,
            (
                const("stx", STX),
                byte("devid"),
                const("lock", 0),
                command(),
                const("count", 6),
                run("locks", 6),
            ),
            Checksum.SUM8,
            "48 lock bits, lowest bit = lowest lock",
        ),
    ),
)


def _lock_index(lock: int) -> int:
    if not 1 <= lock <= LOCKS:
        raise ValueError(f"{NAME}: lock {lock} is not 1-{LOCKS}")
    return lock - 1


def encode_status(board: int) -> bytes:
    return TABLE.encode("status", devid=board, lock=0)


def encode_open(board: int, lock: int) -> bytes:
    return TABLE.encode("open", devid=board, lock=_lock_index(lock))


@dataclass(frozen=True)
class Request:
    """A decoded host request (used by the simulator)."""

    command: Command
    board: int
    lock: int  # from 1


def decode_request(data: bytes) -> Request:
    d = TABLE.identify(data, Direction.REQUEST)
    return Request(Command(d.frame.command), d.int("devid"), d.int("lock") + 1)


@dataclass(frozen=True)
class OpenReply:
    board: int
    lock: int  # from 1
    result: int


def decode_open_reply(data: bytes) -> OpenReply:
    d = TABLE.decode("open_reply", data)
    return OpenReply(d.int("devid"), d.int("lock") + 1, d.int("result"))


def encode_open_reply(board: int, lock: int, result: int = 0) -> bytes:
    return TABLE.encode("open_reply", devid=board, lock=_lock_index(lock), result=result)


@dataclass(frozen=True)
class StatusReply:
    """Raw bits; index 0 is lock 1. Polarity is applied by the driver."""

    board: int
    locks: tuple[bool, ...]


def decode_status_reply(data: bytes) -> StatusReply:
    d = TABLE.decode("status_reply", data)
    return StatusReply(d.int("devid"), unpack_bits(d.bytes("locks"), LOCKS))


def encode_status_reply(board: int, locks: tuple[bool, ...]) -> bytes:
    return TABLE.encode("status_reply", devid=board, locks=pack_bits(locks, 6))
