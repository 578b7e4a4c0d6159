"""站群: which site a request is for, and keeping every query inside it.

One installation serves several schools' sites from one database. A request
is routed to a site by its host name, or by a path prefix ("/yizhong/…")
where the schools share one host; the site with neither answers every other
request, so a single school's installation is that one site and looks as
it always did.

Every ORM statement then sees only the acting site's rows of the SiteOwned
tables (models.py): the filter is added here, once, rather than in each of
the hundreds of queries, so a query written tomorrow cannot forget it. New
rows take the acting site through the column's default. Statements that
must see every site (the bureau's reports, the backup) say so with
execution_options(all_sites=True).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context, request
from sqlalchemy.orm import Session, with_loader_criteria

from models import DEFAULT_SITE_ID, Site, SiteOwned, _acting_site, current_site_id

# The WSGI environ key the router leaves the site's id under: the page cache
# and the hot path run before Flask and key on it.
SITE_KEY = "schoolnews.site_id"


@contextmanager
def acting_for(site_id: int) -> Iterator[None]:
    """Run a command's or job's queries, and new rows, as the given site."""
    token = _acting_site.set(site_id)
    try:
        yield
    finally:
        _acting_site.reset(token)


def _scope_to_site(state) -> None:
    # ORM SELECTs (relationship and column loads included), UPDATEs and
    # DELETEs; Core statements on a bare table are the caller's to filter.
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_sites"):
        return
    site_id = current_site_id()
    state.statement = state.statement.options(
        with_loader_criteria(
            SiteOwned, lambda cls: cls.site_id == site_id, include_aliases=True
        )
    )


sa.event.listen(Session, "do_orm_execute", _scope_to_site)


@dataclass(frozen=True)
class Route:
    site_id: int
    prefix: str
    active: bool = True


class SiteMap:
    """Host names and path prefixes to site ids, read once per process.

    Sites change rarely (a bureau admin adds or disables a school), and a
    change made in this process reloads the map at once. Where there are
    several sites, other servers' changes are picked up when a host the map
    does not know comes in (at most once a second, so a flood of made-up
    hosts costs one query a second) and otherwise within REFRESH_SECONDS.
    A single school's map holds one site and is never read again: its
    pages pay nothing for this, and turning it into a 站群 (flask sites
    add) asks for a restart of its servers.
    """

    RELOAD_SECONDS = 1.0
    REFRESH_SECONDS = 30.0

    def __init__(self, engine_for) -> None:
        self._engine_for = engine_for  # a callable: the app's engine
        self._lock = threading.Lock()
        self._hosts: dict[str, list[Route]] = {}
        self.loaded_at: float | None = None
        self._fallback = Route(DEFAULT_SITE_ID, "")
        self.bureau_site: int | None = None
        self.installation_site = DEFAULT_SITE_ID

    def reload(self) -> None:
        table = Site.__table__
        with self._engine_for().connect() as connection:
            rows = connection.execute(
                sa.select(
                    table.c.id,
                    table.c.host,
                    table.c.path_prefix,
                    table.c.active,
                    table.c.bureau,
                ).order_by(table.c.id)
            ).all()
        hosts: dict[str, list[Route]] = {}
        fallback = Route(DEFAULT_SITE_ID, "")
        # The installation's own pages (backups) belong to the bureau's site,
        # or to the first site where there is no bureau.
        bureau = None
        for row in rows:
            route = Route(row.id, row.path_prefix, row.active)
            if row.bureau:
                bureau = row.id
            if not row.host and not row.path_prefix:
                fallback = route
            else:
                hosts.setdefault(row.host, []).append(route)
        for routes in hosts.values():  # the longest prefix first
            routes.sort(key=lambda route: -len(route.prefix))
        with self._lock:
            self._hosts, self._fallback = hosts, fallback
            self.bureau_site = bureau
            self.installation_site = bureau or DEFAULT_SITE_ID
            self.loaded_at = time.monotonic()

    def try_reload(self) -> None:
        """Reload, keeping the map as it was if the database cannot answer:
        the request then meets that error where it is handled (a 503 from
        /healthz, the error page), not in the router."""
        try:
            self.reload()
        except sa.exc.SQLAlchemyError:
            pass

    def resolve(self, host: str, path: str) -> Route:
        """The site for a request's host name and path."""
        if self.loaded_at is None:
            self.try_reload()
        elif self._hosts:
            age = time.monotonic() - self.loaded_at
            unknown = host not in self._hosts
            if age > self.REFRESH_SECONDS or (unknown and age > self.RELOAD_SECONDS):
                self.try_reload()
        return self._match(host, path)

    @property
    def several(self) -> bool:
        """Whether this installation serves more than one site (as loaded)."""
        return bool(self._hosts)

    def _match(self, host: str, path: str) -> Route:
        for name in (host, ""):  # this host's sites, then prefixes on any host
            for route in self._hosts.get(name, ()):
                if not route.prefix or _under(path, route.prefix):
                    return route
        return self._fallback


_CHANGED = "sites.changed"


@sa.event.listens_for(Session, "after_flush")
def _note_site_changes(session: Session, flush_context) -> None:
    if any(
        isinstance(o, Site) for o in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_CHANGED] = True


@sa.event.listens_for(Session, "after_commit")
def _reload_after_site_changes(session: Session) -> None:
    # This process sees a site added, moved or disabled at once.
    if session.info.pop(_CHANGED, False) and has_app_context():
        site_map = current_app.extensions.get("sitemap")
        if site_map is not None:
            site_map.try_reload()


@sa.event.listens_for(Session, "after_rollback")
def _forget_site_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _host_name(environ) -> str:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0][1:].lower()
    return host.rsplit(":", 1)[0].lower().rstrip(".")


class SiteRouter:
    """WSGI middleware, outermost: picks the request's site.

    A path prefix moves from PATH_INFO to SCRIPT_NAME, so Flask routes the
    rest and url_for() builds every link with the prefix.
    """

    def __init__(self, app, site_map: SiteMap) -> None:
        self.app = app
        self.site_map = site_map

    def __call__(self, environ, start_response):
        site_id = environ.get(SITE_KEY)
        if site_id is None:  # else routed already (the slow lane's process)
            path = environ.get("PATH_INFO", "")
            route = self.site_map.resolve(_host_name(environ), path)
            if not route.active:
                return _closed(environ, start_response)
            if route.prefix:
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + route.prefix
                environ["PATH_INFO"] = path[len(route.prefix) :]
                start_response = _cookies_under(environ["SCRIPT_NAME"], start_response)
            environ[SITE_KEY] = site_id = route.site_id
        token = _acting_site.set(site_id)
        try:
            app_iter = self.app(environ, start_response)
        finally:
            # Whatever this thread does next (a test, a command) is not
            # this request's site's.
            _acting_site.reset(token)
        if isinstance(app_iter, list | tuple):
            return app_iter
        return _InSite(app_iter, site_id)  # a streamed body may still query


# The path attribute of a cookie set for the whole host.
_HOST_WIDE = re.compile(r"(;\s*Path=)/(?=;|$)", re.IGNORECASE)


def _cookies_under(path: str, start_response):
    """Cookies the app sets for the whole host (the session, remember-me)
    go under the school's path: schools sharing a host under path prefixes
    each keep their own sign-in in one browser."""

    def start(status, headers, exc_info=None):
        headers = [
            (name, _HOST_WIDE.sub(lambda m: m.group(1) + path, value))
            if name.lower() == "set-cookie"
            else (name, value)
            for name, value in headers
        ]
        return start_response(status, headers, exc_info)

    return start


_CLOSED_PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>网站已停用</title><h1>网站已停用</h1>"
    "<p>这个学校的网站已由管理部门停用。如有疑问，请联系学校或教育局。</p>"
    '<p lang="en">This school\'s site has been disabled.</p></html>'
).encode()


def _closed(environ, start_response):
    """A disabled site: a plain answer, never another school's pages."""
    start_response(
        "404 Not Found",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(_CLOSED_PAGE))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [_CLOSED_PAGE]


def _loaded_map() -> SiteMap:
    site_map = current_app.extensions["sitemap"]
    if site_map.loaded_at is None:
        site_map.try_reload()
    return site_map


def runs_installation() -> bool:
    """Whether the acting site is where the installation itself is run
    (backups of every site): the bureau's site, else the first one."""
    return current_site_id() == _loaded_map().installation_site


def bureau_site_id() -> int | None:
    """The education bureau's site, if the installation has one."""
    return _loaded_map().bureau_site


def several_sites() -> bool:
    """Whether the installation is a 站群 (more than one site). Outside an
    app (a script on an engine of its own) there is no site map: False."""
    return has_app_context() and _loaded_map().several


def is_bureau() -> bool:
    """Whether the acting site is the education bureau's (教育局)."""
    return current_site_id() == _loaded_map().bureau_site


class _InSite:
    """A streamed response body whose chunks are made as the request's site."""

    def __init__(self, app_iter, site_id: int) -> None:
        self._app_iter = app_iter
        self._iter = iter(app_iter)
        self._site_id = site_id

    def __iter__(self):
        return self

    def __next__(self):
        token = _acting_site.set(self._site_id)
        try:
            return next(self._iter)
        finally:
            _acting_site.reset(token)

    def close(self) -> None:
        close = getattr(self._app_iter, "close", None)
        if close is not None:
            token = _acting_site.set(self._site_id)
            try:
                close()
            finally:
                _acting_site.reset(token)


_TOKEN = "sites.token"


def _act_for_routed_site() -> None:
    # A page rendered in the slow lane's process (core/slowlane.py) comes
    # with the site the router chose, but not with the router's thread.
    site_id = request.environ.get(SITE_KEY)
    if site_id is not None:
        g.setdefault(_TOKEN, _acting_site.set(site_id))


def _leave_routed_site(error=None) -> None:
    token = g.pop(_TOKEN, None)
    if token is not None:
        _acting_site.reset(token)


def init_app(app: Flask) -> None:
    from models import db

    def engine():  # the router runs before Flask pushes a context
        with app.app_context():
            return db.engine

    site_map = SiteMap(engine)
    # First of the before_request functions: the host check reads settings.
    app.before_request_funcs.setdefault(None, []).insert(0, _act_for_routed_site)
    app.teardown_request(_leave_routed_site)
    app.extensions["sitemap"] = site_map
    app.wsgi_app = SiteRouter(app.wsgi_app, site_map)
