"""View counts: atomic, bot-filtered, refresh-proof, and exact under load."""

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Article, ArticleView, Status, db, utcnow
from reader import viewcount

DAY = "2026-03-02"
BROWSER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI"
)


def views(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).views


def reader(app, ua=BROWSER_UA, **kwargs):
    """A new browser: its own cookie jar, a real User-Agent."""
    client = app.test_client(**kwargs)
    client.environ_base["HTTP_USER_AGENT"] = ua
    return client


@pytest.fixture
def article_id(make_article):
    return make_article(views=5)


def test_first_view_counts_and_the_page_shows_it(app, article_id):
    response = reader(app).get(f"/articles/{article_id}")
    assert response.status_code == 200
    assert views(app, article_id) == 6
    assert '<span class="article-views">6</span>' in response.get_data(as_text=True)


def test_refresh_within_the_window_is_not_counted(app, article_id):
    client = reader(app)
    for _ in range(3):
        assert client.get(f"/articles/{article_id}").status_code == 200
    assert views(app, article_id) == 6


@pytest.mark.parametrize("later, expected", [(1, 7), (0, 6)])
def test_a_view_counts_again_only_after_the_window(
    app, article_id, monkeypatch, later, expected
):
    client = reader(app)
    client.get("/")  # has its cookie: the seen cookie decides
    start = viewcount.now_minute()
    # Held still: a minute that turns between here and the view moved the window.
    monkeypatch.setattr(viewcount, "now_minute", lambda: start)
    client.get(f"/articles/{article_id}")
    window = app.config["VIEW_DEDUP_MINUTES"]
    monkeypatch.setattr(viewcount, "now_minute", lambda: start + window - 1 + later)
    client.get(f"/articles/{article_id}")
    assert views(app, article_id) == expected


@pytest.mark.parametrize("later, expected", [(1, 7), (-1, 6)])
def test_a_cookieless_view_counts_again_only_after_the_window(
    app, article_id, later, expected
):
    reader(app).get(f"/articles/{article_id}")
    with app.app_context():
        window = app.config["VIEW_DEDUP_MINUTES"]
        db.session.execute(
            sa.update(ArticleView).values(
                viewed_at=utcnow() - timedelta(minutes=window + later)
            )
        )
        db.session.commit()
    reader(app).get(f"/articles/{article_id}")  # a new jar, same IP and browser
    assert views(app, article_id) == expected


def test_a_forged_or_borrowed_seen_cookie_is_ignored(app, article_id):
    first = reader(app)
    first.get(f"/articles/{article_id}")
    seen = first.get_cookie(viewcount.SEEN_COOKIE).value
    assert seen.startswith(f"{article_id}.")
    # Another reader presenting the first one's list, or an unsigned one.
    for value in (seen, f"{article_id}.{viewcount.now_minute()}~AAAA"):
        other = reader(app)
        other.get("/")
        other.set_cookie(viewcount.SEEN_COOKIE, value)
        other.get(f"/articles/{article_id}")
    assert views(app, article_id) == 8


def test_the_seen_cookie_keeps_only_recent_articles(app, make_article):
    client = reader(app)
    ids = [make_article(title=f"第{i}篇") for i in range(viewcount.MAX_SEEN + 5)]
    for article_id in ids:
        client.get(f"/articles/{article_id}")
    cookie = client.get_cookie(viewcount.SEEN_COOKIE).value
    assert len(cookie) < 1200
    assert cookie.count(".") == viewcount.MAX_SEEN
    client.get(f"/articles/{ids[-1]}")  # still remembered: not counted again
    assert views(app, ids[-1]) == 1


def test_different_readers_each_count(app, article_id):
    for _ in range(3):
        client = reader(app)
        client.get("/")  # the reader's cookie is set on any page of the site
        client.get(f"/articles/{article_id}")
    assert views(app, article_id) == 8


def test_new_readers_without_cookies_share_one_ip_and_browser_key(app, article_id):
    # The known cost of the fallback: two first-time readers behind one address
    # with identical browsers look like one reader until they have a cookie.
    reader(app).get(f"/articles/{article_id}")
    reader(app).get(f"/articles/{article_id}")
    assert views(app, article_id) == 6


def test_same_reader_counts_once_per_article(app, article_id, make_article):
    other = make_article(views=0)
    client = reader(app)
    client.get(f"/articles/{article_id}")
    client.get(f"/articles/{other}")
    client.get(f"/articles/{other}")
    assert views(app, article_id) == 6
    assert views(app, other) == 1


def test_reader_cookie_is_first_party_httponly_lax_for_a_year(app, article_id):
    response = reader(app).get(f"/articles/{article_id}")
    cookie = next(
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith(f"{viewcount.READER_COOKIE}=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie


def test_reader_cookie_is_not_reissued(app, article_id):
    client = reader(app)
    client.get("/")
    response = client.get(f"/articles/{article_id}")
    assert not any(
        value.startswith(f"{viewcount.READER_COOKIE}=")
        for value in response.headers.getlist("Set-Cookie")
    )


def test_cookieless_refresh_falls_back_to_ip_and_user_agent(app, article_id):
    client = reader(app, use_cookies=False)
    client.get(f"/articles/{article_id}")
    client.get(f"/articles/{article_id}")
    assert views(app, article_id) == 6


def test_cookieless_readers_with_other_browsers_each_count(app, article_id):
    reader(app, use_cookies=False).get(f"/articles/{article_id}")
    reader(app, ua=BROWSER_UA + " Edg/124", use_cookies=False).get(
        f"/articles/{article_id}"
    )
    assert views(app, article_id) == 7


def test_cookieless_readers_on_other_addresses_each_count(app, article_id):
    for ip in ("203.0.113.5", "203.0.113.6"):
        reader(app, use_cookies=False).get(
            f"/articles/{article_id}", environ_base={"REMOTE_ADDR": ip}
        )
    assert views(app, article_id) == 7


def test_first_cookie_issued_is_recognized_on_the_next_view(app, article_id):
    # The first view is keyed on IP + User-Agent; the cookie set with it must
    # not make the second view look like a new reader.
    client = reader(app)
    client.get(f"/articles/{article_id}")
    assert client.get_cookie(viewcount.READER_COOKIE) is not None
    client.get(f"/articles/{article_id}")
    assert views(app, article_id) == 6


def test_a_forged_cookie_value_is_ignored(app, article_id):
    client = reader(app)
    client.set_cookie(viewcount.READER_COOKIE, "x")
    response = client.get(f"/articles/{article_id}")
    assert response.status_code == 200
    assert views(app, article_id) == 6


def test_dedupe_rows_hold_no_raw_ip_or_token(app, article_id):
    client = reader(app)
    client.get(f"/articles/{article_id}", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    token = client.get_cookie(viewcount.READER_COOKIE).value
    with app.app_context():
        readers = db.session.scalars(sa.select(ArticleView.reader)).all()
    assert readers
    for value in readers:
        assert "198.51.100.7" not in value and token not in value
        assert len(value) == 64


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; "
        "+http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0); 360Spider",
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.0.0 Safari/537.36",
        "facebookexternalhit/1.1",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Python-urllib/3.11",
        "",
        "   ",
    ],
)
def test_bots_and_scripts_are_not_counted(app, article_id, ua):
    response = reader(app, ua=ua).get(f"/articles/{article_id}")
    assert response.status_code == 200
    assert views(app, article_id) == 5


@pytest.mark.parametrize(
    "ua",
    [
        BROWSER_UA,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
        "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/108.0.0.0 Safari/537.36 QIHU 360SE",
        "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/98.0.4758.101 Mobile Safari/537.36 SogouMobileBrowser/5.38",
    ],
)
def test_real_browsers_are_counted(app, article_id, ua):
    reader(app, ua=ua).get(f"/articles/{article_id}")
    assert views(app, article_id) == 6


def test_head_request_is_not_counted(app, article_id):
    response = reader(app).head(f"/articles/{article_id}")
    assert response.status_code == 200
    assert views(app, article_id) == 5


@pytest.mark.parametrize(
    "headers",
    [
        {"Purpose": "prefetch"},
        {"Sec-Purpose": "prefetch"},
        {"Sec-Purpose": "prefetch;prerender"},
        {"X-Moz": "prefetch"},
        {"X-Purpose": "preview"},
    ],
)
def test_prefetch_is_not_counted(app, article_id, headers):
    client = reader(app)
    assert client.get(f"/articles/{article_id}", headers=headers).status_code == 200
    assert views(app, article_id) == 5
    # The real visit afterwards still counts: the prefetch left no dedupe row.
    client.get(f"/articles/{article_id}")
    assert views(app, article_id) == 6


def test_hidden_article_never_counts(app, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    assert reader(app).get(f"/articles/{article_id}").status_code == 404
    assert views(app, article_id) == 0
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(ArticleView)) == 0
        )


def test_article_is_shown_even_if_counting_fails(app, article_id, monkeypatch):
    attempts = []

    def broken(*args, **kwargs):
        attempts.append(args)
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(viewcount, "add_view", broken)
    monkeypatch.setattr(viewcount, "claim_view", broken)
    response = reader(app).get(f"/articles/{article_id}")
    assert response.status_code == 200
    assert attempts, "the view was never counted, so nothing failed"
    assert views(app, article_id) == 5
    # The count it had when the page was rendered, not an empty gap.
    assert '<span class="article-views">5</span>' in response.get_data(as_text=True)


def test_prune_forgets_rows_older_than_the_window(app, article_id, monkeypatch):
    monkeypatch.setattr(viewcount, "PRUNE_PROBABILITY", 1.0)
    with app.app_context():
        old = utcnow() - timedelta(days=2)
        db.session.add(ArticleView(article_id=article_id, reader="old", viewed_at=old))
        db.session.commit()
    reader(app).get(f"/articles/{article_id}")
    with app.app_context():
        remaining = db.session.scalars(sa.select(ArticleView.reader)).all()
    assert "old" not in remaining and remaining


def claim(app, article_id, reader_key):
    with app.app_context(), db.engine.connect() as connection:
        claimed = viewcount.claim_view(connection, article_id, reader_key, 30)
        connection.commit()
        return claimed


def add(app, article_id):
    return viewcount.add_view(app.extensions["pagecache"].hot, article_id, DAY)


def test_claim_view_reports_whether_the_reader_is_new(app, article_id):
    assert claim(app, article_id, "reader-a") is True
    assert claim(app, article_id, "reader-a") is False
    assert claim(app, article_id, "reader-b") is True


def test_add_view_returns_the_new_count(app, article_id):
    assert [add(app, article_id) for _ in range(3)] == [6, 7, 8]
    assert views(app, article_id) == 8


def run_at_once(count, work):
    """Run work(i) in `count` threads released together; return their errors."""
    barrier = threading.Barrier(count)
    errors = []

    def run(index):
        try:
            barrier.wait()
            work(index)
        except Exception as error:  # collected and reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_concurrent_readers_add_exactly_one_view_each(app, article_id):
    count = 30
    clients = [reader(app) for _ in range(count)]
    for client in clients:
        client.get("/")  # every reader has its own cookie, as after a first visit
    statuses = []

    def view(index):
        statuses.append(clients[index].get(f"/articles/{article_id}").status_code)

    assert run_at_once(count, view) == []
    assert statuses == [200] * count
    assert views(app, article_id) == 5 + count


def test_concurrent_new_readers_each_count(app, article_id):
    count = 20

    def view(index):
        # New browsers without cookies, on different addresses.
        response = reader(app).get(
            f"/articles/{article_id}", environ_base={"REMOTE_ADDR": f"10.0.0.{index}"}
        )
        assert response.status_code == 200

    assert run_at_once(count, view) == []
    assert views(app, article_id) == 5 + count


def test_concurrent_add_calls_never_lose_an_increment(app, article_id):
    count = 30
    results = []

    def count_one(index):
        results.append(add(app, article_id))

    assert run_at_once(count, count_one) == []
    assert sorted(results) == list(range(6, 6 + count))
    assert views(app, article_id) == 5 + count


def test_concurrent_refreshes_by_one_cookieless_reader_claim_once(app, article_id):
    count = 20
    results = []

    def claim_one(index):
        results.append(claim(app, article_id, "same-reader"))

    assert run_at_once(count, claim_one) == []
    assert results.count(True) == 1


def test_a_counted_view_is_not_an_edit(app, client, make_article):
    article_id = make_article()
    with app.app_context():
        before = db.session.get(Article, article_id).updated_at
    client.get(f"/articles/{article_id}", headers={"User-Agent": "Mozilla/5.0"})
    with app.app_context():
        article = db.session.get(Article, article_id)
        assert article.views == 1
        assert article.updated_at == before


def test_the_local_day_is_worked_out_again_in_each_new_minute(app, monkeypatch):
    """Counter.today() caches the date per minute: a view just after the
    site's midnight must land on the new day, not the cached old one."""
    from core.hotpath import HotPath

    counter = viewcount.Counter(app, HotPath(app.config["SQLALCHEMY_DATABASE_URI"]))
    days = iter(["2026-08-31", "2026-09-01"])
    monkeypatch.setattr(viewcount, "local_day", lambda zone: next(days))
    monkeypatch.setattr(viewcount, "now_minute", lambda: 100)
    assert counter.today() == "2026-08-31"
    assert counter.today() == "2026-08-31"  # same minute: not worked out again
    monkeypatch.setattr(viewcount, "now_minute", lambda: 101)
    assert counter.today() == "2026-09-01"
    counter.hot.dispose()


# --- Counting in batches, as the server does (VIEW_FLUSH_SECONDS) ---------------


def batch_of(app):
    return app.extensions["pagecache"].counter.batch


def known_reader(app):
    """A browser with its reader cookie (from a first page): counted in batches.
    Browsers without cookies are counted at once by address (claim_view)."""
    client = reader(app)
    client.get("/")
    return client


def daily_total(app, article_id):
    with app.app_context():
        return db.session.scalar(
            sa.text(
                "SELECT coalesce(sum(views), 0) FROM article_daily_views"
                " WHERE article_id = :id"
            ),
            {"id": article_id},
        )


@pytest.mark.config(VIEW_FLUSH_SECONDS=60)  # flushed by the test, not the clock
def test_a_batched_view_shows_at_once_and_is_written_with_the_next_flush(
    app, article_id
):
    batch = batch_of(app)
    assert batch is not None
    first = known_reader(app).get(f"/articles/{article_id}").get_data(as_text=True)
    second = known_reader(app).get(f"/articles/{article_id}").get_data(as_text=True)
    # Each reader sees a count with their own view in it …
    assert '<span class="article-views">6</span>' in first
    assert '<span class="article-views">7</span>' in second
    # … while the database still holds the old one, until the flush.
    assert views(app, article_id) == 5 and daily_total(app, article_id) == 0
    batch.flush()
    assert views(app, article_id) == 7 and daily_total(app, article_id) == 2
    batch.flush()  # nothing waiting: nothing written twice
    assert views(app, article_id) == 7


@pytest.mark.config(VIEW_FLUSH_SECONDS=0.05)
def test_batched_concurrent_readers_are_counted_exactly(app, article_id):
    count = 30
    clients = [reader(app) for _ in range(count)]
    for client in clients:
        client.get("/")  # every reader has its own cookie

    def view(index):
        assert clients[index].get(f"/articles/{article_id}").status_code == 200

    assert run_at_once(count, view) == []
    batch_of(app).stop()  # as the server does when it stops
    assert views(app, article_id) == 5 + count
    assert daily_total(app, article_id) == count


@pytest.mark.config(VIEW_FLUSH_SECONDS=60)
def test_a_failed_flush_keeps_its_views_for_the_next(app, article_id, monkeypatch):
    batch = batch_of(app)
    known_reader(app).get(f"/articles/{article_id}")
    real_writing = batch.hot.writing

    def broken():
        raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(batch.hot, "writing", broken)
    batch.flush()
    assert views(app, article_id) == 5
    monkeypatch.setattr(batch.hot, "writing", real_writing)
    batch.flush()
    assert views(app, article_id) == 6 and daily_total(app, article_id) == 1


@pytest.mark.config(VIEW_FLUSH_SECONDS=60)
def test_views_of_a_post_deleted_before_the_flush_are_dropped(app, article_id):
    batch = batch_of(app)
    known_reader(app).get(f"/articles/{article_id}")
    with app.app_context():
        db.session.execute(sa.delete(Article).where(Article.id == article_id))
        db.session.commit()
    batch.flush()  # no error, no day row for a post that is gone
    assert daily_total(app, article_id) == 0
    assert batch.pending == {} and batch.unwritten == {}


# --- A reader's count never goes down (issue 19) -------------------------------


def shown(response) -> int:
    page = response.get_data(as_text=True)
    return int(re.search(r'<span class="article-views">(\d+)</span>', page)[1])


@pytest.fixture
def second_process(app, monkeypatch):
    """Serve requests as one of two server processes on the same database.

    Each process has its own batch of unwritten views and its own count read
    from the database, as granian's workers do.
    """
    from core.hotpath import HotPath

    middleware = app.extensions["pagecache"]
    counters = {
        "one": middleware.counter,
        "two": viewcount.Counter(app, HotPath(app.config["SQLALCHEMY_DATABASE_URI"])),
    }

    def on(name):
        monkeypatch.setattr(middleware, "counter", counters[name])
        return counters[name]

    yield on
    for counter in counters.values():
        counter.batch.stop()
    counters["two"].hot.dispose()


@pytest.mark.config(VIEW_FLUSH_SECONDS=60)  # flushed by the test, not the clock
def test_a_readers_count_never_goes_down_between_two_server_processes(
    app, article_id, second_process, monkeypatch
):
    # A reader saw 1435, refreshed, and saw 1434: one process showed its
    # unwritten views, the other a count it had read before they were written.
    path = f"/articles/{article_id}"
    me = known_reader(app)
    seen = []
    one = second_process("one")
    known_reader(app).get(path)  # another reader, counted by process one
    seen.append(shown(me.get(path)))  # 5 + 2 unwritten in process one
    two = second_process("two")
    seen.append(shown(me.get(path)))  # process two reads 5 from the database
    second_process("one")
    one.batch.flush()  # the database has 7; process two still trusts its 5
    second_process("two")
    seen.append(shown(me.get(path)))
    known_reader(app).get(path)  # counted by process two: it knows 6
    seen.append(shown(me.get(path)))
    monkeypatch.setattr(two.batch, "KNOWN_SECONDS", 0)  # reads 7 again, + 1
    seen.append(shown(me.get(path)))
    second_process("one")  # knows 7 since its flush, has nothing unwritten
    seen.append(shown(me.get(path)))
    assert seen == [7, 7, 7, 7, 8, 8]
    two.batch.flush()
    assert views(app, article_id) == 8  # never shown more than was counted


def test_the_count_last_shown_holds_only_within_the_window(
    app, article_id, monkeypatch
):
    path = f"/articles/{article_id}"
    client = known_reader(app)
    start = viewcount.now_minute()
    assert shown(client.get(path)) == 6
    with app.app_context():  # fewer views now, say after a restored backup
        db.session.execute(sa.update(Article).values(views=2))
        db.session.commit()
    assert shown(client.get(path)) == 6
    window = app.config["VIEW_DEDUP_MINUTES"]
    monkeypatch.setattr(viewcount, "now_minute", lambda: start + window)
    assert shown(client.get(path)) == 3  # counted again, from the real count


def test_a_seen_cookie_without_counts_still_dedupes(app, article_id):
    """Cookies set before the shown count rode along keep working."""
    client = known_reader(app)
    token = client.get_cookie(viewcount.READER_COOKIE).value
    counter = app.extensions["pagecache"].counter
    payload = f"{article_id}.{viewcount.now_minute()}"
    client.set_cookie(
        viewcount.SEEN_COOKIE, f"{payload}~{counter._sign(token, payload)}"
    )
    assert shown(client.get(f"/articles/{article_id}")) == 5
    assert views(app, article_id) == 5
