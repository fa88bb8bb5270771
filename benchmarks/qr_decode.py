"""QR decoding benchmark: decode rate and time per decoder on a photo corpus and on generated camera frames.

Usage: .venv/bin/python benchmarks/qr_decode.py --corpus /work/shared/qr-corpus [--chain zxing,pyzbar,...]
Corpus layout: <set>/<stem>.(png|jpg) with <set>/<stem>.txt holding the expected payload (bytes, UTF-8).
Times are single-threaded (OpenCV limited to one thread), so frames/s is per core.

"chain" runs every step until one reads the code (``wibox decode``); "camera loop" is what the camera's decoder
thread runs per frame (``LiveDecoder`` as ``CameraScanner`` builds it: motion test, fallback gate, chain, rate policy)
with a clock that moves one frame period (``--fps``) per frame.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import qrcode  # type: ignore[import-untyped]

from firmware_bridge.scanners.camera import CameraSettings, live_decoder
from firmware_bridge.scanners.chain import DEFAULT_CHAIN, DecoderChain, Fallbacks
from firmware_bridge.scanners.live import LiveDecoder
from firmware_bridge.scanners.rate import RateMode
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


class FrameClock:
    """A monotonic clock that moves one frame period per ``tick``: the frames come at the camera's rate."""

    def __init__(self, fps: float) -> None:
        self.t = 0.0
        self._period = 1.0 / fps

    def __call__(self) -> float:
        return self.t

    def tick(self) -> None:
        self.t += self._period


def idle_camera(spec: Sequence[str], fps: float, wall: Gray | None = None) -> tuple[LiveDecoder, FrameClock]:
    """A camera loop that has watched ``wall`` (default: a plain gray wall) long enough to be idle."""
    clock = FrameClock(fps)
    live = live_decoder(DecoderChain.from_spec(spec), CameraSettings(fps=fps), clock)
    wall = np.full((480, 640), 150, dtype=np.uint8) if wall is None else wall
    for _ in range(round(2 * CameraSettings().active_hold_s * fps)):
        live.decode(wall)
        clock.tick()
    if live.policy.mode is not RateMode.IDLE:
        raise RuntimeError("the camera loop did not go idle on the warm-up scene")
    return live, clock


def run_corpus_held_up(
    spec: Sequence[str], images: Sequence[CorpusImage], hold: int, fps: float
) -> tuple[int, int, float]:
    """Each image held up for ``hold`` frames in front of an idle camera loop: decoded (all, ASCII), median ms."""
    ok = ok_ascii = 0
    times = []
    for image in images:
        live, clock = idle_camera(spec, fps)
        found = False
        for _ in range(hold):
            started = time.perf_counter()
            result = live.decode(image.gray).result
            times.append((time.perf_counter() - started) * 1000)
            clock.tick()
            found = found or (result is not None and result.text.encode("utf-8") == image.expected)
        ok += found
        ok_ascii += found and image.ascii
    return ok, ok_ascii, statistics.median(times)


def still_scene(count: int, seed: int = 3) -> list[Gray]:
    """An empty view as a fixed camera sees it: one cluttered scene, fresh sensor noise in every frame."""
    rng = np.random.default_rng(seed)
    scene = camera_frames(1, False, seed=seed)[0].astype(np.float32)
    frames = []
    for _ in range(count):
        noisy = np.asarray(cv2.GaussianBlur(scene + rng.normal(0, 6, scene.shape), (0, 0), 1.0), dtype=np.float32)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def run_live(
    spec: Sequence[str], frames: Sequence[Gray], wall: Gray | None, repeat: int, fps: float
) -> tuple[float, int, int]:
    """Frames in sequence through a camera loop idle on ``wall``: mean ms per frame (fastest pass), decoded, and
    frames the fallbacks ran on."""
    best, decoded, fallbacks = float("inf"), 0, 0
    for _ in range(repeat):
        live, clock = idle_camera(spec, fps, wall)
        decoded = fallbacks = 0
        started = time.perf_counter()
        for frame in frames:
            attempt = live.decode(frame)
            clock.tick()
            decoded += attempt.result is not None
            fallbacks += attempt.fallbacks_ran
        best = min(best, (time.perf_counter() - started) * 1000 / len(frames))
    return best, decoded, fallbacks


def run_on_candidate(chain: DecoderChain, frames: Sequence[Gray], repeat: int) -> float:
    """Mean ms per frame with the fallbacks only on candidates (the camera loop's idle case), fastest pass."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for frame in frames:
            chain.attempt(frame, Fallbacks.ON_CANDIDATE)
        best = min(best, (time.perf_counter() - started) * 1000 / len(frames))
    return best


def print_camera_loop(spec: Sequence[str], with_code: Sequence[Gray], empty: Sequence[Gray], args: Namespace) -> None:
    """zxing-cpp alone against the configured chain as the camera loop runs it, per kind of scene."""
    still = still_scene(args.frames)
    print(f"\nCamera loop per frame ({','.join(spec)}; {args.fps:g} fps, CameraSettings defaults), one core:\n")
    print("| scene (frames in sequence) | zxing-cpp alone ms | camera loop ms | ratio | decoded | fallback runs |")
    print("|---|---:|---:|---:|---:|---:|")
    scenes = [  # (label, frames, the scene the loop went idle on)
        ("empty, still (one scene, sensor noise)", still, still[0]),
        ("empty, a new scene every frame", empty, empty[0]),
        ("a code in every frame (a new one each)", with_code, None),
    ]
    for label, frames, wall in scenes:
        ms_zxing, _ = run_frames(DecoderChain.from_spec(["zxing"]), frames, args.repeat)
        ms_live, decoded, fallbacks = run_live(spec, frames, wall, args.repeat, args.fps)
        print(
            f"| {label} | {ms_zxing:.2f} | {ms_live:.2f} | {ms_live / ms_zxing:.1f}x | {decoded}/{len(frames)} "
            f"| {fallbacks} |"
        )
    ms_zxing, _ = run_frames(DecoderChain.from_spec(["zxing"]), empty, args.repeat)
    ms_gated = run_on_candidate(DecoderChain.from_spec(spec), empty, args.repeat)
    print(
        f"| empty, a new scene every frame: the chain with fallbacks on candidates only | {ms_zxing:.2f} "
        f"| {ms_gated:.2f} | {ms_gated / ms_zxing:.1f}x | - | - |"
    )


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
    parser.add_argument("--fps", type=float, default=30.0, help="the camera loop's full rate")
    parser.add_argument("--hold", type=int, default=3, help="frames a corpus image is held up to the camera loop")
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
        ok, ok_ascii, median_ms = run_corpus_held_up(chain_spec, images, args.hold, args.fps)
        print(
            f"| camera loop, each image held up for {args.hold} frames | {ok}/{len(images)} "
            f"({100 * ok / len(images):.0f}%) | {ok_ascii}/{n_ascii} ({100 * ok_ascii / max(1, n_ascii):.0f}%) "
            f"| {median_ms:.1f} | - | - |"
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
    print_camera_loop(chain_spec, with_code, empty, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
