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
    g,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import selectinload

from core import sitedata, siteurl
from core.i18n import display_size
from core.paging import paginate
from models import Article, Status, Upload, db, utcnow
from newsroom import thumbnails
from reader import listings, pages
from reader.pagecache import VIEWS_MARK
from reader.qrsvg import qr_svg

bp = Blueprint("public", __name__)
bp.before_request(pages.read_cache_version)
bp.after_request(pages.mark_cacheable)

HOME_CHANNEL_POSTS = 6
# 图片新闻: one big picture and four small ones.
HOME_PICTURES = 5
# Pinned posts first, then the newest, across the whole site.
HOME_HEADLINES = 8
MOST_READ_POSTS = 10


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


@bp.get("/")
def home():
    channels = nav_channels()
    headline_ids = db.session.scalars(
        listings.visible_ids().limit(HOME_HEADLINES)
    ).all()
    # The picture news rides in the channels' statement: no extra round trip.
    queries = {
        channel.id: listings.visible_ids(Article.channel_id, channel.id).limit(
            HOME_CHANNEL_POSTS
        )
        for channel in channels
    }
    queries["pictures"] = listings.picture_ids().limit(HOME_PICTURES)
    channel_ids = listings.heads(queries)
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
    by_id = {article.id: article for article in listings.load_articles(all_ids)}

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
    ids = listings.listing_ids(section)
    page = paginate(ids, count=False)
    page.total = listings.listing_total(section, ids)
    page.items = listings.load_articles(page.items)
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
