"""Settings and the section tree, loaded once per content version and process.

Every reader page shows them (header, navigation, footer). They change only
when an admin edits them, which moves the cache version on (cachestate), so a
page rendered after a change never sees the old ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, url_for

from core.pagemarks import VERSION_KEY
from models import Section, Upload, current_site_id, db, get_settings, parse_id


@dataclass(eq=False)
class NavSection:
    """A section as the reader's pages show it: no database session needed."""

    id: int
    name: str
    slug: str
    parent: NavSection | None = None
    children: list[NavSection] = field(default_factory=list)

    @property
    def parent_id(self) -> int | None:
        return self.parent.id if self.parent else None

    @property
    def channel(self) -> NavSection:
        return self.parent or self


class Logo(NamedTuple):
    """The logo's upload as pages need it (thumbnails.url() accepts it)."""

    stored_name: str
    width: int | None
    height: int | None
    kind: str = "image"


@dataclass
class SiteData:
    settings: dict[str, str]
    channels: list[NavSection]
    by_id: dict[int, NavSection]
    by_slug: dict[str, NavSection]
    logo_url: str | None
    logo: Logo | None = None


def load() -> SiteData:
    """Read settings, sections and the logo: three statements."""
    settings = get_settings()
    rows = db.session.execute(
        sa.select(Section.id, Section.name, Section.slug, Section.parent_id).order_by(
            Section.position, Section.id
        )
    ).all()
    by_id = {row.id: NavSection(row.id, row.name, row.slug) for row in rows}
    channels = []
    for row in rows:
        node = by_id[row.id]
        parent = by_id.get(row.parent_id) if row.parent_id else None
        if parent is None:
            channels.append(node)
        else:
            node.parent = parent
            parent.children.append(node)
    logo_url = logo = None
    logo_id = parse_id(settings.get("logo_id"))
    if logo_id:
        row = db.session.execute(
            sa.select(Upload.stored_name, Upload.width, Upload.height).where(
                Upload.id == logo_id, Upload.kind == "image"
            )
        ).first()
        if row:
            logo = Logo(row.stored_name, row.width, row.height)
            logo_url = url_for("files.upload", stored_name=row.stored_name)
    return SiteData(
        settings=settings,
        channels=channels,
        by_id=by_id,
        by_slug={node.slug: node for node in by_id.values()},
        logo_url=logo_url,
        logo=logo,
    )


_lock = threading.Lock()


def for_version(version: int) -> SiteData:
    """The acting site's data at this cache version, read at most once per
    process."""
    site = current_site_id()
    by_site = current_app.extensions.setdefault("sitedata", {})
    cached = by_site.get(site)
    if cached is not None and cached[0] == version:
        return cached[1]
    data = load()
    with _lock:
        by_site[site] = (version, data)
    return data


def current() -> SiteData:
    """This request's site data, at the database's current cache version.

    Any change to settings or sections moves the version on, so the copy
    read once per version is as fresh for staff as a new read would be.
    The version is read once per request (g.cache_version): the host check
    (siteurl.py) and the reader's page share one read.
    """
    if "site" not in g:
        version = request.environ.get(VERSION_KEY) if has_request_context() else None
        if version is None:
            version = current_app.extensions["pagecache"].current_version()
        g.cache_version = version
        g.site = for_version(version)
    return g.site
