"""GPIO: which gpiozero pin factory the daemon would use; a Raspberry Pi 5 needs lgpio."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from firmware_bridge.registry import on_a_pi
from wibox.doctor.report import Result, failed, passed, skipped, warned

SUBJECT = "gpio pin factory"
# gpiozero 2.0's order of trial when GPIOZERO_PIN_FACTORY is unset: (factory name, module it needs)
ORDER = (("lgpio", "lgpio"), ("rpigpio", "RPi.GPIO"), ("pigpio", "pigpio"), ("native", ""))
PI5 = "Raspberry Pi 5"

Importable = Callable[[str], bool]


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def would_use(env: Mapping[str, str], can_import: Importable = importable) -> str:
    """The factory gpiozero picks: GPIOZERO_PIN_FACTORY, else the first in ``ORDER`` whose module imports."""
    forced = env.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
    if forced:
        return forced
    return next(name for name, module in ORDER if not module or can_import(module))


def check_gpio(
    model_file: Path,
    uses_gpio: bool,
    env: Mapping[str, str] = os.environ,
    can_import: Importable = importable,
) -> Result:
    """``uses_gpio``: a bus of the configuration is on the header (then a wrong factory fails the run)."""
    if not on_a_pi(model_file):
        return skipped(SUBJECT, f"not checked: not a Raspberry Pi ({model_file} does not name one)")
    model = model_file.read_text(encoding="utf-8", errors="replace").strip("\x00\n ")
    factory = would_use(env, can_import)
    text = f"{factory} on {model}"
    if PI5 in model and factory != "lgpio":
        hint = "install lgpio (`apt install python3-lgpio`, or `pip install lgpio` in the venv); "
        hint += "unset GPIOZERO_PIN_FACTORY"
        reason = f"{text}: only lgpio drives the Pi 5's GPIO (RP1)"
        return failed(SUBJECT, reason, hint) if uses_gpio else warned(SUBJECT, reason, hint)
    return passed(SUBJECT, text + ("" if uses_gpio else " (no gpio bus configured)"))
