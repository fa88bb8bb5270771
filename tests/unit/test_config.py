"""Configuration: the example parses; unknown keys, bad values and missing keys are errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.registry import DRIVERS
from locker.config import Polarity, load_config, parse_config
from locker.errors import ConfigError
from locker.model import Size
from wibox.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "station.toml"
MINIMAL = """
station_id = "st-1"
[[buses]]
name = "bus0"
driver = "kerong-cu16"
port = "/dev/ttyUSB0"
[[compartments]]
number = 1
bus = "bus0"
board = 0
lock = 1
size = "M"
height_mm = 900
"""


def test_example_parses() -> None:
    cfg = load_config(EXAMPLE, DRIVERS)
    assert cfg.station_id == "wi-rathaus-1"
    assert len(cfg.compartments) == 12
    assert cfg.buses[1].polarity == Polarity.OPEN_LOW
    assert cfg.compartment(5).size == Size.L
    assert cfg.policy.four_eyes_loading is True


def test_the_stations_own_keys() -> None:
    cfg = parse_config(MINIMAL + '\n[[display.keys]]\nkey = "*"\ndoes = "Backspace"\n', DRIVERS)
    assert [(k.key, k.does.value) for k in cfg.display.keys] == [("*", "Backspace")]


def test_defaults() -> None:
    cfg = parse_config(MINIMAL, DRIVERS)
    assert cfg.timing.pickup_window_days == 7
    assert cfg.policy.pin_length == 6
    assert cfg.buses[0].baud == 19200
    assert cfg.is_reachable(1)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (MINIMAL + "\nfoo = 1\n", "foo"),
        (MINIMAL + "\n[timing]\npickup_window_days = 0\n", "timing.pickup_window_days"),
        (MINIMAL + "\n[timing]\npickup_windw_days = 3\n", "timing.pickup_windw_days"),
        (MINIMAL + "\n[policy]\npin_length = 4\n", "policy.pin_length"),
        (MINIMAL + "\n[policy]\nsecond_factor = 1\n", "policy.second_factor"),
        (MINIMAL.replace('size = "M"', 'size = "XL"'), "compartments[0].size"),
        (MINIMAL.replace('driver = "kerong-cu16"', 'driver = "acme"'), "buses[0].driver"),
        (MINIMAL.replace('station_id = "st-1"', 'station_id = "Bad Id"'), "station_id"),
        (MINIMAL.replace('station_id = "st-1"\n', ""), "station_id"),
        (MINIMAL.replace("height_mm = 900", "height_mm = -5"), "compartments[0].height_mm"),
        (MINIMAL.replace('bus = "bus0"', 'bus = "bus9"'), "compartments[0].bus"),
        (MINIMAL.replace('port = "/dev/ttyUSB0"\n', ""), "buses[0].port"),
        (MINIMAL.replace("lock = 1", "lock = 17"), "compartments[0].lock"),  # a Kerong CU16 has 16 locks
        (MINIMAL + "\n[[buses.pins]]\nlock = 1\nrelay = 5\ndoor = 17\n", "buses[0].pins"),  # pins: gpio only
        (MINIMAL + MINIMAL[MINIMAL.index("[[compartments]]") :], "compartments[1].number"),
        ("station_id = ", "not valid TOML"),
        (MINIMAL + '\n[[display.keys]]\nkey = "F1"\ndoes = "speak"\n', "display.keys[0].does"),
        (MINIMAL + '\n[[display.keys]]\nkey = "two words"\ndoes = "+"\n', "display.keys[0].key"),
        (
            MINIMAL + '\n[[display.keys]]\nkey = "F1"\ndoes = "+"\n[[display.keys]]\nkey = "F1"\ndoes = "1"\n',
            "display.keys[1].key",
        ),
    ],
)
def test_errors_name_the_key(edit: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(edit, DRIVERS)
    assert key in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml", DRIVERS)


def test_cli_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "12 compartments" in out and "kerong-cu16" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL + "\n[timing]\ndoor_open_alarm_s = 1\n")
    assert main(["config", "check", str(bad)]) == 2
    assert "timing.door_open_alarm_s" in capsys.readouterr().err
