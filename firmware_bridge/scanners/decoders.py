"""QR decoders behind one interface: zxing-cpp, pyzbar (libzbar0) and OpenCV's QRCodeDetector."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from firmware_bridge.scanners.errors import ScannerConfigError

Gray = npt.NDArray[np.uint8]  # a 2-D grayscale image, one byte per pixel


class DecoderName(enum.StrEnum):
    ZXING = "zxing"
    PYZBAR = "pyzbar"
    OPENCV = "opencv"


@dataclass(frozen=True)
class DecodeResult:
    """A payload found in an image, and which decoder (and image variant) found it."""

    text: str
    decoder: str
    variant: str


@dataclass(frozen=True)
class Reading:
    """One decoder pass: the payload, or whether it located a code it could not decode (a candidate)."""

    text: str | None
    candidate: bool = False


class Decoder(Protocol):
    """Finds one QR payload in a grayscale image; may raise on odd payloads (the chain counts that)."""

    name: str

    def decode(self, gray: Gray) -> str | None: ...


@runtime_checkable
class CandidateDecoder(Decoder, Protocol):
    """A decoder that also reports codes it located but could not decode (the chain's cue for its fallbacks)."""

    def read(self, gray: Gray) -> Reading: ...


class ZxingDecoder:
    """zxing-cpp: the best detector on real photos; its own inversion and downscaling are switched on.

    Plain text mode: the payload exactly as encoded (HRI mode would escape control characters such as NUL).
    With ``return_errors`` it also returns symbols it located but could not decode (checksum or format errors):
    those are the candidates ``read`` reports, at no extra cost per frame.
    """

    name = DecoderName.ZXING.value

    def __init__(self, formats: zxingcpp.BarcodeFormats | None = None) -> None:
        self._formats = formats if formats is not None else zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

    def read(self, gray: Gray) -> Reading:
        candidate = False
        barcodes = zxingcpp.read_barcodes(
            gray, formats=self._formats, text_mode=zxingcpp.TextMode.Plain, return_errors=True
        )
        for barcode in barcodes:
            if barcode.valid and barcode.text:
                return Reading(barcode.text)
            candidate = True
        return Reading(None, candidate)

    def decode(self, gray: Gray) -> str | None:
        return self.read(gray).text


class PyzbarDecoder:
    """zbar through pyzbar: a different detector, good on small and synthetic codes; needs libzbar0."""

    name = DecoderName.PYZBAR.value

    def __init__(self) -> None:
        # Imported here so a station without libzbar0 fails when the decoder is built, with a clear error.
        try:
            from pyzbar import pyzbar  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - depends on the host
            raise ScannerConfigError(f"pyzbar needs Debian's libzbar0: {exc}") from exc
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, gray: Gray) -> str | None:
        for symbol in self._pyzbar.decode(gray, symbols=self._symbols):
            data: bytes = symbol.data
            if data:
                return data.decode("utf-8")  # raises on non-UTF-8 payloads: counted by the chain
        return None


class OpenCvDecoder:
    """OpenCV's QRCodeDetector (detectAndDecode); raises on non-UTF-8 payloads."""

    name = DecoderName.OPENCV.value

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def decode(self, gray: Gray) -> str | None:
        text, _points, _straight = self._detector.detectAndDecode(gray)
        return text or None


def make_decoder(name: str) -> Decoder:
    """Build a decoder by its config name (``zxing``, ``pyzbar`` or ``opencv``)."""
    try:
        kind = DecoderName(name)
    except ValueError as exc:
        choices = ", ".join(d.value for d in DecoderName)
        raise ScannerConfigError(f"unknown decoder {name!r} (choose from {choices})") from exc
    if kind is DecoderName.ZXING:
        return ZxingDecoder()
    if kind is DecoderName.PYZBAR:
        return PyzbarDecoder()
    return OpenCvDecoder()
