"""Serve readers' pages from memory, rendered once per content version.

A WSGI middleware in front of Flask. The reader's views (reader/views/public.py) mark
a page as cacheable with the PAGE_HEADER header; the middleware keeps its
bytes, keyed by path, query and language, and serves them again without
entering Flask while the database's cache version (cachestate) is unchanged.

An article's view count must stay live: the page is rendered with VIEWS_MARK
where the number goes, kept in two pieces, and every response puts the count
it just took (viewcount) between them. Gzip is precomputed for both pieces,
so a compressed answer costs no compression per request either.

Logged-in staff (a session or remember-me cookie) never get or fill cached
pages, but their article views are counted through the same code.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from core import i18n, sites, slowlane
from core.hotpath import HotPath
from core.pagemarks import PAGE_HEADER, VERSION_KEY
from models import current_site_id, db
from reader import cachestate, viewcount

# Where the live view count goes; bleach strips comments from bodies and
# Jinja escapes titles, so no stored text can contain it.
VIEWS_MARK = Markup("<!--views-->")

_MARK = VIEWS_MARK.encode()
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# Headers that belong to one response, never to the stored page.
_PER_RESPONSE = {
    "set-cookie",
    "content-length",
    "content-encoding",
    "vary",
    PAGE_HEADER.lower(),
}
_PER_READER_COOKIES = {viewcount.READER_COOKIE, viewcount.SEEN_COOKIE, i18n.LANG_COOKIE}


def _deflate(data: bytes, final: bool) -> bytes:
    # A full flush leaves the stream byte-aligned with no references back, so
    # independently compressed pieces can be joined into one valid stream.
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH
    )


def _stored_block(data: bytes) -> bytes:
    """A non-final, uncompressed deflate block: a few digits need no zlib."""
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


@dataclass(slots=True)
class Page:
    """A rendered page: its bytes in pieces, ready to be served again."""

    status: str
    headers: list[tuple[str, str]]
    parts: tuple[bytes, ...]  # two for an article: before and after the count
    gzipped: tuple[bytes, ...]
    crcs: tuple[int, ...]
    article_id: int | None
    views: int
    version: int
    expires: float
    size: int
    # This rendering's own cookies, for its own reader only (never replayed).
    set_cookies: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(cls, status, headers, body: bytes, marker: str, max_age: float):
        version, article_id, views, _cacheable = (int(x) for x in marker.split())
        article_id = article_id or None
        parts = tuple(body.split(_MARK, 1)) if article_id else (body,)
        gzipped = tuple(
            _deflate(part, final=index == len(parts) - 1)
            for index, part in enumerate(parts)
        )
        kept = [(k, v) for k, v in headers if k.lower() not in _PER_RESPONSE]
        cookies = tuple((k, v) for k, v in headers if k.lower() == "set-cookie")
        return cls(
            status=status,
            headers=kept,
            parts=parts,
            gzipped=gzipped,
            crcs=tuple(zlib.crc32(part) for part in parts),
            article_id=article_id,
            views=views,
            version=version,
            expires=time.monotonic() + max_age,
            size=sum(map(len, parts)) + sum(map(len, gzipped)) + 512,
            set_cookies=cookies,
        )

    def body(self, views: int | None, gzip: bool) -> bytes:
        count = b"" if views is None else str(views).encode()
        if len(self.parts) == 1:
            count = b""
        if not gzip:
            return count.join(self.parts)
        # One gzip member: header, the deflate pieces, CRC and length.
        crc, length = self.crcs[0], len(self.parts[0])
        pieces = [_GZIP_HEADER, self.gzipped[0]]
        for part, gz in zip(self.parts[1:], self.gzipped[1:], strict=True):
            if count:
                pieces.append(_stored_block(count))
                crc = zlib.crc32(count, crc)
                length += len(count)
            pieces.append(gz)
            crc = zlib.crc32(part, crc)
            length += len(part)
        pieces.append(struct.pack("<II", crc, length & 0xFFFFFFFF))
        return b"".join(pieces)


class PageStore:
    """Least recently used pages, at most max_bytes of them."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._lock = threading.Lock()  # waitress serves with threads

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key, page: Page) -> None:
        if page.size > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self.size -= old.size
            self._pages[key] = page
            self.size += page.size
            while self.size > self.max_bytes:
                _key, evicted = self._pages.popitem(last=False)
                self.size -= evicted.size

    def discard(self, key, page: Page) -> None:
        with self._lock:
            if self._pages.get(key) is page:
                del self._pages[key]
                self.size -= page.size

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self.size = 0


class PageCache:
    """The middleware: app.wsgi_app = PageCache(app, app.wsgi_app, endpoints).

    Misses of the reader's pages (endpoints) are rendered through a lane
    (slowlane.py), one at a time per process.
    """

    def __init__(self, app, wsgi_app, lane_endpoints=frozenset()):
        self.wsgi_app = wsgi_app
        self.app = app
        config = app.config
        self.lane_endpoints = frozenset(lane_endpoints)
        self.lane = slowlane.Lane(
            wsgi_app,
            self._prepare,
            slowlane.Turns(
                slots=1,
                waits={
                    slowlane.URGENT: config["LANE_WAIT_SECONDS"],
                    slowlane.COSTLY: config["LANE_COSTLY_WAIT_SECONDS"],
                },
                max_waiting=config["LANE_MAX_WAITING"],
            ),
        )
        self._busy_pages: dict[str, bytes] = {}
        self._serving = threading.BoundedSemaphore(SERVING_THREADS)
        self._refreshing: dict[tuple, float] = {}  # key -> when claimed
        self._refresh_lock = threading.Lock()
        self.store = PageStore(config["PAGE_CACHE_MAX_BYTES"])
        self.max_age = config["PAGE_CACHE_SECONDS"]
        self.enabled = config["PAGE_CACHE_MAX_BYTES"] > 0
        self.staff_cookies = {
            config.get("SESSION_COOKIE_NAME") or "session",
            config.get("REMEMBER_COOKIE_NAME") or "remember_token",
        }
        self.default_locale = config["BABEL_DEFAULT_LOCALE"]
        with app.app_context():
            self.hot = HotPath(db.engine.url)
        self.counter = viewcount.Counter(app, self.hot)
        self._versions_seen: dict[int, int] = {}  # by site

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        cookies = parse_cookie(environ)
        staff = not self.staff_cookies.isdisjoint(cookies)
        key = None
        if self.enabled and not staff:
            key = self._key(environ, cookies)
            served = self._from_store(key, environ, cookies, start_response)
            if served is not None:
                return served
        kind = self._lane_kind(environ)
        if kind is None:
            return self._render(environ, cookies, key, start_response)
        try:
            with self.lane.turns.turn(kind):
                # Readers who asked for the same page at once queued for it:
                # the first one's turn rendered it for all of them.
                if key is not None:
                    served = self._from_store(
                        key, environ, cookies, start_response, stale_ok=False
                    )
                    if served is not None:
                        return served
                status, headers, marker, payload = self.lane.render(environ)
                if marker is None:
                    start_response(status, headers)
                    return [payload]
                # Stored before the next in line looks.
                return self._answer(
                    environ, cookies, key, start_response, payload, marker
                )
        except slowlane.Busy:
            return self._busy(environ, cookies, kind, start_response)

    def _from_store(self, key, environ, cookies, start_response, stale_ok=True):
        """The stored page, served; None if there is no current one.

        A page past PAGE_CACHE_SECONDS (only its lists' view counts may be
        old) is served on to everyone but the one request that renders it
        again, so its readers never wait for that; stale_ok=False is that
        request. A page of an older content version is never served.
        """
        page = self.store.get(key)
        if page is None:
            return None
        # A few threads at a time: the rest would only wait for the GIL while
        # holding a page's worth of memory each (64 threads serve, see serve.py).
        with self._serving:
            try:
                version = self.current_version()
            except sa.exc.SQLAlchemyError:
                # Flask answers with its error page; nothing stale is served.
                return self.wsgi_app(environ, start_response)
            environ[VERSION_KEY] = version
            if page.version == version:
                fresh = page.expires > time.monotonic()
                if fresh or (stale_ok and not self._claim_refresh(key)):
                    return self._serve(page, environ, cookies, start_response, ())
                return None  # this request renders it again
        self.store.discard(key, page)
        return None

    def _claim_refresh(self, key) -> bool:
        """True for the first request to find the page expired (for a while)."""
        now = time.monotonic()
        with self._refresh_lock:
            claimed = self._refreshing.get(key)
            if claimed is not None and now - claimed < REFRESH_CLAIM_SECONDS:
                return False
            self._refreshing[key] = now
            return True

    def _lane_kind(self, environ) -> int | None:
        """URGENT or COSTLY for a reader's page, None for anything else."""
        adapter = self.app.url_map.bind_to_environ(environ)
        try:
            endpoint, _args = adapter.match()
        except HTTPException:  # unknown, a redirect: cheap answers
            return None
        if endpoint not in self.lane_endpoints:
            return None
        # What readers reach by links goes first; searches, later pages and
        # made-up query arguments (each a new page to render) go last.
        args = {name for name, _value in parse_qsl(environ.get("QUERY_STRING", ""))}
        if endpoint in URGENT_ENDPOINTS and args <= {"lang"}:
            return slowlane.URGENT
        return slowlane.COSTLY

    def _busy(self, environ, cookies, kind, start_response):
        locale = self._locale(environ, cookies)
        body = self._busy_pages.get(locale)
        if body is None:
            with self.app.test_request_context("/"), force_locale(locale):
                body = render_template("reader/busy.html").encode()
            self._busy_pages[locale] = body
        retry = BUSY_RETRY_SECONDS[kind]
        start_response(
            "429 TOO MANY REQUESTS",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(retry)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _locale(self, environ, cookies) -> str:
        query_lang = i18n.query_lang(environ.get("QUERY_STRING", ""))
        return i18n.locale_for(
            query_lang, cookies.get(i18n.LANG_COOKIE), self.default_locale
        )

    def _key(self, environ, cookies) -> tuple:
        # The host is part of the page (canonical and share links): a forged
        # Host header must not put its links into other readers' pages. The
        # site (core/sites.py) and its path prefix are too: two schools may
        # share a host and differ only in the prefix.
        return (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST", ""),
            environ.get(sites.SITE_KEY),
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            self._locale(environ, cookies),
        )

    def current_version(self) -> int:
        """The acting site's content version (core/sites.py set the site)."""
        site = current_site_id()
        version = cachestate.current_version(self.hot)
        if version != self._versions_seen.get(site):
            # Everything older is stale: free it now rather than on eviction.
            # (Other sites' pages go too: simpler than a store per site, and
            # each school changes its site a few times a day.)
            self.store.clear()
            with self._refresh_lock:
                self._refreshing.clear()
            self._versions_seen[site] = version
        return version

    def _render(self, environ, cookies, key, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            marker = next((v for k, v in headers if k == PAGE_HEADER), None)
            if marker is None:
                return start_response(status, headers, exc_info)
            captured.update(status=status, headers=headers, marker=marker)
            return lambda data: None  # the legacy write() is not used by Flask

        app_iter = self.wsgi_app(environ, capture)
        if not captured:
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        status, headers, marker = (captured[k] for k in ("status", "headers", "marker"))
        page = Page.build(status, headers, body, marker, self.max_age)
        return self._answer(environ, cookies, key, start_response, page, marker)

    def _prepare(self, answer):
        """The lane's answer with its page built (and gzipped) where it rendered.

        (status, headers, marker, Page) for a reader's page, else
        (status, headers, None, body). In the lane's process this keeps the
        compression off the worker too.
        """
        status, headers, body = answer
        marker = next((v for k, v in headers if k == PAGE_HEADER), None)
        if marker is None:
            return status, headers, None, body
        return (
            status,
            headers,
            marker,
            Page.build(status, headers, body, marker, self.max_age),
        )

    def _answer(self, environ, cookies, key, start_response, page, marker):
        """Keep the rendered page if it may be, and serve it."""
        cacheable = (
            environ["REQUEST_METHOD"] == "GET"
            and key is not None
            and marker.endswith(" 1")
            and page.status.startswith("200")
        )
        if cacheable:
            self.store.put(key, page)
            with self._refresh_lock:
                self._refreshing.pop(key, None)
        flask_cookies = [
            (k, v)
            for k, v in page.set_cookies
            if v.split("=", 1)[0].strip() not in _PER_READER_COOKIES
        ]
        return self._serve(page, environ, cookies, start_response, flask_cookies)

    def _serve(self, page: Page, environ, cookies, start_response, extra_cookies):
        visit = self.counter.visit(environ, cookies)
        views = None
        if page.article_id is not None:
            views = self.counter.count(page.article_id, visit)
            if views is None:
                views = page.views  # the count when the page was rendered
        gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        body = page.body(views, gzip)
        headers = list(page.headers)
        headers.append(("Vary", "Accept-Encoding, Cookie"))
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        headers.extend(extra_cookies)
        headers.extend(("Set-Cookie", c) for c in visit.cookies())
        lang_cookie = i18n.lang_cookie_header(environ, cookies)
        if lang_cookie:
            headers.append(("Set-Cookie", lang_cookie))
        start_response(page.status, headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]


# A refresh of an expired page not done by then is claimed again.
REFRESH_CLAIM_SECONDS = 10.0
# Threads serving stored pages at once, per process.
SERVING_THREADS = 2
# The pages a reader reaches by links: on a miss, first in the lane's queue.
URGENT_ENDPOINTS = {"public.home", "public.section", "public.article"}
# How long a refused reader is asked to wait before trying again.
BUSY_RETRY_SECONDS = {slowlane.URGENT: 5, slowlane.COSTLY: 10}


def init_app(app, lane_endpoints=frozenset()) -> None:
    # About 150 article pages with their gzip copies: results day needs a few,
    # and every server process must stay under 80 MB with the cache full.
    app.config.setdefault("PAGE_CACHE_MAX_BYTES", 2 * 1024 * 1024)
    # How stale view counts in lists and «most read» may get.
    app.config.setdefault("PAGE_CACHE_SECONDS", 60)
    # A page waits this long for its turn in the lane, then gets a 429:
    # long enough for a burst of readers, short enough that a flood's
    # refusals come quickly and none of them times out.
    app.config.setdefault("LANE_WAIT_SECONDS", 3.0)
    app.config.setdefault("LANE_COSTLY_WAIT_SECONDS", 0.5)
    # Each waiting page holds a server thread (serve.py starts enough).
    app.config.setdefault("LANE_MAX_WAITING", 48)
    app.wsgi_app = PageCache(app, app.wsgi_app, lane_endpoints)
    app.extensions["pagecache"] = app.wsgi_app
