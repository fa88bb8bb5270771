"""Frame tables: each protocol declares its frames once; encoding, decoding and docs derive from the table."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from firmware_bridge.errors import FrameError
from locker.config import Polarity


class Direction(enum.StrEnum):
    """Which way a frame travels on the bus."""

    REQUEST = "host->board"
    REPLY = "board->host"


class Checksum(enum.StrEnum):
    """The 8-bit check byte that ends every frame."""

    SUM8 = "sum8"  # 8-bit sum of all bytes before it
    XOR8 = "xor8"  # XOR of all bytes before it

    def compute(self, data: bytes) -> int:
        if self is Checksum.SUM8:
            return sum(data) & 0xFF
        acc = 0
        for b in data:
            acc ^= b
        return acc


class FieldKind(enum.StrEnum):
    CONST = "const"  # a fixed byte (header, trailer, length marker)
    COMMAND = "command"  # the frame's command byte (value taken from the frame)
    BYTE = "byte"  # one variable byte (address, lock index, status)
    BYTES = "bytes"  # a run of variable bytes (bit maps)


@dataclass(frozen=True)
class Field:
    """One part of a frame layout."""

    name: str
    kind: FieldKind
    size: int = 1
    value: int = 0  # for CONST

    def describe(self) -> str:
        if self.kind is FieldKind.CONST:
            return f"{self.value:02X}"
        if self.kind is FieldKind.COMMAND:
            return "CMD"
        if self.kind is FieldKind.BYTES:
            return f"{self.name.upper()}[{self.size}]"
        return self.name.upper()


def const(name: str, value: int) -> Field:
    """A fixed byte."""
    return Field(name, FieldKind.CONST, 1, value)


def command() -> Field:
    """The command byte; its value is the frame's ``command``."""
    return Field("cmd", FieldKind.COMMAND)


def byte(name: str) -> Field:
    """One variable byte."""
    return Field(name, FieldKind.BYTE)


def run(name: str, size: int) -> Field:
    """A run of ``size`` variable bytes."""
    return Field(name, FieldKind.BYTES, size)


@dataclass(frozen=True)
class Decoded:
    """The variable fields of a decoded frame."""

    frame: Frame
    values: Mapping[str, int | bytes]

    def int(self, name: str) -> int:
        v = self.values[name]
        if not isinstance(v, int):
            raise TypeError(f"field {name} of {self.frame.name} is not a single byte")
        return v

    def bytes(self, name: str) -> bytes:
        v = self.values[name]
        if not isinstance(v, bytes):
            raise TypeError(f"field {name} of {self.frame.name} is not a byte run")
        return v


@dataclass(frozen=True)
class Frame:
    """One frame of a protocol: its name, command byte, direction and layout (the check byte is implied)."""

    name: str
    command: int
    direction: Direction
    layout: tuple[Field, ...]
    checksum: Checksum
    doc: str = ""

    @property
    def length(self) -> int:
        return sum(f.size for f in self.layout) + 1

    def describe(self) -> str:
        return " ".join(f.describe() for f in self.layout) + f" {self.checksum.value.upper()}"

    def encode(self, **values: int | bytes) -> bytes:
        """Build the frame; raises ValueError for a missing, unknown or out-of-range field."""
        out = bytearray()
        used: set[str] = set()
        for f in self.layout:
            if f.kind is FieldKind.CONST:
                out.append(f.value)
            elif f.kind is FieldKind.COMMAND:
                out.append(self.command)
            else:
                if f.name not in values:
                    raise ValueError(f"{self.name}: field {f.name} is missing")
                v = values[f.name]
                used.add(f.name)
                if f.kind is FieldKind.BYTE:
                    if not isinstance(v, int) or not 0 <= v <= 0xFF:
                        raise ValueError(f"{self.name}: field {f.name}={v!r} is not a byte")
                    out.append(v)
                else:
                    if not isinstance(v, bytes) or len(v) != f.size:
                        raise ValueError(f"{self.name}: field {f.name} needs {f.size} bytes")
                    out += v
        extra = set(values) - used
        if extra:
            raise ValueError(f"{self.name}: unknown fields {sorted(extra)}")
        out.append(self.checksum.compute(bytes(out)))
        return bytes(out)

    def decode(self, data: bytes) -> Decoded:
        """Check length, fixed bytes, command and check byte; raises FrameError for anything else."""
        if len(data) != self.length:
            raise FrameError(f"{self.name}: expected {self.length} bytes, got {len(data)}: {data.hex(' ')}")
        want = self.checksum.compute(data[:-1])
        if data[-1] != want:
            raise FrameError(f"{self.name}: check byte {data[-1]:02X} != {want:02X}: {data.hex(' ')}")
        values: dict[str, int | bytes] = {}
        pos = 0
        for f in self.layout:
            chunk = data[pos : pos + f.size]
            pos += f.size
            if f.kind is FieldKind.CONST and chunk[0] != f.value:
                raise FrameError(f"{self.name}: {f.name} is {chunk[0]:02X}, expected {f.value:02X}")
            if f.kind is FieldKind.COMMAND and chunk[0] != self.command:
                raise FrameError(f"{self.name}: command {chunk[0]:02X}, expected {self.command:02X}")
            if f.kind is FieldKind.BYTE:
                values[f.name] = chunk[0]
            elif f.kind is FieldKind.BYTES:
                values[f.name] = bytes(chunk)
        return Decoded(self, values)


@dataclass(frozen=True)
class FrameTable:
    """All frames of one protocol, looked up by name."""

    protocol: str
    frames: tuple[Frame, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.frames]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.protocol}: duplicate frame names")

    def __getitem__(self, name: str) -> Frame:
        for f in self.frames:
            if f.name == name:
                return f
        raise KeyError(f"{self.protocol}: no frame {name!r}")

    def encode(self, name: str, **values: int | bytes) -> bytes:
        return self[name].encode(**values)

    def decode(self, name: str, data: bytes) -> Decoded:
        return self[name].decode(data)

    def identify(self, data: bytes, direction: Direction) -> Decoded:
        """Decode ``data`` as whichever frame of ``direction`` it is; raises FrameError if none fits."""
        for f in self.frames:
            if f.direction is direction and f.length == len(data):
                try:
                    return f.decode(data)
                except FrameError:
                    continue
        raise FrameError(f"{self.protocol}: not a known {direction.value} frame: {data.hex(' ')}")

    def rows(self) -> list[tuple[str, str, str, str, int]]:
        """(name, command, direction, layout, length) of every frame, for docs and tests."""
        return [(f.name, f"{f.command:02X}", f.direction.value, f.describe(), f.length) for f in self.frames]


def unpack_bits(data: Iterable[int], count: int) -> tuple[bool, ...]:
    """Bits of ``data`` (first byte = lowest group, lowest bit = lowest channel), first ``count`` of them."""
    bits = [bool(b >> i & 1) for b in data for i in range(8)]
    return tuple(bits[:count])


def pack_bits(bits: Iterable[bool], nbytes: int) -> bytes:
    """Inverse of unpack_bits: channel 1 goes to bit 0 of the first byte."""
    out = bytearray(nbytes)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def bit_reads_open(bit: bool, polarity: Polarity) -> bool:
    """Whether a door-switch bit means "open" under ``polarity``."""
    return bit if polarity is Polarity.OPEN_HIGH else not bit


def open_to_bit(is_open: bool, polarity: Polarity) -> bool:
    """The door-switch bit a board wired with ``polarity`` reports for a door."""
    return is_open if polarity is Polarity.OPEN_HIGH else not is_open
