"""Uncached reader pages take turns in the slow lane; cached pages never wait
for them, and a page that finds no turn gets a quick, friendly 429 (issue 19)."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from core import slowlane
from tests.conftest import free_port, instance_with_article, wait_until_up
from tests.test_pagecache import reader

ROOT = Path(__file__).resolve().parent.parent
QUICK = {"LANE_WAIT_SECONDS": 0.1, "LANE_COSTLY_WAIT_SECONDS": 0.1}


# --- Turns ----------------------------------------------------------------------


def turns(slots=1, wait=5.0, max_waiting=10):
    return slowlane.Turns(
        slots=slots,
        waits={slowlane.URGENT: wait, slowlane.COSTLY: wait},
        max_waiting=max_waiting,
    )


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_page_readers_reach_by_a_link_goes_before_waiting_searches():
    lane, order = turns(), []

    def take(kind, name):
        with lane.turn(kind):
            order.append(name)

    with lane.turn(slowlane.COSTLY):
        search = threading.Thread(target=take, args=(slowlane.COSTLY, "search"))
        search.start()
        wait_for(lambda: lane.waiting == 1)
        article = threading.Thread(target=take, args=(slowlane.URGENT, "article"))
        article.start()
        wait_for(lambda: lane.waiting == 2)
    search.join(5)
    article.join(5)
    assert order == ["article", "search"]


def test_a_page_that_finds_no_turn_in_its_wait_is_refused_and_leaves_the_queue():
    lane = turns(wait=0.2)
    with lane.turn(slowlane.URGENT):
        started = time.monotonic()
        with pytest.raises(slowlane.Busy), lane.turn(slowlane.COSTLY):
            pass
        assert 0.15 < time.monotonic() - started < 3
        assert lane.waiting == 0
    with lane.turn(slowlane.COSTLY):  # free again: taken at once
        pass


def test_past_the_waiting_limit_a_page_is_refused_at_once():
    lane = turns(wait=5.0, max_waiting=1)
    with lane.turn(slowlane.URGENT):
        waiter = threading.Thread(target=lambda: lane.turn(slowlane.COSTLY).__enter__())
        waiter.daemon = True
        waiter.start()
        wait_for(lambda: lane.waiting == 1)
        started = time.monotonic()
        with pytest.raises(slowlane.Busy), lane.turn(slowlane.URGENT):
            pass
        assert time.monotonic() - started < 1


# --- Through the app -------------------------------------------------------------


@pytest.fixture
def lane(app):
    return app.extensions["pagecache"].lane


@pytest.mark.config(**QUICK)
def test_while_the_lane_is_busy_cached_pages_are_served_and_others_refused_kindly(
    app, make_article, lane
):
    cached = make_article(title="开学通知")
    client = reader(app)
    assert client.get(f"/articles/{cached}").status_code == 200
    assert client.get("/search?q=开学").status_code == 200  # a free lane serves it
    other = make_article(title="运动会通知")  # a new version: pages rendered again
    assert client.get(f"/articles/{cached}").status_code == 200  # cached again

    with lane.turns.turn(slowlane.URGENT):  # a long search holds the lane
        page = client.get(f"/articles/{cached}")
        assert page.status_code == 200
        assert "开学通知" in page.text

        search = client.get("/search?q=开学")
        assert search.status_code == 429
        assert search.headers["Retry-After"] == "10"
        assert "访问的人较多" in search.text
        assert search.headers["Cache-Control"] == "no-store"
        assert client.get("/sections/news?page=2").status_code == 429
        assert client.get("/sitemap.xml").status_code == 429  # not cached yet

        missed = client.get(f"/articles/{other}")  # not rendered yet
        assert missed.status_code == 429
        assert missed.headers["Retry-After"] == "5"
        english = client.get("/search?q=x&lang=en")
        assert "Many readers right now" in english.text
        assert client.head("/search?q=开学").data == b""

        # Not a reader's page: no turn needed.
        assert client.get("/healthz").status_code == 200
        assert client.get("/login").status_code == 200

    search = client.get("/search?q=开学")
    assert search.status_code == 200
    assert f'href="/articles/{cached}"' in search.text
    assert client.get(f"/articles/{other}").status_code == 200


@pytest.mark.config(**QUICK)
def test_logged_in_staff_take_turns_too(app, make_article, lane, editor_client):
    # A made-up session cookie is all it takes to skip the page cache.
    make_article(title="开学通知")
    with lane.turns.turn(slowlane.URGENT):
        assert editor_client.get("/search?q=开学").status_code == 429
        assert editor_client.get("/editor/").status_code == 200


# --- The real server: a lane process per worker ------------------------------------


def process_tree(root: int) -> dict[int, list[int]]:
    """pid -> child pids, for root and everything under it."""
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        children = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                children += [int(c) for c in text.split()]
        except OSError:
            pass
        tree[pid] = children
        stack += children
    return tree


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the lane process needs fork()")
def test_the_server_renders_searches_in_lane_processes_and_survives_losing_them(
    tmp_path, monkeypatch
):
    _instance, ids = instance_with_article(tmp_path, monkeypatch)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "serve.py", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_until_up(base, server)
        deadline = time.monotonic() + 60  # the other worker may still start
        while True:
            tree = process_tree(server.pid)
            workers = tree[server.pid]
            lanes = [child for worker in workers for child in tree[worker]]
            if len(lanes) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(workers) == 2
        assert len(lanes) == 2, tree  # one per worker
        worker_nice = os.getpriority(os.PRIO_PROCESS, workers[0])
        for pid in lanes:  # niced as it starts
            wait_for(lambda p=pid: os.getpriority(os.PRIO_PROCESS, p) > worker_nice)

        for _ in range(4):
            status, text = get(base + "/search?q=" + quote("开学"))
            assert status == 200
            assert f'href="/articles/{ids["article"]}"' in text

        for pid in lanes:
            os.kill(pid, signal.SIGKILL)
        for _ in range(4):  # each worker renders by itself from now on
            status, text = get(base + "/search?q=" + quote("开学"))
            assert status == 200
            assert f'href="/articles/{ids["article"]}"' in text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    # Nothing is left behind: a lane process ends with its worker.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("processes of the server outlived it")


@pytest.mark.config(LANE_WAIT_SECONDS=10, LANE_COSTLY_WAIT_SECONDS=10)
def test_readers_asking_for_the_same_page_at_once_wait_for_one_rendering(
    app, make_article, lane
):
    make_article(title="开学通知")
    renders, answers = [], []
    real_render = lane.render

    def counted(environ):
        renders.append(environ["PATH_INFO"])
        return real_render(environ)

    lane.render = counted

    def read():
        answers.append(reader(app).get("/sections/news"))

    with lane.turns.turn(slowlane.URGENT):
        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        wait_for(lambda: lane.turns.waiting == 3)
    for thread in readers:
        thread.join(10)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert renders == ["/sections/news"]
    assert len({answer.text for answer in answers}) == 1


@pytest.mark.config(PAGE_CACHE_SECONDS=0, LANE_WAIT_SECONDS=10)
def test_an_expired_page_is_served_on_while_one_request_renders_it_again(
    app, make_article, lane
):
    make_article(title="开学通知")
    assert reader(app).get("/").status_code == 200  # stored; expired at once
    renderer = []
    with lane.turns.turn(slowlane.URGENT):
        thread = threading.Thread(target=lambda: renderer.append(reader(app).get("/")))
        thread.start()
        wait_for(lambda: lane.turns.waiting == 1)  # it renders the page again
        for _ in range(3):  # everyone else gets the stored page meanwhile
            stale = reader(app).get("/")
            assert stale.status_code == 200
            assert "开学通知" in stale.text
        assert lane.turns.waiting == 1
    thread.join(10)
    assert renderer[0].status_code == 200
    make_article(title="运动会通知")  # a new version: never the old page
    with lane.turns.turn(slowlane.URGENT):
        thread = threading.Thread(target=lambda: renderer.append(reader(app).get("/")))
        thread.start()
        wait_for(lambda: lane.turns.waiting == 1)
    thread.join(10)
    assert "运动会通知" in renderer[-1].text
