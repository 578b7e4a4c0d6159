"""Friendly error pages in the site's layout."""

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import SecurityError

from core.i18n import display_size


def wants_json() -> bool:
    """fetch() calls from the editor send JSON or ask for it: answer in JSON."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def json_error(message: str, status: int, **extra) -> Response:
    """The one shape of a JSON error: the editor's fetch() calls show
    "error" as is. A response, so abort() can raise it too."""
    response = jsonify(error=message, **extra)
    response.status_code = status
    return response


def csrf_json_error(message: str):
    """A stale CSRF token (often an expired session): static/js/editor.js
    reads csrf and login_url to offer a new login without losing the text.
    Callers word the message for what the user was doing."""
    return json_error(message, 400, csrf=True, login_url=url_for("auth.login"))


def stale_form():
    """A stale CSRF token (often an expired session) outside the editor's
    form, which keeps the text itself: JSON for fetch() calls, else a page."""
    message = _(
        "Your session has expired or the page is too old. "
        "Log in again in another window, then save again."
    )
    if wants_json():
        return csrf_json_error(message)
    return render_template(
        "errors/error.html", code=400, title=_("Bad request"), message=message
    ), 400


def too_large_message() -> str:
    limit = display_size(current_app.config["MAX_CONTENT_LENGTH"])
    return _("The file is too large. The limit is %(size)s.", size=limit)


def init_app(app: Flask, not_found_fallback=None) -> None:
    """Register the error pages. not_found_fallback() may answer a 404 instead
    (app.py passes the reader's redirect from an imported site's old address);
    None lets the page say the address does not exist."""

    def page(code: int, title: str, message: str):
        if wants_json():
            return json_error(message, code)
        return render_template(
            "errors/error.html", code=code, title=title, message=message
        ), code

    @app.errorhandler(400)
    def bad_request(error):
        return page(400, _("Bad request"), _("The request could not be understood."))

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        # A Host header outside TRUSTED_HOSTS: no link can be built for it,
        # so the answer has no layout (and repeats nothing of the header).
        message = _("This site is not served at this address.")
        return Response(message, 400, mimetype="text/plain")

    @app.errorhandler(403)
    def forbidden(error):
        return page(403, _("Not allowed"), _("You are not allowed to do that."))

    @app.errorhandler(404)
    def not_found(error):
        # Only here, off the reader's path: an imported site's old address.
        moved = not_found_fallback() if not_found_fallback else None
        if moved is not None:
            return moved
        return page(
            404,
            _("Page not found"),
            _("The page you are looking for does not exist or has been removed."),
        )

    @app.errorhandler(405)
    def method_not_allowed(error):
        return page(405, _("Not allowed"), _("This address does not accept that."))

    @app.errorhandler(413)
    def too_large(error):
        return page(413, _("File too large"), too_large_message())

    @app.errorhandler(500)
    def server_error(error):
        return page(
            500,
            _("Something went wrong"),
            _("Sorry, something went wrong on our side. Please try again later."),
        )
