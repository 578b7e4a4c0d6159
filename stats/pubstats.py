"""发稿统计: posts published and views per department, author and section.

Definitions (the page states them too):
- A period is a range of the site's local dates, both ends included.
- "Posts published in the period": posts whose publication time falls within
  the period and that readers can see now (published, not in the trash;
  a scheduled post counts once its time has come).
- "Views in the period": the sum of the daily totals (DailyViews) within the
  period, on every post still in the database, whenever it was published.
  Days are counted in the site's time zone (BABEL_DEFAULT_TIMEZONE) at the
  moment of the view; views counted before daily totals existed have no day.
- A period longer than MAX_DAYS shows views by month, and one longer than
  MAX_MONTHLY_DAYS by year; the first and last month or year hold only the
  period's days, so the figures add up to the same totals.
- A post belongs to the account that created it (Article.created_by) and,
  through that account, to its department as it is now.

Every figure comes from aggregate queries (GROUP BY over indexed columns),
a fixed number of statements whatever the number of posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from core import periods
from models import Article, DailyViews, Department, Section, Status, User, db, utcnow

TOP_POSTS = 10


def bucket_label(day: date, unit: str) -> str:
    """How a figure of the views series is named: 2026-03-01, 2026-03, 2026."""
    if unit == "year":
        return f"{day:%Y}"
    return f"{day:%Y-%m}" if unit == "month" else day.isoformat()


# --- Figures ------------------------------------------------------------------


@dataclass
class Row:
    """One line of a table: a department, author or section with its figures."""

    key: int | None
    label: str
    posts: int = 0
    views: int = 0
    extra: str = ""  # the author's department, the post's section …


@dataclass
class TopPost:
    id: int
    title: str
    author: str
    section: str
    published_at: datetime | None
    views: int
    deleted: bool


@dataclass
class Report:
    period: periods.Period
    departments: list[Row]
    authors: list[Row]
    sections: list[Row]
    top: list[TopPost]
    daily: list[tuple[date, int]]
    posts: int = 0
    views: int = 0


def _published_in(period: periods.Period):
    start, end = period.utc_bounds(periods.site_zone())
    now = utcnow()
    return sa.and_(
        # pinned IN (0, 1) lets SQLite range-scan ix_article_order (pinned,
        # published_at, status, deleted_at) without reading the posts.
        Article.pinned.in_([False, True]),
        Article.published_at >= start,
        Article.published_at < end,
        Article.published_at <= now,
        Article.status == Status.PUBLISHED,
        Article.deleted_at.is_(None),
    )


def _in_days(period: periods.Period):
    return DailyViews.day.between(period.start, period.end)


def grouped_posts(period: periods.Period, *where) -> dict[tuple, int]:
    """{(created_by_id, section_id): posts published in the period}."""
    rows = db.session.execute(
        sa.select(Article.created_by_id, Article.section_id, sa.func.count())
        .where(_published_in(period), *where)
        .group_by(Article.created_by_id, Article.section_id)
    )
    return {(user, section): count for user, section, count in rows}


def grouped_views(period: periods.Period, *where) -> dict[tuple, int]:
    """{(created_by_id, section_id): views counted in the period}."""
    rows = db.session.execute(
        sa.select(
            Article.created_by_id, Article.section_id, sa.func.sum(DailyViews.views)
        )
        .join(Article, Article.id == DailyViews.article_id)
        .where(_in_days(period), *where)
        .group_by(Article.created_by_id, Article.section_id)
    )
    return {(user, section): int(total) for user, section, total in rows}


def daily_views(period: periods.Period, *where) -> list[tuple[date, int]]:
    """Every day (month, year: Period.unit) of the period with its views, 0
    for one without any, keyed by its first day within the period.

    where: conditions on DailyViews (one post's days use its primary key).
    """
    query = sa.select(DailyViews.day, sa.func.sum(DailyViews.views)).where(
        _in_days(period), *where
    )
    totals: dict[date, int] = {}
    # One row per day that has views: few enough to add up here, and the
    # same in any database.
    for day, views in db.session.execute(query.group_by(DailyViews.day)):
        start = period.bucket(day)
        totals[start] = totals.get(start, 0) + int(views)
    return [(start, totals.get(start, 0)) for start in period.buckets]


def top_posts(period: periods.Period, *where, limit: int = TOP_POSTS) -> list[TopPost]:
    total = sa.func.sum(DailyViews.views).label("total")
    ranked = (
        sa.select(DailyViews.article_id, total)
        .where(_in_days(period))
        .group_by(DailyViews.article_id)
    )
    if where:
        ranked = ranked.join(Article, Article.id == DailyViews.article_id).where(*where)
    ranked = ranked.order_by(total.desc(), DailyViews.article_id).limit(limit)
    ranked = ranked.subquery()
    rows = db.session.execute(
        sa.select(
            Article.id,
            Article.title,
            sa.func.coalesce(User.display_name, Article.author_name),
            Section.name,
            Article.published_at,
            ranked.c.total,
            Article.deleted_at,
        )
        .join(ranked, ranked.c.article_id == Article.id)
        .join(Section, Section.id == Article.section_id)
        .outerjoin(User, User.id == Article.created_by_id)
        .order_by(ranked.c.total.desc(), Article.id)
    )
    return [
        TopPost(id, title, author, section, published, int(views), deleted is not None)
        for id, title, author, section, published, views, deleted in rows
    ]


def _add(rows: dict, key, label_for, posts: int, views: int) -> None:
    row = rows.get(key)
    if row is None:
        label, extra = label_for(key)
        row = rows[key] = Row(key, label, extra=extra)
    row.posts += posts
    row.views += views


def build_report(period: periods.Period) -> Report:
    """The statistics page and exports: seven statements."""
    posts = grouped_posts(period)
    views = grouped_views(period)
    departments = db.session.scalars(
        sa.select(Department).order_by(Department.position, Department.name)
    ).all()
    users = db.session.execute(
        sa.select(User.id, User.display_name, User.department_id, User.active)
    ).all()
    sections = db.session.execute(
        sa.select(Section.id, Section.name, Section.parent_id, Section.position)
    ).all()

    department_names = {d.id: d.name for d in departments}
    user_by_id = {u.id: u for u in users}
    section_by_id = {s.id: s for s in sections}

    def department_label(department_id):
        return (department_names.get(department_id) or _("No department"), "")

    def author_label(user_id):
        user = user_by_id.get(user_id)
        if user is None:
            return (_("No account (imported or demo posts)"), "")
        return (user.display_name, department_names.get(user.department_id, ""))

    def section_label(section_id):
        section = section_by_id[section_id]
        parent = section_by_id.get(section.parent_id)
        return (f"{parent.name} › {section.name}" if parent else section.name, "")

    # Every department, active account and section has a line, figures or not:
    # a meeting wants to see who published nothing.
    by_department = {d.id: Row(d.id, d.name) for d in departments}
    by_author = {}
    by_section = {}
    for user in users:
        if user.active:
            _add(by_author, user.id, author_label, 0, 0)
    for section in sections:
        _add(by_section, section.id, section_label, 0, 0)
    for source, is_views in ((posts, False), (views, True)):
        for (user_id, section_id), number in source.items():
            counts = (0, number) if is_views else (number, 0)
            user = user_by_id.get(user_id)
            department_id = user.department_id if user else None
            _add(by_department, department_id, department_label, *counts)
            _add(by_author, user_id, author_label, *counts)
            _add(by_section, section_id, section_label, *counts)

    # A channel's row counts its sub-sections' posts and views too, as its page
    # lists their posts (the page and the exports say so). Rows then add up
    # to more than the total, which stays the site's.
    direct = {key: (row.posts, row.views) for key, row in by_section.items()}
    for section_id, (section_posts, section_views) in direct.items():
        seen = {section_id}
        parent_id = section_by_id[section_id].parent_id
        while parent_id in section_by_id and parent_id not in seen:
            by_section[parent_id].posts += section_posts
            by_section[parent_id].views += section_views
            seen.add(parent_id)
            parent_id = section_by_id[parent_id].parent_id

    department_order = {d.id: n for n, d in enumerate(departments)}
    section_order = {
        s.id: (
            (section_by_id[s.parent_id].position, s.parent_id, 1, s.position, s.id)
            if s.parent_id in section_by_id
            else (s.position, s.id, 0, 0, 0)
        )
        for s in sections
    }
    return Report(
        period=period,
        departments=sorted(
            by_department.values(),
            key=lambda r: department_order.get(r.key, len(department_order)),
        ),
        authors=sorted(by_author.values(), key=lambda r: (-r.posts, -r.views, r.label)),
        sections=sorted(by_section.values(), key=lambda r: section_order[r.key]),
        top=top_posts(period),
        daily=daily_views(period),
        posts=sum(posts.values()),
        views=sum(views.values()),
    )


def site_totals(period: periods.Period) -> dict[int, tuple[int, int]]:
    """{site id: (posts published, views counted)} in the period, for every
    site of a 站群 at once (the bureau's side-by-side table): two statements."""
    posts = db.session.execute(
        sa.select(Article.site_id, sa.func.count())
        .where(_published_in(period))
        .group_by(Article.site_id)
        .execution_options(all_sites=True)
    ).all()
    views = db.session.execute(
        sa.select(Article.site_id, sa.func.sum(DailyViews.views))
        .join(Article, Article.id == DailyViews.article_id)
        .where(_in_days(period))
        .group_by(Article.site_id)
        .execution_options(all_sites=True)
    ).all()
    totals = {site: (count, 0) for site, count in posts}
    for site, total in views:
        totals[site] = (totals.get(site, (0, 0))[0], int(total or 0))
    return totals


@dataclass
class AuthorSummary:
    """An author's own figures for their dashboard."""

    period: periods.Period
    posts: int
    views: int
    top: list[TopPost]


def author_summary(user_id: int) -> AuthorSummary:
    period = periods.named_period("month", periods.today())
    mine = Article.created_by_id == user_id
    return AuthorSummary(
        period=period,
        posts=sum(grouped_posts(period, mine).values()),
        views=sum(grouped_views(period, mine).values()),
        top=top_posts(period, mine, limit=3),
    )


def post_period(article: Article, args) -> periods.Period:
    """A post's chart: ?from=&to=, else from its publication to today (by
    month or year when that is long ago, as Period.unit says)."""
    if "from" in args or "period" in args:
        return periods.period_from_args(args)
    now = periods.today()
    start = now - timedelta(days=29)
    if article.published_at is not None:
        published = (
            article.published_at.replace(tzinfo=UTC)
            .astimezone(periods.site_zone())
            .date()
        )
        start = min(published, now)
    return periods.Period(start, now, "custom")


def post_daily(article_id: int, period: periods.Period) -> list[tuple[date, int]]:
    return daily_views(period, DailyViews.article_id == article_id)


def department_totals() -> dict[int, int]:
    """{department id: members}, for the departments page."""
    rows = db.session.execute(
        sa.select(User.department_id, sa.func.count())
        .where(User.department_id.is_not(None))
        .group_by(User.department_id)
    )
    return dict(rows.all())
