"""alerts.yml: valid Prometheus rule structure (promtool is not available), and only metrics the hub exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import backend_sync.hub
from backend_sync.hub.fleet import KioskSummary
from backend_sync.hub.metrics import render

RULES = Path(backend_sync.hub.__file__).parent / "alerts.yml"
DURATION = re.compile(r"^\d+[smhdwy]$")
EXPECTED = {
    "WiboxKioskSilent",
    "WiboxDoorOpenTooLong",
    "WiboxDoorForced",
    "WiboxPinBruteForce",
    "WiboxDiskLow",
    "WiboxBrowserHeartbeatStale",
}


def _exported() -> set[str]:
    k = KioskSummary(
        "k", "c", "K", "approved", "1", 1.0, True, {"free": 1}, 1, 0, 0, 1, 40.0, 0, 1.0, {"door_forced": 1}
    )
    text = render([k], 2.0).decode()
    return {m.group(1) for m in re.finditer(r"^# TYPE (\S+) ", text, re.M)} | {
        m.group(1) for m in re.finditer(r"^(\w+)[{ ]", text, re.M)
    }


def test_rules_structure() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    names = set()
    exported = _exported()
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["expr"].count("(") == rule["expr"].count(")")
            if "for" in rule:
                assert DURATION.match(rule["for"])
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert {"summary", "description"} <= set(rule["annotations"])
            used = set(re.findall(r"\bwibox_[a-z_]+", rule["expr"]))
            assert used and used <= exported, (rule["alert"], used - exported)
            names.add(rule["alert"])
    assert names == EXPECTED
