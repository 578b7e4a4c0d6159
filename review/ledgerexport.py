"""The review ledger as an Excel workbook (XlsxWriter), for inspections.

Sheet 1 has one row per post (ledger.post_lines: the latest cycle's reviewer,
time and decision at each level, and the short version); sheet 2 every event
as recorded, with the whole version hash. Columns are as wide as their
names, so a principal reads them without widening any. Every
text is written with write_string, so a title starting with "=" stays text
and never runs as a formula.
"""

from __future__ import annotations

import io
import unicodedata

from flask_babel import gettext as _

from core.i18n import datetime_filter
from models import ReviewEvent, db
from review import chain, ledger
from review.ledger import Filters, PostLine

_SHEET_TITLE_ROW, _HEADER_ROW = 0, 2
SHORT_VERSION = 8  # hex characters, as the ledger page shows them
# Column widths in Excel's units (about one Latin character; a Chinese one
# takes two): wide enough that names never wrap, long reasons wrap at MAX.
_MIN_WIDTH, _MAX_WIDTH, _HEADER_WIDTH = 8, 48, 16


def title_line(filters: Filters, school: str) -> str:
    if filters.month is None:
        return _(
            "%(school)s — review ledger, post %(number)d",
            school=school,
            number=filters.article_id or 0,
        )
    return _(
        "%(school)s — review ledger, %(month)s",
        school=school,
        month=filters.month.strftime("%Y-%m"),
    )


def file_name(filters: Filters) -> str:
    middle = f"{filters.month:%Y%m}" if filters.month else f"post{filters.article_id}"
    return f"review-ledger-{middle}.xlsx"


def _decision(event: ReviewEvent | None) -> str:
    return (
        str(chain.DECISION_NAMES.get(event.decision, event.decision)) if event else ""
    )


def _listed(events: list[ReviewEvent], part) -> str:
    """Several bypasses or confirmations share a cell, one per line."""
    return "\n".join(part(event) for event in events)


def post_headers() -> list[str]:
    headers = [
        _("Post number"),
        _("Title"),
        _("Department"),
        _("Author"),
        _("Submitted at"),
        _("Submissions in the period"),
    ]
    for level in range(1, chain.MAX_LEVELS + 1):
        name = str(chain.LEVEL_NAMES[level])
        headers += [
            _("%(level)s: reviewer", level=name),
            _("%(level)s: time", level=name),
            _("%(level)s: decision", level=name),
            _("%(level)s: reason or note", level=name),
        ]
    return [
        *headers,
        _("Published without review: by"),
        _("Published without review: time"),
        _("Published without review: reason"),
        _("Personal data confirmed"),
        _("Outcome"),
        _("Version"),
    ]


def outcome_label(line: PostLine) -> str:
    label = str(ledger.OUTCOMES[line.outcome])
    if line.outcome == "waiting" and line.waiting_level in chain.LEVEL_NAMES:
        return _(
            "%(outcome)s (%(level)s)",
            outcome=label,
            level=chain.LEVEL_NAMES[line.waiting_level],
        )
    return label


def short_version(version_hash: str) -> str:
    """The version as people quote it; the Events sheet has the whole hash."""
    return version_hash[:SHORT_VERSION]


def post_row(line: PostLine) -> list:
    row = [
        line.article_id,
        line.title,
        line.department,
        line.author,
        datetime_filter(line.submitted.created_at) if line.submitted else "",
        line.submissions,
    ]
    for level in range(1, chain.MAX_LEVELS + 1):
        event = line.levels.get(level)
        row += [
            event.user_name if event else "",
            datetime_filter(event.created_at) if event else "",
            _decision(event),
            event.reason if event else "",
        ]
    bypasses, confirmations = line.bypasses, line.confirmations
    return [
        *row,
        _listed(bypasses, lambda e: e.user_name),
        _listed(bypasses, lambda e: datetime_filter(e.created_at)),
        _listed(bypasses, lambda e: e.reason),
        _listed(
            confirmations,
            lambda e: f"{e.user_name} {datetime_filter(e.created_at)}: {e.reason}",
        ),
        outcome_label(line),
        short_version(line.version),
    ]


def event_headers() -> list[str]:
    return [
        _("Time"),
        _("Post number"),
        _("Title"),
        _("Department"),
        _("Author"),
        _("Level"),
        _("Decision"),
        _("Reviewer"),
        _("Reason or note"),
        _("Version hash"),
    ]


def event_row(event: ReviewEvent) -> list:
    return [
        datetime_filter(event.created_at),
        event.article_id,
        event.article_title,
        event.department,
        event.author,
        str(chain.LEVEL_NAMES.get(event.level, "")),
        _decision(event),
        event.user_name,
        event.reason,
        event.version_hash,
    ]


def workbook(filters: Filters, school: str) -> bytes:
    # Loaded here, not at import: server processes stay small (see statexport).
    import xlsxwriter

    lines = ledger.post_lines(filters)
    events = db.session.scalars(ledger.events_query(filters)).all()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    formats = {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "header": book.add_format(
            {"bold": True, "bottom": 1, "bg_color": "#EEF2F7", "text_wrap": True}
        ),
        "cell": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    title = title_line(filters, school)
    sheets = (
        (_("Posts"), post_headers(), [post_row(line) for line in lines]),
        (_("Events"), event_headers(), [event_row(event) for event in events]),
    )
    for name, headers, rows in sheets:
        _write_sheet(book.add_worksheet(name[:31]), title, headers, rows, formats)
    book.close()
    return buffer.getvalue()


def _write_sheet(sheet, title: str, headers: list[str], rows, formats) -> None:
    sheet.write_string(_SHEET_TITLE_ROW, 0, title, formats["title"])
    for column, header in enumerate(headers):
        sheet.write_string(_HEADER_ROW, column, header, formats["header"])
        values = [row[column] for row in rows]
        # A whole hash on one line, so it can be copied and compared.
        limit = None if header == _("Version hash") else _MAX_WIDTH
        sheet.set_column(column, column, column_width(header, values, limit))
    for number, row in enumerate(rows, start=_HEADER_ROW + 1):
        for column, value in enumerate(row):
            if isinstance(value, int):
                sheet.write_number(number, column, value, formats["cell"])
            elif value:
                sheet.write_string(number, column, str(value), formats["cell"])
    sheet.freeze_panes(_HEADER_ROW + 1, 1)


def text_width(text: str) -> int:
    """The widest line of text in Excel's units: wide characters count two."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
            for line in text.split("\n")
        ),
        default=0,
    )


def column_width(header: str, values: list, limit: int | None = _MAX_WIDTH) -> int:
    """Fit the longest value (a wrapping header counts up to _HEADER_WIDTH)."""
    widest = max(
        [min(text_width(header), _HEADER_WIDTH)]
        + [text_width(str(value)) for value in values if value not in (None, "")]
    )
    width = max(widest + 2, _MIN_WIDTH)
    return width if limit is None else min(width, limit)
