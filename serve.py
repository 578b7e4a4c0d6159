"""Serve the site: granian with one worker per core, or waitress on Windows.

Run: python serve.py [--host 127.0.0.1] [--port 5000] [--workers N]

granian (a Rust HTTP server) serves several WSGI worker processes and keeps
connections alive; measured here it serves a bare Flask app about three times
as fast as gunicorn's sync workers (bench/RESULTS.md). It restarts a worker
that dies. waitress is pure Python and the documented choice on Windows.
"""

import argparse
import importlib
import logging
import os
import signal
import socket
import sys
import threading

from core import depcheck, slowlane

# Before a worker imports the app: a dependency missing after an upgrade is
# named in one line with the command that installs it (issue 19).
depcheck.guard()

# A native crash (segfault) in a worker then leaves a Python traceback in the log.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")
# Tells create_app() it serves requests: no command-line machinery (Alembic).
os.environ["SCHOOLNEWS_SERVING"] = "1"
# Threads per granian worker. Cached pages are served by one or two of them;
# the rest wait for their page's turn in the slow lane (slowlane.py), which
# renders in a process of its own. A wait costs no CPU, only a thread.
WORKER_THREADS = 64
WORKER_STOP_SECONDS = 15


APP_ENV = "SCHOOLNEWS_APP"


class EarlySignals:
    """Note a stop signal that reaches a granian worker while it starts.

    A worker installs its SIGINT/SIGTERM handlers only after the app is
    built; a Ctrl+C or systemctl stop during that second went to the
    handler it inherited from granian's main process and was lost, and the
    main process then waited for that worker forever. A worker that was
    asked to stop while starting has served nothing: it leaves at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        for signum in self.SIGNALS:
            signal.signal(signum, self._note)

    def _note(self, signum, frame) -> None:
        self.received = signum


class SignalRelay:
    """Make sure the main thread hears a stop signal another thread received.

    Python runs signal handlers in the main thread only. A worker's main
    thread sleeps until granian's handler wakes it; when the kernel handed
    SIGINT or SIGTERM to one of the worker's other threads, Python noted it
    but the main thread slept on, and the stop never came. The wakeup fd
    tells this thread of every signal at once, and it passes the signal on
    to the main thread (_first_stop_only makes a second one harmless).
    """

    def __init__(self):
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._run, name="signal-relay", daemon=True).start()

    def _run(self) -> None:
        main = threading.main_thread().ident
        passed: set[int] = set()
        while data := self._reader.recv(64):
            for signum in set(data) & {signal.SIGINT, signal.SIGTERM} - passed:
                passed.add(signum)  # its own echo comes back: once is enough
                signal.pthread_kill(main, signum)


def _first_stop_only(install):
    """granian's set_main_signals, with a handler that runs once.

    A Ctrl+C reaches a worker twice, as SIGINT from the terminal and as
    SIGTERM from granian's main process stopping its workers, and
    SignalRelay passes each on once more. A second run of granian's handler
    while the first was still in it deadlocked the worker, which never
    stopped (and lost its counted views to the kill that ended it). One
    stop is all a worker needs.
    """

    def patched(handler, *args, **kwargs):
        stopping = threading.Event()

        def once(signum, frame):
            if not stopping.is_set():
                stopping.set()
                handler(signum, frame)

        return install(once, *args, **kwargs)

    return patched


def build_app(spec: str):
    """The app of a "module:factory" spec (--app)."""
    module, _sep, factory = spec.partition(":")
    return getattr(importlib.import_module(module), factory)()


def worker_app():
    """granian's factory in each worker: the app named by --app."""
    early = EarlySignals()
    app = build_app(os.environ[APP_ENV])
    if early.received is not None:
        os._exit(0)  # nothing served, nothing counted: nothing to write
    from granian import _signals

    _signals.set_main_signals = _first_stop_only(_signals.set_main_signals)
    # After the app: its slow lane's process is forked without the relay.
    SignalRelay()
    return app


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Serve the SchoolNews site.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5000)))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS", 0)) or os.cpu_count() or 1,
        help="server processes (default: one per core)",
    )
    parser.add_argument(
        "--app",
        default="app:create_app",
        help="module:factory to serve (the benchmark serves its reference app)",
    )
    parser.add_argument(
        "--server",
        choices=["granian", "waitress"],
        default=os.environ.get("SERVER")
        or ("waitress" if sys.platform == "win32" else "granian"),
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.server == "waitress":
        from waitress import serve

        serve(build_app(args.app), host=args.host, port=args.port, threads=8)
        return

    # Workers are forked from this process: start it again without
    # docstrings (-OO) and with two malloc arenas instead of one per thread,
    # and each worker stays about 6 MB smaller (bench/RESULTS.md). The app
    # has no asserts to lose; the test suite passes under -OO as well.
    if sys.flags.optimize < 2 and os.environ.get("MALLOC_ARENA_MAX") is None:
        os.environ["MALLOC_ARENA_MAX"] = "2"
        script = os.path.abspath(__file__)
        os.execv(sys.executable, [sys.executable, "-OO", script, *sys.argv[1:]])
    # Each granian worker forks its lane process as it creates the app.
    os.environ[slowlane.FORK_ENV] = "1"
    # granian's own allocator (jemalloc) kept a cache per thread and eight
    # arenas: with 64 threads each worker grew past 90 MB. One arena, small
    # thread caches and dirty pages returned within a second keep it near
    # 77 MB under load at the same speed (bench/RESULTS.md).
    os.environ.setdefault(
        "_RJEM_MALLOC_CONF",
        "narenas:1,tcache_max:4096,dirty_decay_ms:1000,muzzy_decay_ms:0",
    )
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    # granian warns about many threads: ours mostly wait, and say so above.
    logging.getLogger("_granian").addFilter(
        lambda record: "Python threads" not in record.getMessage()
    )

    os.environ[APP_ENV] = args.app
    Server(
        "serve:worker_app",
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        workers=args.workers,
        blocking_threads=WORKER_THREADS,
        respawn_failed_workers=True,
        # A worker that still has not stopped by then is killed, so a stop
        # never hangs: granian loses a signal that lands while a worker is
        # between its handlers and its first request (it has served nothing
        # then), or a request never ends. Writing a worker's last counted
        # views takes far less (viewcount.Batch.STOP_SECONDS).
        workers_kill_timeout=WORKER_STOP_SECONDS,
        log_level=LogLevels.warning,
    ).serve()


if __name__ == "__main__":
    main()
