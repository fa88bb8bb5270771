"""Exponential backoff for reopening a scanner that went away (camera unplugged, USB scanner replugged)."""

from __future__ import annotations


class Backoff:
    """Delays ``initial_s``, doubling up to ``max_s``; ``reset`` after a successful reopen."""

    def __init__(self, initial_s: float = 0.5, max_s: float = 10.0) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self._initial_s = initial_s
        self._max_s = max_s
        self._next_s = initial_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._max_s, self._next_s * 2)
        return delay

    def reset(self) -> None:
        self._next_s = self._initial_s
