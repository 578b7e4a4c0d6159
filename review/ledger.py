"""The review ledger (审核台账) for admins: a month's events, and a line per post.

The events are written by review/chain.py (ReviewEvent, append-only); this only
reads them. Definitions (the page states them too):
- A month is a calendar month of the site's local dates (Asia/Shanghai by
  default): an event at 2026-09-30 17:00 UTC belongs to October.
- A post's line covers its events in the month. Its *latest cycle* starts at
  its latest submission in the month (a resubmission, or an edit during
  review, starts a new one); when the month has no submission, the cycle
  began earlier and the line covers the whole month.
- Each level shows the latest approval or return at that level in the
  latest cycle. Publications without review and personal-data
  confirmations are listed in full: they are what an inspector asks about.
- The outcome: "returned" when the cycle's last decision is a return;
  "published" when the cycle holds a publication without review, or its
  approvals reach the number of levels the post needs (kept on the post at
  its latest submission; the site's setting for a purged post); otherwise
  "waiting".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import periods
from models import Article, Department, ReviewEvent, db, parse_id
from review import chain
from review.chain import Decision

PER_PAGE = 50
_MONTH = re.compile(r"\d{4}-\d{2}")

OUTCOMES = {
    "published": _l("Published"),
    "returned": _l("Returned to the author"),
    "waiting": _l("Waiting for review"),
}


class LedgerError(ValueError):
    """Input that names no month, department or post; str() is for the user."""


@dataclass(frozen=True)
class Filters:
    """What the admin asked for. month None: the post's whole history."""

    month: date | None
    department: str = ""
    article_id: int | None = None

    @property
    def period(self) -> periods.Period | None:
        if self.month is None:
            return None
        following = (self.month + timedelta(days=31)).replace(day=1)
        return periods.Period(self.month, following - timedelta(days=1))

    def query_args(self) -> dict[str, str]:
        """The filters as URL arguments (for pages, the download, the form)."""
        args = {}
        if self.month is not None:
            args["month"] = f"{self.month:%Y-%m}"
        if self.department:
            args["department"] = self.department
        if self.article_id is not None:
            args["article"] = str(self.article_id)
        return args


def this_month() -> date:
    return periods.today().replace(day=1)


def parse_month(value: str) -> date:
    month = None
    if _MONTH.fullmatch(value) and 1 <= int(value[5:]) <= 12:
        month = date(int(value[:4]), int(value[5:]), 1)
    if month is None:
        raise LedgerError(
            _(
                "«%(value)s» is not a month: write it as YYYY-MM, for example 2026-09.",
                value=value[:20],
            )
        )
    if month < periods.EARLIEST:
        raise LedgerError(_("Choose a month from the year 2000 on."))
    if month > this_month():
        raise LedgerError(_("That month has not begun: nothing is recorded yet."))
    return month


def department_name(value: str) -> str:
    """A department's id or name, as recorded in the ledger."""
    department_id = parse_id(value)
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is not None:
            return department.name
    # A department renamed or deleted since keeps its old name in the ledger.
    known = db.session.scalar(
        sa.select(Department.id).where(Department.name == value)
    ) or db.session.scalar(
        sa.select(ReviewEvent.id).where(ReviewEvent.department == value).limit(1)
    )
    if known is not None:
        return value
    raise LedgerError(_("There is no department «%(value)s».", value=value[:50]))


def post_id(value: str) -> int:
    article_id = parse_id(value)
    if article_id is None:
        raise LedgerError(_("«%(value)s» is not a post number.", value=value[:20]))
    recorded = db.session.scalar(
        sa.select(ReviewEvent.id).where(ReviewEvent.article_id == article_id).limit(1)
    )
    if recorded is None:
        raise LedgerError(
            _("The ledger has nothing on post %(number)d.", number=article_id)
        )
    return article_id


def filters_from_args(args) -> Filters:
    """?month=YYYY-MM (this month by default), ?department=, ?article=.

    A post asked for without a month shows its whole history. Empty fields
    (the filter form sends every field) count as not given.
    """
    given = {
        key: args.get(key, "").strip() for key in ("month", "department", "article")
    }
    article_id = post_id(given["article"]) if given["article"] else None
    if given["month"]:
        month = parse_month(given["month"])
    else:
        month = None if article_id is not None else this_month()
    department = department_name(given["department"]) if given["department"] else ""
    return Filters(month, department, article_id)


# --- Reading the events -------------------------------------------------------


def _where(filters: Filters) -> list:
    conditions = []
    if filters.period is not None:
        start, end = filters.period.utc_bounds(periods.site_zone())
        conditions += [ReviewEvent.created_at >= start, ReviewEvent.created_at < end]
    if filters.department:
        conditions.append(ReviewEvent.department == filters.department)
    if filters.article_id is not None:
        conditions.append(ReviewEvent.article_id == filters.article_id)
    return conditions


def events_query(filters: Filters):
    """The events asked for, in the order they happened."""
    return sa.select(ReviewEvent).where(*_where(filters)).order_by(ReviewEvent.id)


@dataclass
class Summary:
    events: int = 0
    posts: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


def summary(filters: Filters) -> Summary:
    rows = db.session.execute(
        sa.select(ReviewEvent.decision, sa.func.count())
        .where(*_where(filters))
        .group_by(ReviewEvent.decision)
    ).all()
    posts = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(ReviewEvent.article_id))).where(
            *_where(filters)
        )
    )
    decisions = dict(rows)
    return Summary(sum(decisions.values()), posts or 0, decisions)


def department_choices() -> list[str]:
    """The departments to filter by: today's, and any older name in the ledger."""
    names = list(
        db.session.scalars(
            sa.select(Department.name).order_by(Department.position, Department.name)
        )
    )
    recorded = db.session.scalars(
        sa.select(ReviewEvent.department)
        .where(ReviewEvent.department != "")
        .distinct()
        .order_by(ReviewEvent.department)
    )
    names += [name for name in recorded if name not in names]
    return names


# --- One line per post (the workbook) ----------------------------------------------


@dataclass
class PostLine:
    article_id: int
    title: str = ""
    department: str = ""
    author: str = ""
    submitted: ReviewEvent | None = None  # the latest cycle's submission
    submissions: int = 0
    levels: dict[int, ReviewEvent] = field(default_factory=dict)
    bypasses: list[ReviewEvent] = field(default_factory=list)
    confirmations: list[ReviewEvent] = field(default_factory=list)
    outcome: str = "waiting"
    waiting_level: int = 0  # the level it waits at, when known
    version: str = ""  # the hash of the text its latest event was about


def post_lines(filters: Filters) -> list[PostLine]:
    """A line per post with events, in the order of their first event."""
    by_post: dict[int, list[ReviewEvent]] = {}
    for event in db.session.scalars(events_query(filters)):
        by_post.setdefault(event.article_id, []).append(event)
    needed = dict(
        db.session.execute(
            sa.select(Article.id, Article.review_levels).where(
                Article.id.in_(list(by_post))
            )
        ).all()
    )
    site_levels = chain.site_levels()
    return [
        _line(article_id, events, needed.get(article_id) or site_levels)
        for article_id, events in by_post.items()
    ]


def _line(article_id: int, events: list[ReviewEvent], levels: int) -> PostLine:
    latest = events[-1]
    line = PostLine(
        article_id,
        title=latest.article_title,
        department=latest.department,
        author=latest.author,
        version=latest.version_hash,
    )
    cycle = events
    for number, event in enumerate(events):
        if event.decision == Decision.SUBMIT:
            line.submissions += 1
            line.submitted = event
            cycle = events[number:]
        elif event.decision == Decision.BYPASS:
            line.bypasses.append(event)
        elif event.decision == Decision.CONFIRM:
            line.confirmations.append(event)
    decisive = None
    for event in cycle:
        if event.decision in (Decision.APPROVE, Decision.RETURN) and event.level:
            line.levels[event.level] = event
        if event.decision in (Decision.APPROVE, Decision.RETURN, Decision.BYPASS):
            decisive = event
    approved = max(
        (lvl for lvl, e in line.levels.items() if e.decision == Decision.APPROVE),
        default=0,
    )
    if decisive is not None and decisive.decision == Decision.RETURN:
        line.outcome = "returned"
    elif any(e.decision == Decision.BYPASS for e in cycle) or (
        levels and approved >= levels
    ):
        line.outcome = "published"
    else:
        line.waiting_level = approved + 1 if levels else 0
    return line
