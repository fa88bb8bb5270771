"""Cheap motion test for the camera loop: a downscaled frame compared with the previous one."""

from __future__ import annotations

import cv2
import numpy as np

from firmware_bridge.scanners.decoders import Gray

_SIZE = (80, 60)  # every frame is averaged down to this many cells (w, h): sensor noise averages out


class MotionDetector:
    """``update`` says whether a frame differs from the previous one in more than a few cells.

    A cell changes when its mean gray level moves by more than ``cell_delta``; the frame moved when at least
    ``min_cells`` cells changed. The first frame counts as motion (nothing to compare it with).
    """

    def __init__(self, cell_delta: int = 12, min_cells: int = 12) -> None:
        if not 1 <= cell_delta <= 255 or not 1 <= min_cells <= _SIZE[0] * _SIZE[1]:
            raise ValueError("motion thresholds out of range")
        self._cell_delta = cell_delta
        self._min_cells = min_cells
        self._previous: Gray | None = None

    def update(self, gray: Gray) -> bool:
        small = np.asarray(cv2.resize(gray, _SIZE, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        previous, self._previous = self._previous, small
        if previous is None:
            return True
        changed = np.count_nonzero(cv2.absdiff(small, previous) > self._cell_delta)
        return bool(changed >= self._min_cells)
