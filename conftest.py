"""The leftover guard: a test (or fixture) that leaves a thread, a child process, a listening socket or a running
event loop behind fails the run, at the teardown of the test, module or session that created it.

Why: a leftover changes what later tests on the same pytest-xdist worker see, and which tests share a worker depends
on timing, so leftovers make failures that come and go. A test owns what it starts and stops it before it ends.

What counts (compared with the moment before the node was set up, so a module- or session-scoped fixture may keep
its resources until its own scope ends):
- a live thread that is not a daemon (a daemon thread dies with the process and cannot block its exit);
- a running child process of this process (zombies are gone already and do not count);
- a listening TCP or Unix socket of this process;
- a running event loop in the main thread (e.g. Playwright's sync API left open).

Things that are finishing get ``LEFTOVER_GRACE_S`` (environment ``WIBOX_LEFTOVER_GRACE_S``) to go before they count.
Child processes that remain are killed after the report, so one leak does not cascade into other tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests/unit/test_leftover_guard.py runs leaky tests in an inner session

LEFTOVER_GRACE_S = float(os.environ.get("WIBOX_LEFTOVER_GRACE_S", "5"))
_TCP_LISTEN = "0A"
_UNIX_ACCEPTCON = 0x00010000


@dataclass(frozen=True)
class Snapshot:
    threads: frozenset[threading.Thread]
    children: frozenset[int]
    listeners: frozenset[str]
    loop_running: bool

    def new_in(self, now: Snapshot) -> Snapshot:
        """What ``now`` holds that this snapshot did not."""
        return Snapshot(
            frozenset(t for t in now.threads - self.threads if t.is_alive()),
            now.children - self.children,
            now.listeners - self.listeners,
            now.loop_running and not self.loop_running,
        )

    def union(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            self.threads | other.threads,
            self.children | other.children,
            self.listeners | other.listeners,
            self.loop_running or other.loop_running,
        )

    def describe(self) -> list[str]:
        out = [f"non-daemon thread {t.name!r}" for t in self.threads]
        out += [f"child process {pid} ({_cmdline(pid)})" for pid in sorted(self.children)]
        out += [f"listening socket {s}" for s in sorted(self.listeners)]
        if self.loop_running:
            out.append("a running event loop in the main thread")
        return out


def _threads() -> frozenset[threading.Thread]:
    main = threading.main_thread()
    return frozenset(t for t in threading.enumerate() if not t.daemon and t is not main)


def _children() -> frozenset[int]:
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == me and fields[0] not in ("Z", "X"):
            found.add(int(entry.name))
    return frozenset(found)


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:120] or "?"


def _socket_inodes() -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path("/proc/self/fd")
    for fd in fd_dir.iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_address(hex_addr: str) -> str:
    host, port = hex_addr.split(":")
    ip = ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0)) if len(host) == 8 else f"[{host}]"
    return f"{ip}:{int(port, 16)}"


def _listeners() -> frozenset[str]:
    mine = _socket_inodes()
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == _TCP_LISTEN and f[9] in mine:
                found.add(f"{table} {_tcp_address(f[1])}")
    try:
        unix = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        unix = []
    for line in unix:
        f = line.split()
        if int(f[3], 16) & _UNIX_ACCEPTCON and f[6] in mine:
            found.add(f"unix {f[7] if len(f) > 7 else '(unnamed)'}")
    return frozenset(found)


def _loop_running() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def snapshot() -> Snapshot:
    return Snapshot(_threads(), _children(), _listeners(), _loop_running())


def settle(before: Snapshot, grace_s: float) -> Snapshot:
    """What is still left over after giving finishing threads, processes and sockets ``grace_s`` to go."""
    deadline = time.monotonic() + grace_s
    while True:
        found = before.new_in(snapshot())
        if not found.describe() or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def _kill(children: frozenset[int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


# nodeid -> the snapshot taken just before that node (session, package, module, class or test) was set up
_BEFORE: dict[str, Snapshot] = {}
_ACTIVE: list[str] = []


def _chain(item: pytest.Item | None) -> list[str]:
    return [] if item is None else [n.nodeid for n in item.listchain()]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    now = snapshot()
    for nodeid in _chain(item):
        if nodeid not in _ACTIVE:
            _BEFORE[nodeid] = now
            _ACTIVE.append(nodeid)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """What a module-, class- or session-scoped fixture starts belongs to its scope, not to the test that needed it
    first: it is added to that test's baseline, and its own scope's node (set up earlier) still reports it."""
    if fixturedef.scope == "function" or not _ACTIVE:
        return (yield)
    before = snapshot()
    try:
        return (yield)
    finally:
        item = _ACTIVE[-1]  # the test being set up: setup appends the chain outermost first
        _BEFORE[item] = _BEFORE[item].union(before.new_in(snapshot()))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    result = yield
    keep = set(_chain(nextitem))
    ended = [n for n in _ACTIVE if n not in keep]
    if not ended:
        return result
    outermost = ended[0]
    before = _BEFORE[outermost]
    for n in ended:
        _ACTIVE.remove(n)
        _BEFORE.pop(n, None)
    found = settle(before, LEFTOVER_GRACE_S)
    described = found.describe()
    if not described:
        return result
    _kill(found.children)
    for n in _ACTIVE:  # reported once: the enclosing module or session does not report it again
        _BEFORE[n] = _BEFORE[n].union(found)
    scope = "this test" if outermost == item.nodeid else f"{outermost or 'the session'} (ended after this test)"
    pytest.fail(f"{scope} left behind: " + "; ".join(described), pytrace=False)
