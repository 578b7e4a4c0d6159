"""Run work on an untrusted file in a child process with a memory and time bound.

Attached documents (PDF, DOCX, XLSX) are parsed by libraries that trust their
input more than a website can: a zip bomb inside an .xlsx, a PDF page of a
billion pixels or a malformed file can take all the memory or loop. Parsing
happens in a child process instead, so the worst a file can do is end that
child: the address space is capped (RLIMIT_AS, where the system has it), the
CPU time too, and the parent kills it at the wall-clock deadline.

Children come from a fork server on Linux (forked from a small clean process,
not from a server with threads) and are spawned elsewhere (Windows), so the
function must be importable at module level and its arguments and result
picklable.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass

# What a preview or a text extraction may use (stated in README «Attachments»).
DEFAULT_MEMORY_MB = 768
DEFAULT_SECONDS = 60.0


class SandboxError(RuntimeError):
    """The work did not finish: reason is "memory", "timeout", "crash" or
    "error" (an exception in the work; str() says which)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    memory_mb: int = DEFAULT_MEMORY_MB
    seconds: float = DEFAULT_SECONDS


_PRELOAD = ["newsroom.sandbox"]


def preload(*modules: str) -> None:
    """Import these modules once in the fork server, not in every child (a
    module of work functions calls this when it is imported)."""
    _PRELOAD.extend(m for m in modules if m not in _PRELOAD)


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Only read when the fork server starts (the first run()).
        context.set_forkserver_preload(list(_PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


def _limit_self(limits: Limits) -> None:
    try:
        import resource
    except ImportError:  # Windows: only the wall-clock deadline holds
        return
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, int(limits.seconds) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    # A core dump of a child that hit the limit is only noise on the disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(connection, limits: Limits, func, args, kwargs) -> None:
    try:
        os.nice(10)  # below the readers' requests
    except OSError:
        pass
    try:
        _limit_self(limits)
        if isinstance(func, str):  # "module:function", imported only here
            module, _, name = func.partition(":")
            func = getattr(importlib.import_module(module), name)
        result = ("ok", func(*args, **kwargs))
    except MemoryError:
        result = ("memory", "")
    except BaseException as error:  # reported to the parent, never raised here
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        result = ("error", last[:500])
    try:
        connection.send(result)
    except Exception as error:  # an unpicklable result
        connection.send(("error", f"result could not be sent: {error}"[:500]))
    finally:
        connection.close()


def run(func, *args, limits: Limits | None = None, **kwargs):
    """func(*args, **kwargs) in a bounded child process; its result.

    func may be "module:function": the server process then never imports
    the module (the document converters stay out of its memory).

    Raises SandboxError when the child ran out of memory or time, crashed
    (a signal, or a library aborting) or raised.
    """
    limits = limits or Limits()
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(send, limits, func, args, kwargs), daemon=True
    )
    process.start()
    send.close()
    try:
        if not receive.poll(limits.seconds):
            raise SandboxError("timeout", f"more than {limits.seconds:g} s")
        try:
            status, value = receive.recv()
        except (EOFError, OSError):
            process.join(5)
            raise SandboxError(_death_reason(process.exitcode)) from None
    finally:
        receive.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if status == "ok":
        return value
    if status == "memory" or (status == "error" and "MemoryError" in value):
        raise SandboxError("memory", f"more than {limits.memory_mb} MB")
    raise SandboxError(status, value)


def _death_reason(exitcode: int | None) -> str:
    # Killed by the CPU limit (SIGXCPU) is a timeout; an allocation refused
    # inside a C library often ends in SIGSEGV or SIGABRT: a crash.
    if exitcode is not None and exitcode < 0 and sys.platform != "win32":
        import signal

        if -exitcode in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout"
    return "crash"
