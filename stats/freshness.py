"""栏目更新: which sections have gone quiet, a standard item of 网站考核.

Each section that holds posts (a sub-section, or a channel without any) has
an update period (更新周期, Section.update_days). Left unset it follows the
inspections' usual rule: six months for sections of notices (named with
通知, 公告 or 公示), one month for the rest. A section is overdue once its
newest public post is older than that, and empty with no public post at all;
a period of 0 means the section is never checked (a fixed page such as 学校
简介). Days are counted in the site's time zone, like the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from core import periods
from models import Article, Section, db, utcnow

NOTICE_WORDS = ("通知", "公告", "公示")
NEWS_DAYS, NOTICE_DAYS = 30, 180


class State:
    OK = "ok"
    OVERDUE = "overdue"
    EMPTY = "empty"
    UNCHECKED = "unchecked"


@dataclass
class Row:
    section_id: int
    channel: str  # the channel's name; the section's own for a channel
    name: str
    days: int  # the update period; 0: never checked
    by_default: bool  # the period follows the name (update_days unset)
    latest: date | None  # the newest public post's day, site time
    idle: int | None  # days since then
    state: str


@dataclass
class FreshnessReport:
    today: date
    rows: list[Row]

    def count(self, state: str) -> int:
        return sum(row.state == state for row in self.rows)


def default_days(name: str) -> int:
    return NOTICE_DAYS if any(word in name for word in NOTICE_WORDS) else NEWS_DAYS


def _state(days: int, idle: int | None) -> str:
    if days == 0:
        return State.UNCHECKED
    if idle is None:
        return State.EMPTY
    return State.OVERDUE if idle > days else State.OK


def build_report() -> FreshnessReport:
    """Every section that holds posts, in the navigation's order."""
    zone = periods.site_zone()

    def local_day(stored: datetime) -> date:
        return stored.replace(tzinfo=UTC).astimezone(zone).date()

    now = utcnow()
    today = local_day(now)
    newest = dict(
        db.session.execute(
            sa.select(Article.section_id, sa.func.max(Article.published_at))
            .where(Article.visible_clause(now))
            .group_by(Article.section_id)
        ).all()
    )
    sections = db.session.scalars(
        sa.select(Section).order_by(Section.position, Section.id)
    ).all()
    by_parent: dict[int | None, list[Section]] = {}
    for section in sections:
        by_parent.setdefault(section.parent_id, []).append(section)
    rows = []
    for channel in by_parent.get(None, []):
        for section in by_parent.get(channel.id) or [channel]:
            published = newest.get(section.id)
            latest = local_day(published) if published else None
            idle = (today - latest).days if latest else None
            set_days = section.update_days
            days = default_days(section.name) if set_days is None else set_days
            rows.append(
                Row(
                    section.id,
                    channel.name,
                    section.name,
                    days,
                    set_days is None,
                    latest,
                    idle,
                    _state(days, idle),
                )
            )
    return FreshnessReport(today, rows)
