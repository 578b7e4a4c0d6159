"""Files staff download (statistics, the review ledger, the audit log): sent
as attachments that no cache on the way keeps, or a friendly page when the
input cannot make one; and the table writing their CSV files and workbooks
share."""

import csv
import io

from flask import Response, render_template
from flask_babel import gettext as _

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What Excel, WPS and LibreOffice treat as the start of a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A CSV cell that cannot run as a formula when a spreadsheet opens it."""
    if isinstance(value, int):
        return value
    text = str(value or "")
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(headers, rows) -> bytes:
    """UTF-8 with a byte-order mark: Excel then reads Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(header) for header in headers])
    writer.writerows([neutralise(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_rows(sheet, rows, start: int) -> None:
    """Rows into an XlsxWriter sheet from row `start`: numbers as numbers,
    everything else as text (write_string never makes "=..." a formula)."""
    for row_number, row in enumerate(rows, start=start):
        for column, value in enumerate(row):
            if isinstance(value, int):
                sheet.write_number(row_number, column, value)
            else:
                sheet.write_string(row_number, column, str(value or ""))


def download(data: bytes, mimetype: str, name: str) -> Response:
    """A file for staff: never kept by a cache on the way."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def bad_request(message: str):
    """The friendly 400 page for a file that cannot be made from the input."""
    return render_template(
        "errors/error.html", code=400, title=_("Bad request"), message=message
    ), 400
