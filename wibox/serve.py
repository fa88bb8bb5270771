"""uvicorn on the caller's event loop without its own signal handlers: the daemon (or the demo) owns SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebService:
    """One ASGI app served on a listening socket (or 127.0.0.1:port): ``serve()`` runs it until ``request_stop()``,
    which lets it finish its requests and its lifespan."""

    def __init__(self, app: Any, *, sock: socket.socket | None = None, port: int = 0) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, timeout_graceful_shutdown=1
        )
        self.server = _Quiet(config)
        self.sock = sock

    async def serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock] if self.sock is not None else None)
        finally:
            self.server.should_exit = True
            if self.sock is not None:
                self.sock.close()

    def request_stop(self) -> None:
        self.server.should_exit = True

    @property
    def started(self) -> bool:
        return bool(self.server.started)


class Server:
    """A WebService running as its own task (the demo's hub, which no daemon owns)."""

    def __init__(self, app: Any, sock: socket.socket, name: str) -> None:
        self.web = WebService(app, sock=sock)
        self.task = asyncio.create_task(self.web.serve(), name=name)

    async def started(self) -> None:
        await wait_started(self.web, self.task)

    async def stop(self) -> None:
        self.web.request_stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def wait_started(web: WebService, task: asyncio.Task[Any] | None = None) -> None:
    """Until the server listens; if its task ends first, its exception (or a RuntimeError) is raised."""
    while not web.started:
        if task is not None and task.done():
            task.result()
            raise RuntimeError(f"the {task.get_name()} server ended during start")
        await asyncio.sleep(0.02)
