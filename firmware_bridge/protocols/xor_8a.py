"""Generic "8A/80" XOR lock boards: frame table and typed encode/decode (``HEAD BOARD LOCK FUNC BCC``)."""

from __future__ import annotations

import enum
import functools
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

NAME = "xor-8a"
MAX_CHANNELS = 255
FUNC_OPEN = 0x11
FUNC_QUERY = 0x33


class Command(enum.IntEnum):
    """The head byte names the command on these boards."""

    OPEN = 0x8A  # open one lock (LOCK 0: all locks, never used by the driver)
    QUERY = 0x80  # query one lock, or all locks with LOCK 0
    HOLD = 0x9A  # keep a lock powered (never used by the driver)
    RELEASE = 0x9B  # release a held lock


def status_bytes(channels: int) -> int:
    """Status bytes in a query-all reply: ceil(channels / 8)."""
    return (channels + 7) // 8


@functools.lru_cache(maxsize=16)
def table(channels: int) -> FrameTable:
    """The frame table for boards with ``channels`` locks (the query-all reply length depends on it)."""
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"{NAME}: channels {channels} is not 1-{MAX_CHANNELS}")
    x = Checksum.XOR8
    req_open = (command(), byte("board"), byte("lock"), const("func", FUNC_OPEN))
    return FrameTable(
        NAME,
        (
            Frame("open", Command.OPEN, Direction.REQUEST, req_open, x, "open one lock"),
            Frame(
                "query",
                Command.QUERY,
                Direction.REQUEST,
                (command(), byte("board"), byte("lock"), const("func", FUNC_QUERY)),
                x,
                "query one lock, LOCK 0 = all",
            ),
            Frame("hold", Command.HOLD, Direction.REQUEST, req_open, x, "keep a lock powered"),
            Frame("release", Command.RELEASE, Direction.REQUEST, req_open, x, "release a held lock"),
            Frame(
                "open_reply",
                Command.OPEN,
                Direction.REPLY,
                (command(), byte("board"), byte("lock"), byte("status")),
                x,
                "echo with the door-switch level (00 or 11)",
            ),
            Frame(
                "query_reply",
                Command.QUERY,
                Direction.REPLY,
                (command(), byte("board"), byte("lock"), byte("status")),
                x,
                "one lock's door-switch level (00 or 11)",
            ),
            Frame(
                "query_all_reply",
                Command.QUERY,
                Direction.REPLY,
                (command(), byte("board"), run("status", status_bytes(channels)), const("func", FUNC_QUERY)),
                x,
                "status bytes, highest group first, lowest bit = lowest lock",
            ),
        ),
    )


def _check(board: int, lock: int, channels: int) -> None:
    if not 0 <= board <= 0xFF:
        raise ValueError(f"{NAME}: board {board} is not 0-255")
    if not 1 <= lock <= channels:
        raise ValueError(f"{NAME}: lock {lock} is not 1-{channels}")


def encode_open(board: int, lock: int, channels: int) -> bytes:
    _check(board, lock, channels)
    return table(channels).encode("open", board=board, lock=lock)


def encode_query_all(board: int, channels: int) -> bytes:
    _check(board, 1, channels)
    return table(channels).encode("query", board=board, lock=0)


@dataclass(frozen=True)
class Request:
    """A decoded host request (used by the simulator). ``lock`` 0 means all locks."""

    command: Command
    board: int
    lock: int


def decode_request(data: bytes, channels: int) -> Request:
    d = table(channels).identify(data, Direction.REQUEST)
    return Request(Command(d.frame.command), d.int("board"), d.int("lock"))


@dataclass(frozen=True)
class OpenReply:
    board: int
    lock: int
    level: bool  # the door-switch level in the status byte


def _level(status: int, data: bytes) -> bool:
    if status not in (0x00, 0x11):
        raise FrameError(f"{NAME}: status byte {status:02X} is not 00 or 11: {data.hex(' ')}")
    return status == 0x11


def decode_open_reply(data: bytes, channels: int) -> OpenReply:
    d = table(channels).decode("open_reply", data)
    return OpenReply(d.int("board"), d.int("lock"), _level(d.int("status"), data))


def encode_open_reply(board: int, lock: int, level: bool, channels: int) -> bytes:
    return table(channels).encode("open_reply", board=board, lock=lock, status=0x11 if level else 0x00)


@dataclass(frozen=True)
class QueryAllReply:
    """Raw door-switch bits; index 0 is lock 1. Polarity is applied by the driver."""

    board: int
    locks: tuple[bool, ...]


def decode_query_all_reply(data: bytes, channels: int) -> QueryAllReply:
    d = table(channels).decode("query_all_reply", data)
    groups = d.bytes("status")[::-1]  # the wire carries the highest group first
    return QueryAllReply(d.int("board"), unpack_bits(groups, channels))


def encode_query_all_reply(board: int, locks: tuple[bool, ...], channels: int) -> bytes:
    groups = pack_bits(locks[:channels], status_bytes(channels))[::-1]
    return table(channels).encode("query_all_reply", board=board, status=groups)


def encode_query_reply(board: int, lock: int, level: bool, channels: int) -> bytes:
    return table(channels).encode("query_reply", board=board, lock=lock, status=0x11 if level else 0x00)
