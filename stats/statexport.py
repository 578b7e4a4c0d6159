"""The statistics as an Excel workbook (XlsxWriter) and as CSV files.

Both hold the same tables as the page (pubstats.Report). Text that a
spreadsheet could take for a formula (= + - @ first) is written as text:
XlsxWriter's write_string never makes a formula, and CSV cells get a
leading apostrophe, which Excel and WPS show as plain text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from flask_babel import gettext as _

from core import downloads
from core.i18n import date_filter
from stats import freshness
from stats.pubstats import Report, bucket_label

# What Excel, WPS and LibreOffice treat as the start of a formula.


# The tables, in the workbook's order; ?table= of the CSV export.
TABLE_KEYS = ("departments", "authors", "sections", "posts", "daily")


@dataclass
class Table:
    key: str  # the CSV's ?table= and file name
    title: str  # the sheet's name
    headers: list[str]
    rows: list[list]
    note: str = ""  # under the workbook sheet's title; CSV files hold data only


# The views series' sheet name and headers, by Period.unit.
SERIES_NAMES = {
    "day": lambda: (_("Daily views"), [_("Date"), _("Views")]),
    "month": lambda: (_("Monthly views"), [_("Month"), _("Views")]),
    "year": lambda: (_("Yearly views"), [_("Year"), _("Views")]),
}


def tables(report: Report) -> list[Table]:
    posts, views = _("Posts published"), _("Views")
    unit = report.period.unit

    def totalled(key, title, headers, rows, note=""):
        """Posts and views per row (label, and extra if it has two headers),
        with the report's total below."""
        extra = len(headers) > 1
        lines = [
            [row.label, *([row.extra] if extra else []), row.posts, row.views]
            for row in rows
        ]
        blanks = [""] * (len(headers) - 1)
        total = [_("Total"), *blanks, report.posts, report.views]
        return Table(key, title, [*headers, posts, views], [*lines, total], note)

    return [
        totalled(
            "departments", _("Departments"), [_("Department")], report.departments
        ),
        totalled(
            "authors", _("Authors"), [_("Author"), _("Department")], report.authors
        ),
        totalled(
            "sections",
            _("Sections"),
            [_("Section")],
            report.sections,
            channel_note(),
        ),
        Table(
            "posts",
            _("Most read"),
            [
                _("Rank"),
                _("Title"),
                _("Author"),
                _("Section"),
                _("Date published"),
                views,
            ],
            [
                [
                    rank,
                    post.title,
                    post.author,
                    post.section,
                    date_filter(post.published_at),
                    post.views,
                ]
                for rank, post in enumerate(report.top, start=1)
            ],
        ),
        Table(
            "daily",
            *SERIES_NAMES[unit](),
            [[bucket_label(day, unit), number] for day, number in report.daily],
        ),
    ]


def channel_note() -> str:
    return _(
        "A channel's row includes the posts and views of its sections, "
        "so the rows can add up to more than the total."
    )


def title_line(report: Report, school: str) -> str:
    period = report.period
    return _(
        "%(school)s — publication statistics, %(start)s to %(end)s",
        school=school,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
    )


def file_name(report: Report, extension: str, table: str = "") -> str:
    period = report.period
    middle = f"-{table}" if table else ""
    return f"stats{middle}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{extension}"


def workbook(report: Report, school: str) -> bytes:
    return book(tables(report), title_line(report, school))


def book(sheets: list[Table], title: str) -> bytes:
    """One sheet per table: a title row, the headers, the rows."""
    # Loaded here, not at import: server processes must stay small (README),
    # and only staff ever download a workbook.
    import xlsxwriter

    buffer = io.BytesIO()
    xlsx = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title_format = xlsx.add_format({"bold": True, "font_size": 14})
    header_format = xlsx.add_format({"bold": True, "bottom": 1, "bg_color": "#EEF2F7"})
    for table in sheets:
        sheet = xlsx.add_worksheet(table.title[:31])
        sheet.write_string(0, 0, title, title_format)
        if table.note:
            sheet.write_string(1, 0, table.note)
        for column, header in enumerate(table.headers):
            sheet.write_string(2, column, header, header_format)
            sheet.set_column(column, column, 12 if column else 28)
        downloads.write_rows(sheet, table.rows, start=3)
        sheet.freeze_panes(3, 0)
    xlsx.close()
    return buffer.getvalue()


def state_label(row: freshness.Row) -> str:
    if row.state == freshness.State.OVERDUE:
        return _("Overdue by %(num)d days", num=row.idle - row.days)
    return {
        freshness.State.OK: _("Up to date"),
        freshness.State.EMPTY: _("No posts"),
        freshness.State.UNCHECKED: _("Not checked"),
    }[row.state]


def freshness_table(report: freshness.FreshnessReport) -> Table:
    headers = [
        _("Channel"),
        _("Section"),
        _("Update period (days)"),
        _("Latest post"),
        _("Days since"),
        _("Status"),
    ]
    rows = [
        [
            row.channel,
            row.name,
            row.days,
            row.latest.isoformat() if row.latest else "",
            "" if row.idle is None else row.idle,
            state_label(row),
        ]
        for row in report.rows
    ]
    return Table("sections", _("Section updates"), headers, rows)


def csv_bytes(table: Table) -> bytes:
    """UTF-8 with a byte-order mark: Excel then reads Chinese correctly.

    No title row, so the file imports as plain columns; its name says the
    period.
    """
    return downloads.csv_bytes(table.headers, table.rows)


def table_by_key(report: Report, key: str) -> Table | None:
    return next((table for table in tables(report) if table.key == key), None)
