"""The kiosk screen's claim token: fresh at each start, written where only the kiosk browser's launcher reads it."""

from __future__ import annotations

import secrets
from pathlib import Path

from locker.errors import ConfigError
from locker.files import write_atomic

TOKEN_BYTES = 32


def issue(path: str) -> str:
    """A new token, written to ``path`` (mode 0640: the daemon and the group of the directory, which the installer
    makes the kiosk browser's) when a path is configured; ``""`` when none is (no browser can claim the screen)."""
    if not path:
        return ""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        write_atomic(Path(path), token.encode() + b"\n", 0o640)
    except OSError as exc:
        raise ConfigError(f"display.screen_token_file: cannot write {path}: {exc.strerror or exc}") from exc
    return token
