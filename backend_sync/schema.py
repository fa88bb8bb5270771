"""Strict JSON codec for the protocol's dataclasses: exact keys, exact types, errors that name the field."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from backend_sync.errors import SchemaError
from locker.model import ByteLength

T = TypeVar("T")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Bin:
    """How a ``bytes`` field travels in JSON: lowercase hex or standard base64, optionally of a fixed length.

    A ``bytes`` field without one travels as lowercase hex, of the length its ``locker.model.ByteLength`` gives.
    """

    encoding: Literal["hex", "b64"]
    length: int | None = None


Hex32 = Annotated[bytes, Bin("hex", 32)]
B64 = Annotated[bytes, Bin("b64")]
B64Key = Annotated[bytes, Bin("b64", 32)]
B64Sig = Annotated[bytes, Bin("b64", 64)]


def canonical(obj: Any) -> bytes:
    """The bytes that are signed and hashed: compact JSON, sorted keys, ASCII only, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise SchemaError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constants(name: str) -> Any:
    raise SchemaError(f"{name} is not a JSON number")


def loads(data: bytes | str, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Parse JSON strictly: size-limited, UTF-8, no duplicate keys, no NaN/Infinity."""
    if len(data) > max_bytes:
        raise SchemaError(f"message is larger than {max_bytes} bytes")
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f"not valid JSON: {exc}") from exc


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _decode_bytes(spec: Bin, v: Any, where: str) -> bytes:
    if not isinstance(v, str):
        raise SchemaError(f"{where}: expected {spec.encoding} string, got {_type_name(v)}")
    try:
        if spec.encoding == "hex":
            if v != v.lower():
                raise ValueError("hex must be lowercase")
            raw = bytes.fromhex(v)
        else:
            raw = base64.b64decode(v.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise SchemaError(f"{where}: not valid {spec.encoding}") from exc
    if spec.length is not None and len(raw) != spec.length:
        raise SchemaError(f"{where}: expected {spec.length} bytes, got {len(raw)}")
    return raw


def _bin(meta: Sequence[Any]) -> Bin:
    """How a bytes field travels: its own ``Bin``, else lowercase hex of the core record's ``ByteLength``, if any."""
    spec = next((m for m in meta if isinstance(m, Bin)), None)
    if spec is not None:
        return spec
    length = next((m.n for m in meta if isinstance(m, ByteLength)), None)
    return Bin("hex", length)


def _encode_bytes(spec: Bin, v: bytes) -> str:
    return v.hex() if spec.encoding == "hex" else base64.b64encode(v).decode("ascii")


@functools.cache
def _cached_hints(cls: Hashable) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types, computed once per class."""
    return _cached_hints(typing.cast(Hashable, cls))


def _decode(tp: Any, v: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        if base is bytes:
            return _decode_bytes(_bin(meta), v, where)
        return _decode(base, v, where)
    if tp is bytes:
        return _decode_bytes(Bin("hex"), v, where)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if v is None:
            if type(None) in args:
                return None
            raise SchemaError(f"{where}: must not be null")
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise SchemaError(f"{where}: unsupported union in schema")
        return _decode(rest[0], v, where)
    if origin is dict or tp is dict:
        if not isinstance(v, dict):
            raise SchemaError(f"{where}: expected object, got {_type_name(v)}")
        return v
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(tp)
        if not isinstance(v, list):
            raise SchemaError(f"{where}: expected list, got {_type_name(v)}")
        return tuple(_decode(item, x, f"{where}[{i}]") for i, x in enumerate(v))
    if tp is bool:
        if type(v) is not bool:
            raise SchemaError(f"{where}: expected bool, got {_type_name(v)}")
        return v
    if tp is int:
        if type(v) is not int:
            raise SchemaError(f"{where}: expected int, got {_type_name(v)}")
        return v
    if tp is float:
        if type(v) not in (int, float) or not math.isfinite(v):
            raise SchemaError(f"{where}: expected number, got {_type_name(v)}")
        return float(v)
    if tp is str:
        if not isinstance(v, str):
            raise SchemaError(f"{where}: expected string, got {_type_name(v)}")
        return v
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(v)
        except ValueError as exc:
            allowed = ", ".join(str(m.value) for m in tp)
            raise SchemaError(f"{where}: {v!r} is not one of {allowed}") from exc
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode(tp, v, where)
    raise SchemaError(f"{where}: unsupported type {tp!r} in schema")


def decode(cls: type[T], obj: Any, where: str = "") -> T:
    """Build ``cls`` (a dataclass) from parsed JSON; unknown, missing or mistyped fields raise SchemaError."""
    label = where or cls.__name__
    if not isinstance(obj, dict):
        raise SchemaError(f"{label}: expected object, got {_type_name(obj)}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise SchemaError(f"{label}: unknown field {', '.join(f'{label}.{k}' for k in unknown)}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in obj:
            if f.default is dataclasses.MISSING:
                raise SchemaError(f"{label}.{name}: missing")
            continue
        values[name] = _decode(hints[name], obj[name], f"{label}.{name}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"{label}: {exc}") from exc


def _encode(tp: Any, v: Any) -> Any:
    origin = typing.get_origin(tp)
    if v is None:
        return None
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        if base is bytes:
            return _encode_bytes(_bin(meta), v)
        return _encode(base, v)
    if tp is bytes:
        return _encode_bytes(Bin("hex"), v)
    if origin in (types.UnionType, typing.Union):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return _encode(rest[0], v)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return [_encode(item, x) for x in v]
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return encode(v)
    return v


def encode(obj: Any) -> dict[str, Any]:
    """The JSON object for a protocol dataclass (every field written, bytes in their declared encoding)."""
    hints = _hints(type(obj))
    return {f.name: _encode(hints[f.name], getattr(obj, f.name)) for f in dataclasses.fields(obj)}
