"""Blueprint "public": the reader's site.

Pages here are served from the page cache (pagecache.py) until the content
version changes; on a miss each runs a small, fixed number of statements
(tests/test_page_budget.py), whatever the number of posts or sections:
settings and sections come from sitedata, lists read ids in index order and
load their rows in one statement.
"""

from typing import NamedTuple
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import selectinload

from core import sitedata, siteurl
from core.paging import paginate
from models import Article, Status, Upload, db, utcnow
from newsroom import thumbnails
from newsroom.uploads import display_size
from reader.pagecache import PAGE_HEADER, VIEWS_MARK
from reader.qrsvg import qr_svg

bp = Blueprint("public", __name__)

HOME_CHANNEL_POSTS = 6
# 图片新闻: one big picture and four small ones.
HOME_PICTURES = 5
# Pinned posts first, then the newest, across the whole site.
HOME_HEADLINES = 8
MOST_READ_POSTS = 10
# Query arguments a cached page may vary by; any other makes it uncached.
CACHEABLE_ARGS = {"page", "lang"}
_LISTING_ORDER = (Article.pinned.desc(), Article.published_at.desc(), Article.id.desc())


def visible_ids(column=None, value=None):
    """Ids of readers' articles, pinned first, newest first.

    Filtered on section_id or channel_id, each with its own listing index, so
    SQLite reads ids already in order instead of sorting; the rows come from
    load_articles().
    """
    stmt = sa.select(Article.id).where(Article.visible_clause())
    if column is not None:
        stmt = stmt.where(column == value)
    return stmt.order_by(*_LISTING_ORDER)


def load_articles(ids) -> list[Article]:
    """The articles with these ids, in this order, with their pictures."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(Article)
        .where(Article.id.in_(ids))
        .options(selectinload(Article.picture))
    )
    by_id = {article.id: article for article in rows}
    return [by_id[i] for i in ids if i in by_id]


def listing_ids(section) -> sa.Select:
    """A section's visible ids; a channel lists its sub-sections' posts too."""
    if section.parent is None:
        return visible_ids(Article.channel_id, section.id)
    return visible_ids(Article.section_id, section.id)


def listing_total(section, ids: sa.Select) -> int:
    """How many posts a section lists, counted once per cache version.

    Counting walks the section's whole index range (20 ms for a channel of
    40,000 posts); the number only changes when the version does.
    """
    version, totals = current_app.extensions.get("listing_totals", (None, {}))
    if version != g.cache_version:
        totals = {}
        current_app.extensions["listing_totals"] = (g.cache_version, totals)
    if section.id not in totals:
        count = sa.select(sa.func.count()).select_from(ids.order_by(None).subquery())
        totals[section.id] = db.session.scalar(count)
    return totals[section.id]


def picture_ids() -> sa.Select:
    """Visible posts with a picture, newest first (pinning aside).

    Read in order from the partial index ix_article_picture_order.
    """
    return (
        sa.select(Article.id)
        .where(Article.visible_clause(), Article.picture_id.is_not(None))
        .order_by(Article.published_at.desc(), Article.id.desc())
    )


def heads(queries: dict) -> dict[object, list[int]]:
    """The ids of each of these (limited) id queries, in one statement.

    One UNION ALL of subqueries: each reads its own index range, and the
    number of statements does not grow with the number of queries.
    """
    if not queries:
        return {}
    keys = list(queries)
    parts = [
        queries[key].add_columns(sa.literal(index).label("part")).subquery().select()
        for index, key in enumerate(keys)
    ]
    found: dict[object, list[int]] = {key: [] for key in keys}
    for row in db.session.execute(sa.union_all(*parts)):
        found[keys[row.part]].append(row.id)
    return found


def get_visible_or_404(article_id: int) -> Article:
    stmt = (
        sa.select(Article)
        .where(Article.id == article_id, Article.visible_clause())
        .options(selectinload(Article.attachments), selectinload(Article.picture))
    )
    article = db.session.scalar(stmt)
    if article is None:
        abort(404)
    return article


def nav_channels():
    """Channels and their sub-sections for the navigation bar."""
    return sitedata.current().channels


def section_of(article: Article):
    """The article's section without a query (see sitedata)."""
    return sitedata.current().by_id.get(article.section_id)


def upload_url(upload: Upload | None, external: bool = False) -> str | None:
    """The URL of an image upload; None for no upload or a non-image."""
    if upload is None or upload.kind != "image":
        return None
    if external:
        return siteurl.absolute_url("files.upload", stored_name=upload.stored_name)
    return url_for("files.upload", stored_name=upload.stored_name)


class ShareImage(NamedTuple):
    url: str  # absolute: WeChat and other previews fetch it from elsewhere
    width: int | None
    height: int | None


def share_image(picture: Upload | None) -> ShareImage | None:
    """The picture for link previews (og:image): the post's picture as a
    960 x 640 JPEG, else the school's logo, else None."""
    if picture is not None and picture.kind == "image":
        variant = thumbnails.VARIANTS[thumbnails.SHARE_VARIANT]
        return ShareImage(
            thumbnails.url(picture, thumbnails.SHARE_VARIANT, external=True),
            variant.width,
            variant.height,
        )
    logo = sitedata.current().logo
    if logo is not None:
        return ShareImage(
            siteurl.absolute_url("files.upload", stored_name=logo.stored_name),
            logo.width,
            logo.height,
        )
    return None


def lang_url(code: str) -> str:
    """The current page in another language (the choice is kept in a cookie)."""
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


@bp.app_context_processor
def navigation_context():
    return {
        "nav_channels": nav_channels,
        "section_of": section_of,
        "site_logo_url": lambda: sitedata.current().logo_url,
        "upload_url": upload_url,
        "thumb_url": thumbnails.url,
        "thumb_size": lambda variant: thumbnails.VARIANTS[variant][:2],
        "site_logo": lambda: sitedata.current().logo,
        "lang_url": lang_url,
        "display_size": display_size,
    }


@bp.before_request
def read_cache_version():
    # Read before anything else on the page: a change committed while the
    # page renders moves the version on, so the page is never kept as current.
    # Sets g.cache_version (unless the host check already read it).
    sitedata.current()


@bp.after_request
def mark_cacheable(response):
    if response.status_code == 200 and request.endpoint in PAGE_ENDPOINTS:
        cacheable = CACHEABLE_ARGS.issuperset(request.args.keys())
        response.headers[PAGE_HEADER] = " ".join(
            str(value)
            for value in (
                g.cache_version,
                g.get("page_article_id", 0),
                g.get("page_views", 0),
                int(cacheable),
            )
        )
        response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def home():
    channels = nav_channels()
    headline_ids = db.session.scalars(visible_ids().limit(HOME_HEADLINES)).all()
    # The picture news rides in the channels' statement: no extra round trip.
    queries = {
        channel.id: visible_ids(Article.channel_id, channel.id).limit(
            HOME_CHANNEL_POSTS
        )
        for channel in channels
    }
    queries["pictures"] = picture_ids().limit(HOME_PICTURES)
    channel_ids = heads(queries)
    pictures_ids = channel_ids.pop("pictures")
    most_read_ids = db.session.scalars(
        sa.select(Article.id)
        .where(Article.visible_clause())
        # id, not the date, breaks ties: the views index holds it, so SQLite
        # reads the top ten in order instead of sorting every post.
        .order_by(Article.views.desc(), Article.id.desc())
        .limit(MOST_READ_POSTS)
    ).all()
    all_ids = [
        *headline_ids,
        *most_read_ids,
        *pictures_ids,
        *(i for ids in channel_ids.values() for i in ids),
    ]
    by_id = {article.id: article for article in load_articles(all_ids)}

    def pick(ids):
        return [by_id[i] for i in ids if i in by_id]

    return render_template(
        "reader/home.html",
        headlines=pick(headline_ids),
        channel_posts=[
            (channel, pick(channel_ids[channel.id])) for channel in channels
        ],
        most_read=pick(most_read_ids),
        pictures=pick(pictures_ids),
        share_image=share_image(None),
    )


@bp.get("/sections/<slug>")
def section(slug):
    section = sitedata.current().by_slug.get(slug)
    if section is None:
        abort(404)
    ids = listing_ids(section)
    page = paginate(ids, count=False)
    page.total = listing_total(section, ids)
    page.items = load_articles(page.items)
    return render_template(
        "reader/section.html",
        section=section,
        page=page,
        active_channel_id=section.channel.id,
    )


def neighbours(article: Article):
    """The visible articles just before (older) and after (newer) in its section.

    Rows of (id, title, published_at), or None; two statements.
    """
    # One branch per pinned value, so that each reads a range of the listing
    # index (section_id, pinned, published_at) instead of sorting the section.
    when, key = article.published_at, article.id
    older, newer = [], []
    for pinned in (False, True):
        same = sa.select(Article.id, Article.title, Article.published_at).where(
            Article.status == Status.PUBLISHED,
            Article.deleted_at.is_(None),
            Article.section_id == article.section_id,
            Article.pinned == pinned,
            Article.id != key,
        )
        older.append(
            # Older posts are due already. Leaving out the "due by now" bound
            # lets SQLite seek straight to this post's date; with both upper
            # bounds it took the other and walked every newer post.
            same.where(
                Article.published_at <= when,
                sa.or_(Article.published_at < when, Article.id < key),
            )
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(1)
            .subquery()
            .select()
        )
        newer.append(
            same.where(
                Article.published_at <= utcnow(),
                Article.published_at >= when,
                sa.or_(Article.published_at > when, Article.id > key),
            )
            .order_by(Article.published_at, Article.id)
            .limit(1)
            .subquery()
            .select()
        )
    older = db.session.execute(sa.union_all(*older)).all()
    newer = db.session.execute(sa.union_all(*newer)).all()
    previous = max(older, key=lambda row: (row.published_at, row.id), default=None)
    following = min(newer, key=lambda row: (row.published_at, row.id), default=None)
    return previous, following


@bp.get("/articles/<int:article_id>")
def article(article_id):
    article = get_visible_or_404(article_id)
    section = section_of(article)
    previous, following = neighbours(article)
    # The page cache puts the live count here and counts this view.
    g.page_article_id, g.page_views = article.id, article.views
    return render_template(
        "reader/article.html",
        article=article,
        section=section,
        views=VIEWS_MARK,
        previous=previous,
        following=following,
        description=article.excerpt,
        canonical=siteurl.absolute_url("public.article", article_id=article.id),
        share_image=share_image(article.picture),
        active_channel_id=section.channel.id if section else None,
    )


# The QR code only changes with the article's address, which is in its own URL
# (host and scheme included) or the site's address, changed once if ever:
# browsers may keep it.
QR_MAX_AGE = 365 * 24 * 3600


@bp.get("/articles/<int:article_id>/qr.svg")
def article_qr(article_id):
    """The QR code of an article's address (page tools: 分享到手机)."""
    visible = db.session.scalar(
        sa.select(Article.id).where(Article.id == article_id, Article.visible_clause())
    )
    if visible is None:
        abort(404)
    url = siteurl.absolute_url("public.article", article_id=article_id)
    response = Response(qr_svg(url, title=url), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = QR_MAX_AGE
    return response


PAGE_ENDPOINTS = {
    "public.home",
    "public.section",
    "public.article",
    # views/feeds.py registers read_cache_version and mark_cacheable too.
    "feeds.site_feed",
    "feeds.section_feed",
    "feeds.sitemap",
    "feeds.sitemap_page",
    "feeds.robots",
}
