"""Blueprint "public": the reader's site."""

from urllib.parse import urlencode

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import selectinload

import viewcount
from models import Article, Section, Upload, db, parse_id, utcnow
from sanitize import summarize
from views.paging import page_number

bp = Blueprint("public", __name__)

HOME_CHANNEL_POSTS = 6
# Pinned posts first, then the newest, across the whole site.
HOME_HEADLINES = 8
MOST_READ_POSTS = 10


def visible_ids(section_ids: list[int] | None = None):
    """Ids of readers' articles, pinned first, newest first.

    Selecting ids alone lets SQLite answer from the listing indexes without
    reading the table (see models.Article); the rows come from load_articles().
    """
    stmt = sa.select(Article.id).where(Article.visible_clause())
    if section_ids is not None:
        stmt = stmt.where(Article.section_id.in_(section_ids))
    return stmt.order_by(
        Article.pinned.desc(), Article.published_at.desc(), Article.id.desc()
    )


def load_articles(ids) -> list[Article]:
    """The articles with these ids, in this order, with what lists show."""
    ids = list(ids)
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(Article)
        .where(Article.id.in_(ids))
        .options(selectinload(Article.section), selectinload(Article.cover))
    )
    by_id = {article.id: article for article in rows}
    return [by_id[i] for i in ids if i in by_id]


def visible_articles(section_ids: list[int] | None = None, limit: int = 10):
    """The first `limit` visible articles of these sections (or of the site)."""
    if not section_ids or len(section_ids) == 1:
        return load_articles(db.session.scalars(visible_ids(section_ids).limit(limit)))
    # An IN list over several sections makes SQLite sort all their posts; the
    # top few of each section, read in index order and merged here, are enough.
    candidates = []
    for section_id in section_ids:
        stmt = visible_ids([section_id]).add_columns(
            Article.pinned, Article.published_at
        )
        candidates.extend(db.session.execute(stmt.limit(limit)).all())
    candidates.sort(
        key=lambda row: (row.pinned, row.published_at, row.id), reverse=True
    )
    return load_articles(row.id for row in candidates[:limit])


def get_visible_or_404(article_id: int) -> Article:
    stmt = sa.select(Article).where(Article.id == article_id, Article.visible_clause())
    article = db.session.scalar(stmt)
    if article is None:
        abort(404)
    return article


def nav_channels() -> list[Section]:
    """Channels and their sub-sections for the navigation bar, once per request."""
    if "nav_channels" not in g:
        stmt = (
            sa.select(Section)
            .where(Section.parent_id.is_(None))
            .order_by(Section.position, Section.id)
            .options(selectinload(Section.children))
        )
        g.nav_channels = list(db.session.scalars(stmt))
    return g.nav_channels


def upload_url(upload: Upload | None, external: bool = False) -> str | None:
    """The URL of an image upload; None for no upload or a non-image."""
    if upload is None or upload.kind != "image":
        return None
    return url_for("files.upload", stored_name=upload.stored_name, _external=external)


def logo_url(logo_id: str) -> str | None:
    upload_id = parse_id(logo_id)
    return upload_url(db.session.get(Upload, upload_id)) if upload_id else None


def lang_url(code: str) -> str:
    """The current page in another language (the choice is kept in a cookie)."""
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def format_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


@bp.app_context_processor
def navigation_context():
    return {
        "nav_channels": nav_channels,
        "upload_url": upload_url,
        "logo_url": logo_url,
        "lang_url": lang_url,
        "format_size": format_size,
        "summarize": summarize,
        "current_year": utcnow().year,
    }


@bp.after_request
def remember_reader(response):
    return viewcount.set_reader_cookie(response)


@bp.get("/")
def home():
    headlines = visible_articles(limit=HOME_HEADLINES)
    channel_posts = [
        (channel, visible_articles(channel.subtree_ids(), HOME_CHANNEL_POSTS))
        for channel in nav_channels()
    ]
    most_read_ids = db.session.scalars(
        sa.select(Article.id)
        .where(Article.visible_clause())
        .order_by(Article.views.desc(), Article.published_at.desc())
        .limit(MOST_READ_POSTS)
    )
    most_read = load_articles(most_read_ids)
    return render_template(
        "public/home.html",
        headlines=headlines,
        channel_posts=channel_posts,
        most_read=most_read,
    )


@bp.get("/sections/<slug>")
def section(slug):
    section = db.first_or_404(sa.select(Section).where(Section.slug == slug))
    page = db.paginate(
        visible_ids(section.subtree_ids()),
        page=page_number(),
        per_page=current_app.config["ARTICLES_PER_PAGE"],
        error_out=True,
    )
    page.items = load_articles(page.items)
    return render_template(
        "public/section.html",
        section=section,
        page=page,
        active_channel_id=section.channel.id,
    )


def neighbours(article: Article) -> tuple[Article | None, Article | None]:
    """The visible articles just before (older) and after (newer) in its section."""
    # Asked once per pinned value so that each lookup is a range of the listing
    # index (section_id, pinned, published_at) instead of a sort of the section.
    older, newer = [], []
    for pinned in (False, True):
        same = sa.select(Article.id, Article.published_at).where(
            Article.visible_clause(),
            Article.section_id == article.section_id,
            Article.pinned == pinned,
            Article.id != article.id,
        )
        before = same.where(
            Article.published_at <= article.published_at,
            sa.or_(
                Article.published_at < article.published_at, Article.id < article.id
            ),
        ).order_by(Article.published_at.desc(), Article.id.desc())
        after = same.where(
            Article.published_at >= article.published_at,
            sa.or_(
                Article.published_at > article.published_at, Article.id > article.id
            ),
        ).order_by(Article.published_at, Article.id)
        older.extend(db.session.execute(before.limit(1)).all())
        newer.extend(db.session.execute(after.limit(1)).all())
    previous = max(older, key=lambda row: (row.published_at, row.id), default=None)
    following = min(newer, key=lambda row: (row.published_at, row.id), default=None)
    return (
        previous and db.session.get(Article, previous.id),
        following and db.session.get(Article, following.id),
    )


@bp.get("/articles/<int:article_id>")
def article(article_id):
    article = get_visible_or_404(article_id)
    # End the read transaction so counting starts with a write (see viewcount).
    db.session.commit()
    try:
        viewcount.record_view(article_id)
    except sa.exc.SQLAlchemyError:
        # A lost count must never cost the reader the article.
        current_app.logger.exception("Could not count a view of article %s", article_id)
    previous, following = neighbours(article)
    description = article.excerpt
    return render_template(
        "public/article.html",
        article=article,
        previous=previous,
        following=following,
        description=description,
        canonical=url_for("public.article", article_id=article.id, _external=True),
        og_image=upload_url(article.cover, external=True),
        active_channel_id=article.section.channel.id,
    )
