"""Tell every server process when readers' cached pages no longer hold.

The signal is one row in the database (models.CacheState), bumped in the same
transaction as any change a reader could see, so every process and every
machine sharing the database notices it on its next request. Changes are
found by SQLAlchemy session events, so no view has to remember to call us:
- ORM flushes of articles that are or were published, sections, settings and
  uploads (a new upload that no post uses yet shows nowhere);
- bulk UPDATE/DELETE statements on those tables, unless the statement says
  `readers_unaffected=True` (a draft's autosave, the view counter).
Scheduled posts need no cron: the row also holds when the next one goes
public, and the first request after that moment moves the version on.
Each site of a 站群 has its own row, with the site's id: a school's change
leaves the other schools' cached pages alone.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.hotpath import HotPath
from models import (
    Article,
    CacheState,
    Section,
    Setting,
    Status,
    Upload,
    bulk_change_target,
    current_site_id,
    utcnow,
)

_WATCHED = (Article, Section, Setting, Upload)
_PENDING = "cachestate.changed"


_table = CacheState.__table__
_article = Article.__table__

_next_scheduled = (
    sa.select(sa.func.min(_article.c.published_at))
    .where(
        _article.c.status == Status.PUBLISHED,
        _article.c.deleted_at.is_(None),
        _article.c.published_at > sa.bindparam("now"),
        _article.c.site_id == sa.bindparam("site"),
    )
    .scalar_subquery()
)
_bump = (
    sa.update(_table)
    .where(_table.c.id == sa.bindparam("site"))
    .values(
        version=_table.c.version + 1,
        changed_at=sa.bindparam("now"),
        next_change_at=_next_scheduled,
    )
)
_READ_SQL = "SELECT version, next_change_at FROM cache_state WHERE id = :site"


def bump(connection: sa.Connection, now: datetime | None = None) -> None:
    """Move the acting site's version on (inside the caller's transaction)."""
    values = {"now": now or utcnow(), "site": current_site_id()}
    if connection.execute(_bump, values).rowcount == 0:
        # A database made by create_all() (tests), or a new site, has no row yet.
        next_at = connection.scalar(sa.select(_next_scheduled), values)
        connection.execute(
            sa.insert(_table).values(
                id=values["site"],
                version=2,
                changed_at=values["now"],
                next_change_at=next_at,
            )
        )


def current_version(hot: HotPath, now: datetime | None = None) -> int:
    """The version the acting site's pages must have been rendered at; one
    statement.

    When a scheduled post has come due, moves the version on first (once: the
    WHERE makes concurrent requests from several processes agree).
    """
    site = current_site_id()
    row = hot.run(_READ_SQL, site=site)
    if row is None:
        return 0
    version, next_change_at = row
    if isinstance(next_change_at, str):  # SQLite's driver returns text
        next_change_at = datetime.fromisoformat(next_change_at)
    now = now or utcnow()
    if next_change_at is None or next_change_at > now:
        return version
    with hot.engine.connect() as connection:  # a scheduled post came due
        due = _table.c.next_change_at <= sa.bindparam("now")
        connection.execute(_bump.where(due), {"now": now, "site": site})
        connection.commit()
    return hot.run(_READ_SQL, site=site)[0]


def _affects_readers(obj) -> bool:
    if isinstance(obj, Article):
        history = sa.inspect(obj).attrs.status.history
        return Status.PUBLISHED in (
            *history.added,
            *history.deleted,
            *history.unchanged,
        )
    if isinstance(obj, Upload):
        return obj.article_id is not None or obj not in sa.inspect(obj).session.new
    return isinstance(obj, _WATCHED)


@sa.event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, flush_context) -> None:
    if session.info.get(_PENDING):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED) and _affects_readers(obj):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            session.info[_PENDING] = True
            return


@sa.event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    if bulk_change_target(state) in _WATCHED:
        state.session.info[_PENDING] = True


@sa.event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    session.flush()
    if session.info.pop(_PENDING, False):
        bump(session.connection())


@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
