"""One HTTP GET for the checks: the status, the JSON body and the Date header, or why nothing answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the decoded JSON body, None when it is not JSON
    date: str | None  # the Date header


def get(url: str, timeout_s: float) -> Reply | str:
    """The reply, or a one-line reason (connection refused, timeout, DNS, TLS)."""
    try:
        r = httpx.get(url, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        body = r.json()
    except ValueError:
        body = None
    return Reply(r.status_code, body, r.headers.get("date"))
