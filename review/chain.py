"""The review chain (先审后发): who reviews a post at each level, and each move.

A channel needs 0 to 3 levels (the site's setting, or the channel's own).
Level 1 (初审) is done by the heads of the author's department; levels 2 (复审)
and 3 (终审) by the groups the admin names. Where nobody is named for a level,
editors and admins review it, so a post never waits for nobody. Nobody
approves their own post, at any level.

A submitted draft waits as "pending"; an edit of a published post waits in
PendingText while readers keep the text online. Passing the last level
publishes; a return sends it back with a reason. Editors and admins may
publish past the chain only when the site allows it, with a reason. Every
move is written to the ledger (ReviewEvent) in the same transaction, with the
hash of the text it was about.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import audit, notify
from core.permissions import Refused
from models import (
    ApprovedText,
    Article,
    PendingText,
    ReviewEvent,
    ReviewGroup,
    ReviewVersion,
    Revision,
    Role,
    Section,
    Status,
    Upload,
    User,
    db,
    department_head,
    get_settings,
    parse_id,
    review_group_member,
    utcnow,
)

MAX_LEVELS = 3
# The text an edit of a published post holds while it waits (PendingText):
# the editor form's fields (articles.CONTENT_FIELDS) and the photographer.
PENDING_FIELDS = (
    "title",
    "body_html",
    "summary",
    "author_name",
    "source",
    "photographer",
)
LEVEL_NAMES = {1: _l("First review"), 2: _l("Second review"), 3: _l("Final review")}
REASON_MAX = 200

log = logging.getLogger(__name__)


class Decision:
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    BYPASS = "bypass"  # published past the chain by an editor or admin
    CONFIRM = "confirm"  # published with personal data, on purpose
    PUBLISH = "publish"  # live where nothing is reviewed (0 levels, imports)
    REMOVE = "remove"  # something taken off a live post (an attachment)
    MOVE = "move"  # an admin moved posts out of a section they deleted
    BASELINE = "baseline"  # online before versions were recorded (0012)
    ALL = (SUBMIT, APPROVE, RETURN, BYPASS, CONFIRM, PUBLISH, REMOVE, MOVE, BASELINE)


DECISION_NAMES = {
    Decision.SUBMIT: _l("Submitted"),
    Decision.APPROVE: _l("Approved"),
    Decision.RETURN: _l("Returned"),
    Decision.BYPASS: _l("Published without review"),
    Decision.CONFIRM: _l("Personal data confirmed"),
    Decision.PUBLISH: _l("Published (no review needed)"),
    Decision.REMOVE: _l("Removed from the live post"),
    Decision.MOVE: _l("Moved to another section by an administrator"),
    Decision.BASELINE: _l("Online before versions were recorded"),
}


# --- How many levels, and who reviews them -------------------------------------


def site_levels(settings: dict | None = None) -> int:
    value = parse_id((settings or get_settings()).get("review_levels")) or 0
    return min(value, MAX_LEVELS)


def levels_for(section: Section | None, settings: dict | None = None) -> int:
    """The levels a post in this section needs: its channel's, else the site's."""
    channel = section.channel if section is not None else None
    if channel is not None and channel.review_levels is not None:
        return min(max(channel.review_levels, 0), MAX_LEVELS)
    return site_levels(settings)


def bypass_allowed(settings: dict | None = None) -> bool:
    return (settings or get_settings()).get("review_bypass") == "1"


def may_bypass(user: User) -> bool:
    """Editors and admins, when the site allows publishing past the chain."""
    return user.can_review and bypass_allowed()


def level_group(level: int, settings: dict | None = None) -> ReviewGroup | None:
    group_id = parse_id((settings or get_settings()).get(f"review_group_{level}"))
    return db.session.get(ReviewGroup, group_id) if group_id else None


def _active_ids(stmt) -> set[int]:
    return set(db.session.scalars(stmt.where(User.active.is_(True))))


def named_reviewers(
    article: Article, level: int, settings: dict | None = None
) -> set[int]:
    """The users named for this level of this post (may be empty)."""
    if level == 1:
        author = article.created_by
        if author is None or author.department_id is None:
            return set()
        return _active_ids(
            sa.select(User.id)
            .join(department_head, department_head.c.user_id == User.id)
            .where(department_head.c.department_id == author.department_id)
        )
    group = level_group(level, settings)
    if group is None:
        return set()
    return _active_ids(
        sa.select(User.id)
        .join(review_group_member, review_group_member.c.user_id == User.id)
        .where(review_group_member.c.group_id == group.id)
    )


def reviewer_ids(
    article: Article, level: int, settings: dict | None = None
) -> set[int]:
    """Who may approve or return the post at this level: never its author."""
    pending = db.session.get(PendingText, article.id)
    # Nobody approves a text they wrote or changed in this round.
    excluded = writers(article) | {
        article.created_by_id,
        pending.created_by_id if pending else None,
    }
    # A head reviewing a post of their own leaves the level to editors and admins.
    ids = named_reviewers(article, level, settings) - excluded
    if not ids:
        ids = _active_ids(
            sa.select(User.id).where(User.role.in_((Role.EDITOR, Role.ADMIN)))
        )
    return ids - excluded


def may_review(user: User, article: Article, settings: dict | None = None) -> bool:
    return (
        article.review_level > 0
        and article.deleted_at is None
        and user.id in reviewer_ids(article, article.review_level, settings)
    )


def in_review(article: Article) -> bool:
    return article.review_level > 0


# --- The text under review ----------------------------------------------------


def pending_text(article: Article) -> PendingText | None:
    return db.session.get(PendingText, article.id)


def review_text(article: Article):
    """What a reviewer judges: the waiting edit of a published post, else the post."""
    if article.status == Status.PUBLISHED:
        pending = pending_text(article)
        if pending is not None:
            return pending
    return article


@dataclass(frozen=True)
class Version:
    """Everything readers get of a post: what an approval is bound to."""

    title: str
    summary: str | None
    body_html: str
    section_id: int | None
    cover_id: int | None
    attachments: tuple[tuple[int, str], ...]  # (upload id, file name)

    @property
    def hash(self) -> str:
        return version_hash(
            self.title,
            self.summary,
            self.body_html,
            self.section_id,
            self.cover_id,
            [upload_id for upload_id, _name in self.attachments],
        )


def version_hash(title, summary, body_html, section_id, cover_id, attachment_ids):
    # Migration 0012 keeps a frozen copy of this formula: change both or neither.
    parts = (
        title or "",
        summary or "",
        body_html or "",
        str(section_id or ""),
        str(cover_id or ""),
        ",".join(str(i) for i in sorted(attachment_ids)),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _attachments(article: Article, live: bool) -> tuple[tuple[int, str], ...]:
    stmt = sa.select(Upload.id, Upload.original_name).where(
        Upload.article_id == article.id, Upload.kind == "attachment"
    )
    if live:
        stmt = stmt.where(Upload.held.is_(False))
    return tuple(tuple(row) for row in db.session.execute(stmt.order_by(Upload.id)))


def live_version(article: Article) -> Version:
    """What readers get (or got, for a post in the trash) today."""
    return Version(
        article.title,
        article.summary,
        article.body_html or "",
        article.section_id,
        article.cover_id,
        _attachments(article, live=True),
    )


def pending_section_id(article: Article) -> int:
    pending = pending_text(article) if article.status == Status.PUBLISHED else None
    if pending is not None and pending.section_id:
        return pending.section_id
    return article.section_id


def under_review(article: Article) -> Version:
    """What readers would get if the post were approved now."""
    text = review_text(article)
    cover_id = article.cover_id
    if isinstance(text, PendingText) and text.cover_id is not None:
        cover_id = text.cover_id or None  # 0: the edit removes the cover
    return Version(
        text.title,
        text.summary,
        text.body_html or "",
        pending_section_id(article),
        cover_id,
        _attachments(article, live=False),
    )


def text_hash(article: Article) -> str:
    """The hash of the text under review (title, body, section, cover, files)."""
    return under_review(article).hash


def approved_text(article: Article) -> ApprovedText | None:
    return db.session.get(ApprovedText, article.id)


def notify_move(article: Article, decision: str, actor, reason: str = "") -> None:
    """Queue who is told of a move (notify.py sends them); never fails the move."""
    try:
        _queue_messages(article, decision, actor, reason)
    except Exception:  # telling people must never cost the move itself
        log.exception("notifications for article %s were not queued", article.id)


def _queue_messages(article: Article, decision: str, actor, reason: str) -> None:
    title = review_text(article).title
    author = article.created_by
    department = author.department if author is not None else None
    actor_name = actor.display_name if actor is not None else ""
    if decision == Decision.SUBMIT or (
        decision == Decision.APPROVE and article.review_level > 0
    ):
        level = article.review_level
        level_name = str(LEVEL_NAMES.get(level, level))
        people = reviewer_ids(article, level)
        robot = (
            notify.department_target(department)
            if level == 1
            else notify.group_target(level_group(level))
        )
        event = notify.Event.WAITING
        subject = _("Waiting for %(level)s: %(title)s", level=level_name, title=title)
        text = _(
            "«%(title)s» is waiting for the %(level)s.", title=title, level=level_name
        )
        link = notify.link("review.show", article_id=article.id)
    elif decision == Decision.RETURN:
        people = {article.created_by_id}
        robot = notify.department_target(department)
        event = notify.Event.RETURNED
        subject = _("Returned: %(title)s", title=title)
        text = _(
            "%(name)s returned «%(title)s». Reason: %(reason)s",
            name=actor_name,
            title=title,
            reason=reason or article.returned_reason or "",
        )
        link = notify.link("editor.edit_article", article_id=article.id)
    elif decision in (Decision.APPROVE, Decision.BYPASS):
        people = {article.created_by_id}
        robot = None
        if decision == Decision.BYPASS:
            event = notify.Event.BYPASSED
            subject = _("Published without review: %(title)s", title=title)
            text = _(
                "%(name)s published «%(title)s» without review. Reason: %(reason)s",
                name=actor_name,
                title=title,
                reason=reason,
            )
        else:
            event = notify.Event.PUBLISHED
            subject = _("Published: %(title)s", title=title)
            text = _(
                "«%(title)s» passed its last review and is published.", title=title
            )
        link = notify.link("public.article", article_id=article.id)
    else:
        return
    notify.tell(article, event, subject, text, link, people, robot, actor)


def keep_revision(article: Article, user: User) -> Revision:
    """Store the article's current (saved) text as a revision."""
    live = article.status == Status.PUBLISHED
    revision = Revision(
        article_id=article.id,
        title=article.title,
        body_html=article.body_html,
        summary=article.summary,
        created_by_id=user.id,
        # A text readers saw: check-ledger finds the approval behind it.
        version_hash=live_version(article).hash if live else "",
    )
    db.session.add(revision)
    return revision


def apply_pending(article: Article, pending) -> None:
    """The reviewed edit goes online; the text it replaces becomes a revision."""
    user = (
        db.session.get(User, pending.created_by_id) if pending.created_by_id else None
    )
    if user is not None:
        keep_revision(article, user)
    for key in PENDING_FIELDS:
        setattr(article, key, getattr(pending, key))
    if pending.section_id and db.session.get(Section, pending.section_id):
        article.section_id = pending.section_id
    if pending.cover_id is not None:
        article.cover_id = pending.cover_id or None
    article.version += 1
    db.session.delete(pending)
    db.session.flush()


def keep_pending(article: Article, values: dict, user: User) -> PendingText:
    """Store an edit of a published post; readers keep the current text."""
    before = text_hash(article)
    pending = pending_text(article)
    if pending is None:
        pending = PendingText(article_id=article.id)
        db.session.add(pending)
    for key in (*PENDING_FIELDS, "section_id", "cover_id"):
        if key in values:
            setattr(pending, key, values[key])
    pending.created_by_id = user.id
    pending.saved_at = utcnow()
    db.session.flush()
    if text_hash(article) != before:
        add_writer(article, user)
    restart_if_changed(article, user)
    return pending


# --- Who changed the text of this round ------------------------------------------


def writers(article: Article) -> set[int]:
    return {int(v) for v in (article.review_writers or "").split(",") if v.isdigit()}


def add_writer(article: Article, user: User | None) -> None:
    """Nobody approves a text they changed: note who did, for this round."""
    if user is None or user.id in writers(article):
        return
    ids = sorted(writers(article) | {user.id})
    value = "," + ",".join(map(str, ids)) + ","
    if len(value) <= 500:  # a round with hundreds of writers keeps the first
        article.review_writers = value


def changed_since(article: Article, before: str, user: User) -> None:
    """After any change: note the writer and restart the chain if in review."""
    if text_hash(article) != before:
        add_writer(article, user)
    restart_if_changed(article, user)


# --- The ledger -----------------------------------------------------------------


class Stale(Exception):
    """The text changed after the reviewer's page was loaded."""


def record(
    article: Article,
    user: User | None,
    decision: str,
    level: int = 0,
    reason: str = "",
    *,
    version: Version | None = None,
    final: bool = False,
) -> ReviewEvent:
    author = article.created_by
    department = author.department.name if author and author.department else ""
    version = version or under_review(article)
    _keep_version(version)
    event = ReviewEvent(
        created_at=utcnow(),
        article_id=article.id,
        article_title=version.title[:200],
        department=department,
        author=author.display_name if author else article.author_name,
        user_id=user.id if user else None,
        user_name=user.display_name if user else "",
        level=level,
        decision=decision,
        reason=(reason or "")[:REASON_MAX],
        version_hash=version.hash,
        final=final,
    )
    db.session.add(event)
    return event


def _keep_version(version: Version) -> None:
    if db.session.get(ReviewVersion, version.hash) is not None:
        return
    db.session.add(
        ReviewVersion(
            version_hash=version.hash,
            title=version.title,
            summary=version.summary,
            body_html=version.body_html,
            section_id=version.section_id,
            cover_id=version.cover_id,
            attachments=json.dumps(version.attachments, ensure_ascii=False),
        )
    )


def saved_version(version_hash: str) -> ReviewVersion | None:
    return db.session.get(ReviewVersion, version_hash) if version_hash else None


def _reason(reason: str | None, required: bool) -> str:
    reason = " ".join((reason or "").split())[:REASON_MAX]
    if required and not reason:
        raise Refused("reason")
    return reason


# --- The moves ----------------------------------------------------------------------


def levels_for_article(article: Article, settings: dict | None = None) -> int:
    """The chain a post needs: the stricter of its channel and, for an edit
    that moves it, the channel it moves to."""
    levels = levels_for(article.section, settings)
    target = pending_section_id(article)
    if target != article.section_id:
        section = db.session.get(Section, target)
        levels = max(levels, levels_for(section, settings))
    return levels


def submit(article: Article, user: User) -> None:
    """Start the chain at level 1 (again, after a return or a new edit)."""
    levels = levels_for_article(article)
    if levels == 0:
        raise Refused("submit")
    article.review_level = 1
    article.review_levels = levels
    article.review_hash = text_hash(article)
    article.returned_reason = None
    if article.status != Status.PUBLISHED:
        article.status = Status.PENDING
    add_writer(article, user)
    record(article, user, Decision.SUBMIT)
    notify_move(article, Decision.SUBMIT, user)


def restart_if_changed(article: Article, user: User) -> None:
    if in_review(article) and text_hash(article) != article.review_hash:
        restart(article, user)


def restart(article: Article, user: User) -> None:
    """The text changed while in review: every level judges the new text."""
    article.review_level = 1
    article.review_levels = max(article.review_levels, levels_for_article(article))
    article.review_hash = text_hash(article)
    record(article, user, Decision.SUBMIT, reason="edited during review")
    notify_move(article, Decision.SUBMIT, user)


def _check_version(article: Article, version: str | None) -> None:
    if not version or version != text_hash(article):
        raise Stale()


def approve(
    article: Article, user: User, reason: str = "", *, version: str | None
) -> bool:
    """Pass the post's current level; True when that was the last (published).

    version: the hash of the text the reviewer was shown; a decision on a text
    that has changed since is refused (Stale).
    """
    if not may_review(user, article):
        raise Refused("approve")
    _check_version(article, version)
    level = article.review_level
    last = level >= article.review_levels
    record(article, user, Decision.APPROVE, level, _reason(reason, False), final=last)
    _keep_approved(article)
    if not last:
        article.review_level = level + 1
        notify_move(article, Decision.APPROVE, user, reason)
        return False
    _publish(article)
    # The last approval publishes: an audit event like any other publication.
    audit.record(
        "article.publish",
        f"article {article.id}: {article.title}",
        user=user,
        detail="approved",
    )
    notify_move(article, Decision.APPROVE, user, reason)
    return True


def send_back(
    article: Article, user: User, reason: str, *, version: str | None
) -> None:
    """Return the post to its author with a reason (required)."""
    if not may_review(user, article):
        raise Refused("return")
    _check_version(article, version)
    reason = _reason(reason, True)
    record(article, user, Decision.RETURN, article.review_level, reason)
    article.review_level = 0
    article.returned_reason = reason
    if article.status == Status.PENDING:
        article.status = Status.DRAFT
    notify_move(article, Decision.RETURN, user, reason)


def bypass(article: Article, user: User, reason: str) -> None:
    """Publish past the chain: editors and admins, when allowed, with a reason."""
    if not may_bypass(user):
        raise Refused("bypass")
    reason = _reason(reason, True)
    record(article, user, Decision.BYPASS, article.review_level, reason, final=True)
    _keep_approved(article)
    _publish(article)
    notify_move(article, Decision.BYPASS, user, reason)


def record_publish(article: Article, user: User | None, reason: str = "") -> None:
    """A text went live where nothing is reviewed (0 levels, an import)."""
    _unhold(article)
    version = live_version(article)
    if _explained(article.id, version.hash):
        return
    record(article, user, Decision.PUBLISH, 0, reason, version=version, final=True)
    article.review_writers = ""


def record_removal(article: Article, user: User, what: str) -> None:
    """Something was taken off a live post (an attachment): the ledger says so."""
    version = live_version(article)
    if not _explained(article.id, version.hash):
        record(article, user, Decision.REMOVE, 0, what, version=version, final=True)


def record_move(article: Article, user: User, what: str) -> None:
    """An admin moved a live post (its section was deleted): same text, new
    section, so the ledger names who moved it and where."""
    if article.status != Status.PUBLISHED:
        return
    version = live_version(article)
    if not _explained(article.id, version.hash):
        record(article, user, Decision.MOVE, 0, what, version=version, final=True)


def _explained(article_id: int, version_hash: str) -> bool:
    return (
        db.session.scalar(
            sa.select(ReviewEvent.id)
            .where(
                ReviewEvent.article_id == article_id,
                ReviewEvent.version_hash == version_hash,
                ReviewEvent.final.is_(True),
            )
            .limit(1)
        )
        is not None
    )


def live_explained(article: Article) -> bool:
    return _explained(article.id, live_version(article).hash)


@dataclass
class Unexplained:
    article_id: int
    title: str
    what: str  # "live" (the post's text today) or "revision <id>"
    version_hash: str


def unexplained_texts() -> list[Unexplained]:
    """Every text readers ever got (published posts, revisions that were live)
    with no last approval, bypass or unreviewed publish behind it."""
    final = set(
        tuple(row)
        for row in db.session.execute(
            sa.select(ReviewEvent.article_id, ReviewEvent.version_hash).where(
                ReviewEvent.final.is_(True)
            )
        )
    )
    found = []
    published = db.session.scalars(
        sa.select(Article)
        .where(Article.status == Status.PUBLISHED)
        .order_by(Article.id)
    )
    for article in published:
        version = live_version(article)
        if (article.id, version.hash) not in final:
            found.append(Unexplained(article.id, article.title, "live", version.hash))
    revisions = db.session.execute(
        sa.select(
            Revision.id, Revision.article_id, Revision.title, Revision.version_hash
        )
        .where(Revision.version_hash != "")
        .order_by(Revision.id)
    )
    for revision_id, article_id, title, version_hash in revisions:
        if (article_id, version_hash) not in final:
            found.append(
                Unexplained(article_id, title, f"revision {revision_id}", version_hash)
            )
    return found


def confirm(article: Article, user: User, reason: str) -> None:
    """Record that personal data was published on purpose, and why."""
    record(article, user, Decision.CONFIRM, article.review_level, reason)


def _keep_approved(article: Article) -> None:
    text = review_text(article)
    approved = approved_text(article)
    if approved is None:
        approved = ApprovedText(article_id=article.id)
        db.session.add(approved)
    approved.title = text.title
    approved.summary = text.summary
    approved.body_html = text.body_html or ""
    approved.approved_at = utcnow()


def _unhold(article: Article) -> None:
    db.session.execute(
        sa.update(Upload)
        .where(Upload.article_id == article.id, Upload.held.is_(True))
        .values(held=False)
        .execution_options(synchronize_session=False)
    )


def _publish(article: Article) -> None:
    """Put the reviewed text online and note who approved each level."""
    pending = pending_text(article)
    if article.status == Status.PUBLISHED and pending is not None:
        apply_pending(article, pending)
    _unhold(article)
    article.status = Status.PUBLISHED
    if article.published_at is None:
        article.published_at = utcnow()
    article.reviewed_by = json.dumps(approvers(article), ensure_ascii=False)
    article.review_level = 0
    article.returned_reason = None
    article.review_writers = ""


def approvers(article: Article) -> dict[str, str]:
    """Who approved each level since the post's latest submission."""
    db.session.flush()
    events = db.session.scalars(
        sa.select(ReviewEvent)
        .where(ReviewEvent.article_id == article.id)
        .order_by(ReviewEvent.id.desc())
    )
    names: dict[str, str] = {}
    for event in events:
        if event.decision == Decision.SUBMIT:
            break
        if event.decision == Decision.APPROVE:
            names.setdefault(str(event.level), event.user_name)
    return names


# --- For pages ------------------------------------------------------------------------


def queue_for(user: User) -> list[Article]:
    """The posts waiting for this user at their current level, oldest first."""
    waiting = db.session.scalars(
        sa.select(Article)
        .where(Article.review_level > 0, Article.deleted_at.is_(None))
        .order_by(Article.updated_at, Article.id)
    )
    settings = get_settings()  # once, not once per waiting post
    return [article for article in waiting if may_review(user, article, settings)]


def review_line(article: Article) -> dict[int, str]:
    """The 初审/复审/终审 names of the version online."""
    try:
        names = json.loads(article.reviewed_by or "{}")
    except ValueError:
        return {}
    return {int(level): name for level, name in names.items() if str(level).isdigit()}


def channel_change(channel: Section, levels: int | None) -> str | None:
    """Set a channel's own review levels (None: the site's); the audit target
    when that changed something. Posts in review keep the levels they have."""
    if channel.review_levels == levels:
        return None

    def shown(value):
        return "-" if value is None else str(value)

    target = f"{channel.name}: {shown(channel.review_levels)} → {shown(levels)}"
    channel.review_levels = levels
    return target
