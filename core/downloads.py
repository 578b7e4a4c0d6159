"""Files staff download (statistics, the review ledger): sent as attachments
that no cache on the way keeps, or a friendly page when the input cannot
make one."""

from flask import Response, render_template
from flask_babel import gettext as _

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
