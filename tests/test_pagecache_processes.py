"""Two real server processes on one database: a change made through one shows
at once in the other, because the cache version lives in the database."""

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, free_port, instance_with_article, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


def start_server(instance: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, SCHOOLNEWS_INSTANCE=str(instance))
    return subprocess.Popen(
        [sys.executable, "serve.py", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class Browser:
    """A cookie-keeping client, like a reader's or teacher's browser."""

    def __init__(self, base: str):
        self.base = base
        self.ua = BROWSER_UA
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        request = urllib.request.Request(
            self.base + path, headers={"User-Agent": self.ua}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.read().decode()

    def post(self, path: str, data: dict) -> str:
        request = urllib.request.Request(
            self.base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={"User-Agent": BROWSER_UA},
        )
        with self.opener.open(request, timeout=10) as response:
            return response.read().decode()


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def site(tmp_path, monkeypatch):
    instance, ids = instance_with_article(tmp_path, monkeypatch, editor=True)
    ports = [free_port(), free_port()]
    servers = [start_server(instance, port) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, server in zip(bases, servers, strict=True):
            wait_until_up(base, server, timeout=30)
        yield bases, ids
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=20)


def test_an_edit_through_one_process_shows_at_once_in_the_other(site):
    (one, two), ids = site
    article = f"/articles/{ids['article']}"
    for base in (one, two):  # both processes now hold the pages
        for _ in range(2):
            assert "开学通知" in Browser(base).get("/")
            assert "开学通知" in Browser(base).get(article)

    editor = Browser(one)
    login_page = editor.get("/login")
    editor.post(
        "/login",
        {
            "csrf_token": csrf_token(login_page),
            "username": "editor",
            "password": PASSWORD,
        },
    )
    edit_page = editor.get(f"/editor/articles/{ids['article']}/edit")
    editor.post(
        f"/editor/articles/{ids['article']}/edit",
        {
            "csrf_token": csrf_token(edit_page),
            "title": "开学通知（时间调整）",
            "section_id": str(ids["section"]),
            "author_name": "教务处",
            "body_html": "<p>九月二日开学</p>",
            "version": "1",
            # The site reviews posts (one level by default): an editor's
            # change goes live at once only as a recorded bypass.
            "action": "publish",
            "bypass_reason": "开学时间调整，紧急通知",
        },
    )

    for base in (two, one):
        assert "开学通知（时间调整）" in Browser(base).get("/")
        page = Browser(base).get(article)
        assert "开学通知（时间调整）" in page and "九月二日开学" in page


def test_readers_on_both_processes_at_once_give_exact_daily_totals(site):
    """Views counted by two processes and many threads: the day's total is
    exactly the number of counted readers, and equals the article's count."""
    import sqlite3
    import threading

    (one, two), ids = site
    article = f"/articles/{ids['article']}"
    database = Path(os.environ["SCHOOLNEWS_INSTANCE"]) / "cms.sqlite3"

    def totals():
        with sqlite3.connect(database) as connection:
            views = connection.execute(
                "SELECT views FROM article WHERE id = ?", (ids["article"],)
            ).fetchone()[0]
            days = connection.execute(
                "SELECT coalesce(sum(views), 0) FROM article_daily_views"
                " WHERE article_id = ?",
                (ids["article"],),
            ).fetchone()[0]
            return views, days

    before = totals()
    count = 24
    readers = []
    for index in range(count):
        browser = Browser((one, two)[index % 2])
        if index % 3:
            browser.get("/")  # has its reader cookie: the counting UPDATE
        else:  # a new browser without cookies: counted by address and browser
            browser.ua = f"{BROWSER_UA} Safari/604.{index}"
        readers.append(browser)
    barrier = threading.Barrier(count)
    errors = []

    def read(browser):
        try:
            barrier.wait()
            for _ in range(3):  # refreshes within the window are not counted
                assert "开学通知" in browser.get(article)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read, args=(b,)) for b in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Each server process writes its counted views a few times a second
    # (VIEW_FLUSH_SECONDS): wait for the last batch, then nothing more comes.
    expected = (before[0] + count, before[1] + count)
    deadline = time.monotonic() + 10
    while totals() != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    assert totals() == expected
