"""Flask-Babel wiring: the reader's language choice, else the site default."""

from datetime import UTC, datetime
from urllib.parse import parse_qs

from babel.numbers import format_decimal
from flask import Flask, current_app, has_app_context, has_request_context, request
from flask_babel import Babel, get_locale, to_user_timezone
from werkzeug.http import dump_cookie

LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}
LANG_COOKIE = "lang"

babel = Babel()


LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def locale_for(query_lang: str | None, cookie_lang: str | None, default: str) -> str:
    """?lang= first, then the reader's cookie, then the site's language."""
    for choice in (query_lang, cookie_lang):
        if choice in LANGUAGES:
            return choice
    return default


def query_lang(query_string: str) -> str | None:
    """?lang= from a raw query string (the page cache has no Flask request)."""
    if "lang=" not in query_string:
        return None
    values = parse_qs(query_string).get("lang")
    return values[0] if values else None


def lang_cookie_header(environ, cookies) -> str | None:
    """Set-Cookie for a language chosen with ?lang=, if the cookie differs."""
    choice = query_lang(environ.get("QUERY_STRING", ""))
    if choice in LANGUAGES and cookies.get(LANG_COOKIE) != choice:
        return dump_cookie(
            LANG_COOKIE, choice, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax"
        )
    return None


def select_locale() -> str:
    if not has_request_context():
        # A command or a background job (notify.py queueing a message).
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return locale_for(
        request.args.get("lang"),
        request.cookies.get(LANG_COOKIE),
        current_app.config["BABEL_DEFAULT_LOCALE"],
    )


def _local(value: datetime) -> datetime:
    # Stored times are naive UTC; mark them so Babel converts to the site's zone.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_user_timezone(value)


def date_filter(value: datetime | None) -> str:
    """YYYY-MM-DD in the site's time zone, the form Chinese school sites use."""
    return _local(value).strftime("%Y-%m-%d") if value else ""


def datetime_filter(value: datetime | None) -> str:
    return _local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["date"] = date_filter
    app.jinja_env.filters["datetime"] = datetime_filter

    @app.context_processor
    def language_context():
        locale = get_locale()
        return {
            "languages": LANGUAGES,
            "current_locale": str(locale) if locale else "zh_Hans_CN",
            "html_lang": "zh-CN" if str(locale).startswith("zh") else "en",
        }

    @app.after_request
    def remember_language(response):
        cookie = lang_cookie_header(request.environ, request.cookies)
        if cookie:
            response.headers.add("Set-Cookie", cookie)
        return response


SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def display_size(size: int) -> str:
    """The one human size of the site, in the reader's number format:
    "512 B", "1,023 B", "1.2 MB", "3 GB" (1024-based, one decimal at most)."""
    value, unit = float(size), 0
    # Round before comparing so 1023.97 KB becomes "1 MB", never "1,024 KB".
    while round(value, 1) >= 1024 and unit < len(SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    number = format_decimal(round(value, 1), format="#,##0.#", locale=_number_locale())
    return f"{number} {SIZE_UNITS[unit]}"


def _number_locale() -> str:
    # The reader's language on a page; the site's default in the CLI; English
    # with no app at all (pure unit tests).
    if has_request_context():
        return str(get_locale())
    if has_app_context():
        return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return "en"
