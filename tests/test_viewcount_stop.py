"""Nothing counted is lost on a graceful stop: the real server (serve.py, two
granian workers) writes every counted view before its workers exit."""

import http.cookiejar
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port, instance_with_article, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
READERS = 30


def new_reader(base: str):
    """A new browser that has its reader cookie from a first page.

    Browsers without any cookie are counted at once, by address and browser
    (claim_view); a reader with a cookie is counted in the batch, which is
    what a stop could lose.
    """
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def get(path: str) -> str:
        request = urllib.request.Request(
            base + path, headers={"User-Agent": BROWSER_UA}
        )
        with opener.open(request, timeout=10) as response:
            return response.read().decode()

    get("/")
    return get


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A migrated database with one published article; its id."""
    instance, ids = instance_with_article(tmp_path, monkeypatch, views=100)
    return instance, ids["article"]


def totals(database: Path, article_id: int) -> tuple[int, int]:
    with sqlite3.connect(database) as connection:
        views = connection.execute(
            "SELECT views FROM article WHERE id = ?", (article_id,)
        ).fetchone()[0]
        days = connection.execute(
            "SELECT coalesce(sum(views), 0) FROM article_daily_views"
            " WHERE article_id = ?",
            (article_id,),
        ).fetchone()[0]
    return views, days


@pytest.mark.parametrize(
    "signum, whole_group",
    [
        (signal.SIGTERM, True),  # systemd's default (KillMode=control-group)
        (signal.SIGINT, True),  # Ctrl-C on `make run`
        (signal.SIGTERM, False),  # the master alone: it stops its workers
    ],
    ids=["sigterm-group", "sigint-group", "sigterm-master"],
)
def test_every_counted_view_is_written_on_a_graceful_stop(
    instance, signum, whole_group
):
    instance_path, article_id = instance
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        SCHOOLNEWS_INSTANCE=str(instance_path),
        # Far longer than the test: only the stop can write these views.
        FLASK_VIEW_FLUSH_SECONDS="30",
    )
    server = subprocess.Popen(
        [sys.executable, "serve.py", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(base, server)
        for _ in range(READERS):
            assert "开学通知" in new_reader(base)(f"/articles/{article_id}")
        if whole_group:
            os.killpg(server.pid, signum)
        else:
            server.send_signal(signum)
        # serve.py's WORKER_STOP_SECONDS (15) bounds even a lost signal.
        server.wait(timeout=40)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    database = instance_path / "cms.sqlite3"
    assert totals(database, article_id) == (100 + READERS, READERS)
