"""Render uncached reader pages in turn, away from the threads that serve cached ones.

A cached page costs well under a millisecond; a search, a deep list page
missing from the cache or a sitemap costs tens of milliseconds of CPU. When
every worker thread computes such pages, the cached ones queue behind them
(issue 19: a search flood took the article page from 16,000 to 38 req/s).

So the page cache (pagecache.py) sends every miss of a reader's page through
a lane: one page is rendered at a time per server process, the others wait
for their turn a short while and are then refused with a friendly 429 and
Retry-After. Pages readers reach by links (an article, the home page, a
section's first page) wait longer and go first; searches, later list pages
and anything with other query arguments go last and give up sooner.

Under serve.py's granian workers the lane is a child process forked when the
worker starts, at a lower CPU priority: the worker's threads only wait for
its answer, so cached pages keep the worker's interpreter and most of the
CPU. Elsewhere (waitress on Windows, the test servers) the page is rendered
in the waiting thread itself, in the same turns.
"""

from __future__ import annotations

import heapq
import io
import itertools
import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from multiprocessing.connection import Pipe

log = logging.getLogger(__name__)

# serve.py sets it for granian's workers: fork the lane's process.
FORK_ENV = "SCHOOLNEWS_LANE_FORK"
# Set in the lane's process: it starts no background work of its own.
CHILD_ENV = "SCHOOLNEWS_LANE_CHILD"
URGENT, COSTLY = 0, 1
# The lane's process yields the CPU to the workers that serve cached pages.
NICE = 10
# An answer the lane's process never gives (a bug, a stuck disk): give up on it.
ANSWER_TIMEOUT = 120.0


class Busy(Exception):
    """No turn came in time: the caller answers 429 with Retry-After."""


class Turns:
    """Up to slots holders; waiters go urgent first, then in arrival order,
    each until its own wait ends."""

    def __init__(self, slots: int, waits: dict[int, float], max_waiting: int):
        self.slots = slots
        self.waits = waits
        self.max_waiting = max_waiting
        self._busy = 0
        self._queue: list[tuple[int, int]] = []
        self._tickets = itertools.count()
        self._cond = threading.Condition()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextmanager
    def turn(self, kind: int):
        self._take(kind)
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def _take(self, kind: int) -> None:
        with self._cond:
            if self._busy < self.slots and not self._queue:
                self._busy += 1
                return
            if len(self._queue) >= self.max_waiting:
                raise Busy
            ticket = (kind, next(self._tickets))
            heapq.heappush(self._queue, ticket)
            deadline = time.monotonic() + self.waits[kind]
            while not (self._busy < self.slots and self._queue[0] == ticket):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._queue.remove(ticket)
                    heapq.heapify(self._queue)
                    self._cond.notify_all()  # the next in line may go now
                    raise Busy
                self._cond.wait(remaining)
            heapq.heappop(self._queue)
            self._busy += 1


def _collect(wsgi_app, environ) -> tuple[str, list, bytes]:
    """Run a WSGI app to the end: (status, headers, body)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    app_iter = wsgi_app(environ, start_response)
    try:
        body = b"".join(app_iter)
    finally:
        if hasattr(app_iter, "close"):
            app_iter.close()
    return captured["status"], captured["headers"], body


def _portable(environ) -> dict:
    """The request's plain values: what crosses to the lane's process."""
    return {
        key: value
        for key, value in environ.items()
        if isinstance(value, str | int | float | bool | tuple)
    }


class Lane:
    """Turns for uncached pages; renders in the caller's thread or a child process."""

    def __init__(self, wsgi_app, prepare, turns: Turns):
        self.wsgi_app = wsgi_app
        # Turns (status, headers, body) into what render() returns; runs
        # where the page was rendered, so its cost stays off the worker too.
        self.prepare = prepare
        self.turns = turns
        self._conn = None  # the worker's end of the pipe to the child
        self.pid = None

    # -- the worker's side ----------------------------------------------------

    def render(self, environ):
        """prepare((status, headers, body)) of the page; call with a turn."""
        if self._conn is not None:
            answer = self._ask_child(environ)
            if answer is not None:
                return answer
        return self.prepare(_collect(self.wsgi_app, environ))

    def _ask_child(self, environ):
        try:
            self._conn.send(_portable(environ))
            if self._conn.poll(ANSWER_TIMEOUT):
                return self._conn.recv()
            log.error("the lane process %s did not answer: stopped", self.pid)
            os.kill(self.pid, signal.SIGKILL)
        except (OSError, EOFError):
            log.error("the lane process %s is gone: pages render here", self.pid)
        self._close()
        return None  # rendered in this thread from now on

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.pid is not None:
            try:
                os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def attach(self, child) -> None:
        """Render in the child started by start_child() from now on."""
        self._conn, self.pid = child

    # -- the child's side -----------------------------------------------------

    def serve_parent(self, conn) -> None:
        """The child's loop: render what the worker sends until it goes away."""
        while True:
            try:
                environ = conn.recv()
            except (EOFError, OSError):
                return  # the worker is gone
            environ["wsgi.input"] = io.BytesIO()
            environ["wsgi.errors"] = sys.stderr
            environ["wsgi.multithread"] = False
            try:
                answer = self.prepare(_collect(self.wsgi_app, environ))
            except Exception:  # noqa: BLE001 - Flask answers its own errors
                log.exception("rendering %s failed", environ.get("PATH_INFO"))
                answer = self.prepare(("500 INTERNAL SERVER ERROR", [], b""))
            try:
                conn.send(answer)
            except OSError:
                return


def in_child() -> bool:
    return bool(os.environ.get(CHILD_ENV))


def start_child(factory):
    """Fork the lane's process if serve.py asked for it: (pipe, pid) or None.

    Called first thing in create_app(), before any database file is opened:
    SQLite's locks belong to a process and must not cross a fork. The child
    builds its own app with factory() and renders what the worker sends.
    """
    if not os.environ.pop(FORK_ENV, None) or not hasattr(os, "fork"):
        return None
    mine, theirs = Pipe(duplex=True)
    pid = os.fork()
    if pid:
        theirs.close()
        return mine, pid
    status = 0
    try:
        mine.close()
        # Ctrl+C reaches the whole process group: the worker's exit closes
        # the pipe, and that ends this process.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ[CHILD_ENV] = "1"
        os.nice(NICE)
        app = factory()
        app.extensions["pagecache"].lane.serve_parent(theirs)
    except BaseException:  # noqa: BLE001 - report, then leave without atexit
        log.exception("the lane process failed")
        status = 1
    finally:
        sys.stderr.flush()
        # Never the worker's exit handlers: what they write is the worker's.
        os._exit(status)
