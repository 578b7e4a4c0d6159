"""Flask-Babel wiring: the reader's language choice, else the site default."""

from datetime import UTC, datetime

from flask import Flask, current_app, request
from flask_babel import Babel, format_datetime, get_locale, to_user_timezone

LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}
LANG_COOKIE = "lang"

babel = Babel()


def select_locale() -> str:
    for choice in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if choice in LANGUAGES:
            return choice
    return current_app.config["BABEL_DEFAULT_LOCALE"]


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
    app.jinja_env.filters["format_datetime"] = format_datetime

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
        choice = request.args.get("lang")
        if choice in LANGUAGES and request.cookies.get(LANG_COOKIE) != choice:
            response.set_cookie(
                LANG_COOKIE, choice, max_age=365 * 24 * 3600, samesite="Lax"
            )
        return response
