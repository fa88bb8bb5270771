"""Typed configuration sections from TOML tables: conversion, limits (``spec``) and the keys' documentation."""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from typing import Any

from locker.errors import ConfigError


def spec(
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    """A configuration key's documentation and limits, as dataclass field metadata (the hub's settings use it too)."""
    return {"doc": doc, "lo": lo, "hi": hi, "choices": choices, "pattern": pattern}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        return build_section(tp, value, key)  # type: ignore[arg-type]
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected an array of tables ([[{key}]])")
        return tuple(_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        allowed = [m.value for m in tp]
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return tp(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _check(value: Any, meta: typing.Mapping[str, Any], key: str) -> None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if lo is not None and value < lo:
            raise ConfigError(f"{key}: {value} is below the minimum {lo:g}")
        if hi is not None and value > hi:
            raise ConfigError(f"{key}: {value} is above the maximum {hi:g}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    pattern = meta.get("pattern")
    if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
        raise ConfigError(f"{key}: {value!r} does not match {pattern}")


def build_section(cls: type[Any], table: dict[str, Any], prefix: str) -> Any:
    """One TOML table into the frozen dataclass ``cls``: unknown or missing keys, wrong types and values outside
    their ``spec`` limits are ConfigErrors naming the key (``prefix`` is the table's dotted name)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in table:
        if k not in fields:
            where = f"{prefix}.{k}" if prefix else k
            raise ConfigError(f"{where}: unknown key (allowed: {', '.join(fields)})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in table:
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if no_default:
                raise ConfigError(f"{key}: required key is missing")
            continue
        value = _convert(table[name], hints[name], key)
        _check(value, f.metadata, key)
        kwargs[name] = value
    return cls(**kwargs)


def describe_keys(cls: type[Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """Every configuration key as (key, type, description), for `config check --explain` and the docs test."""
    out: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(describe_keys(tp, f"{key}."))  # type: ignore[arg-type]
        elif typing.get_origin(tp) is tuple:
            (item_tp, _e) = typing.get_args(tp)
            out.extend(describe_keys(item_tp, f"{key}[]."))
        else:
            tname = _type_name(tp) if not isinstance(tp, types.UnionType) else str(tp)
            out.append((key, tname, str(f.metadata.get("doc", ""))))
    return out
