"""Test helper: QR code images as a camera sees them (rotated, warped, blurred, noisy, dim, on a phone)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import qrcode  # type: ignore[import-untyped]

Image = npt.NDArray[np.uint8]


def qr(text: str, box: int = 6, border: int = 4) -> Image:
    """A black-on-white QR code, grayscale."""
    code = qrcode.QRCode(box_size=box, border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return np.array(code.make_image().get_image().convert("L"), dtype=np.uint8)


def on_canvas(code: Image, size: tuple[int, int] = (640, 480), side: int = 240, bg: int = 200) -> Image:
    """The code scaled to ``side`` pixels and placed in the middle of a ``size`` (w, h) frame."""
    w, h = size
    canvas = np.full((h, w), bg, dtype=np.uint8)
    scaled = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    y, x = (h - side) // 2, (w - side) // 2
    canvas[y : y + side, x : x + side] = scaled
    return canvas


def rotated(img: Image, degrees: float) -> Image:
    h, w = img.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(img, matrix, (w, h), borderValue=200), dtype=np.uint8)


def warped(img: Image, strength: float = 0.18) -> Image:
    """A perspective view, as when a letter is held at an angle."""
    h, w = img.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dx, dy = w * strength, h * strength
    dst = np.array([[dx, dy * 0.5], [w - dx * 0.3, 0], [w, h], [dx * 0.6, h - dy]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return np.asarray(cv2.warpPerspective(img, matrix, (w, h), borderValue=200), dtype=np.uint8)


def blurred(img: Image, sigma: float = 1.8) -> Image:
    return np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), dtype=np.uint8)


def noisy(img: Image, sigma: float = 28.0, seed: int = 7) -> Image:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def low_contrast(img: Image, lo: int = 70, hi: int = 100) -> Image:
    """Poor light: the whole image squeezed into a narrow band of gray."""
    return (lo + img.astype(np.float32) * (hi - lo) / 255.0).astype(np.uint8)


def inverted(img: Image) -> Image:
    return np.asarray(255 - img, dtype=np.uint8)


def phone_screen(code: Image, size: tuple[int, int] = (640, 480), glare: float = 0.55) -> Image:
    """A phone held up: dark body, bright screen with the code, a soft glare spot across part of the screen."""
    w, h = size
    frame = np.full((h, w), 90, dtype=np.float32)
    px, py, pw, ph = w // 2 - 120, 20, 240, h - 40
    frame[py : py + ph, px : px + pw] = 25  # phone body
    sx, sy, sw, sh = px + 12, py + 30, pw - 24, ph - 60
    frame[sy : sy + sh, sx : sx + sw] = 235  # lit screen
    side = sw - 20
    scaled = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    cy = sy + (sh - side) // 2
    frame[cy : cy + side, sx + 10 : sx + 10 + side] = 20 + scaled * (235 - 20) / 255.0
    yy, xx = np.mgrid[0:h, 0:w]
    spot = np.exp(-(((xx - (sx + sw * 0.7)) ** 2) / (2 * 45.0**2) + ((yy - (cy + side * 0.3)) ** 2) / (2 * 70.0**2)))
    frame = frame + glare * 255 * spot
    smooth = np.asarray(cv2.GaussianBlur(frame, (0, 0), 0.8), dtype=np.float32)
    return np.clip(smooth, 0, 255).astype(np.uint8)


def empty_wall(seed: int = 0) -> Image:
    """An empty view as a fixed camera sees it: the same gray wall, fresh sensor noise in every frame (seed)."""
    return noisy(np.full((480, 640), 150, dtype=np.uint8), sigma=6, seed=seed)


def located_not_decoded(text: str) -> Image:
    """Dim and blurred: zxing-cpp locates the code but cannot decode it; zxing-cpp after CLAHE reads it."""
    return blurred(low_contrast(on_canvas(qr(text), side=140), 70, 100), 1.8)


def not_located(text: str) -> Image:
    """Blurred and very noisy: zxing-cpp sees no code at all; only pyzbar on the half-size image reads it."""
    return noisy(blurred(on_canvas(qr(text), side=180), 1.8), 32)


def bgr(img: Image) -> Image:
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def write_video(path: Path, frames: list[Image], fps: float = 25.0) -> None:
    """Write grayscale frames as an MJPG .avi through OpenCV's VideoWriter."""
    h, w = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames:
        writer.write(bgr(frame))
    writer.release()
