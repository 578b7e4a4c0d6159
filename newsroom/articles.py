"""Article workflow rules: who may do what, saving with revisions and conflicts.

The views in newsroom/views/editor.py only translate HTTP into calls here, so every rule
(publish rights, pinning, version conflicts, revisions, trash) lives in one place
and is enforced on the server whatever the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from core import audit
from core.permissions import Refused, can_edit
from models import (
    Article,
    ArticleDraft,
    Revision,
    Section,
    Status,
    User,
    db,
    utcnow,
)
from newsroom import derived, storage
from newsroom.sanitize import clean_html, html_to_text
from review import chain

# Fields the editor form writes; status, pinning and time are set by actions.
CONTENT_FIELDS = ("title", "body_html", "summary", "author_name", "source")
# What an edit of a published post waiting for review holds (PendingText).
PENDING_FIELDS = chain.PENDING_FIELDS


class Action:
    SAVE = "save"  # keep the current status (a new post becomes a draft)
    SUBMIT = "submit"  # draft -> pending review
    PUBLISH = "publish"  # -> published (approve when it was pending)
    UNPUBLISH = "unpublish"  # published -> draft
    ALL = (SAVE, SUBMIT, PUBLISH, UNPUBLISH)


class Conflict(Exception):
    """Someone else saved the post after this form was loaded."""


@dataclass
class Changes:
    """What the editor form submitted, already validated."""

    title: str
    body_html: str
    summary: str | None
    author_name: str
    source: str | None
    section_id: int
    cover_id: int | None = None
    published_at: datetime | None = None
    pinned: bool | None = None
    photographer: str = ""


def needs_review(article: Article | None, section_id: int | None = None) -> bool:
    """Whether the post (for a new post, the site) has review levels; with
    section_id, the stricter of its channel and the one it moves to."""
    return _levels(article, section_id) > 0


def _levels(article: Article | None, section_id: int | None) -> int:
    if article is None:
        return chain.levels_for(db.session.get(Section, section_id or 0))
    levels = chain.levels_for_article(article)
    if section_id and section_id != article.section_id:
        levels = max(levels, chain.levels_for(db.session.get(Section, section_id)))
    return levels


class Gate:
    LIVE = "live"  # readers get the change now
    HOLD = "hold"  # it waits for review; readers keep what they have
    REFUSE = "refuse"


def gate(
    user: User,
    article: Article | None,
    *,
    section_id: int | None = None,
    publish: bool = False,
) -> str:
    """The one decision for every change to what readers see of a post.

    Where nothing is reviewed (the stricter chain of the channel the post is
    in and the one it moves to), whoever may edit the post puts it live.
    Elsewhere only a bypass (editors and admins, when the site allows it,
    with a reason the ledger keeps) goes live; an edit of a live post waits
    for review and any other publish is refused.
    """
    if article is not None and not may_edit_content(user, article):
        return Gate.REFUSE
    if _levels(article, section_id) == 0:
        return Gate.LIVE
    if publish and chain.may_bypass(user):
        return Gate.LIVE
    if publish and (article is None or article.status != Status.PUBLISHED):
        return Gate.REFUSE
    return Gate.HOLD


def may_publish(user: User, article: Article | None = None) -> bool:
    """Publish or change a public post directly: anyone who may edit it where
    nothing is reviewed; else only editors and admins as a recorded bypass."""
    return gate(user, article, publish=True) == Gate.LIVE


def may_edit_content(user: User, article: Article) -> bool:
    """Authors edit their own posts, published ones too: under review, the
    edit waits (PendingText) while readers keep the approved text."""
    return can_edit(user, article) and article.deleted_at is None


def holds_edit(
    user: User, article: Article, action: str, section_id: int | None = None
) -> bool:
    """Whether saving this published post keeps the text for review instead."""
    if article.status != Status.PUBLISHED:
        return False
    verdict = gate(user, article, section_id=section_id, publish=action == "publish")
    return verdict != Gate.LIVE


def may_delete(user: User, article: Article) -> bool:
    if user.can_review:
        return True
    return article.created_by_id == user.id and article.status != Status.PUBLISHED


def allowed_actions(user: User, article: Article | None) -> list[str]:
    """The action buttons to show; each is checked again by apply_action()."""
    status = article.status if article else Status.DRAFT
    if article is not None and not may_edit_content(user, article):
        return []
    actions = [Action.SAVE]
    if not needs_review(article):
        actions.append(
            Action.UNPUBLISH if status == Status.PUBLISHED else Action.PUBLISH
        )
        return actions
    if article is None or not chain.in_review(article):
        actions.append(Action.SUBMIT)
    if chain.may_bypass(user):
        actions.append(Action.PUBLISH)
    if status == Status.PUBLISHED and user.can_review:
        actions.append(Action.UNPUBLISH)
    return actions


def _update_if_version(article: Article, version: int, values: dict) -> bool:
    """Write values only if nobody saved since `version` (one atomic UPDATE)."""
    values = values | derived.derived_values(article, values, db.session.connection())
    result = db.session.execute(
        sa.update(Article)
        .where(Article.id == article.id, Article.version == version)
        .values(version=Article.version + 1, updated_at=utcnow(), **values)
        .execution_options(
            synchronize_session=False,
            # Readers never see a draft or pending post: its autosaves leave
            # the cached pages alone (see cachestate).
            readers_unaffected=article.status != Status.PUBLISHED,
        )
    )
    return result.rowcount == 1


def create_article(changes: Changes, user: User) -> Article:
    """A new post is always a draft first; actions move it on."""
    article = Article(
        title=changes.title,
        body_html=clean_html(changes.body_html or ""),
        summary=changes.summary,
        author_name=changes.author_name,
        source=changes.source,
        photographer=changes.photographer,
        section_id=changes.section_id,
        cover_id=changes.cover_id,
        published_at=changes.published_at,
        pinned=bool(changes.pinned) and user.can_review,
        status=Status.DRAFT,
        created_by_id=user.id,
        updated_by_id=user.id,
    )
    db.session.add(article)
    db.session.flush()
    _claim_images(article, user)
    return article


def save_article(
    article: Article,
    changes: Changes,
    user: User,
    expected_version: int,
    action: str = Action.SAVE,
) -> None:
    """Save the form onto an existing post, refusing stale versions.

    An edit of a published post that must be reviewed is kept aside
    (review.keep_pending) and readers keep the approved text.
    Raises Refused or Conflict; the caller commits on success.
    """
    if not may_edit_content(user, article):
        raise Refused("edit")
    if holds_edit(user, article, action, changes.section_id):
        if article.version != expected_version:
            raise Conflict()
        chain.keep_pending(article, _pending_values(changes, article), user)
        discard_working_copy(article.id, user.id)
        return
    before = chain.text_hash(article)
    live = article.status == Status.PUBLISHED
    values = {
        "title": changes.title,
        "body_html": clean_html(changes.body_html or ""),
        "summary": changes.summary,
        "author_name": changes.author_name,
        "source": changes.source,
        "section_id": changes.section_id,
        "cover_id": changes.cover_id,
        "photographer": changes.photographer,
        "updated_by_id": user.id,
    }
    if changes.published_at is not None or article.status != Status.PUBLISHED:
        values["published_at"] = changes.published_at
    # Pinning is an editor's decision: an author's form value is ignored.
    if user.can_review and changes.pinned is not None:
        values["pinned"] = changes.pinned
    if live and _text_changed(article, values):
        chain.keep_revision(article, user)
    if not _update_if_version(article, expected_version, values):
        db.session.rollback()
        raise Conflict()
    # What the user kept typing is now on the article itself.
    discard_working_copy(article.id, user.id)
    db.session.refresh(article)
    _claim_images(article, user)
    if live:
        # The gate let this edit go live: a waiting edit was in the form and
        # is superseded by it.
        pending = chain.pending_text(article)
        if pending is not None:
            db.session.delete(pending)
            db.session.flush()
        if is_empty(article):
            raise Refused("empty")
        if not needs_review(article):
            chain.record_publish(article, user)
        return
    chain.changed_since(article, before, user)


def _pending_values(changes: Changes, article: Article) -> dict:
    values = {key: getattr(changes, key) for key in PENDING_FIELDS}
    return values | {
        "body_html": clean_html(changes.body_html or ""),
        "section_id": changes.section_id,
        "cover_id": changes.cover_id or 0,  # 0: no cover
    }


def is_empty(article: Article) -> bool:
    """No text, no photo, no attachment: nothing a reader could read."""
    version = chain.under_review(article)
    if version.attachments or "<img" in version.body_html:
        return False
    return not html_to_text(version.body_html).strip()


def autosave_article(
    article: Article, fields: dict, user: User, expected_version: int
) -> ArticleDraft | None:
    """Store the text of a post while the user types.

    A draft or pending post is updated in place (None is returned). Readers
    must never see half-edited text, so a published post is left alone and
    the text goes to the user's working copy, which is returned.
    """
    if not may_edit_content(user, article):
        raise Refused("edit")
    if article.status == Status.PUBLISHED:
        return save_working_copy(article, fields, user, expected_version)
    values = {key: fields[key] for key in CONTENT_FIELDS if key in fields}
    if "body_html" in values:
        values["body_html"] = clean_html(values["body_html"] or "")
    if fields.get("section_id"):
        values["section_id"] = fields["section_id"]
    if "cover_id" in fields:
        values["cover_id"] = fields["cover_id"]
    values["updated_by_id"] = user.id
    before = chain.text_hash(article)
    if not _update_if_version(article, expected_version, values):
        db.session.rollback()
        raise Conflict()
    db.session.refresh(article)
    _claim_images(article, user)
    chain.changed_since(article, before, user)
    return None


# --- Working copies of published posts ---------------------------------------------


def working_copy(article_id: int, user_id: int) -> ArticleDraft | None:
    return db.session.scalar(
        sa.select(ArticleDraft).where(
            ArticleDraft.article_id == article_id, ArticleDraft.user_id == user_id
        )
    )


def _insert_ignoring_duplicates(values: dict) -> None:
    """Create the row unless it exists; two tabs autosaving at once both succeed."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        stmt = sqlite.insert(ArticleDraft).values(**values)
    elif dialect == "postgresql":
        # Imported here: every server process would otherwise load it.
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(ArticleDraft).values(**values)
    else:  # no portable upsert; the unique constraint still holds
        if working_copy(values["article_id"], values["user_id"]) is None:
            db.session.execute(sa.insert(ArticleDraft).values(**values))
        return
    db.session.execute(
        stmt.on_conflict_do_nothing(index_elements=["article_id", "user_id"])
    )


def save_working_copy(
    article: Article, fields: dict, user: User, base_version: int
) -> ArticleDraft:
    """Create or update the user's one working copy of a published post.

    Fields not sent keep their value; a new copy starts from the article.
    base_version is the version the user's page was loaded with, so a copy
    made while someone else saved in between can say so.
    """
    _insert_ignoring_duplicates(
        {
            "article_id": article.id,
            "user_id": user.id,
            **{key: getattr(article, key) for key in CONTENT_FIELDS},
            "base_version": base_version,
            "saved_at": utcnow(),
        }
    )
    draft = working_copy(article.id, user.id)
    for key in CONTENT_FIELDS:
        if key in fields:
            setattr(draft, key, fields[key])
    draft.body_html = clean_html(draft.body_html or "")
    draft.base_version = base_version
    draft.saved_at = utcnow()
    # Images pasted into the working copy belong to this post too.
    storage.claim_uploads(article, draft.body_html, user.id)
    return draft


def working_copy_differs(draft: ArticleDraft, article: Article) -> bool:
    return any(
        (getattr(draft, key) or "") != (getattr(article, key) or "")
        for key in CONTENT_FIELDS
    )


def is_stale(draft: ArticleDraft, article: Article) -> bool:
    """Someone (or another tab) saved the post after the copy's page was loaded."""
    return draft.base_version != article.version


def discard_working_copy(article_id: int, user_id: int) -> None:
    db.session.execute(
        sa.delete(ArticleDraft)
        .where(ArticleDraft.article_id == article_id, ArticleDraft.user_id == user_id)
        .execution_options(synchronize_session=False)
    )


def _text_changed(article: Article, values: dict) -> bool:
    return any(
        getattr(article, key) != values[key]
        for key in ("title", "body_html", "summary")
    )


def _claim_images(article: Article, user: User) -> None:
    # Images are uploaded before a new post has an id; linking them now lets
    # emptying the trash find and delete their files.
    storage.claim_uploads(article, article.body_html, user.id)


def _audit(user: User, action: str, article: Article) -> None:
    audit.record(action, f"article {article.id}: {article.title}", user=user)


def apply_action(
    article: Article, action: str, user: User, reason: str = ""
) -> str | None:
    """Move the post on as the action asks; return the audit name.

    reason: why an editor publishes past the review chain (required then).
    """
    if not can_edit(user, article):
        raise Refused(action)
    if action == Action.SAVE:
        return None
    if action not in allowed_actions(user, article):
        raise Refused(action)
    if action in (Action.SUBMIT, Action.PUBLISH) and is_empty(article):
        raise Refused("empty")
    if action == Action.SUBMIT:
        chain.submit(article, user)
        _audit(user, "article.submit", article)
        return "submit"
    if action == Action.PUBLISH:
        if gate(user, article, publish=True) != Gate.LIVE:
            raise Refused(action)
        if needs_review(article):
            chain.bypass(article, user, reason)
            _audit(user, "article.bypass", article)
            return "bypass"
        article.status = Status.PUBLISHED
        if article.published_at is None:
            article.published_at = utcnow()
        chain.record_publish(article, user)
        _audit(user, "article.publish", article)
        return "publish"
    if action == Action.UNPUBLISH:
        article.status = Status.DRAFT
        article.review_level = 0
        _audit(user, "article.unpublish", article)
        return "unpublish"
    raise Refused(action)


def trash(article: Article, user: User) -> None:
    if not may_delete(user, article):
        raise Refused("delete")
    article.deleted_at = utcnow()
    # Nobody goes on editing a post in the trash; restoring starts afresh.
    db.session.execute(
        sa.delete(ArticleDraft)
        .where(ArticleDraft.article_id == article.id)
        .execution_options(synchronize_session=False)
    )
    _audit(user, "article.delete", article)


def restore_from_trash(article: Article, user: User) -> None:
    """Bring a post back; a live one only with a text the ledger explains."""
    if not user.can_review:
        raise Refused("restore")
    if article.status == Status.PUBLISHED and not chain.live_explained(article):
        raise Refused("unexplained")
    article.deleted_at = None
    _audit(user, "article.restore", article)


def delete_forever(article: Article, user: User) -> None:
    """Remove a trashed post, its revisions, and its uploaded files."""
    if not user.can_review or article.deleted_at is None:
        raise Refused("purge")
    _audit(user, "article.purge", article)
    article_id = article.id
    # Uploads only get their article_id set to NULL by the foreign key, so
    # their files are deleted explicitly first (this commits the audit event).
    storage.delete_article_files(article_id)
    db.session.execute(sa.delete(Article).where(Article.id == article_id))


def restore_revision(article: Article, revision: Revision, user: User) -> None:
    """Bring back an older text; the current one is kept as a revision first."""
    if not user.can_review or article.deleted_at is not None:
        raise Refused("restore_revision")
    text = {
        "title": revision.title,
        "body_html": revision.body_html,
        "summary": revision.summary,
    }
    if holds_edit(user, article, Action.SAVE):
        # Old text is new text for readers: it waits for the chain like any edit.
        values = {key: getattr(article, key) for key in PENDING_FIELDS} | text
        chain.keep_pending(article, values, user)
        if not chain.in_review(article):
            chain.submit(article, user)
        _audit(user, "article.restore_revision", article)
        return
    before = chain.text_hash(article)
    live = article.status == Status.PUBLISHED
    if live:
        chain.keep_revision(article, user)
    if not _update_if_version(
        article, article.version, text | {"updated_by_id": user.id}
    ):
        db.session.rollback()
        raise Conflict()
    db.session.refresh(article)
    if live:
        chain.record_publish(article, user, "restored revision")
    else:
        chain.changed_since(article, before, user)
    _audit(user, "article.restore_revision", article)
