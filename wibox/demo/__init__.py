"""`wibox demo`: the whole system without hardware — hub, station daemon and simulated boards in one process."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from wibox.demo.scenario import run_scenario
from wibox.demo.terminal import run_interactive

__all__ = ["main", "run_interactive", "run_scenario"]


def main(
    data_dir: Path,
    scenario: bool,
    codes_file: Path | None,
    kiosk_port: int = 8080,
    hub_port: int = 8090,
    *,
    boards: str = "serial",
) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if scenario:
        return 0 if run_scenario(data_dir, sys.stdout, hub_port=0, boards=boards) else 1
    return asyncio.run(run_interactive(data_dir, codes_file, kiosk_port, hub_port, sys.stdout, boards=boards))
