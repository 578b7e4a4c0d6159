"""Clear the demo school: remove what the demo created, keep what staff made.

What counts as the demo's: the rows demo.py recorded as Origin("demo", …),
and on a site that loaded the demo before that table existed (demo_state
still ""), posts with a demo title in the demo's section made by the demo's
account, sections with a demo slug and name, and settings holding the demo's
values. What stays:
- a demo post someone has saved in the editor since (its version moved on):
  it is the school's now;
- a demo section holding any other post (trashed ones too), with its
  channel: the posts stay where their authors filed them;
- a setting whose value staff changed;
- images still shown by a post that stays, or used as the logo;
- the default section tree (sitetree.py), created again where missing.
Everything happens in one transaction, so a failure leaves the site as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from core import audit
from models import (
    SETTING_DEFAULTS,
    Article,
    Role,
    Section,
    Setting,
    Upload,
    User,
    db,
    get_settings,
    set_setting,
)
from newsroom import storage
from operations import demo_content, origins
from operations.sitetree import DEFAULT_SLUGS, ensure_default_sections


@dataclass
class Plan:
    """What clearing removes and what it keeps, for the confirmation page."""

    articles: list[Article] = field(default_factory=list)
    kept_articles: list[Article] = field(default_factory=list)  # saved by staff
    sections: list[Section] = field(default_factory=list)
    kept_sections: list[Section] = field(default_factory=list)  # hold staff posts
    uploads: list[Upload] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    kept_settings: list[str] = field(default_factory=list)  # changed by staff

    @property
    def is_empty(self) -> bool:
        return not (self.articles or self.sections or self.uploads or self.settings)

    @property
    def upload_bytes(self) -> int:
        return sum(upload.size for upload in self.uploads)


def _demo_ids(target_type: str) -> set[int]:
    return origins.target_ids(demo_content.SOURCE, target_type)


def _legacy() -> bool:
    # Only a site that loaded the demo before its rows were recorded; after
    # that, matching titles would catch a teacher's post named like a demo one.
    return get_settings()["demo_state"] == ""


def _demo_section_ids() -> set[int]:
    ids = _demo_ids("section")
    if _legacy():
        names = {
            slug: name
            for channel, channel_name, children in demo_content.SECTIONS
            for slug, name in ((channel, channel_name), *children)
        }
        for section in db.session.scalars(
            sa.select(Section).where(Section.slug.in_(names))
        ):
            if section.name == names[section.slug]:
                ids.add(section.id)
    return {
        section.id
        for section in db.session.scalars(sa.select(Section).where(Section.id.in_(ids)))
        if section.slug not in DEFAULT_SLUGS
    }


def _demo_article_ids() -> set[int]:
    ids = _demo_ids("article")
    if _legacy():
        slug_of = {title: slug for slug, title, *_rest in demo_content.ARTICLES}
        slug_of.update(
            (title, slug) for slug, title, *_rest in demo_content.HIDDEN_ARTICLES
        )
        first_admin = sa.select(sa.func.min(User.id)).where(User.role == Role.ADMIN)
        rows = db.session.execute(
            sa.select(Article.id, Article.title, Section.slug)
            .join(Section, Article.section_id == Section.id)
            .where(
                Article.title.in_(slug_of),
                Article.created_by_id == first_admin.scalar_subquery(),
            )
        )
        ids.update(id_ for id_, title, slug in rows if slug_of[title] == slug)
    return ids


def _demo_settings() -> dict[str, str]:
    """The settings the demo wrote, with the values it wrote."""
    keys = origins.target_keys(demo_content.SOURCE)
    if _legacy():
        keys |= set(demo_content.SETTINGS)
    values = {
        key: demo_content.SETTINGS[key] for key in keys if key in demo_content.SETTINGS
    }
    logos = _demo_ids("upload")
    if "logo_id" in keys and logos:
        current = get_settings()["logo_id"]
        if current.isdigit() and int(current) in logos:
            values["logo_id"] = current
    return values


def make_plan() -> Plan:
    plan = Plan()
    demo_articles = _demo_article_ids()
    for article in db.session.scalars(
        sa.select(Article).where(Article.id.in_(demo_articles)).order_by(Article.id)
    ):
        # Version 1 is the text the demo wrote; any editor save moves it on.
        (plan.articles if article.version == 1 else plan.kept_articles).append(article)
    removed = {article.id for article in plan.articles}

    staff_sections = set(
        db.session.scalars(
            sa.select(Article.section_id).where(Article.id.not_in(removed)).distinct()
        )
    )
    candidates = sorted(
        db.session.scalars(
            sa.select(Section).where(Section.id.in_(_demo_section_ids()))
        ),
        # In navigation order: by channel, then within it.
        key=lambda s: (s.channel.position, s.channel.id, s.parent_id or 0, s.position),
    )
    candidate_ids = {section.id for section in candidates}
    for section in candidates:
        children = {child.id for child in section.children}
        keep = section.id in staff_sections or (
            # A channel stays while any sub-section of it stays.
            children - candidate_ids or children & staff_sections
        )
        (plan.kept_sections if keep else plan.sections).append(section)

    demo_uploads = _demo_ids("upload")
    plan.uploads = db.session.scalars(
        sa.select(Upload)
        .where(
            sa.or_(
                Upload.article_id.in_(removed),
                sa.and_(Upload.id.in_(demo_uploads), Upload.article_id.is_(None)),
            )
        )
        .order_by(Upload.id)
    ).all()

    current = get_settings()
    for key, value in sorted(_demo_settings().items()):
        if current[key] == value and value != SETTING_DEFAULTS[key]:
            plan.settings.append(key)
        elif current[key] != SETTING_DEFAULTS[key]:
            plan.kept_settings.append(key)
    return plan


@dataclass
class Cleared:
    posts: int
    sections: int
    files: int
    settings: list[str]


def clear() -> Cleared:
    """Remove the demo content in one transaction (committed here)."""
    plan = make_plan()
    try:
        cleared, files = _remove(plan)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    # Files go only once their rows are gone for good (see storage.py).
    storage.unlink_files(files)
    return cleared


def _remove(plan: Plan) -> tuple[Cleared, list]:
    for key in plan.settings:
        db.session.execute(sa.delete(Setting).where(Setting.key == key))
    # Revisions, working copies and view records go with their post (ON
    # DELETE CASCADE); its uploads are taken care of below.
    db.session.execute(
        sa.delete(Article)
        .where(Article.id.in_([article.id for article in plan.articles]))
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    # An image that a staying post or the logo still shows is kept.
    uploads = [upload for upload in plan.uploads if not storage.in_use(upload)]
    files = storage.remove_upload_rows(uploads)
    # Sub-sections before their channels (the foreign key points upwards).
    for channels in (False, True):
        ids = [s.id for s in plan.sections if (s.parent_id is None) == channels]
        db.session.execute(
            sa.delete(Section)
            .where(Section.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    origins.forget(demo_content.SOURCE)
    set_setting("demo_state", "cleared")
    ensure_default_sections()
    cleared = Cleared(
        posts=len(plan.articles),
        sections=len(plan.sections),
        files=len(uploads),
        settings=list(plan.settings),
    )
    audit.record(
        "demo_cleared",
        f"{cleared.posts} posts, {cleared.sections} sections, {cleared.files} "
        f"uploads, settings: {', '.join(cleared.settings) or '-'}",
    )
    return cleared, files
