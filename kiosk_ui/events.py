"""Server-sent events: tell a page when its screen changed or where the kiosk browser should go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from fastapi import Request

POLL_S = 0.1
KEEPALIVE_S = 15.0


async def stream(
    request: Request,
    signature: Callable[[], dict[str, str]],
    opened: Callable[[], None] = lambda: None,
    closed: Callable[[], None] = lambda: None,
) -> AsyncIterator[str]:
    """Yield an event whenever ``signature()`` changes, a comment now and then to keep proxies happy.
    ``opened``/``closed`` are called when the stream starts and ends (however it ends)."""
    last: dict[str, str] | None = None
    quiet = 0.0
    opened()
    try:
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            sig = signature()
            if sig != last:
                last = sig
                quiet = 0.0
                yield f"data: {json.dumps(sig)}\n\n"
            elif quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
    finally:
        closed()
