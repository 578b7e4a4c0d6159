"""The site's calendar: its local days and the periods figures cover.

A period is a range of the site's local dates, both ends included, in the
site's time zone (BABEL_DEFAULT_TIMEZONE). 发稿统计 (stats/) and the review
ledger (review/ledger.py) both count by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# The longest period shown day by day (a school year fits), and the longest
# shown month by month (five years); longer ones are shown by year.
MAX_DAYS = 366
MAX_MONTHLY_DAYS = 5 * 366
# The earliest and latest dates accepted: others are typos.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)

PERIODS = {
    "month": _l("This month"),
    "last_month": _l("Last month"),
    "term": _l("This term"),
    "year": _l("This year"),
    "custom": _l("Custom"),
}


class PeriodError(ValueError):
    """Input that names no usable period; str() is the message for the user."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    kind: str = "custom"

    @property
    def days(self) -> list[date]:
        return [
            self.start + timedelta(days=n)
            for n in range((self.end - self.start).days + 1)
        ]

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def unit(self) -> str:
        """What one figure of the views series covers: day, month or year."""
        if self.length <= MAX_DAYS:
            return "day"
        return "month" if self.length <= MAX_MONTHLY_DAYS else "year"

    def bucket(self, day: date) -> date:
        """The first day, within the period, of the figure that day falls in."""
        unit = self.unit
        if unit == "day":
            return day
        first = day.replace(day=1) if unit == "month" else date(day.year, 1, 1)
        return max(first, self.start)

    @property
    def buckets(self) -> list[date]:
        """The first day of each figure of the views series, in order."""
        unit = self.unit
        if unit == "day":
            return self.days
        starts, current = [], self.start
        while current <= self.end:
            starts.append(current)
            if unit == "month":
                current = (current.replace(day=1) + timedelta(days=32)).replace(day=1)
            else:
                current = date(current.year + 1, 1, 1)
        return starts

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Naive UTC [start, end) of the period's local days, as stored."""

        def utc(day: date) -> datetime:
            local = datetime.combine(day, time(), tzinfo=zone)
            return local.astimezone(UTC).replace(tzinfo=None)

        return utc(self.start), utc(self.end + timedelta(days=1))

    def query_args(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def site_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def today() -> date:
    return datetime.now(site_zone()).date()


def term_start(day: date) -> date:
    """学期: autumn Sep 1 – Jan 31, spring Feb 1 – Aug 31 (summer included)."""
    if day.month >= 9:
        return date(day.year, 9, 1)
    if day.month == 1:
        return date(day.year - 1, 9, 1)
    return date(day.year, 2, 1)


def named_period(kind: str, now: date) -> Period:
    """The named periods end today: later days have no figures yet."""
    if kind == "last_month":
        end = now.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end, kind)
    if kind == "term":
        return Period(term_start(now), now, kind)
    if kind == "year":
        return Period(date(now.year, 1, 1), now, kind)
    return Period(now.replace(day=1), now, "month")


def parse_day(value: str | None, label: str) -> date:
    value = (value or "").strip()
    if not value:
        raise PeriodError(_("Enter the %(which)s date.", which=label))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or len(value) != 10:
        raise PeriodError(
            _(
                "«%(value)s» is not a date: write it as YYYY-MM-DD, "
                "for example 2026-09-01.",
                value=value[:20],
            )
        )
    if day < EARLIEST:
        raise PeriodError(_("Choose a date from the year 2000 on."))
    if day > LATEST:
        raise PeriodError(_("Choose a date before the year 2100."))
    return day


def custom_period(
    start: str | None, end: str | None, now: date, max_days: int | None = None
) -> Period:
    """max_days: the longest period accepted; None for any."""
    first = parse_day(start, _("start"))
    last = parse_day(end, _("end"))
    if last < first:
        raise PeriodError(_("The end date comes before the start date."))
    if first > now:
        raise PeriodError(_("The period starts in the future: there are no figures."))
    if max_days is not None and (last - first).days + 1 > max_days:
        raise PeriodError(_("Choose a period of at most %(days)d days.", days=max_days))
    return Period(first, last, "custom")


def period_from_args(
    args, default: str = "month", max_days: int | None = None
) -> Period:
    """?period=month|last_month|term|year, or ?from=&to= (a custom period)."""
    now = today()
    kind = args.get("period") or ("custom" if "from" in args else default)
    if kind == "custom":
        return custom_period(args.get("from"), args.get("to"), now, max_days)
    if kind not in PERIODS:
        raise PeriodError(_("Choose one of the periods offered."))
    return named_period(kind, now)


def requested(args) -> tuple[Period | None, str | None]:
    """The period a request's arguments ask for, or (None, the message why not)."""
    try:
        return period_from_args(args), None
    except PeriodError as error:
        return None, str(error)


def picker_values(period: Period | None, args) -> dict[str, str]:
    """What the period form (stats/_period.html) shows: the period, or the
    request's own input after an error."""
    if period is not None:
        return {"period": period.kind, **period.query_args()}
    return {
        "period": args.get("period") or "custom",
        "from": args.get("from", ""),
        "to": args.get("to", ""),
    }
