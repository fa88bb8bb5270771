"""Checks that the station's dependencies install on a Raspberry Pi from PyPI wheels alone, with no compiler."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPI = "https://pypi.org/simple"

# Raspberry Pi OS Bookworm and Debian 12 ship glibc 2.36 and CPython 3.11.
GLIBC = (2, 36)
PYTHON = "3.11"

# What systemd/install.sh adds to the project's own dependencies on a Raspberry Pi (gpiozero's pin factory).
ON_A_PI = ["lgpio"]

# pip finds its index and local wheel folders through these; the check asks the index it is given and nothing else.
_KEPT_PIP_VARIABLES = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_PROXY", "PIP_RETRIES"}
_NO_MATCH = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")
# After a ResolutionImpossible, pip lists the projects in the conflict that have nothing for the platform.
_UNAVAILABLE = re.compile(r"no matching distributions available for your environment:\n((?:[ \t]+\S+\n?)+)")


def unavailable(output: str) -> list[str]:
    """The canonical names of the projects pip's output says have no distribution for the platform."""
    names = [canonical(m.group(1)) for m in _NO_MATCH.finditer(output)]
    for block in _UNAVAILABLE.finditer(output):
        names.extend(canonical(line.strip()) for line in block.group(1).splitlines() if line.strip())
    return list(dict.fromkeys(names))


def canonical(name: str) -> str:
    """The PEP 503 form of a project name (``Jinja2`` and ``jinja2`` are one project)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The canonical project name a requirement string starts with (``psycopg[binary]>=3.1`` -> ``psycopg``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def station_requirements(pyproject: Path = ROOT / "pyproject.toml", extras: Sequence[str] = ()) -> list[str]:
    """What install.sh installs on a Pi: the project's dependencies, ``ON_A_PI``, and any extras asked for."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements: list[str] = [*project["dependencies"], *ON_A_PI]
    for extra in extras:
        requirements.extend(project["optional-dependencies"][extra])
    seen: set[str] = set()
    unique = []
    for requirement in requirements:
        if requirement not in seen:
            seen.add(requirement)
            unique.append(requirement)
    return unique


def platform_tags(arch: str, glibc: tuple[int, int] = GLIBC) -> list[str]:
    """Every platform tag pip accepts on a glibc ``glibc`` Linux of ``arch``, newest first.

    pip takes ``--platform`` literally (``manylinux_2_36_aarch64`` does not imply ``manylinux_2_28_aarch64``), so the
    whole range down to manylinux2014 (glibc 2.17, the oldest manylinux for ARM) is listed, plus the plain
    ``linux_`` tag that PyPI accepts for 32-bit ARM.
    """
    major, newest = glibc
    tags = [f"manylinux_{major}_{minor}_{arch}" for minor in range(newest, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", f"linux_{arch}"]


@dataclass(frozen=True)
class Wheel:
    """One distribution the resolution picked: its name, version and the wheel file pip would install."""

    name: str
    version: str
    filename: str

    @property
    def pure(self) -> bool:
        return self.filename.endswith("-none-any.whl")


@dataclass
class Report:
    """The outcome of a check for one platform."""

    arch: str
    wheels: list[Wheel] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # requirement -> why it has no wheel
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in _KEPT_PIP_VARIABLES}
    env["PIP_CONFIG_FILE"] = os.devnull  # no pip.conf: no extra index, local wheel folder or constraints
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def resolve(requirements: Sequence[str], arch: str, *, index_url: str = PYPI) -> tuple[list[Wheel] | None, str]:
    """Resolves ``requirements`` for CPython 3.11 on ``arch`` from wheels only, downloading metadata, not wheels.

    ``pip install --dry-run --report`` with ``--platform`` reads each wheel's metadata (PEP 658) without fetching the
    wheel itself. Returns the picked wheels (None if the resolution failed) and pip's output.
    """
    with tempfile.TemporaryDirectory(prefix="wibox-wheels-") as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        command += ["--report", str(report), "--target", str(Path(tmp) / "target"), "--index-url", index_url]
        command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON]
        command += ["--abi", "cp" + PYTHON.replace(".", "")]
        for tag in platform_tags(arch):
            command += ["--platform", tag]
        done = subprocess.run(
            [*command, *requirements], capture_output=True, text=True, check=False, env=_pip_env(), timeout=600
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            return None, output
        data = json.loads(report.read_text())
    wheels = [
        Wheel(item["metadata"]["name"], item["metadata"]["version"], item["download_info"]["url"].rsplit("/", 1)[-1])
        for item in data["install"]
    ]
    return wheels, output


def _last_error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    return errors[0] if errors else output.strip()[-500:]


def check(requirements: Sequence[str], arch: str, *, index_url: str = PYPI) -> Report:
    """Resolves ``requirements`` for ``arch`` and lists every requirement that has no wheel there.

    One pip run when everything resolves. Otherwise the requirement pip names is set aside and the rest resolved
    again; when pip names a dependency of a dependency, each requirement is resolved alone to find those that pull
    it in.
    """
    started = time.monotonic()
    report = Report(arch)
    pending = list(requirements)
    while pending:
        wheels, output = resolve(pending, arch, index_url=index_url)
        if wheels is not None:
            report.wheels = sorted(wheels, key=lambda w: canonical(w.name))
            break
        named = unavailable(output)
        direct = [r for r in pending if requirement_name(r) in named]
        if direct:
            for requirement in direct:
                report.missing[requirement] = "no wheel"
            pending = [r for r in pending if r not in direct]
            continue
        culprits = []
        for requirement in pending:
            alone, alone_output = resolve([requirement], arch, index_url=index_url)
            if alone is None:
                needs = unavailable(alone_output)
                report.missing[requirement] = (
                    f"needs {', '.join(needs)}, which has no wheel" if needs else _last_error(alone_output)
                )
                culprits.append(requirement)
        if not culprits:
            report.missing["(all together)"] = _last_error(output)
            break
        pending = [r for r in pending if r not in culprits]
    report.seconds = time.monotonic() - started
    return report


def render(report: Report) -> str:
    """The report as text: the wheels picked, then what has no wheel."""
    lines = [f"CPython {PYTHON}, glibc {GLIBC[0]}.{GLIBC[1]}, {report.arch}: {len(report.wheels)} wheels"]
    for wheel in report.wheels:
        kind = "pure" if wheel.pure else "binary"
        lines.append(f"  {wheel.name} {wheel.version} ({kind}): {wheel.filename}")
    if report.missing:
        lines.append(f"NO WHEEL for {report.arch} ({len(report.missing)}): these would need a compiler:")
        lines.extend(f"  {requirement}: {reason}" for requirement, reason in report.missing.items())
    else:
        lines.append(f"OK: every dependency has a wheel for {report.arch}")
    lines.append(f"({report.seconds:.1f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--arch",
        action="append",
        choices=["aarch64", "armv7l", "x86_64"],
        help="the platform to check; repeatable (default: aarch64, Raspberry Pi OS 64-bit)",
    )
    parser.add_argument("--extra", action="append", default=[], help="also check this extra of pyproject (e.g. test)")
    parser.add_argument("--index-url", default=PYPI, help=f"the package index to ask (default: {PYPI})")
    args = parser.parse_args(argv)
    requirements = station_requirements(extras=args.extra)
    ok = True
    for arch in args.arch or ["aarch64"]:
        report = check(requirements, arch, index_url=args.index_url)
        print(render(report))
        ok = ok and report.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
