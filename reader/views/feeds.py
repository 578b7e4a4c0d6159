"""Blueprint "feeds": Atom feeds, the sitemap and robots.txt, for machines.

They are reader pages like any other: served by the page cache until the
content version changes (PAGE_ENDPOINTS in reader/pages.py), each a fixed
number of statements on a miss. Every URL in them is absolute: the site's
address (siteurl.py) plus the route's path, or without one the request's host
and scheme; the page cache keys by both, so a forged Host header only ever
reaches the client that sent it (README: «Behind nginx»).

XML is written by libraries that escape what they write: feedgenerator
(Pelican's maintained, pure-Python Atom writer) for feeds, the standard
library's streaming XMLGenerator for sitemaps, so that 50,000 URLs are never
held as a tree.
"""

import io
import math
import re
from datetime import UTC, datetime
from xml.sax.saxutils import XMLGenerator

import feedgenerator
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request, url_for
from markupsafe import escape

from core import sitedata
from core.siteurl import absolute_url
from models import Article, db, utcnow
from newsroom.sanitize import absolute_urls
from reader import pages

bp = Blueprint("feeds", __name__)
# The same version read and cache marking as the reader's pages.
bp.before_request(pages.read_cache_version)
bp.after_request(pages.mark_cacheable)

ATOM_TYPE = "application/atom+xml; charset=utf-8"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# Characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/F):
# a title pasted with one would otherwise make the whole feed unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def w3c_datetime(value: datetime) -> str:
    """A stored (naive UTC) time as RFC 3339 / W3C datetime with its zone."""
    return aware(value).isoformat()


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC, microsecond=0)


def last_change(article) -> datetime:
    # A scheduled post is saved before it goes out: it changed when it did.
    return max(article.updated_at, article.published_at)


# --- Atom feeds ---------------------------------------------------------------


class _AtomFeed(feedgenerator.Atom1Feed):
    def latest_post_date(self):
        # The library's fallback for an empty feed is "now", different on
        # every render; ours is passed in.
        return self.feed["updated"]


def latest_articles(column=None, value=None) -> list[Article]:
    """The newest visible articles, pinned or not; one statement.

    A branch per pinned value reads its own range of a listing index
    (ix_article_order, ..._section_order, ..._channel_order) newest first,
    so neither branch sorts the site's posts.
    """
    limit = current_app.config["FEED_ENTRIES"]
    branches = []
    for pinned in (False, True):
        stmt = sa.select(Article.id, Article.published_at).where(
            Article.visible_clause(), Article.pinned == pinned
        )
        if column is not None:
            stmt = stmt.where(column == value)
        branches.append(
            stmt.order_by(Article.published_at.desc(), Article.id.desc())
            .limit(limit)
            .subquery()
            .select()
        )
    newest = sa.union_all(*branches).subquery()
    return db.session.scalars(
        sa.select(Article)
        .join(newest, Article.id == newest.c.id)
        .order_by(newest.c.published_at.desc(), newest.c.id.desc())
        .limit(limit)
    ).all()


def atom_response(title: str, page_url: str, articles: list[Article]) -> Response:
    school = xml_text(sitedata.current().settings["school_name"])
    updated = max(map(last_change, articles), default=None) or utcnow()
    feed = _AtomFeed(
        title=xml_text(title),
        link=page_url,
        description="",
        language="zh-CN"
        if current_app.config["BABEL_DEFAULT_LOCALE"].startswith("zh")
        else "en",
        feed_url=absolute_url(request.endpoint, **request.view_args),
        feed_guid=page_url,
        author_name=school,
        updated=aware(updated),
    )
    by_id = sitedata.current().by_id
    for article in articles:
        url = absolute_url("public.article", article_id=article.id)
        section = by_id.get(article.section_id)
        feed.add_item(
            title=xml_text(article.title),
            link=url,
            unique_id=url,
            # type="html": the excerpt is plain text, so escape it once.
            description=str(escape(xml_text(article.excerpt))),
            content=xml_text(absolute_urls(article.body_html, url)),
            author_name=xml_text(article.author_name) or school,
            pubdate=aware(article.published_at),
            updateddate=aware(last_change(article)),
            categories=[xml_text(section.name)] if section else (),
        )
    return Response(feed.writeString("utf-8"), content_type=ATOM_TYPE)


@bp.get("/feed.xml")
def site_feed():
    return atom_response(
        sitedata.current().settings["school_name"],
        absolute_url("public.home"),
        latest_articles(),
    )


@bp.get("/sections/<slug>/feed.xml")
def section_feed(slug):
    section = sitedata.current().by_slug.get(slug)
    if section is None:
        abort(404)
    # Like the section page: a channel's feed has its sub-sections' posts.
    if section.parent is None:
        articles = latest_articles(Article.channel_id, section.id)
    else:
        articles = latest_articles(Article.section_id, section.id)
    school = sitedata.current().settings["school_name"]
    return atom_response(
        f"{section.name} - {school}",
        absolute_url("public.section", slug=section.slug),
        articles,
    )


# --- Sitemaps -------------------------------------------------------------------


def visible_count() -> int:
    # The visibility test is covered by ix_article_order: no table reads.
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Article).where(Article.visible_clause())
    )


def sitemap_sections() -> list:
    """Every section, each channel followed by its sub-sections; no query."""
    return [
        section
        for channel in sitedata.current().channels
        for section in (channel, *channel.children)
    ]


def fixed_entries() -> list[tuple[str, datetime | None]]:
    """The home page and every section, with when their lists last changed."""
    newest = dict(
        db.session.execute(
            sa.select(Article.section_id, sa.func.max(Article.published_at))
            .where(Article.visible_clause())
            .group_by(Article.section_id)
        ).all()
    )
    entries = []
    for section in sitemap_sections():
        # A channel lists its sub-sections' posts too.
        dates = [newest.get(s.id) for s in (section, *section.children)]
        entries.append((section, max(filter(None, dates), default=None)))
    home = (
        absolute_url("public.home"),
        max(filter(None, newest.values()), default=None),
    )
    return [home] + [
        (absolute_url("public.section", slug=section.slug), when)
        for section, when in entries
    ]


def article_entries(offset: int, limit: int):
    """Visible articles in id order, streamed from one statement."""
    rows = db.session.execute(
        sa.select(Article.id, Article.updated_at, Article.published_at)
        .where(Article.visible_clause())
        .order_by(Article.id)
        .offset(offset)
        .limit(limit)
        .execution_options(yield_per=1000)
    )
    # url_for per row was a third of a 50,000-URL page: build one article's
    # address and put each id in its place.
    sample = absolute_url("public.article", article_id=1)
    before, _one, after = sample.rpartition("1")
    for row in rows:
        yield f"{before}{row.id}{after}", last_change(row)


def xml_response(write) -> Response:
    out = io.StringIO()
    xml = XMLGenerator(out, "utf-8", short_empty_elements=True)
    xml.startDocument()
    write(xml)
    xml.endDocument()
    return Response(out.getvalue(), content_type="application/xml; charset=utf-8")


def _element(xml: XMLGenerator, name: str, text: str) -> None:
    xml.startElement(name, {})
    xml.characters(xml_text(text))
    xml.endElement(name)


def urlset(entries) -> Response:
    def write(xml):
        xml.startElement("urlset", {"xmlns": SITEMAP_NS})
        for loc, lastmod in entries:
            xml.startElement("url", {})
            _element(xml, "loc", loc)
            if lastmod is not None:
                _element(xml, "lastmod", w3c_datetime(lastmod))
            xml.endElement("url")
        xml.endElement("urlset")

    return xml_response(write)


def sitemap_pages(total: int) -> int:
    return max(1, math.ceil(total / current_app.config["SITEMAP_MAX_URLS"]))


def page_entries(number: int, fixed: int):
    """The entries of sitemap page `number`: home and sections, then articles."""
    per_page = current_app.config["SITEMAP_MAX_URLS"]
    start, end = (number - 1) * per_page, number * per_page
    if start < fixed:
        yield from fixed_entries()[start:end]
    first = max(start, fixed)
    if end > first:
        yield from article_entries(first - fixed, end - first)


@bp.get("/sitemap.xml")
def sitemap():
    fixed = 1 + len(sitemap_sections())
    pages = sitemap_pages(fixed + visible_count())
    if pages == 1:
        return urlset(page_entries(1, fixed))

    # Over the per-file limit (50,000 URLs by the protocol): an index.
    def write(xml):
        xml.startElement("sitemapindex", {"xmlns": SITEMAP_NS})
        for number in range(1, pages + 1):
            xml.startElement("sitemap", {})
            _element(xml, "loc", absolute_url("feeds.sitemap_page", number=number))
            xml.endElement("sitemap")
        xml.endElement("sitemapindex")

    return xml_response(write)


@bp.get("/sitemap-<int:number>.xml")
def sitemap_page(number):
    fixed = 1 + len(sitemap_sections())
    if not 1 <= number <= sitemap_pages(fixed + visible_count()):
        abort(404)
    return urlset(page_entries(number, fixed))


# --- robots.txt -----------------------------------------------------------------


@bp.get("/robots.txt")
def robots():
    private = [
        current_app.blueprints["editor"].url_prefix,  # also the upload API
        current_app.blueprints["admin"].url_prefix,
        url_for("auth.login"),
        url_for("auth.logout"),
        url_for("auth.change_password"),
    ]
    # QR codes of articles (RFC 9309 wildcard): no use in image search.
    qr_codes = url_for("public.article_qr", article_id=1).replace("/1/", "/*/")
    lines = ["User-agent: *"]
    lines += [f"Disallow: {path}" for path in (*private, qr_codes)]
    # Photos and attachments are public: image search may show them.
    lines += ["Allow: /uploads/", "Allow: /attachments/", ""]
    lines.append(f"Sitemap: {absolute_url('feeds.sitemap')}")
    return Response("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
