"""Parsing of url-encoded form bodies (the pages post plain forms; no multipart needed)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

MAX_FORM_BYTES = 4096


async def form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20)
    return {k: v[0] for k, v in parsed.items()}
