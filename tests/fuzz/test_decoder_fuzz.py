"""Every frame decoder, fed arbitrary bytes, returns a frame or raises FrameError, never anything else."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU

from firmware_bridge.errors import FrameError
from firmware_bridge.modbus_relay import CoilWrite, rtu_frame_length
from firmware_bridge.protocols import kerong_cu16, kerong_cu48, xor_8a
from firmware_bridge.protocols.frames import Checksum, Direction

Decoder = Callable[[bytes], object]

DECODERS: dict[str, list[Decoder]] = {
    "kerong-cu16": [
        kerong_cu16.decode_request,
        kerong_cu16.decode_status_reply,
        *[f.decode for f in kerong_cu16.TABLE.frames],
        lambda d: kerong_cu16.TABLE.identify(d, Direction.REPLY),
    ],
    "kerong-cu48": [
        kerong_cu48.decode_request,
        kerong_cu48.decode_open_reply,
        kerong_cu48.decode_status_reply,
        *[f.decode for f in kerong_cu48.TABLE.frames],
        lambda d: kerong_cu48.TABLE.identify(d, Direction.REPLY),
    ],
    "xor-8a": [
        *[
            dec
            for n in (8, 12, 16)
            for dec in (
                lambda d, n=n: xor_8a.decode_request(d, n),
                lambda d, n=n: xor_8a.decode_open_reply(d, n),
                lambda d, n=n: xor_8a.decode_query_all_reply(d, n),
                lambda d, n=n: xor_8a.table(n).identify(d, Direction.REPLY),
            )
        ],
    ],
    # pymodbus decodes the standard PDUs; ours are the FC 05 flash write and the bridge's RTU frame lengths
    "modbus-relay": [
        lambda d: CoilWrite().decode(d),
        lambda d: rtu_frame_length(d, Direction.REQUEST),
        lambda d: rtu_frame_length(d, Direction.REPLY),
    ],
}


def _with_valid_check(check: Checksum) -> st.SearchStrategy[bytes]:
    """Mostly-plausible frames: a known head byte and a correct check byte, so decoding goes past the checksum."""
    return st.builds(
        lambda head, body: (head + body) + bytes([check.compute(head + body)]),
        st.sampled_from([b"\x02", b"\x80", b"\x8a", b"\x9a"]),
        st.binary(max_size=12),
    )


def _with_valid_crc16() -> st.SearchStrategy[bytes]:
    """Modbus RTU frames with a correct CRC-16 (unit, function code, up to 10 more bytes)."""
    return st.builds(
        lambda body: body + FramerRTU.compute_CRC(body).to_bytes(2, "big"),
        st.binary(min_size=2, max_size=12),
    )


@settings(max_examples=10_000, deadline=None)
@given(
    data=st.one_of(
        st.binary(),
        _with_valid_check(Checksum.SUM8),
        _with_valid_check(Checksum.XOR8),
        _with_valid_crc16(),
    )
)
def test_decoders_raise_only_frame_error(data: bytes) -> None:
    """One run feeds the same 10,000 inputs to every decoder of every protocol."""
    for decoders in DECODERS.values():
        for decode in decoders:
            with contextlib.suppress(FrameError):
                decode(data)


def test_every_decoder_is_fuzzed() -> None:
    assert sorted(DECODERS) == ["kerong-cu16", "kerong-cu48", "modbus-relay", "xor-8a"]


@settings(max_examples=10_000, deadline=None)
@given(data=st.binary(min_size=2))
def test_rtu_frame_length_is_a_whole_frame_or_needs_more(data: bytes) -> None:
    """A length is never shorter than the 4-byte minimum, and a prefix never claims a different length."""
    for direction in Direction:
        try:
            length = rtu_frame_length(data, direction)
        except FrameError:
            continue
        if length is None:
            continue
        assert length >= 4
        assert rtu_frame_length(data[:length], direction) == length
