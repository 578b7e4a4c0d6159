"""View counts readers can trust: atomic, bot-filtered and refresh-proof."""

import hashlib
import hmac
import random
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Request, Response, current_app, g, request

from models import Article, ArticleView, db, utcnow

READER_COOKIE = "reader"
READER_COOKIE_MAX_AGE = 365 * 24 * 3600
# Tokens we issue are 22 URL-safe characters; anything else is treated as absent.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# Crawlers, link-preview fetchers, monitors and scripts. "spider" also covers
# Baiduspider, Sogou web spider, 360Spider, YisouSpider and Bytespider.
_BOT_RE = re.compile(
    r"bot|spider|crawl|slurp|headless|curl|wget|python-|httpclient|http-client|"
    r"okhttp|java/|go-http|libwww|scrapy|aiohttp|axios|node-fetch|phantomjs|"
    r"facebookexternalhit|whatsapp|embedly|preview|lighthouse|pingdom|"
    r"uptime|monitor|archiver|mediapartners|feedfetcher|validator",
    re.IGNORECASE,
)

# Chance that a counted view also deletes expired dedupe rows; keeps the table
# small without a scheduler and without slowing every view.
PRUNE_PROBABILITY = 0.01


def is_bot(user_agent: str | None) -> bool:
    """An empty User-Agent is a script, not a browser."""
    return not user_agent or not user_agent.strip() or bool(_BOT_RE.search(user_agent))


def is_prefetch(req: Request) -> bool:
    purpose = " ".join(
        req.headers.get(name, "")
        for name in ("Purpose", "Sec-Purpose", "X-Purpose", "X-Moz")
    ).lower()
    return "prefetch" in purpose or "preview" in purpose


def is_countable(req: Request) -> bool:
    """A real reader looking at the page, not a bot, a HEAD or a prefetch."""
    if req.method != "GET":
        return False
    return not is_bot(req.headers.get("User-Agent")) and not is_prefetch(req)


def _hash(*parts: str) -> str:
    # Keyed, so the table holds no recoverable IP address (readers are children).
    key = current_app.config["SECRET_KEY"].encode()
    message = "\x1f".join(parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def reader_token() -> str | None:
    """The reader's cookie token, or None when the browser sent none (yet)."""
    token = request.cookies.get(READER_COOKIE, "")
    return token if _TOKEN_RE.match(token) else None


def reader_keys() -> list[str]:
    """Dedupe keys for this request; the first one decides whether it counts.

    With a cookie the reader is the cookie. Without one it is IP + User-Agent,
    and the cookie issued on this response is recorded as well, so the same
    browser's next request (now with the cookie) is not counted a second time.
    """
    token = reader_token()
    if token:
        return [_hash("cookie", token)]
    ip = request.remote_addr or ""
    fallback = _hash("ip-ua", ip, request.headers.get("User-Agent", ""))
    return [fallback, _hash("cookie", issue_reader_token())]


def issue_reader_token() -> str:
    """The token to set on this response for a browser that has none."""
    if "new_reader_token" not in g:
        g.new_reader_token = secrets.token_urlsafe(16)
    return g.new_reader_token


def set_reader_cookie(response: Response) -> Response:
    """First-party, HttpOnly, one year: recognizes a reader across refreshes."""
    if reader_token() is None:
        response.set_cookie(
            READER_COOKIE,
            issue_reader_token(),
            max_age=READER_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


def count_view(article_id: int, readers: list[str], now: datetime | None = None):
    """Count one view unless readers[0] was counted within the dedupe window.

    Returns True when the view was counted. Must start a fresh transaction:
    its first statement is a write, because on SQLite a transaction that read
    first cannot upgrade to a writer while another writer is busy ("database is
    locked", which the busy timeout does not cure).
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=current_app.config["VIEW_DEDUP_MINUTES"])
    upsert = sa.text(
        "INSERT INTO article_view (article_id, reader, viewed_at)"
        " VALUES (:article_id, :reader, :now)"
        " ON CONFLICT (article_id, reader) DO UPDATE"
        " SET viewed_at = excluded.viewed_at"
        " WHERE article_view.viewed_at < :cutoff"
    ).bindparams(
        sa.bindparam("now", type_=sa.DateTime()),
        sa.bindparam("cutoff", type_=sa.DateTime()),
    )
    try:
        counted = False
        for index, reader in enumerate(readers):
            params = {
                "article_id": article_id,
                "reader": reader,
                "now": now,
                "cutoff": cutoff,
            }
            result = db.session.execute(upsert, params)
            if index == 0:
                counted = result.rowcount == 1
        if counted:
            # In SQL, so concurrent readers never lose an increment.
            db.session.execute(
                sa.update(Article)
                .where(Article.id == article_id)
                # Keep updated_at: a view is not an edit (the dashboard sorts by it).
                .values(views=Article.views + 1, updated_at=Article.updated_at)
                .execution_options(synchronize_session=False)
            )
            if random.random() < PRUNE_PROBABILITY:
                prune(cutoff)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counted


def prune(cutoff: datetime) -> int:
    """Forget dedupe rows older than the window; they can no longer block a view."""
    result = db.session.execute(
        sa.delete(ArticleView)
        .where(ArticleView.viewed_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def record_view(article_id: int) -> bool:
    """Count the current request as a view of the article if it should count."""
    if not is_countable(request):
        return False
    return count_view(article_id, reader_keys())
