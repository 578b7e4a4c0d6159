"""newsroom/sandbox.py: work on an untrusted file ends within its memory and
time bounds, whatever the file makes the parser do, and the server lives on."""

import os
import time

import pytest

from newsroom import sandbox

SMALL = sandbox.Limits(memory_mb=256, seconds=3)


def double(value):
    return value * 2


def allocate(megabytes):
    return len(bytearray(megabytes * 1024 * 1024))


def spin():
    while True:
        pass


def refuse():
    raise ValueError("not a PDF")


def die():
    os.abort()  # what a C library does on a failed allocation


def test_a_result_comes_back():
    assert sandbox.run(double, 21, limits=SMALL) == 42


def test_memory_past_the_bound_ends_the_work_not_the_server():
    with pytest.raises(sandbox.SandboxError) as caught:
        sandbox.run(allocate, 1024, limits=SMALL)
    assert caught.value.reason == "memory"
    assert sandbox.run(allocate, 16, limits=SMALL) == 16 * 1024 * 1024


def test_an_endless_loop_ends_at_the_deadline():
    started = time.monotonic()
    with pytest.raises(sandbox.SandboxError) as caught:
        sandbox.run(spin, limits=sandbox.Limits(memory_mb=256, seconds=1))
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 10


def test_an_exception_and_a_crash_are_reported():
    with pytest.raises(sandbox.SandboxError) as caught:
        sandbox.run(refuse, limits=SMALL)
    assert (caught.value.reason, caught.value.detail) == (
        "error",
        "ValueError: not a PDF",
    )
    with pytest.raises(sandbox.SandboxError) as caught:
        sandbox.run(die, limits=SMALL)
    assert caught.value.reason == "crash"
