"""Default scanner settings, importable without loading OpenCV (the CLI reads them to build its help)."""

from __future__ import annotations

# Measured on the zxing photo corpus and generated frames with benchmarks/qr_decode.py (docs/benchmarks.md):
# zxing-cpp first, then pyzbar; the retries run only when both plain passes fail (pyzbar on a half-size image
# for blurred/noisy/large codes, zxing-cpp after contrast equalisation for very poor light). In the camera loop
# everything after zxing-cpp runs only on candidates and probe frames (firmware_bridge/scanners/gate.py).
DEFAULT_CHAIN: tuple[str, ...] = ("zxing", "pyzbar", "pyzbar:downscale", "zxing:clahe")

KEYMAP_NAMES: tuple[str, ...] = ("us", "de")  # keyboard layouts a wedge scanner can be set to
