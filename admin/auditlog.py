"""The audit log as the audit administrator reads it: what each event is
called, the filters of the audit page, and its exports (.xlsx and CSV)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import periods
from core.downloads import csv_bytes as csv_file
from core.downloads import write_rows
from models import AuditEvent, User, db

# Every event type, grouped as the page's select shows them.
GROUPS = (
    (
        _l("Sign-in and sessions"),
        {
            "login": _l("Logged in"),
            "login_failed": _l("Failed to log in"),
            "logout": _l("Logged out"),
            "session_ended": _l("Ended a session on one device"),
            "sessions_ended": _l("Ended a user's sessions"),
            "recovery_code_used": _l("Logged in with a recovery code"),
        },
    ),
    (
        _l("Passwords and second factor"),
        {
            "password_changed": _l("Changed own password"),
            "password_reset": _l("Reset a password"),
            "password_expired_changed": _l("Changed an expired password"),
            "totp_enabled": _l("Turned on the second factor"),
            "totp_disabled": _l("Turned off the second factor"),
            "totp_reset": _l("Reset a user's second factor"),
            "recovery_codes_made": _l("Made new recovery codes"),
            "account_unlocked": _l("Unlocked an account"),
        },
    ),
    (
        _l("Accounts and roles"),
        {
            "user_created": _l("Created a user"),
            "member_added": _l("Let another school's user work here"),
            "user_updated": _l("Changed a user"),
            "role_changed": _l("Changed a role"),
            "duty_changed": _l("Changed a management role"),
            "user_deactivated": _l("Deactivated a user"),
            "user_reactivated": _l("Reactivated a user"),
            "dormant_disabled": _l("Disabled a dormant account"),
            "department_assigned": _l("Changed a user's department"),
        },
    ),
    (
        _l("Settings"),
        {
            "settings_changed": _l("Changed site settings"),
            "policy_changed": _l("Changed the password and login policy"),
            "single_admin_changed": _l("Changed the single-administrator mode"),
            "setup_completed": _l("Completed the first-run setup"),
            "demo_cleared": _l("Cleared the demo content"),
            "notification_test": _l("Sent a test notification"),
            "word_rule_created": _l("Added a term to the word list"),
            "word_rule_updated": _l("Changed a term of the word list"),
            "word_rule_deleted": _l("Deleted a term from the word list"),
            "review_settings_changed": _l("Changed the review chain"),
            "review_channel_changed": _l("Changed a channel's review levels"),
            "review_group_created": _l("Created a review group"),
            "review_group_renamed": _l("Renamed a review group"),
            "review_group_members": _l("Changed a review group's members"),
            "review_group_deleted": _l("Deleted a review group"),
        },
    ),
    (
        _l("Posts"),
        {
            "article.submit": _l("Submitted a post for review"),
            "article.publish": _l("Published a post"),
            "article.bypass": _l("Published a post past the review chain"),
            "article.unpublish": _l("Unpublished a post"),
            "article.delete": _l("Moved a post to the trash"),
            "article.restore": _l("Restored a post from the trash"),
            "article.purge": _l("Deleted a post for good"),
            "article.restore_revision": _l("Restored an earlier text of a post"),
            "article.compliance_confirmed": _l("Published personal data with a reason"),
        },
    ),
    (
        _l("Sections and departments"),
        {
            "section_created": _l("Created a section"),
            "section_updated": _l("Changed a section"),
            "section_moved": _l("Reordered a section"),
            "section_deleted": _l("Deleted a section"),
            "posts_moved": _l("Moved posts to another section"),
            "department_created": _l("Created a department"),
            "department_updated": _l("Changed a department"),
            "department_deleted": _l("Deleted a department"),
            "department_heads_changed": _l("Changed a department's heads"),
            "site_created": _l("Added a school's site"),
            "site_disabled": _l("Disabled a school's site"),
            "site_enabled": _l("Enabled a school's site"),
        },
    ),
    (
        _l("Backups, exports and the audit log"),
        {
            "backup_created": _l("Made a backup"),
            "backup_downloaded": _l("Downloaded a backup"),
            "backup_copied": _l("Copied a backup to another machine"),
            "restore": _l("Restored a backup"),
            "restore_drill": _l("Ran a restore drill"),
            "stats_exported": _l("Exported the publication statistics"),
            "ledger_exported": _l("Exported the review ledger"),
            "selfcheck_exported": _l("Exported the self-assessment"),
            "audit_exported": _l("Exported the audit log"),
            "audit_verified": _l("Verified the audit chain"),
            "audit_archived": _l("Archived old audit events"),
        },
    ),
)
LABELS = {name: label for _group, labels in GROUPS for name, label in labels.items()}
OUTCOMES = {"success": _l("Success"), "failure": _l("Failure")}
# The reasons a login failed (detail of login_failed), as the reader of the log
# wants them.
LOGIN_FAILURES = {
    "wrong_password": _l("wrong password"),
    "unknown_user": _l("unknown user name"),
    "deactivated": _l("account deactivated"),
    "throttled": _l("too many attempts from this address"),
    "account_slowed": _l("too many attempts on this account"),
    "dormant": _l("dormant account"),
    "second_factor": _l("wrong or missing second factor"),
    "expired": _l("password expired"),
}
NO_USER = "none"  # ?user= of events with no user (the command line, a failed login)
MAX_ADDRESS = 45
# A school's six months fit many times over; beyond this, narrow the filter.
EXPORT_LIMIT = 200_000


class FilterError(ValueError):
    """Filter input that names no events; str() is the message for the user."""


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None  # included
    user: str = ""  # a user id, NO_USER, or "" for anyone
    action: str = ""
    outcome: str = ""
    address: str = ""

    def query_args(self) -> dict[str, str]:
        values = {
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "user": self.user,
            "event": self.action,
            "outcome": self.outcome,
            "address": self.address,
        }
        return {key: value for key, value in values.items() if value}

    def describe(self) -> str:
        """The filter, for the audit_exported event's detail."""
        args = self.query_args()
        if self.user and self.user != NO_USER:
            name = db.session.scalar(
                sa.select(User.username).where(User.id == int(self.user))
            )
            args["user"] = name or self.user
        return " ".join(f"{key}={value}" for key, value in args.items()) or "all"


def filters_from_args(args) -> Filters:
    """The page's ?from=&to=&user=&event=&outcome=&address=."""
    start = _day(args.get("from"), _("start"))
    end = _day(args.get("to"), _("end"))
    if start and end and end < start:
        raise FilterError(_("The end date comes before the start date."))
    user = (args.get("user") or "").strip()
    if user and user != NO_USER and not re.fullmatch(r"[1-9][0-9]{0,8}", user):
        raise FilterError(_("Choose one of the users offered."))
    action = (args.get("event") or "").strip()
    if action and action not in LABELS:
        raise FilterError(_("Choose one of the events offered."))
    outcome = (args.get("outcome") or "").strip()
    if outcome and outcome not in OUTCOMES:
        raise FilterError(_("Choose one of the outcomes offered."))
    address = (args.get("address") or "").strip()
    if len(address) > MAX_ADDRESS:
        raise FilterError(
            _("An address has at most %(count)d characters.", count=MAX_ADDRESS)
        )
    return Filters(start, end, user, action, outcome, address)


def _day(value: str | None, label: str) -> date | None:
    if not (value or "").strip():
        return None
    try:
        return periods.parse_day(value, label)
    except periods.PeriodError as error:
        raise FilterError(str(error)) from None


def events_query(filters: Filters):
    """The filtered events, newest first."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters.start or filters.end:
        period = periods.Period(
            filters.start or periods.EARLIEST, filters.end or periods.LATEST
        )
        after, before = period.utc_bounds(periods.site_zone())
        if filters.start:
            query = query.where(AuditEvent.created_at >= after)
        if filters.end:
            query = query.where(AuditEvent.created_at < before)
    if filters.user == NO_USER:
        query = query.where(AuditEvent.user_id.is_(None))
    elif filters.user:
        query = query.where(AuditEvent.user_id == int(filters.user))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.outcome:
        query = query.where(AuditEvent.outcome == filters.outcome)
    if filters.address:
        query = query.where(AuditEvent.ip.contains(filters.address, autoescape=True))
    return query


def user_choices() -> list[tuple[str, str]]:
    users = db.session.execute(
        sa.select(User.id, User.username).order_by(User.username)
    )
    return [(str(user_id), name) for user_id, name in users]


def label(action: str) -> str:
    return str(LABELS.get(action, action))


def detail_text(event: AuditEvent) -> str:
    """What the event was about and what changed or went wrong, in one line."""
    detail = event.detail or ""
    if event.action == "login_failed" and detail in LOGIN_FAILURES:
        detail = str(LOGIN_FAILURES[detail])
    return " · ".join(part for part in (event.target, detail) if part)


# --- exports -------------------------------------------------------------------


def headers() -> list[str]:
    return [
        _("Number"),
        _("Time"),
        _("User"),
        _("Address"),
        _("Event"),
        _("Event code"),
        _("Outcome"),
        _("Object"),
        _("Details"),
    ]


def rows(filters: Filters) -> list[list]:
    """The filtered events as table rows, newest first."""
    query = events_query(filters).limit(EXPORT_LIMIT)
    names = dict(db.session.execute(sa.select(User.id, User.username)).all())
    found = []
    for event in db.session.scalars(query):
        detail = event.detail or ""
        if event.action == "login_failed" and detail in LOGIN_FAILURES:
            detail = str(LOGIN_FAILURES[detail])
        found.append(
            [
                event.id,
                local_time(event.created_at),
                names.get(event.user_id, "") if event.user_id else "",
                event.ip,
                label(event.action),
                event.action,
                str(OUTCOMES.get(event.outcome, event.outcome)),
                event.target,
                detail,
            ]
        )
    return found


def local_time(value: datetime) -> str:
    """Stored UTC as the site's local time, to the second."""
    zone = periods.site_zone()
    return value.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def file_name(extension: str) -> str:
    return f"audit-{datetime.now(periods.site_zone()):%Y%m%d-%H%M%S}.{extension}"


def title_line(school: str, filters: Filters) -> str:
    return _(
        "%(school)s — audit log (%(filter)s)", school=school, filter=filters.describe()
    )


def workbook(filters: Filters, school: str) -> bytes:
    """One sheet: a title row, the headers, an event per row."""
    import xlsxwriter  # only staff download workbooks: not loaded by servers

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title_format = book.add_format({"bold": True, "font_size": 14})
    header_format = book.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2F7"})
    sheet = book.add_worksheet(_("Audit log")[:31])
    sheet.write_string(0, 0, title_line(school, filters), title_format)
    widths = (8, 20, 14, 16, 24, 20, 8, 30, 40)
    for column, (header, width) in enumerate(zip(headers(), widths, strict=True)):
        sheet.write_string(2, column, header, header_format)
        sheet.set_column(column, column, width)
    write_rows(sheet, rows(filters), start=3)
    sheet.freeze_panes(3, 0)
    book.close()
    return buffer.getvalue()


def csv_bytes(filters: Filters) -> bytes:
    return csv_file(headers(), rows(filters))
