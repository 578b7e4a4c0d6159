"""One background thread per server process, woken when there is work.

The notification sender (core/notify.py) and the attachment previewer
(newsroom/preview_queue.py) both keep their work in the database and need
the same thread: started once per process (a forked worker starts its own),
never in a slow lane's process (it only renders pages; its parent's thread
does the work), woken at once after a commit that queued something, polling
otherwise, and stopped with the process.
"""

from __future__ import annotations

import os
import threading

from core import slowlane


class ProcessThread:
    """Subclasses set `name` and `config_key` (False there keeps the thread
    off, as tests do) and implement _run(), which loops until `stopping` is
    set, waiting on `wake` between rounds."""

    name = "worker"
    config_key = ""
    extension = ""  # its key in app.extensions

    def __init__(self, app):
        self.app = app
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.lock = threading.Lock()

    @classmethod
    def bind(cls, app) -> ProcessThread:
        """This process's thread in app.extensions: started at once in a
        server process (serve.py) or when the setting is True, else by the
        first kick(); False (the tests' default) keeps it off."""
        if cls.config_key not in app.config and app.testing:
            app.config[cls.config_key] = False
        worker = cls(app)
        app.extensions[cls.extension] = worker
        # One per server process, none in a slow lane's process.
        serving = os.environ.get("SCHOOLNEWS_SERVING") and not slowlane.in_child()
        setting = app.config.get(cls.config_key)
        if setting or (serving and setting is not False):
            worker.start()
        return worker

    @classmethod
    def stop_bound(cls, app) -> None:
        worker = app.extensions.get(cls.extension)
        if worker is not None:
            worker.stop()

    @property
    def running(self) -> bool:
        return (
            self.thread is not None
            and self.thread.is_alive()
            and self.pid == os.getpid()
        )

    def start(self) -> None:
        with self.lock:
            if self.running or self.stopping.is_set():
                return
            self.pid = os.getpid()  # a forked process needs its own thread
            self.thread = threading.Thread(
                target=self._run, name=self.name, daemon=True
            )
            self.thread.start()

    def kick(self) -> None:
        """Work was queued: do it now (starting the thread if allowed)."""
        if slowlane.in_child():
            return  # the lane renders pages only; its parent's thread polls
        if not self.running and self.app.config.get(self.config_key) is not False:
            self.start()
        self.wake.set()

    def stop(self, timeout: float = 30) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def wait(self, seconds: float) -> None:
        """Sleep until kicked or for `seconds`."""
        if self.wake.wait(seconds):
            self.wake.clear()

    def _run(self) -> None:
        raise NotImplementedError
