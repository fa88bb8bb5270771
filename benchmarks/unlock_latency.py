"""Unlock-to-confirmed-open latency per lock-board driver through the LockBank, with simulated wire timing.

Each driver runs against its simulator over a real pseudo-terminal at the board's usual baud rate with the wire time
of every byte added (10 bits a byte). The simulated door springs open at once (spring delay 0) so only the protocol
is measured; the last column is the pure wire time of the frames exchanged. Usage:

    .venv/bin/python benchmarks/unlock_latency.py [--n 50] [--gap-ms 30]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from firmware_bridge.gpio_driver import GpioPins
from firmware_bridge.lockbank import BankTiming, LockBank
from firmware_bridge.protocols import kerong_cu16, kerong_cu48, xor_8a
from firmware_bridge.registry import DriverOptions
from firmware_bridge.sim.gpio_sim import GpioWallSim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.registry import make_simulator
from firmware_bridge.sim.wall import Wall
from locker.clock import SystemClock
from locker.config import BusConfig, CompartmentConfig, GpioPinConfig, StationConfig
from locker.model import Size

CHANNELS = 16


@dataclass(frozen=True)
class Case:
    driver: str
    baud: int
    board: int
    wire_bytes: int  # bytes of one unlock + one status exchange (request and reply each)
    note: str


CASES = [
    Case(
        "kerong-cu16",
        19200,
        0,
        2 * (kerong_cu16.TABLE["status"].length + kerong_cu16.TABLE["status_reply"].length),
        "unlock answered with a status frame",
    ),
    Case(
        "kerong-cu48",
        9600,
        0,
        kerong_cu48.TABLE["open"].length
        + kerong_cu48.TABLE["open_reply"].length
        + kerong_cu48.TABLE["status"].length
        + kerong_cu48.TABLE["status_reply"].length,
        "9600 assumed (lock-boards.md names no CU48 rate)",
    ),
    Case(
        "xor-8a",
        9600,
        1,
        xor_8a.table(CHANNELS)["open"].length
        + xor_8a.table(CHANNELS)["open_reply"].length
        + xor_8a.table(CHANNELS)["query"].length
        + xor_8a.table(CHANNELS)["query_all_reply"].length,
        f"{CHANNELS} channels",
    ),
    # Modbus RTU: FC05 write 8 + echo 8; FC02 read of 16 inputs 8 + reply (5 + 2 data bytes) 7
    Case("modbus-relay", 9600, 1, 8 + 8 + 8 + 7, "flash-on write, FC 02 read"),
]


def station(bus: BusConfig, board: int) -> StationConfig:
    comp = CompartmentConfig(number=1, bus=bus.name, board=board, lock=1, size=Size.M, height_mm=900)
    return StationConfig(station_id="bench", buses=(bus,), compartments=(comp,))


@contextlib.contextmanager
def serial_bank(case: Case, gap_ms: int) -> Iterator[tuple[LockBank, Wall]]:
    wall = Wall(spring_delay_s=0.0)
    bus = BusConfig(name="b", driver=case.driver, port="x", baud=case.baud, gap_ms=gap_ms, pulse_ms=50)
    with contextlib.ExitStack() as stack:
        if case.driver == "modbus-relay":
            sim = ModbusRelaySim([case.board], channels=CHANNELS, baud=case.baud, wall=wall, bus="b")
            stack.enter_context(sim)
            port = sim.port
        else:
            wall.add_board("b", case.board, 48 if case.driver == "kerong-cu48" else CHANNELS)
            psim = make_simulator(wall, bus, channels=CHANNELS, wire_timing=True)
            port = psim.start()
            stack.callback(psim.stop)
        bus = BusConfig(
            name="b",
            driver=case.driver,
            port=port,
            baud=case.baud,
            gap_ms=gap_ms,
            pulse_ms=50,
            channels=CHANNELS,
        )
        bank = LockBank.open(station(bus, case.board), clock=SystemClock(), timing=BankTiming(confirm_poll_s=0.0))
        stack.callback(bank.close)
        yield bank, wall


def measure(bank: LockBank, wall: Wall, bus: str, board: int, n: int) -> list[float]:
    out = []
    for _ in range(n):
        res = bank.unlock(1, 2.0)
        if not res.opened:
            raise RuntimeError("door did not open")
        out.append(res.ms)
        wall.close_door(bus, board, 1)
        time.sleep(0.06)  # let the pulse spacing of the bus (pulse_ms) pass so it is not measured
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def row(name: str, baud: str, samples: list[float], wire_ms: float | None, note: str) -> str:
    wire = f"{wire_ms:.1f} ms" if wire_ms is not None else "—"
    med = statistics.median(samples)
    return f"| `{name}` | {baud} | {len(samples)} | {med:.1f} ms | {p95(samples):.1f} ms | {wire} | {note} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--gap-ms", type=int, default=30, help="pause between requests (the config default is 30)")
    args = ap.parse_args()
    print(f"gap between requests: {args.gap_ms} ms; spring delay 0; pulse 50 ms")
    print()
    print("| driver | baud | cycles | median | p95 | wire time of the frames | notes |")
    print("|---|---|---|---|---|---|---|")
    for case in CASES:
        with serial_bank(case, args.gap_ms) as (bank, wall):
            samples = measure(bank, wall, "b", case.board, args.n)
        wire_ms = case.wire_bytes * 10 / case.baud * 1000
        print(row(case.driver, str(case.baud), samples, wire_ms, f"{case.wire_bytes} bytes; {case.note}"), flush=True)
    factory = MockFactory()
    pins = (GpioPinConfig(lock=1, relay=5, door=17),)
    gbus = BusConfig(name="g", driver="gpio", pulse_ms=50, pins=pins)
    with GpioWallSim(factory, [GpioPins(5, 17)], wall=Wall(spring_delay_s=0.0), bus="g") as gsim:
        bank = LockBank.open(
            station(gbus, 0),
            clock=SystemClock(),
            options=DriverOptions(pin_factory=factory),
            timing=BankTiming(confirm_poll_s=0.001),
        )
        try:
            samples = measure(bank, gsim.wall, "g", 0, args.n)
        finally:
            bank.close()
    print(row("gpio", "—", samples, None, "host-timed 50 ms pulse, MockFactory pins (sim polls every 2 ms)"))


if __name__ == "__main__":
    main()
