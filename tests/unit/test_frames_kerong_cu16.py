"""Kerong CU16 frames: the examples from lock-boards.md, round trips and refusals."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import kerong_cu16 as p


@pytest.mark.parametrize(
    ("board", "lock", "frame"),
    [(0, 1, "02 00 31 03 36"), (0, 16, "02 0F 31 03 45"), (1, 1, "02 10 31 03 46")],
)
def test_unlock_examples(board: int, lock: int, frame: str) -> None:
    assert p.encode_unlock(board, lock) == bytes.fromhex(frame)
    req = p.decode_request(bytes.fromhex(frame))
    assert (req.command, req.board, req.lock) == (p.Command.UNLOCK, board, lock)


def test_status_example() -> None:
    assert p.encode_status(0) == bytes.fromhex("02 00 30 03 35")


def test_status_reply_round_trip_lowest_bit_is_lowest_lock() -> None:
    locks = tuple(i in (0, 9, 15) for i in range(16))
    items = tuple(i == 2 for i in range(16))
    raw = p.encode_status_reply(5, locks, items)
    assert raw[:3] == bytes([0x02, 0x50, 0x35])
    assert raw[3:7] == bytes([0x01, 0x82, 0x04, 0x00])
    assert raw[-1] == sum(raw[:-1]) & 0xFF
    reply = p.decode_status_reply(raw)
    assert (reply.board, reply.locks, reply.items) == (5, locks, items)


@pytest.mark.parametrize(
    "bad",
    [
        "02 00 35 00 00 00 00 03 3B",  # check byte
        "02 01 35 00 00 00 00 03 3B",  # lock index in a status reply
        "02 00 36 00 00 00 00 03 3B",  # command
        "02 00 35 00 00 00 00 03",  # short
        "",
    ],
)
def test_bad_replies_raise_frame_error(bad: str) -> None:
    with pytest.raises(FrameError):
        p.decode_status_reply(bytes.fromhex(bad))


def test_out_of_range_is_refused() -> None:
    for board, lock in [(16, 1), (0, 0), (0, 17), (-1, 1)]:
        with pytest.raises(ValueError):
            p.encode_unlock(board, lock)


def test_table_lists_every_frame_once() -> None:
    rows = p.TABLE.rows()
    assert [r[0] for r in rows] == ["status", "unlock", "read_all", "status_reply"]
    assert rows[3][1:] == ("35", "board->host", "02 ADDR CMD LOCKS[2] ITEMS[2] 03 SUM8", 9)
