"""HTTP security headers: CSP as the second wall behind the HTML sanitizer;
over HTTPS, Secure cookies and HSTS; the warning to staff on plain HTTP."""

from __future__ import annotations

import ipaddress
import logging
import threading
from datetime import date

from flask import Flask, current_app, request
from flask_login import current_user

from models import db, set_setting, utcnow

log = logging.getLogger(__name__)

# A year, as browsers' preload lists expect; no includeSubDomains: a school's
# other hosts (the old site, a mail web page) may not have certificates.
HSTS = "max-age=31536000"
HTTPS_SEEN_KEY = "https_seen_at"

# No inline script anywhere (editor pages included): even if the sanitizer let
# something through, the browser would refuse to run it. Inline styles are allowed
# because article bodies and the editor use style attributes (filtered by bleach).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


def init_app(app: Flask) -> None:
    app.after_request(HttpsSeen().after_request)
    app.jinja_env.globals["plain_http_login"] = plain_http_login

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response


class Transport:
    """WSGI middleware: over HTTPS, mark every cookie Secure and send HSTS.

    It sits outside the page cache, so cookies the cache sets itself (view
    counting, language) are covered too and the header is never stored with
    a page. Inside ProxyFix: with TRUSTED_PROXIES the scheme is the one
    nginx saw (X-Forwarded-Proto), and without it that header is ignored.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return self.wsgi_app(environ, start_response)

        def secure_start_response(status, headers, exc_info=None):
            headers = [
                (name, secure_cookie(value) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            if not any(n.lower() == "strict-transport-security" for n, _v in headers):
                headers.append(("Strict-Transport-Security", HSTS))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, secure_start_response)


def secure_cookie(value: str) -> str:
    """A Set-Cookie value with the Secure attribute."""
    attributes = (part.strip().lower() for part in value.split(";")[1:])
    if "secure" in attributes:
        return value
    return f"{value}; Secure"


class HttpsSeen:
    """Remember in the https_seen_at setting that staff reached the site over
    HTTPS (evidence for the self-assessment), at most once a day per process.

    Only logins and requests carrying a staff cookie count, so readers' pages
    never pay; the write happens once the server has sent the response, in a
    session of its own, so it never mixes with what the request did.
    """

    def __init__(self):
        self.noted_on: date | None = None
        self.lock = threading.Lock()

    def after_request(self, response):
        today = date.today()
        if self.noted_on == today or not request.is_secure:
            return response
        config = current_app.config
        staff_cookies = (
            config.get("SESSION_COOKIE_NAME") or "session",
            config.get("REMEMBER_COOKIE_NAME") or "remember_token",
        )
        staff = request.blueprint == "auth" or any(
            name in request.cookies for name in staff_cookies
        )
        if not staff:
            return response
        with self.lock:
            if self.noted_on == today:
                return response
            self.noted_on = today
        app = current_app._get_current_object()
        response.call_on_close(lambda: self.write(app))
        return response

    def write(self, app) -> None:
        try:
            with app.app_context():
                set_setting(HTTPS_SEEN_KEY, utcnow().isoformat(timespec="seconds"))
                db.session.commit()
        except Exception:  # evidence only: never worth a failed request
            log.exception("could not record that HTTPS was seen")
            self.noted_on = None


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def plain_http_login() -> bool:
    """A logged-in user on plain HTTP from another machine: warn them."""
    return (
        not request.is_secure
        and not is_loopback(request.remote_addr)
        and current_user.is_authenticated
    )
