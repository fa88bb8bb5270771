"""Parsing of request bodies by hand: url-encoded forms (the pages post plain forms) and small JSON objects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request

MAX_FORM_BYTES = 4096
MAX_FORM_FIELDS = 20


async def form(request: Request) -> dict[str, str]:
    """The form fields (first value of each); an oversized body reads as empty, too many fields are a 400."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(
            body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:  # more than MAX_FORM_FIELDS fields
        raise HTTPException(400, f"at most {MAX_FORM_FIELDS} form fields") from None
    return {k: v[0] for k, v in parsed.items()}


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); 400 for anything that is not UTF-8 JSON of an object,
    415 for a body not sent as ``application/json`` (a cross-site form cannot send that type without a preflight)."""
    body = await request.body()
    if not body.strip():
        return {}
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send JSON as application/json")
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise HTTPException(400, "expected a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    return data


MAX_CSS_PX = 100_000


def css_size(data: dict[str, Any], key: str) -> tuple[int, int] | None:
    """``data[key]`` as a [width, height] pair of CSS pixels (None when absent); 400 for anything else."""
    value = data.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(v) is int and 0 <= v <= MAX_CSS_PX for v in value)
    ):
        raise HTTPException(400, f"{key}: expected [width, height], whole CSS pixels from 0 to {MAX_CSS_PX}")
    return value[0], value[1]


def page_sizes(data: dict[str, Any]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """A heartbeat's ``viewport`` and ``screen`` sizes: both or neither (400 otherwise)."""
    viewport, screen = css_size(data, "viewport"), css_size(data, "screen")
    if (viewport is None) != (screen is None):
        raise HTTPException(400, "send viewport and screen together, or neither")
    return viewport, screen
