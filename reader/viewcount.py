"""View counts readers can trust: atomic, bot-filtered and refresh-proof.

Rules: a GET from a browser counts; bots (the crawlerdetect list), HEAD
requests and link prefetches do not; the same reader's repeat within
VIEW_DEDUP_MINUTES does not. A reader is their `reader` cookie; the articles
they were counted for recently ride along in a signed `seen` cookie, so a
counted view costs one UPDATE (and one upsert of the day's total, for the
statistics) and a repeat one SELECT, with no row per view.
A browser without cookies (a first visit, or cookies refused) is recognised
by a keyed hash of IP address and User-Agent in the article_view table.

A reader's count never goes down on a refresh: each server process shows the
count it last read plus its own views not yet written (Batch), so two
processes can differ by a few views. The seen cookie also carries the count
this reader was last shown for each article, and a page never shows less
(within the window; see Visit.show; a browser refusing cookies has no such
memory). Every process's number is at most the true total, so the larger of
two is too.

Runs in the page cache middleware (pagecache.py), outside Flask's request
context, so it works from the WSGI environ and its own connection.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import multiprocessing.util
import random
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from crawlerdetect import CrawlerDetect

from core.hotpath import HotPath
from models import utcnow

READER_COOKIE = "reader"
SEEN_COOKIE = "seen"
READER_COOKIE_MAX_AGE = 365 * 24 * 3600
_COOKIE_ATTRIBUTES = (
    f"; Max-Age={READER_COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
)
# Tokens we issue are 22 URL-safe characters; anything else is treated as absent.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# The seen cookie keeps the most recent articles only; older ones are past
# the window on any real visit, and the cookie stays small.
MAX_SEEN = 40
# Chance that a cookieless count also deletes expired dedupe rows; keeps the
# table small without a scheduler and without slowing every view.
PRUNE_PROBABILITY = 0.01

log = logging.getLogger(__name__)
_crawlers = CrawlerDetect()


@functools.lru_cache(maxsize=4096)
def is_bot(user_agent: str | None) -> bool:
    """Crawlers, preview fetchers, scripts; an empty User-Agent is a script too.

    Cached: the list is a long regular expression and readers' browsers
    repeat the same few User-Agent strings.
    """
    if not user_agent or not user_agent.strip():
        return True
    return _crawlers.isCrawler(user_agent)


def is_prefetch(environ) -> bool:
    purpose = " ".join(
        environ.get(name, "")
        for name in ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
    ).lower()
    return "prefetch" in purpose or "preview" in purpose


def local_day(zone: ZoneInfo, now: datetime | None = None) -> str:
    """The date in the zone as YYYY-MM-DD (how the day column is stored)."""
    return (now.astimezone(zone) if now else datetime.now(zone)).strftime("%Y-%m-%d")


def now_minute() -> int:
    """Minutes since the epoch: the seen cookie's clock."""
    return int(time.time() // 60)


class Visit:
    """One request's reader: who they are and what was counted for them."""

    def __init__(self, counter: Counter, environ, cookies):
        self.counter = counter
        self.countable = (
            environ["REQUEST_METHOD"] == "GET"
            and not is_bot(environ.get("HTTP_USER_AGENT"))
            and not is_prefetch(environ)
        )
        token = cookies.get(READER_COOKIE, "")
        self.token = token if _TOKEN_RE.match(token) else None
        self.new_token = None if self.token else secrets.token_urlsafe(16)
        self.seen, self.shown = counter.read_seen(
            self.reader, cookies.get(SEEN_COOKIE, "")
        )
        self.seen_changed = False
        self.environ = environ

    @property
    def reader(self) -> str:
        return self.token or self.new_token

    def seen_recently(self, article_id: int, now_minute: int) -> bool:
        minute = self.seen.get(article_id)
        return minute is not None and now_minute - minute < self.counter.window

    def remember(self, article_id: int, now_minute: int) -> None:
        self.seen.pop(article_id, None)
        self.seen[article_id] = now_minute
        self.shown.pop(article_id, None)
        self.seen_changed = True

    def show(self, article_id: int, views: int | None, now_minute: int) -> int | None:
        """The count to show: views, or what this reader was shown last if more.

        Only for an article seen within the window: past it the view counts
        again, and a count lowered on purpose (a restored backup) shows.
        """
        if not self.seen_recently(article_id, now_minute):
            return views
        last = self.shown.get(article_id)
        if last is not None and (views is None or views <= last):
            return last
        if views is not None:
            self.shown[article_id] = views
            self.seen_changed = True
        return views

    def fallback_key(self) -> str:
        ip = self.environ.get("REMOTE_ADDR") or ""
        return self.counter.hash("ip-ua", ip, self.environ.get("HTTP_USER_AGENT", ""))

    def cookies(self) -> list[str]:
        """Set-Cookie values: first-party, HttpOnly, Lax, a year."""
        # Formatted here rather than by werkzeug's dump_cookie, which cost
        # 80 µs a cookie (dates, quoting) on every counted view. Our values
        # are URL-safe base64, digits, ".", "_", "-" and "~": nothing to quote.
        attributes = _COOKIE_ATTRIBUTES
        if self.environ.get("wsgi.url_scheme") == "https":
            attributes += "; Secure"
        values = []
        if self.new_token:
            values.append(f"{READER_COOKIE}={self.new_token}{attributes}")
        if self.seen_changed:
            payload = self.counter.write_seen(self.reader, self.seen, self.shown)
            values.append(f"{SEEN_COOKIE}={payload}{attributes}")
        return values


class Counter:
    """Counts views for one app."""

    def __init__(self, app, hot: HotPath):
        self.key = app.config["SECRET_KEY"].encode()
        # BLAKE2 keys are at most 64 bytes: derive one for the seen cookie.
        self.seen_key = hashlib.sha256(b"seen-cookie|" + self.key).digest()
        self.window = app.config["VIEW_DEDUP_MINUTES"]
        self.hot = hot
        self.zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
        self._day = (-1, "")
        interval = app.config.get("VIEW_FLUSH_SECONDS", 0)
        self.batch = Batch(hot, interval) if interval else None

    def today(self) -> str:
        """The site's local date: a school's day ends at its midnight, not UTC's.

        Worked out once a minute: formatting a zoned date on every counted
        view cost 20 µs, a tenth of the view. Every zone's midnight falls on
        a whole minute, so the day is never stale.
        """
        minute = now_minute()
        if self._day[0] != minute:
            self._day = (minute, local_day(self.zone))
        return self._day[1]

    def hash(self, *parts: str) -> str:
        # Keyed, so the table holds no recoverable IP address (readers are children).
        message = "\x1f".join(parts).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def _sign(self, reader: str, payload: str) -> str:
        # Keyed BLAKE2 is a MAC in one call, several times cheaper than HMAC.
        digest = hashlib.blake2b(
            f"{reader}|{payload}".encode(), key=self.seen_key, digest_size=12
        )
        return base64.urlsafe_b64encode(digest.digest()).decode()

    def read_seen(
        self, reader: str, value: str
    ) -> tuple[dict[int, int], dict[int, int]]:
        """The signed cookie's {article id: minute} and {article id: count shown}.

        A forged cookie counts as empty. Items are "id.minute_shown", or
        "id.minute" (cookies from before the count was kept).
        """
        payload, _sep, signature = value.rpartition("~")
        if not payload or not hmac.compare_digest(
            signature, self._sign(reader, payload)
        ):
            return {}, {}
        seen = {}
        shown = {}
        for item in payload.split("-")[-MAX_SEEN:]:
            article_id, _sep, rest = item.partition(".")
            minute, _sep, views = rest.partition("_")
            if article_id.isdigit() and minute.isdigit():
                seen[int(article_id)] = int(minute)
                if views.isdigit():
                    shown[int(article_id)] = int(views)
        return seen, shown

    def write_seen(
        self, reader: str, seen: dict[int, int], shown: dict[int, int]
    ) -> str:
        payload = "-".join(
            f"{article_id}.{minute}_{shown[article_id]}"
            if article_id in shown
            else f"{article_id}.{minute}"
            for article_id, minute in list(seen.items())[-MAX_SEEN:]
        )
        return f"{payload}~{self._sign(reader, payload)}"

    def visit(self, environ, cookies) -> Visit:
        return Visit(self, environ, cookies)

    def count(self, article_id: int, visit: Visit) -> int | None:
        """Count this visit if it should count; return the article's views.

        None when the database could not be asked: a lost count must never
        cost the reader the article.
        """
        minute = now_minute()
        try:
            counted = visit.countable and not visit.seen_recently(article_id, minute)
            if counted and visit.token is None:
                counted, views = self._count_cookieless(article_id, visit)
            elif counted and self.batch is not None:
                views = self.batch.add(article_id, self.today())
            elif counted:
                views = add_view(self.hot, article_id, self.today())
            elif self.batch is not None:
                views = self.batch.views(article_id)
            else:
                row = self.hot.run(VIEWS_SQL, id=article_id)
                views = row[0] if row else None
            if counted:
                visit.remember(article_id, minute)
            return visit.show(article_id, views, minute)
        except sa.exc.SQLAlchemyError:
            log.exception("Could not count a view of article %s", article_id)
            return visit.show(article_id, None, minute)

    def _count_cookieless(self, article_id: int, visit: Visit) -> tuple[bool, int]:
        """Count unless this IP and browser were counted within the window.

        Returns whether it counted, and the views either way.
        """
        with self.hot.engine.connect() as connection:
            claimed = claim_view(
                connection, article_id, visit.fallback_key(), self.window
            )
            if claimed:
                connection.execute(sa.text(ADD_SQL), {"id": article_id, "n": 1})
                connection.execute(
                    sa.text(DAILY_SQL),
                    {"id": article_id, "day": self.today(), "n": 1},
                )
            views = connection.execute(sa.text(VIEWS_SQL), {"id": article_id})
            views = views.scalar()
            connection.commit()
            return claimed, views


VIEWS_SQL = "SELECT views FROM article WHERE id = :id"
# The day's total, in the same transaction as the article's count, so the
# days always add up to the views (see pubstats.py). ON CONFLICT: SQLite
# and PostgreSQL, like the dedupe claim below. :n views at once (1, or a
# batch's).
DAILY_SQL = (
    "INSERT INTO article_daily_views (article_id, day, views) VALUES (:id, :day, :n)"
    " ON CONFLICT (article_id, day) DO UPDATE"
    " SET views = article_daily_views.views + :n"
)
# In SQL, so concurrent readers never lose an increment; a view is not an
# edit, so updated_at stays (the editor's dashboard sorts by it).
ADD_SQL = "UPDATE article SET views = views + :n WHERE id = :id"
ADD_RETURNING_SQL = ADD_SQL + " RETURNING views"
_claim = sa.text(
    "INSERT INTO article_view (article_id, reader, viewed_at)"
    " VALUES (:article_id, :reader, :now)"
    " ON CONFLICT (article_id, reader) DO UPDATE"
    " SET viewed_at = excluded.viewed_at"
    " WHERE article_view.viewed_at < :cutoff"
).bindparams(
    sa.bindparam("now", type_=sa.DateTime()),
    sa.bindparam("cutoff", type_=sa.DateTime()),
)
_prune = sa.text("DELETE FROM article_view WHERE viewed_at < :cutoff").bindparams(
    sa.bindparam("cutoff", type_=sa.DateTime())
)


def add_view(hot: HotPath, article_id: int, day: str) -> int | None:
    """Add one view on day (YYYY-MM-DD) and return the new count.

    Two statements in one transaction: the article's count and its day's.
    """
    with hot.writing() as execute:
        if hot.dialect.update_returning:
            row = execute(ADD_RETURNING_SQL, id=article_id, n=1)
        else:  # MariaDB/MySQL have no UPDATE ... RETURNING
            execute(ADD_SQL, id=article_id, n=1)
            row = execute(VIEWS_SQL, id=article_id)
        if row is not None:  # a post deleted meanwhile has no day to count
            execute(DAILY_SQL, id=article_id, day=day, n=1)
    return row[0] if row else None


def claim_view(
    connection: sa.Connection, article_id: int, reader: str, window: int, now=None
) -> bool:
    """Record a cookieless reader's view; False if counted within the window.

    Starts the write transaction itself: on SQLite a transaction that read
    first cannot become a writer while another writer is busy.
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=window)
    params = {"article_id": article_id, "reader": reader, "now": now, "cutoff": cutoff}
    claimed = connection.execute(_claim, params).rowcount == 1
    if claimed and random.random() < PRUNE_PROBABILITY:
        connection.execute(_prune, {"cutoff": cutoff})
    return claimed


# --- Counting in batches --------------------------------------------------------


class Batch:
    """Counted views a server process has not written yet (VIEW_FLUSH_SECONDS).

    A counted view used to be its own write transaction: three pages into the
    WAL and a commit, most of an article request's time. Here it is a number
    in memory, and a thread writes every article's views and day totals in
    one transaction a few times a second, so a busy article costs one UPDATE
    per flush instead of one per reader. The reader still sees a count that
    includes their own view: the last count read from the database plus what
    is waiting here. A write that fails keeps its views for the next flush.

    Nothing counted is lost on a graceful stop (SIGTERM or SIGINT, Ctrl+C):
    the process writes what is left before it exits (see _start). A process
    killed outright (kill -9, the OOM killer, a power cut) loses the views it
    counted since its last flush: at most one interval's.
    """

    # How long a count read from the database is trusted before it is read
    # again: other processes add their views meanwhile.
    KNOWN_SECONDS = 2.0
    STOP_SECONDS = 10.0

    def __init__(self, hot: HotPath, interval: float):
        self.hot = hot
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: dict[tuple[int, str], int] = {}  # (article, day) -> views
        self.unwritten: dict[int, int] = {}  # article -> views pending or in flight
        self.known: dict[int, tuple[int, float]] = {}  # article -> (views, read at)
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def add(self, article_id: int, day: str) -> int | None:
        with self.lock:
            key = (article_id, day)
            self.pending[key] = self.pending.get(key, 0) + 1
            self.unwritten[article_id] = self.unwritten.get(article_id, 0) + 1
            if self._thread is None:
                self._start()
        return self.views(article_id)

    def views(self, article_id: int) -> int | None:
        """The article's views as this process knows them, with its unwritten."""
        with self.lock:
            known = self.known.get(article_id)
            if known is not None and time.monotonic() - known[1] < self.KNOWN_SECONDS:
                return known[0] + self.unwritten.get(article_id, 0)
        row = self.hot.run(VIEWS_SQL, id=article_id)
        if row is None:
            return None
        with self.lock:
            self.known[article_id] = (row[0], time.monotonic())
            return row[0] + self.unwritten.get(article_id, 0)

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="view-counter", daemon=True
        )
        self._thread.start()
        # granian's workers are multiprocessing children: on SIGTERM/SIGINT a
        # worker stops serving and returns, and multiprocessing then ends the
        # process with os._exit(), which skips atexit handlers but runs its
        # own exit finalizers. Those also run at a normal interpreter exit
        # (multiprocessing registers them with atexit), as under waitress.
        multiprocessing.util.Finalize(None, self.stop, exitpriority=100)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.flush()
        self.flush()  # the last one, asked for by stop()

    def flush(self) -> None:
        """Write what is waiting, in one transaction."""
        with self.lock:
            batch, self.pending = self.pending, {}
        if not batch:
            return
        per_article: dict[int, int] = {}
        for (article_id, _day), views in batch.items():
            per_article[article_id] = per_article.get(article_id, 0) + views
        counts: dict[int, int | None] = {}
        try:
            with self.hot.writing() as execute:
                # Rows are locked in one order (ids, then days): on
                # PostgreSQL two servers' batches taking the same articles in
                # different orders can deadlock, and one would fail.
                for article_id, views in sorted(per_article.items()):
                    execute(ADD_SQL, id=article_id, n=views)
                    row = execute(VIEWS_SQL, id=article_id)
                    counts[article_id] = row[0] if row else None
                for (article_id, day), views in sorted(batch.items()):
                    if counts[article_id] is not None:  # not deleted meanwhile
                        execute(DAILY_SQL, id=article_id, day=day, n=views)
        except Exception:  # noqa: BLE001 - nothing is lost: tried again next time
            log.exception("Could not write %s counted views", sum(batch.values()))
            with self.lock:
                for key, views in batch.items():
                    self.pending[key] = self.pending.get(key, 0) + views
            return
        now = time.monotonic()
        with self.lock:
            for article_id, views in per_article.items():
                left = self.unwritten.get(article_id, 0) - views
                if left > 0:
                    self.unwritten[article_id] = left
                else:
                    self.unwritten.pop(article_id, None)
                if counts[article_id] is None:
                    self.known.pop(article_id, None)
                else:
                    self.known[article_id] = (counts[article_id], now)

    def stop(self) -> None:
        """Write what is left; the server is stopping (or a test ends).

        The counting thread writes it, not the caller: a caller interrupted by
        a signal may be the one holding a lock the write needs, and a stop
        must never hang the server's exit (it waits STOP_SECONDS at most).
        """
        self._stopped.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            self.flush()
            return
        thread.join(timeout=self.STOP_SECONDS)
        if thread.is_alive():
            log.error("Counted views were not written before the stop")
