"""The shared frame-table helper: checksums, bit packing, polarity and encode refusals."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import FrameError
from firmware_bridge.protocols.frames import (
    Checksum,
    Direction,
    Frame,
    FrameTable,
    bit_reads_open,
    byte,
    command,
    const,
    open_to_bit,
    pack_bits,
    unpack_bits,
)
from locker.config import Polarity

F = Frame("f", 0x42, Direction.REQUEST, (const("h", 0xAA), byte("x"), command()), Checksum.XOR8)


def test_checksums() -> None:
    assert Checksum.SUM8.compute(bytes([0x02, 0x00, 0x31, 0x03])) == 0x36
    assert Checksum.XOR8.compute(bytes.fromhex("8A010111")) == 0x9B


def test_encode_refuses_bad_fields() -> None:
    with pytest.raises(ValueError, match="missing"):
        F.encode()
    with pytest.raises(ValueError, match="not a byte"):
        F.encode(x=256)
    with pytest.raises(ValueError, match="unknown"):
        F.encode(x=1, y=2)


def test_decode_round_trip_and_identify() -> None:
    raw = F.encode(x=7)
    assert F.decode(raw).int("x") == 7
    table = FrameTable("t", (F,))
    assert table.identify(raw, Direction.REQUEST).frame is F
    with pytest.raises(FrameError):
        table.identify(raw, Direction.REPLY)
    with pytest.raises(ValueError, match="duplicate"):
        FrameTable("t", (F, F))


def test_bits_and_polarity() -> None:
    bits = (True, False, True) + (False,) * 6 + (True,)
    assert pack_bits(bits, 2) == bytes([0x05, 0x02])
    assert unpack_bits(bytes([0x05, 0x02]), 10) == bits
    assert bit_reads_open(True, Polarity.OPEN_HIGH) and not bit_reads_open(True, Polarity.OPEN_LOW)
    for pol in Polarity:
        assert bit_reads_open(open_to_bit(True, pol), pol)
