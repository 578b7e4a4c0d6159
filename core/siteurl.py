"""The site's address: the base of every absolute link, and the hosts it lets in.

Links that leave the page (feeds, sitemaps, robots.txt, canonical and share
links, QR codes, notifications) would otherwise carry the request's Host
header, which anyone can forge. The address is SITE_URL in the instance
config, else the «site_url» setting; with neither, links keep following the
request as before. With one, requests for any other host are refused, unless
TRUSTED_HOSTS in the config lists the hosts instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted

from core import sitedata
from models import get_settings

# The machine itself is always let in, so a mistyped address can be fixed
# from the server (or through an SSH tunnel) without editing the database.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The same bytes under any host and no links in them: checking a stored
# address there would cost every picture on a page a query.
_FILE_ENDPOINTS = frozenset({"static", "files.upload", "files.thumbnail"})
# No links, and load balancers and monitors ask for it by the machine's address.
_ANY_HOST_ENDPOINTS = frozenset({"health.healthz"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
EXAMPLE = "https://news.school.cn"


class InvalidSiteUrl(ValueError):
    """An address that cannot be the site's; str() is the message for people."""


def normalise(value: str) -> str:
    """scheme://host[:port] of a typed address, "" for none.

    Raises InvalidSiteUrl for anything else: the site must be served at the
    root of its address, since links are the address plus the route's path.
    """
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not value[len(scheme) :].startswith("://"):
        raise InvalidSiteUrl(
            _l(
                "The site address must start with http:// or https://, "
                "for example %(example)s.",
                example=EXAMPLE,
            )
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidSiteUrl(
            _l(
                "Enter only the site's address without a path, for example "
                "%(example)s: the site must be served at the root of its address.",
                example=EXAMPLE,
            )
        )
    if value.rstrip("/").endswith(("?", "#")):
        raise InvalidSiteUrl(
            _l("The site address cannot end with ? or #: leave them out.")
        )
    try:
        port = parts.port
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        host = ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if "@" in parts.netloc or not host or not host_is_trusted(host):
        raise InvalidSiteUrl(
            _l(
                "The site address needs a valid host name, for example %(example)s.",
                example=EXAMPLE,
            )
        )
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def configured() -> str:
    """The site's base URL (scheme://host[:port]), or "" when none is set."""
    fixed = current_app.config.get("SITE_URL")
    if fixed:
        return fixed  # normalised by init_app
    if has_request_context():
        # With the page's other settings, once per content version: no
        # statement of its own on the readers' pages.
        return sitedata.current().settings["site_url"]
    return get_settings()["site_url"]


def path_for(endpoint: str, **values) -> str:
    """The endpoint's path, with or without a request."""
    if has_request_context():
        # Keeps the script root a proxy may mount the app under.
        return url_for(endpoint, **values)
    # A command or a background job: no request to take the routes from.
    # The name bound is never used: only a path is built.
    adapter = current_app.url_map.bind(
        "localhost", script_name=current_app.config["APPLICATION_ROOT"]
    )
    current_app.inject_url_defaults(endpoint, values)
    return adapter.build(endpoint, values)


def absolute_url(endpoint: str, **values) -> str:
    """The endpoint's absolute URL: the site's address plus the route's path.

    Without an address, the request's host and scheme as url_for makes them
    (outside a request that needs SERVER_NAME, else RuntimeError).
    """
    base = configured()
    if not base:
        return url_for(endpoint, _external=True, **values)
    return base + path_for(endpoint, **values)


def own_hosts() -> list[str]:
    """The Host values that are this site: the request's, and the site address's.

    A teacher editing through the school's intranet address pastes links
    to the public one; both are links into this site (compliance.py).
    """
    hosts = [request.host]
    base = configured()
    if base:
        hosts.append(urlsplit(base).netloc)
    return hosts


def hostname(host: str) -> str | None:
    """The name in a Host header (lower case, no port or brackets), if any."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:
        return None


def lets_in(host: str, base: str) -> bool:
    """Whether a request for this Host is served when the site is at base."""
    name = hostname(host)
    return name is not None and (name == urlsplit(base).hostname or name in LOCAL_HOSTS)


def locks_out(base: str) -> bool:
    """Whether making base the site's address would refuse this request's host."""
    if not base or current_app.config.get("TRUSTED_HOSTS") is not None:
        return False
    return not lets_in(request.host, base)


def refuse_other_hosts() -> None:
    """Refuse a request for a host that is not the site's (a before_request)."""
    config = current_app.config
    if config.get("TRUSTED_HOSTS") is not None:
        return  # Flask checks the configured list itself
    if request.endpoint in _ANY_HOST_ENDPOINTS:
        return
    if request.endpoint in _FILE_ENDPOINTS and not config.get("SITE_URL"):
        return
    base = configured()
    if base and not lets_in(request.host, base):
        # Answered by core/errors.py like Flask's own TRUSTED_HOSTS check.
        raise SecurityError("Host is not the site's address.")


def init_app(app: Flask) -> None:
    value = app.config.get("SITE_URL")
    if value:
        try:
            app.config["SITE_URL"] = normalise(str(value))
        except InvalidSiteUrl as error:
            # A typo stops the start rather than putting it into every link.
            raise ValueError(f"SITE_URL {value!r}: {error}") from None
    # First among the before_request functions: a refused host gets neither
    # the first-run redirect nor a user loaded from its session.
    app.before_request(refuse_other_hosts)
    app.add_template_global(absolute_url)
