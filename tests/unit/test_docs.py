"""Docs that cannot drift: every CLI command and option, config key, core module and state is documented."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from locker.config import describe_keys
from locker.model import CompartmentState, OrderState
from wibox.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROOT = DOCS.parent


def _commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, child in subs[0].choices.items():
        yield from _commands(child, f"{prefix} {name}")


COMMANDS = list(_commands(build_parser(), "wibox"))


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_every_command_and_option_is_in_cli_md(path: str, parser: argparse.ArgumentParser) -> None:
    text = (DOCS / "cli.md").read_text()
    assert f"`{path}" in text, f"{path} is not documented in docs/cli.md"
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert opt in text, f"{path} {opt} is not documented in docs/cli.md"


def test_every_config_key_is_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [k for k, _t, _d in describe_keys() if f"`{k}`" not in text]
    assert not missing, f"undocumented configuration keys: {missing}"


def test_architecture_names_every_core_module_and_state() -> None:
    text = (DOCS / "architecture.md").read_text()
    for path in sorted((ROOT / "locker").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(ROOT).as_posix()
        short = path.name if path.parent.name == "flows" else rel
        assert short in text, f"{rel} is not described in docs/architecture.md"
    for state in [*OrderState, *CompartmentState]:
        assert f"`{state.value}`" in text, f"state {state.value} is not described in docs/architecture.md"


def test_readme_quick_start_is_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line for line in block.strip().splitlines()] == ["make demo", "make test"]
