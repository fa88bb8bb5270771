"""The leftover guard of the root conftest.py fires: deliberately leaky tests run in an inner pytest session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"

LEAKY = """
import asyncio
import socket
import subprocess
import threading

import pytest

KEEP = []


def test_clean():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
    subprocess.run(["true"], check=True)


def test_leaks_a_thread():
    stop = threading.Event()
    KEEP.append(stop)
    threading.Thread(target=stop.wait, args=(20,), name="forgotten-worker").start()


def test_leaks_a_child_process():
    KEEP.append(subprocess.Popen(["sleep", "30"]))


def test_leaks_a_listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    KEEP.append(s)


def test_leaks_a_running_loop():
    loop = asyncio.new_event_loop()
    KEEP.append(loop)
    asyncio.events._set_running_loop(loop)  # what an unclosed sync_playwright() leaves in the main thread


@pytest.fixture(scope="module")
def server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    KEEP.append(s)  # never closed: the module's teardown must report it, not the tests that used it


def test_uses_a_module_fixture_1(server):
    assert server.fileno() >= 0


def test_uses_a_module_fixture_2(server):
    assert server.fileno() >= 0


def test_last_one_is_clean():
    for k in KEEP:
        if isinstance(k, threading.Event):
            k.set()
"""


def test_the_guard_reports_each_kind_of_leftover(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makepyfile(test_leaky=LEAKY, test_next="def test_in_the_next_module():\n    pass\n")
    os.environ["WIBOX_LEFTOVER_GRACE_S"] = "0.3"  # inherited by the inner session only (runpytest_subprocess)
    try:
        result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider")
    finally:
        del os.environ["WIBOX_LEFTOVER_GRACE_S"]
    out = result.stdout.str()
    result.assert_outcomes(passed=9, errors=5)
    assert "ERROR at teardown of test_clean" not in out
    assert "this test left behind: non-daemon thread 'forgotten-worker'" in out
    assert "this test left behind: child process" in out and "(sleep 30)" in out
    assert "this test left behind: listening socket tcp 127.0.0.1:" in out
    assert "this test left behind: a running event loop in the main thread" in out
    # the module fixture's socket is reported once, when the module ends, and not against the tests that used it
    assert "ERROR at teardown of test_uses_a_module_fixture_" not in out
    assert "test_leaky.py (ended after this test) left behind: listening socket tcp 127.0.0.1:" in out
