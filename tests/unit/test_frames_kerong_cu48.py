"""Kerong CU48 frames: the examples from lock-boards.md, round trips and refusals."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols import kerong_cu48 as p


def test_examples() -> None:
    assert p.encode_status(0) == bytes.fromhex("02 00 00 60 03 65")
    assert p.encode_open(0, 1) == bytes.fromhex("02 00 00 61 03 66")
    req = p.decode_request(bytes.fromhex("02 00 00 61 03 66"))
    assert (req.command, req.board, req.lock) == (p.Command.OPEN, 0, 1)


def test_open_reply() -> None:
    raw = p.encode_open_reply(3, 48)
    assert raw[:5] == bytes([0x02, 0x03, 47, 0x75, 0x00])
    assert p.decode_open_reply(raw) == p.OpenReply(3, 48, 0)


def test_status_reply_48_bits() -> None:
    locks = tuple(i in (0, 8, 47) for i in range(48))
    raw = p.encode_status_reply(2, locks)
    assert len(raw) == 12
    assert raw[:5] == bytes([0x02, 0x02, 0x00, 0x75, 0x06])
    assert raw[5:11] == bytes([0x01, 0x01, 0, 0, 0, 0x80])
    assert p.decode_status_reply(raw) == p.StatusReply(2, locks)


@pytest.mark.parametrize("bad", ["02 00 00 75 06 00 00 00 00 00 00 7E", "02 00 01 75 06 00 00 00 00 00 00 7E", "02"])
def test_bad_status_replies(bad: str) -> None:
    with pytest.raises(FrameError):
        p.decode_status_reply(bytes.fromhex(bad))


def test_lock_range() -> None:
    with pytest.raises(ValueError):
        p.encode_open(0, 49)
    with pytest.raises(ValueError):
        p.encode_open(0, 0)
