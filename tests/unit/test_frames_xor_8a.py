"""XOR 8A/80 frames: the examples from lock-boards.md, the query-all group order and refusals."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import xor_8a as p


@pytest.mark.parametrize(
    ("name", "lock", "frame"),
    [
        ("open", 1, "8A 01 01 11 9B"),
        ("open", 0, "8A 01 00 11 9A"),
        ("query", 1, "80 01 01 33 B3"),
        ("query", 0, "80 01 00 33 B2"),
        ("hold", 1, "9A 01 01 11 8B"),
    ],
)
def test_examples(name: str, lock: int, frame: str) -> None:
    assert p.table(16).encode(name, board=1, lock=lock) == bytes.fromhex(frame)


def test_typed_encoders() -> None:
    assert p.encode_open(1, 1, 16) == bytes.fromhex("8A 01 01 11 9B")
    assert p.encode_query_all(1, 16) == bytes.fromhex("80 01 00 33 B2")


def test_open_replies_carry_the_switch_level() -> None:
    assert p.decode_open_reply(bytes.fromhex("8A 01 01 00 8A"), 16) == p.OpenReply(1, 1, False)
    assert p.decode_open_reply(bytes.fromhex("8A 01 01 11 9B"), 16) == p.OpenReply(1, 1, True)
    with pytest.raises(FrameError):
        p.decode_open_reply(bytes.fromhex("8A 01 01 22 A8"), 16)


def test_query_all_reply_highest_group_first() -> None:
    # 12 channels: "80 02 05 03 33 BCC": 05 covers locks 9-16, 03 covers locks 1-8
    raw = bytes.fromhex("80 02 05 03 33")
    raw += bytes([raw[0] ^ raw[1] ^ raw[2] ^ raw[3] ^ raw[4]])
    reply = p.decode_query_all_reply(raw, 12)
    assert reply.board == 2
    assert [i + 1 for i, b in enumerate(reply.locks) if b] == [1, 2, 9, 11]
    assert p.encode_query_all_reply(2, reply.locks, 12) == raw


def test_reply_length_follows_channels() -> None:
    assert p.table(8)["query_all_reply"].length == 5
    assert p.table(24)["query_all_reply"].length == 7
    with pytest.raises(FrameError, match="expected 6 bytes"):
        p.decode_query_all_reply(bytes.fromhex("80 02 05 03 33 B7 00"), 12)


def test_ranges() -> None:
    with pytest.raises(ValueError):
        p.encode_open(1, 13, 12)
    with pytest.raises(ValueError):
        p.table(0)
