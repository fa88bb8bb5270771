"""Cheap image variants tried when the plain image does not decode (threshold, invert, rescale, contrast)."""

from __future__ import annotations

import enum
from collections.abc import Callable

import cv2
import numpy as np

from firmware_bridge.scanners.decoders import Gray


class Variant(enum.StrEnum):
    PLAIN = "plain"  # the image as captured
    INVERT = "invert"  # light code on a dark background (phone dark mode)
    OTSU = "otsu"  # global Otsu threshold (glare-free low contrast)
    ADAPTIVE = "adaptive"  # local mean threshold (uneven light, glare)
    CLAHE = "clahe"  # local contrast equalisation (poor light)
    DOWNSCALE = "downscale"  # half size (large, noisy or blurred codes)
    UPSCALE = "upscale"  # double size (small codes far from the camera)
    SHARPEN = "sharpen"  # unsharp mask (slightly out of focus)


_MIN_SIDE = 64  # below this a downscaled image holds no readable code


def _invert(gray: Gray) -> Gray:
    return np.subtract(np.uint8(255), gray, dtype=np.uint8)


def _otsu(gray: Gray) -> Gray:
    _, out = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return np.asarray(out, dtype=np.uint8)


def _adaptive(gray: Gray) -> Gray:
    block = max(15, (min(gray.shape[:2]) // 16) | 1)
    out = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)
    return np.asarray(out, dtype=np.uint8)


def _clahe(gray: Gray) -> Gray:
    return np.asarray(cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray), dtype=np.uint8)


def _downscale(gray: Gray) -> Gray:
    h, w = gray.shape[:2]
    if min(h, w) < 2 * _MIN_SIDE:
        return gray
    return np.asarray(cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _upscale(gray: Gray) -> Gray:
    h, w = gray.shape[:2]
    if max(h, w) > 2000:
        return gray
    return np.asarray(cv2.resize(gray, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def _sharpen(gray: Gray) -> Gray:
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(gray, 1.8, blurred, -0.8, 0), dtype=np.uint8)


TRANSFORMS: dict[Variant, Callable[[Gray], Gray]] = {
    Variant.PLAIN: lambda gray: gray,
    Variant.INVERT: _invert,
    Variant.OTSU: _otsu,
    Variant.ADAPTIVE: _adaptive,
    Variant.CLAHE: _clahe,
    Variant.DOWNSCALE: _downscale,
    Variant.UPSCALE: _upscale,
    Variant.SHARPEN: _sharpen,
}


def to_gray(image: np.ndarray) -> Gray:
    """Convert a BGR, BGRA or grayscale frame to a contiguous grayscale image."""
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(image[:, :, 0], dtype=np.uint8)
    raise ValueError(f"not an image: shape {image.shape}")
