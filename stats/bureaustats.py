"""The bureau's view of its schools (站群): 发稿统计 and readership side by
side, and each school's 栏目更新, for the yearly 网站考核.

Figures come from the same functions as a school's own pages, so a school
and the bureau never disagree about a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from core import periods
from core.sites import acting_for
from models import Setting, Site, db
from stats import freshness, pubstats
from stats.statexport import Table, freshness_table


@dataclass
class School:
    site_id: int
    name: str
    active: bool
    posts: int = 0
    views: int = 0
    overdue: int = 0
    empty: int = 0
    sections: freshness.FreshnessReport | None = None


def school_names() -> dict[int, str]:
    """Each site's name as the school set it (its 学校名称 setting)."""
    return dict(
        db.session.execute(
            sa.select(Setting.site_id, Setting.value)
            .where(Setting.key == "school_name", Setting.value != "")
            .execution_options(all_sites=True)
        ).all()
    )


def schools() -> list[School]:
    """Every school's site (not the bureau's own), named as the school set it."""
    names = school_names()
    rows = db.session.scalars(
        sa.select(Site).where(Site.bureau.is_(False)).order_by(Site.id)
    )
    return [School(s.id, names.get(s.id, s.name), s.active) for s in rows]


def with_sections(found: list[School]) -> list[School]:
    """Each school's 栏目更新 report, as the school's own page shows it."""
    for school in found:
        with acting_for(school.site_id):
            report = freshness.build_report()
        school.sections = report
        school.overdue = report.count(freshness.State.OVERDUE)
        school.empty = report.count(freshness.State.EMPTY)
    return found


def side_by_side(period: periods.Period) -> list[School]:
    """Posts published and views counted in the period, per school."""
    totals = pubstats.site_totals(period)
    found = with_sections(schools())
    for school in found:
        school.posts, school.views = totals.get(school.site_id, (0, 0))
    return found


def schools_table(found: list[School]) -> Table:
    headers = [
        _("School name"),
        _("Posts published"),
        _("Views"),
        _("Overdue sections"),
        _("Empty sections"),
    ]
    rows = [[s.name, s.posts, s.views, s.overdue, s.empty] for s in found]
    rows.append(
        [
            _("Total"),
            sum(s.posts for s in found),
            sum(s.views for s in found),
            sum(s.overdue for s in found),
            sum(s.empty for s in found),
        ]
    )
    return Table("schools", _("Schools"), headers, rows)


def sections_table(found: list[School]) -> Table:
    """Every school's sections, the school first on each line."""
    rows, headers = [], []
    for school in found:
        table = freshness_table(school.sections)
        headers = [_("School name"), *table.headers]
        rows.extend([school.name, *row] for row in table.rows)
    if not headers:
        headers = [
            _("School name"),
            *freshness_table(freshness.FreshnessReport(None, [])).headers,
        ]
    return Table("sections", _("Section updates"), headers, rows)
