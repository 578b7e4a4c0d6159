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

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from models import (
    ApprovedText,
    Article,
    PendingText,
    ReviewEvent,
    ReviewGroup,
    Role,
    Section,
    Status,
    User,
    db,
    department_head,
    get_settings,
    parse_id,
    review_group_member,
    utcnow,
)
from permissions import Refused

MAX_LEVELS = 3
LEVEL_NAMES = {1: _l("First review"), 2: _l("Second review"), 3: _l("Final review")}
REASON_MAX = 200


class Decision:
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    BYPASS = "bypass"  # published past the chain by an editor or admin
    CONFIRM = "confirm"  # published with personal data, on purpose
    ALL = (SUBMIT, APPROVE, RETURN, BYPASS, CONFIRM)


DECISION_NAMES = {
    Decision.SUBMIT: _l("Submitted"),
    Decision.APPROVE: _l("Approved"),
    Decision.RETURN: _l("Returned"),
    Decision.BYPASS: _l("Published without review"),
    Decision.CONFIRM: _l("Personal data confirmed"),
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
    writers = {article.created_by_id, pending.created_by_id if pending else None}
    # A head reviewing a post of their own leaves the level to editors and admins.
    ids = named_reviewers(article, level, settings) - writers
    if not ids:
        ids = _active_ids(
            sa.select(User.id).where(User.role.in_((Role.EDITOR, Role.ADMIN)))
        )
    return ids - writers


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


def text_hash(text) -> str:
    parts = (text.title or "", text.summary or "", text.body_html or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def approved_text(article: Article) -> ApprovedText | None:
    return db.session.get(ApprovedText, article.id)


def keep_pending(article: Article, values: dict, user: User) -> PendingText:
    """Store an edit of a published post; readers keep the current text."""
    import articles  # articles imports this module

    pending = pending_text(article)
    if pending is None:
        pending = PendingText(article_id=article.id)
        db.session.add(pending)
    for key in articles.PENDING_FIELDS:
        if key in values:
            setattr(pending, key, values[key])
    pending.created_by_id = user.id
    pending.saved_at = utcnow()
    restart_if_changed(article, user)
    return pending


# --- The ledger -----------------------------------------------------------------


def record(
    article: Article, user: User | None, decision: str, level: int = 0, reason: str = ""
) -> ReviewEvent:
    author = article.created_by
    department = author.department.name if author and author.department else ""
    text = review_text(article)
    event = ReviewEvent(
        created_at=utcnow(),
        article_id=article.id,
        article_title=text.title[:200],
        department=department,
        author=author.display_name if author else article.author_name,
        user_id=user.id if user else None,
        user_name=user.display_name if user else "",
        level=level,
        decision=decision,
        reason=(reason or "")[:REASON_MAX],
        version_hash=text_hash(text),
    )
    db.session.add(event)
    return event


def _reason(reason: str | None, required: bool) -> str:
    reason = " ".join((reason or "").split())[:REASON_MAX]
    if required and not reason:
        raise Refused("reason")
    return reason


# --- The moves ----------------------------------------------------------------------


def submit(article: Article, user: User) -> None:
    """Start the chain at level 1 (again, after a return or a new edit)."""
    levels = levels_for(article.section)
    if levels == 0:
        raise Refused("submit")
    article.review_level = 1
    article.review_levels = levels
    article.review_hash = text_hash(review_text(article))
    article.returned_reason = None
    if article.status != Status.PUBLISHED:
        article.status = Status.PENDING
    record(article, user, Decision.SUBMIT)


def restart_if_changed(article: Article, user: User) -> None:
    if in_review(article) and text_hash(review_text(article)) != article.review_hash:
        restart(article, user)


def restart(article: Article, user: User) -> None:
    """The text changed while in review: every level judges the new text."""
    article.review_level = 1
    article.review_hash = text_hash(review_text(article))
    record(article, user, Decision.SUBMIT, reason="edited during review")


def approve(article: Article, user: User, reason: str = "") -> bool:
    """Pass the post's current level; True when that was the last (published)."""
    if not may_review(user, article):
        raise Refused("approve")
    level = article.review_level
    record(article, user, Decision.APPROVE, level, _reason(reason, False))
    _keep_approved(article)
    if level < article.review_levels:
        article.review_level = level + 1
        return False
    _publish(article)
    return True


def send_back(article: Article, user: User, reason: str) -> None:
    """Return the post to its author with a reason (required)."""
    if not may_review(user, article):
        raise Refused("return")
    reason = _reason(reason, True)
    record(article, user, Decision.RETURN, article.review_level, reason)
    article.review_level = 0
    article.returned_reason = reason
    if article.status == Status.PENDING:
        article.status = Status.DRAFT


def bypass(article: Article, user: User, reason: str) -> None:
    """Publish past the chain: editors and admins, when allowed, with a reason."""
    if not may_bypass(user):
        raise Refused("bypass")
    reason = _reason(reason, True)
    record(article, user, Decision.BYPASS, article.review_level, reason)
    _keep_approved(article)
    _publish(article)


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


def _publish(article: Article) -> None:
    """Put the reviewed text online and note who approved each level."""
    import articles  # articles imports this module

    pending = pending_text(article)
    if article.status == Status.PUBLISHED and pending is not None:
        articles.apply_pending(article, pending)
    article.status = Status.PUBLISHED
    if article.published_at is None:
        article.published_at = utcnow()
    article.reviewed_by = json.dumps(approvers(article), ensure_ascii=False)
    article.review_level = 0
    article.returned_reason = None


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
