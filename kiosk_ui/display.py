"""Physical sizing: CSS pixels per millimetre from the configured display, so touch targets are real millimetres."""

from __future__ import annotations

import math
from dataclasses import dataclass

from locker.config import DisplayConfig

MM_PER_INCH = 25.4
CAP_HEIGHT_EM = 0.7  # capital H of the UI fonts is about 0.7 of the font size
LARGE_CAP_MM = 6.2  # large-text mode: capital H >= 0.7 degrees at 500 mm (about 6 mm)
NORMAL_CAP_MM = 3.2


@dataclass(frozen=True)
class Sizing:
    px_per_mm: float
    key_px: int
    gap_px: int
    font_px: int
    large_font_px: int


def sizing(cfg: DisplayConfig) -> Sizing:
    diag_px = math.hypot(cfg.width_px, cfg.height_px)
    ppm = diag_px / (cfg.diagonal_in * MM_PER_INCH)
    return Sizing(
        px_per_mm=ppm,
        key_px=math.ceil(cfg.key_mm * ppm),
        gap_px=math.ceil(2.5 * ppm),
        font_px=math.ceil(NORMAL_CAP_MM / CAP_HEIGHT_EM * ppm),
        large_font_px=math.ceil(LARGE_CAP_MM / CAP_HEIGHT_EM * ppm),
    )
