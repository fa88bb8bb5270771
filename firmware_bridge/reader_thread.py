"""A device read in its own daemon thread until stopped: the start/stop shared by scanners and the headset watch."""

from __future__ import annotations

import abc
import threading


class ReaderThread(abc.ABC):
    """``start`` runs ``_run`` in a thread named ``thread_name``; ``_run`` returns once ``_stop`` is set."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def _run(self) -> None: ...

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._thread_name} already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
