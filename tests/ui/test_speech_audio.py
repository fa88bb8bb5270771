"""Every citizen screen, in each of the 7 languages, spoken by the real espeak-ng through GET /speech.wav: sound."""

from __future__ import annotations

import io
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from kiosk_ui.i18n import LANGUAGES
from tests.ui.gallery import CITIZEN
from tests.ui.rig import Kiosk, build

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/bootstrap.sh)")

MIN_RMS = 300  # of 16-bit samples: espeak's speech is in the thousands, silence 0
MIN_VOICED_S = 0.3  # at least this much of the audio is above MIN_RMS (in 20 ms windows)


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    k = build(tmp_path)
    yield k
    k.close()


def voiced_seconds(wav_bytes: bytes) -> float:
    """Seconds of the recording whose 20 ms windows are louder than MIN_RMS (mono 16-bit PCM, as espeak-ng writes)."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2), "espeak-ng writes mono 16-bit PCM"
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    window = rate // 50
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    rms = np.sqrt((frames**2).mean(axis=1))
    return float((rms > MIN_RMS).sum() * window / rate)


def test_silence_is_not_taken_for_speech() -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\0\0" * 22050)
    assert voiced_seconds(buf.getvalue()) == 0


@pytest.mark.parametrize("lang", [lang.code for lang in LANGUAGES])
def test_every_citizen_screen_is_spoken_aloud(kiosk: Kiosk, lang: str) -> None:
    with TestClient(kiosk.app, base_url="http://127.0.0.1") as client:
        assert client.get(f"/?lang={lang}").status_code == 200
        s = kiosk.session()
        quiet = []
        for name, apply in CITIZEN.items():
            apply(s)
            s.lang = lang
            text = client.get("/speech.txt").text
            wav = client.get("/speech.wav")
            assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav", (name, wav.text[:200])
            voiced = voiced_seconds(wav.content)
            if voiced < MIN_VOICED_S:
                quiet.append(f"{name}: {voiced:.2f} s of sound for {text!r}")
    assert not quiet, f"{lang}: screens without speech: {quiet}"
