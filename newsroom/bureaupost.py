"""站群: the bureau's posts on the schools' sites it chooses.

A post the bureau has published goes to each chosen school as a copy the
school owns, in the section the school picked for the bureau's posts
(«站点设置»), with the bureau's name as its source (来源). Sending it again
after an edit updates the copies in place: an Origin row per copy names the
bureau's post. Each copy going live is a line of the school's own review
ledger, saying the bureau published it: the school did not review it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from core.sites import acting_for
from models import (
    Article,
    Origin,
    Section,
    Site,
    Status,
    User,
    db,
    get_settings,
    parse_id,
)
from newsroom.sanitize import clean_html
from review import chain

SOURCE = "bureau"  # Origin.source of the copies
DEFAULT_SLUG = "notices"  # 通知公告 in the default sections


@dataclass
class Shared:
    site_id: int
    article_id: int | None  # the school's copy; None when it could not go
    problem: str = ""


def posting_sections() -> list[Section]:
    """The acting school's sections that take posts (those without sub-sections)."""
    sections = db.session.scalars(
        sa.select(Section).order_by(Section.position, Section.id)
    ).all()
    parents = {s.parent_id for s in sections if s.parent_id}
    return [s for s in sections if s.id not in parents]


def school_section() -> Section | None:
    """Where the acting school puts the bureau's posts: its choice, else its
    通知公告 (the default sections' notices), else its first section."""
    sections = posting_sections()
    chosen = parse_id(get_settings().get("bureau_section"))
    for wanted in (
        lambda s: s.id == chosen,
        lambda s: s.slug == DEFAULT_SLUG,
        lambda s: True,
    ):
        found = next((s for s in sections if wanted(s)), None)
        if found is not None:
            return found
    return None


def copies_of(article_id: int) -> dict[int, int]:
    """{school site id: its copy's id} of a bureau post."""
    rows = db.session.execute(
        sa.select(Origin.site_id, Origin.target_id)
        .where(
            Origin.source == SOURCE,
            Origin.target_type == "article",
            Origin.source_key == str(article_id),
        )
        .execution_options(all_sites=True)
    )
    return {site: target for site, target in rows}


def schools() -> list[Site]:
    """The sites a bureau post can go to: every active school."""
    return db.session.scalars(
        sa.select(Site)
        .where(Site.bureau.is_(False), Site.active.is_(True))
        .order_by(Site.id)
    ).all()


def share(article: Article, site_ids: list[int], user: User) -> list[Shared]:
    """Copy (or update the copy of) a live bureau post on each school's site.

    Each school is committed on its own, as that school (its cache version
    and search index move on, its ledger gets the line), so one school
    without a section to take it does not hold up the others.
    """
    bureau = get_settings()["school_name"]
    existing = copies_of(article.id)
    values = {
        "title": article.title,
        "summary": article.summary,
        # Cleaned again with the school's own host as the site's: the
        # sanitizer is on every stored body.
        "body_html": clean_html(article.body_html),
        "author_name": article.author_name,
        "photographer": article.photographer,
        "source": bureau[:100],
        "published_at": article.published_at,
    }
    reason = _("Published by %(bureau)s for its schools", bureau=bureau)
    done = []
    for site_id in site_ids:
        with acting_for(site_id):
            copy = db.session.get(Article, existing.get(site_id, 0))
            if copy is None or copy.deleted_at is not None:
                section = school_section()
                if section is None:
                    problem = _("The school has no section for posts yet.")
                    done.append(Shared(site_id, None, problem))
                    continue
                copy = Article(section_id=section.id, status=Status.PUBLISHED, **values)
                db.session.add(copy)
                db.session.flush()
                if site_id in existing:  # the school had deleted its copy
                    _repoint(article.id, copy.id)
                else:
                    db.session.add(
                        Origin(
                            source=SOURCE,
                            source_key=str(article.id),
                            target_type="article",
                            target_id=copy.id,
                        )
                    )
            else:
                for key, value in values.items():
                    setattr(copy, key, value)
                copy.status = Status.PUBLISHED
                copy.version += 1  # an open editor of the copy sees a conflict
            db.session.flush()
            chain.record_publish(copy, user, reason)
            db.session.commit()
            done.append(Shared(site_id, copy.id))
    return done


def _repoint(source_id: int, copy_id: int) -> None:
    db.session.execute(
        sa.update(Origin)
        .where(
            Origin.source == SOURCE,
            Origin.target_type == "article",
            Origin.source_key == str(source_id),
        )
        .values(target_id=copy_id)
    )
