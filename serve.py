"""Serve the site: granian with one worker per core, or waitress on Windows.

Run: python serve.py [--host 127.0.0.1] [--port 5000] [--workers N]

granian (a Rust HTTP server) serves several WSGI worker processes and keeps
connections alive; measured here it serves a bare Flask app about three times
as fast as gunicorn's sync workers (bench/RESULTS.md). It restarts a worker
that dies. waitress is pure Python and the documented choice on Windows.
"""

import argparse
import os
import sys

import depcheck

# Before a worker imports the app: a dependency missing after an upgrade is
# named in one line with the command that installs it (issue 19).
depcheck.guard()

# A native crash (segfault) in a worker then leaves a Python traceback in the log.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")
# Tells create_app() it serves requests: no command-line machinery (Alembic).
os.environ["SCHOOLNEWS_SERVING"] = "1"


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
        import importlib

        from waitress import serve

        module, _sep, factory = args.app.partition(":")
        create_app = getattr(importlib.import_module(module), factory)
        serve(create_app(), host=args.host, port=args.port, threads=8)
        return

    # Workers are forked from this process: start it again without
    # docstrings (-OO) and with two malloc arenas instead of one per thread,
    # and each worker stays about 6 MB smaller (bench/RESULTS.md). The app
    # has no asserts to lose; the test suite passes under -OO as well.
    if sys.flags.optimize < 2 and os.environ.get("MALLOC_ARENA_MAX") is None:
        os.environ["MALLOC_ARENA_MAX"] = "2"
        script = os.path.abspath(__file__)
        os.execv(sys.executable, [sys.executable, "-OO", script, *sys.argv[1:]])
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        args.app,
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        workers=args.workers,
        # One thread per worker: the work is CPU-bound Python (one GIL per
        # process), so more threads only add switching.
        blocking_threads=1,
        respawn_failed_workers=True,
        log_level=LogLevels.warning,
    ).serve()


if __name__ == "__main__":
    main()
