"""Kerong KR-CU16 family (CU12/CU16/CU24): frame table and typed encode/decode (``02 ADDR CMD 03 SUM``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from firmware_bridge.errors import FrameError
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

NAME = "kerong-cu16"
LOCKS = 16  # lock channels per board
BOARDS = 16  # board addresses 0-15 (DIP switch)
STX = 0x02
ETX = 0x03


class Command(enum.IntEnum):
    STATUS = 0x30  # read the state of one board
    UNLOCK = 0x31  # unlock one lock (board-timed pulse)
    READ_ALL = 0x32  # read all boards on the bus (seen in one driver; unused)
    STATUS_REPLY = 0x35  # (reply) status


_REQ = (const("stx", STX), byte("addr"), command(), const("etx", ETX))

TABLE = FrameTable(
    NAME,
    (
        Frame("status", Command.STATUS, Direction.REQUEST, _REQ, Checksum.SUM8, "read one board"),
        Frame("unlock", Command.UNLOCK, Direction.REQUEST, _REQ, Checksum.SUM8, "unlock one lock"),
        Frame("read_all", Command.READ_ALL, Direction.REQUEST, _REQ, Checksum.SUM8, "read all boards"),
        Frame(
            "status_reply",
            Command.STATUS_REPLY,
            Direction.REPLY,
            (const("stx", STX), byte("addr"), command(), run("locks", 2), run("items", 2), const("etx", ETX)),
            Checksum.SUM8,
            "lock bits 1-16 then IR item bits 1-16, lowest bit = lowest lock",
        ),
    ),
)


def address(board: int, lock: int = 1) -> int:
    """ADDR byte for ``board`` (0-15) and ``lock`` (1-16)."""
    if not 0 <= board < BOARDS:
        raise ValueError(f"{NAME}: board {board} is not 0-{BOARDS - 1}")
    if not 1 <= lock <= LOCKS:
        raise ValueError(f"{NAME}: lock {lock} is not 1-{LOCKS}")
    return board << 4 | (lock - 1)


def encode_status(board: int) -> bytes:
    return TABLE.encode("status", addr=address(board))


def encode_unlock(board: int, lock: int) -> bytes:
    return TABLE.encode("unlock", addr=address(board, lock))


@dataclass(frozen=True)
class Request:
    """A decoded host request (used by the simulator)."""

    command: Command
    board: int
    lock: int  # from 1


def decode_request(data: bytes) -> Request:
    d = TABLE.identify(data, Direction.REQUEST)
    addr = d.int("addr")
    return Request(Command(d.frame.command), addr >> 4, (addr & 0x0F) + 1)


@dataclass(frozen=True)
class StatusReply:
    """Raw bits of a status reply; index 0 is lock 1. Polarity is applied by the driver."""

    board: int
    locks: tuple[bool, ...]
    items: tuple[bool, ...]


def decode_status_reply(data: bytes) -> StatusReply:
    d = TABLE.decode("status_reply", data)
    addr = d.int("addr")
    if addr & 0x0F:
        raise FrameError(f"{NAME}: status reply with lock index {addr & 0x0F}: {data.hex(' ')}")
    return StatusReply(addr >> 4, unpack_bits(d.bytes("locks"), LOCKS), unpack_bits(d.bytes("items"), LOCKS))


def encode_status_reply(board: int, locks: tuple[bool, ...], items: tuple[bool, ...]) -> bytes:
    return TABLE.encode("status_reply", addr=address(board), locks=pack_bits(locks, 2), items=pack_bits(items, 2))
