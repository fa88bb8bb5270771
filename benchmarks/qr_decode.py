"""QR decoding benchmark: decode rate and time per decoder on a photo corpus and on generated camera frames.

Usage: .venv/bin/python benchmarks/qr_decode.py --corpus /work/shared/qr-corpus [--chain zxing,pyzbar,...]
Corpus layout: <set>/<stem>.(png|jpg) with <set>/<stem>.txt holding the expected payload (bytes, UTF-8).
Times are single-threaded (OpenCV limited to one thread), so frames/s is per core.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import qrcode  # type: ignore[import-untyped]

from firmware_bridge.scanners.chain import DEFAULT_CHAIN, DecoderChain
from firmware_bridge.scanners.variants import Variant, to_gray

Gray = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass(frozen=True)
class CorpusImage:
    name: str
    gray: Gray
    expected: bytes

    @property
    def ascii(self) -> bool:
        return self.expected.isascii()


def load_corpus(root: Path) -> list[CorpusImage]:
    images = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        expected_path = path.with_suffix(".txt")
        if not expected_path.is_file():
            print(f"skipping {path}: no {expected_path.name}", file=sys.stderr)
            continue
        image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            print(f"skipping {path}: not an image", file=sys.stderr)
            continue
        images.append(CorpusImage(str(path.relative_to(root)), to_gray(image), expected_path.read_bytes()))
    return images


@dataclass(frozen=True)
class Row:
    label: str
    decoded: int
    decoded_ascii: int
    median_ms: float
    p95_ms: float
    errors: int


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_corpus(label: str, chain: DecoderChain, images: Sequence[CorpusImage], repeat: int) -> tuple[Row, set[str]]:
    """Decode every image ``repeat`` times; an image's time is its fastest run (least disturbed by the OS)."""
    times, ok = [], set()
    decoded_ascii = 0
    for image in images:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = chain.decode(image.gray)
            runs.append((time.perf_counter() - started) * 1000)
        times.append(min(runs))
        if result is not None and result.text.encode("utf-8") == image.expected:
            ok.add(image.name)
            decoded_ascii += image.ascii
    errors = sum(chain.error_counts().values()) // repeat
    row = Row(label, len(ok), decoded_ascii, statistics.median(times), percentile(times, 0.95), errors)
    return row, ok


def qr_gray(text: str) -> Gray:
    code = qrcode.QRCode(box_size=6, border=4)
    code.add_data(text)
    code.make(fit=True)
    return np.array(code.make_image().get_image().convert("L"), dtype=np.uint8)


def camera_frames(count: int, with_code: bool, seed: int = 1) -> list[Gray]:
    """640x480 frames like the kiosk camera sees: a code of varying size, angle and light, or an empty scene."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        clutter = cv2.GaussianBlur(rng.normal(0, 40, (480, 640)).astype(np.float32), (0, 0), 12)
        frame: npt.NDArray[np.float32] = np.asarray(clutter, dtype=np.float32) + np.float32(150)
        if with_code:
            side = int(rng.integers(140, 320))
            code = cv2.resize(
                qr_gray(f"WB1:{i:08d}-{rng.integers(1 << 60):x}"), (side, side), interpolation=cv2.INTER_NEAREST
            )
            y, x = int(rng.integers(0, 480 - side)), int(rng.integers(0, 640 - side))
            frame[y : y + side, x : x + side] = code
            angle = float(rng.uniform(-40, 40))
            matrix = cv2.getRotationMatrix2D((x + side / 2, y + side / 2), angle, 1.0)
            rotated = cv2.warpAffine(frame, matrix, (640, 480), borderMode=cv2.BORDER_REPLICATE)
            frame = np.asarray(rotated, dtype=np.float32)
        gain, offset = float(rng.uniform(0.4, 1.0)), float(rng.uniform(0, 60))
        lit = (frame * gain + offset + rng.normal(0, 6, frame.shape)).astype(np.float32)
        smooth = np.asarray(cv2.GaussianBlur(lit, (0, 0), 1.0), dtype=np.float32)
        frames.append(np.clip(smooth, 0, 255).astype(np.uint8))
    return frames


def run_frames(chain: DecoderChain, frames: Sequence[Gray], repeat: int) -> tuple[float, int]:
    """Mean ms per frame over the fastest of ``repeat`` passes, and frames decoded."""
    best, decoded = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        decoded = sum(chain.decode(frame) is not None for frame in frames)
        best = min(best, (time.perf_counter() - started) * 1000 / len(frames))
    return best, decoded


def print_variant_payoff(images: Sequence[CorpusImage], repeat: int) -> None:
    """Every decoder on every image variant alone, and which images it reads that plain zxing-cpp misses."""
    base = run_corpus("zxing", DecoderChain.from_spec(["zxing"]), images, repeat)[1]
    print("Retries: each decoder x image variant alone (gain = images plain zxing-cpp misses):\n")
    print("| step | decoded | median ms | gain over zxing-cpp |")
    print("|---|---:|---:|---|")
    for decoder in ("zxing", "pyzbar", "opencv"):
        for variant in Variant:
            label = decoder if variant is Variant.PLAIN else f"{decoder}:{variant}"
            row, ok = run_corpus(label, DecoderChain.from_spec([label]), images, repeat)
            gain = ", ".join(sorted(ok - base)) or "-"
            print(f"| {label} | {row.decoded} | {row.median_ms:.1f} | {gain} |")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="photo corpus directory (see /work/shared/qr-corpus)")
    parser.add_argument("--chain", default=",".join(DEFAULT_CHAIN), help="the configured decoder chain")
    parser.add_argument("--frames", type=int, default=40, help="generated 640x480 frames per kind")
    parser.add_argument("--repeat", type=int, default=3, help="runs per corpus image (the fastest counts)")
    parser.add_argument("--variants", action="store_true", help="also measure every decoder x image variant")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # decoder exceptions are counted in the table instead
    cv2.setNumThreads(1)
    chain_spec = [part.strip() for part in args.chain.split(",") if part.strip()]
    candidates = [("zxing-cpp", ["zxing"]), ("pyzbar", ["pyzbar"]), ("OpenCV QRCodeDetector", ["opencv"])]
    candidates.append((f"chain ({','.join(chain_spec)})", chain_spec))

    if args.corpus is not None:
        images = load_corpus(args.corpus)
        if not images:
            print(f"no images with expected payloads under {args.corpus}", file=sys.stderr)
            return 2
        n_ascii = sum(image.ascii for image in images)
        print(f"Corpus {args.corpus}: {len(images)} images, {n_ascii} with ASCII payloads\n")
        print("| decoder | decoded (all) | decoded (ASCII) | median ms | p95 ms | decoder errors |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, spec in candidates:
            row, _ok = run_corpus(label, DecoderChain.from_spec(spec), images, args.repeat)
            print(
                f"| {row.label} | {row.decoded}/{len(images)} ({100 * row.decoded / len(images):.0f}%) "
                f"| {row.decoded_ascii}/{n_ascii} ({100 * row.decoded_ascii / max(1, n_ascii):.0f}%) "
                f"| {row.median_ms:.1f} | {row.p95_ms:.1f} | {row.errors} |"
            )
        print()
        if args.variants:
            print_variant_payoff(images, args.repeat)

    with_code, empty = camera_frames(args.frames, True), camera_frames(args.frames, False, seed=2)
    print(f"Generated 640x480 camera frames ({args.frames} with a code, {args.frames} empty), one core:\n")
    print("| decoder | decoded | ms/frame (code) | frames/s (code) | ms/frame (empty) | frames/s (empty) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, spec in candidates:
        ms_code, decoded = run_frames(DecoderChain.from_spec(spec), with_code, args.repeat)
        ms_empty, _ = run_frames(DecoderChain.from_spec(spec), empty, args.repeat)
        print(
            f"| {label} | {decoded}/{len(with_code)} | {ms_code:.1f} | {1000 / ms_code:.0f} "
            f"| {ms_empty:.1f} | {1000 / ms_empty:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
