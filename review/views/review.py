"""Blueprint "review", /editor/review: the reviewers' queue and decisions (先审后发).

The rules live in review/chain.py; this turns them into pages. A reviewer sees the
posts waiting at a level they review, with the diff against the last
approved text and the compliance findings, and approves or returns each.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import siteurl
from core.permissions import Refused
from models import Article, ReviewEvent, Section, Status, Upload, db
from review import chain, compliance, compliance_panel, textdiff

bp = Blueprint("review", __name__, url_prefix="/editor/review")


@bp.app_template_global()
def review_level_name(level: int) -> str:
    return str(chain.LEVEL_NAMES.get(level, level))


# The names under an article (public/article.html): read from the post itself.
bp.add_app_template_global(chain.review_line, "review_line")


def _waiting_or_404(article_id: int) -> Article:
    article = db.get_or_404(Article, article_id)
    if article.deleted_at is not None:
        abort(404)
    return article


def _may_see(article: Article) -> bool:
    """Reviewers of the post's level act; editors and admins may look."""
    return current_user.can_review or chain.may_review(current_user, article)


def last_approved(article: Article):
    """The text the latest approval was given to, else the live text, else None."""
    before = chain.approved_text(article)
    if before is None and article.status == Status.PUBLISHED:
        before = article
    return before


def diff_base(article: Article, history: list[ReviewEvent]):
    """What the reviewer compares against, and its label: the version they
    last decided on, else the version returned, else the last approved text."""
    since_live = []
    for event in reversed(history):
        if event.final:
            break
        since_live.append(event)
    mine = [
        e
        for e in since_live
        if e.user_id == current_user.id
        and e.decision in (chain.Decision.APPROVE, chain.Decision.RETURN)
    ]
    returns = [e for e in since_live if e.decision == chain.Decision.RETURN]
    for events, label in (
        (mine, _("Changes since the version you decided on")),
        (returns, _("Changes since the version that was returned")),
    ):
        for event in events:  # newest first
            version = chain.saved_version(event.version_hash)
            if version is not None:
                return version, label
    before = last_approved(article)
    if before is not None:
        return before, _("Changes since the last approved text")
    return None, None


def version_diff(before, new) -> list[textdiff.Line]:
    """The text under review against the last approved one (none: all new)."""
    old_lines = (
        textdiff.paragraphs(before.title, before.summary, before.body_html)
        if before is not None
        else []
    )
    return textdiff.diff(
        old_lines, textdiff.paragraphs(new.title, new.summary, new.body_html)
    )


def _findings(article: Article) -> list[compliance.Finding]:
    return compliance.check_article(
        article, own_hosts=siteurl.own_hosts(), text=chain.review_text(article)
    )


@bp.get("/")
@login_required
def queue():
    return render_template(
        "review/queue.html",
        waiting=chain.queue_for(current_user),
        level_names=chain.LEVEL_NAMES,
    )


@bp.get("/<int:article_id>")
@login_required
def show(article_id: int):
    article = _waiting_or_404(article_id)
    if not _may_see(article):
        abort(403)
    return _review_page(article)


def _review_page(article: Article, status: int = 200, reason: str = ""):
    findings = _findings(article) if chain.in_review(article) else []
    history = db.session.scalars(
        db.select(ReviewEvent)
        .where(ReviewEvent.article_id == article.id)
        .order_by(ReviewEvent.id)
    ).all()
    last_level = article.review_level == article.review_levels
    text = chain.review_text(article)
    version = chain.under_review(article)
    before, base_label = diff_base(article, history)
    return render_template(
        "review/review.html",
        article=article,
        text=text,
        section=db.session.get(Section, version.section_id),
        cover=db.session.get(Upload, version.cover_id) if version.cover_id else None,
        attachments=article.all_attachments,
        version_hash=version.hash,
        diff_base=base_label,
        lines=version_diff(before, text),
        has_approved=before is not None,
        findings=[compliance_panel.finding_json(f) for f in findings],
        needs_confirmation=last_level
        and bool(compliance.needing_confirmation(findings)),
        can_act=chain.may_review(current_user, article),
        history=history,
        level_names=chain.LEVEL_NAMES,
        decision_names=chain.DECISION_NAMES,
        reason=reason,
    ), status


@bp.post("/<int:article_id>/approve")
@login_required
def approve(article_id: int):
    article = _waiting_or_404(article_id)
    if not chain.may_review(current_user, article):
        return _not_yours(article)
    if _stale(article):
        return _stale_page(article)
    findings = _findings(article)
    last_level = article.review_level == article.review_levels
    confirm_reason = compliance_panel.confirmed_reason()
    verdict = compliance.judge(findings, publishing=last_level, reason=confirm_reason)
    message = None
    if verdict.blocked:
        message = _(
            "Not approved: the text contains words that may not be published: "
            "%(terms)s. Return it to the author with a reason.",
            terms=_("; ").join(f.value for f in verdict.blocked),
        )
    elif verdict.unconfirmed:
        message = _(
            "Not approved: the text contains personal data (%(values)s). Tick "
            "the confirmation and give a reason, or return the post.",
            values=_("; ").join(f.value for f in verdict.unconfirmed),
        )
    if message:
        flash(message, "error")
        return _review_page(article, status=422)
    level = article.review_level
    published = chain.approve(
        article,
        current_user,
        request.form.get("note", ""),
        version=request.form.get("version"),
    )
    if last_level and compliance.needing_confirmation(findings):
        compliance_panel.record_confirmation(article, confirm_reason, findings)
    db.session.commit()
    if published:
        flash(_("Approved and published."), "success")
    else:
        flash(
            _(
                "%(level)s passed. The post now waits for %(next)s.",
                level=chain.LEVEL_NAMES[level],
                next=chain.LEVEL_NAMES[article.review_level],
            ),
            "success",
        )
    return redirect(url_for("review.queue"))


@bp.post("/<int:article_id>/return")
@login_required
def send_back(article_id: int):
    article = _waiting_or_404(article_id)
    if not chain.may_review(current_user, article):
        return _not_yours(article)
    if _stale(article):
        return _stale_page(article)
    reason = request.form.get("reason", "")
    try:
        chain.send_back(
            article, current_user, reason, version=request.form.get("version")
        )
    except Refused:
        flash(
            _("Write the reason for returning the post: the author needs it."), "error"
        )
        return _review_page(article, status=422, reason=reason)
    db.session.commit()
    flash(_("Returned to the author with your reason."), "success")
    return redirect(url_for("review.queue"))


def _stale(article: Article) -> bool:
    """The decision names a version that is not the text under review now."""
    return request.form.get("version", "") != chain.text_hash(article)


def _stale_page(article: Article):
    flash(_("The post has been changed: please review it again."), "error")
    return _review_page(article, status=409, reason=request.form.get("reason", ""))


def _not_yours(article: Article):
    """Not this user's post to decide (their own, another level, or done)."""
    if article.created_by_id == current_user.id:
        message = _("You cannot review your own post.")
    elif not chain.in_review(article):
        message = _("This post is no longer waiting for review.")
    else:
        message = _("This post waits for another reviewer.")
    flash(message, "error")
    if not _may_see(article):
        return render_template(
            "errors/error.html", code=403, title=_("Forbidden"), message=message
        ), 403
    return _review_page(article, status=403)
