"""Speech output: the shown screen's text in the shown language, spoken by espeak-ng into a WAV file."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from collections import OrderedDict

from kiosk_ui.errors import SpeechError
from kiosk_ui.i18n import language

CACHE_ENTRIES = 64


class Speaker:
    """Renders text to WAV bytes with espeak-ng (cached; the same screen is often spoken again)."""

    def __init__(self, binary: str = "espeak-ng", timeout_s: float = 10.0) -> None:
        self.binary = binary
        self.timeout_s = timeout_s
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def wav(self, lang: str, text: str) -> bytes:
        voice = language(lang).voice
        key = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        exe = shutil.which(self.binary)
        if exe is None:
            raise SpeechError(f"{self.binary} is not installed")
        try:
            done = subprocess.run(
                [exe, "-v", voice, "-s", "150", "--stdout", text],
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SpeechError(f"{self.binary} took longer than {self.timeout_s} s") from exc
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            raise SpeechError(f"{self.binary} failed: {done.stderr.decode(errors='replace')[:200]}")
        with self._lock:
            self._cache[key] = done.stdout
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return done.stdout


def spell_secret(length: int, star: str, empty: str) -> str:
    """How a PIN or date of birth is spoken: one "star" per digit typed, never the digits."""
    return ", ".join([star] * length) if length else empty


def spell_digits(digits: str, empty: str) -> str:
    """A non-secret number (the pickup number) spoken digit by digit."""
    return " ".join(digits) if digits else empty
