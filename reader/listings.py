"""Which posts readers see and in what order: ids read from the listing
indexes (pinned first, newest first), then the rows for just those ids."""

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import selectinload

from models import Article, current_site_id, db

_LISTING_ORDER = (Article.pinned.desc(), Article.published_at.desc(), Article.id.desc())


def visible_ids(column=None, value=None):
    """Ids of readers' articles, pinned first, newest first.

    Filtered on section_id or channel_id, each with its own listing index, so
    SQLite reads ids already in order instead of sorting; the rows come from
    load_articles().
    """
    stmt = sa.select(Article.id).where(Article.visible_clause())
    if column is not None:
        stmt = stmt.where(column == value)
    return stmt.order_by(*_LISTING_ORDER)


def load_articles(ids) -> list[Article]:
    """The articles with these ids, in this order, with their pictures."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(Article)
        .where(Article.id.in_(ids))
        .options(selectinload(Article.picture))
    )
    by_id = {article.id: article for article in rows}
    return [by_id[i] for i in ids if i in by_id]


def listing_ids(section) -> sa.Select:
    """A section's visible ids; a channel lists its sub-sections' posts too."""
    if section.parent is None:
        return visible_ids(Article.channel_id, section.id)
    return visible_ids(Article.section_id, section.id)


def listing_total(section, ids: sa.Select) -> int:
    """How many posts a section lists, counted once per cache version.

    Counting walks the section's whole index range (20 ms for a channel of
    40,000 posts); the number only changes when the version does.
    """
    by_site = current_app.extensions.setdefault("listing_totals", {})
    site = current_site_id()
    version, totals = by_site.get(site, (None, {}))
    if version != g.cache_version:  # each site's version moves on its own
        totals = {}
        by_site[site] = (g.cache_version, totals)
    if section.id not in totals:
        count = sa.select(sa.func.count()).select_from(ids.order_by(None).subquery())
        totals[section.id] = db.session.scalar(count)
    return totals[section.id]


def picture_ids() -> sa.Select:
    """Visible posts with a picture, newest first (pinning aside).

    Read in order from the partial index ix_article_picture_order.
    """
    return (
        sa.select(Article.id)
        .where(Article.visible_clause(), Article.picture_id.is_not(None))
        .order_by(Article.published_at.desc(), Article.id.desc())
    )


def heads(queries: dict) -> dict[object, list[int]]:
    """The ids of each of these (limited) id queries, in one statement.

    One UNION ALL of subqueries: each reads its own index range, and the
    number of statements does not grow with the number of queries.
    """
    if not queries:
        return {}
    keys = list(queries)
    parts = [
        queries[key].add_columns(sa.literal(index).label("part")).subquery().select()
        for index, key in enumerate(keys)
    ]
    found: dict[object, list[int]] = {key: [] for key in keys}
    for row in db.session.execute(sa.union_all(*parts)):
        found[keys[row.part]].append(row.id)
    return found
