"""Blueprint "sharing": the bureau sends a published post to its schools (站群).

Only on the bureau's site, for those who publish there (editors and
admins); newsroom/bureaupost.py makes the copies, and takes them back from
the schools the bureau chooses (撤回).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from core import audit, sites
from core.permissions import get_article_or_404
from models import Site, db, parse_id
from newsroom import bureaupost
from stats import bureaustats

bp = Blueprint("sharing", __name__, url_prefix="/editor/articles")


def _bureau_post(article_id: int):
    if not sites.is_bureau():
        abort(404)
    if not current_user.can_review:
        abort(403)
    return get_article_or_404(article_id)


def _render(article, status: int = 200):
    return render_template(
        "newsroom/share.html",
        article=article,
        schools=bureaupost.schools(),
        # As each school calls itself (学校名称), not as it was added.
        names=bureaustats.school_names(),
        copies=bureaupost.copies_of(article.id),
        live=bureaupost.live_copies(article.id),
    ), status


@bp.get("/<int:article_id>/schools")
@login_required
def page(article_id: int):
    return _render(_bureau_post(article_id))


@bp.post("/<int:article_id>/schools")
@login_required
def send(article_id: int):
    article = _bureau_post(article_id)
    if not article.is_public:
        flash(_("Publish the post first: schools get what readers see."), "error")
        return _render(article, 400)
    open_to = {school.id for school in bureaupost.schools()}
    chosen = [
        site_id
        for site_id in (parse_id(v) for v in request.form.getlist("site"))
        if site_id in open_to
    ]
    if not chosen:
        flash(_("Choose at least one school."), "error")
        return _render(article, 400)
    results = bureaupost.share(article, chosen, current_user)
    sent = [r for r in results if r.article_id is not None]
    audit.record(
        "post_shared",
        article.title[:150],
        detail=", ".join(str(r.site_id) for r in sent),
    )
    db.session.commit()
    flash(
        ngettext("Sent to %(num)d school.", "Sent to %(num)d schools.", len(sent)),
        "success",
    )
    for result in results:
        if result.article_id is None:
            flash(result.problem, "error")
    return redirect(url_for("sharing.page", article_id=article.id))


@bp.post("/<int:article_id>/schools/withdraw")
@login_required
def withdraw(article_id: int):
    """Take the post off the chosen schools' sites (a post the bureau has
    unpublished since may be withdrawn too)."""
    article = _bureau_post(article_id)
    names = _school_names()
    values = request.form.getlist("site")
    chosen = [parse_id(value) for value in values]
    if not values:
        flash(_("Choose at least one school."), "error")
        return _render(article, 400)
    if any(site_id not in names for site_id in chosen):
        flash(
            _(
                "One of the schools chosen does not exist. "
                "Reload the page and choose again."
            ),
            "error",
        )
        return _render(article, 400)
    results = bureaupost.withdraw(article.id, chosen, current_user)
    taken = [r for r in results if r.article_id is not None]
    if taken:
        audit.record(
            "post_withdrawn",
            article.title[:150],
            detail=", ".join(str(r.site_id) for r in taken),
        )
        db.session.commit()
        flash(
            ngettext(
                "Withdrawn from %(num)d school.",
                "Withdrawn from %(num)d schools.",
                len(taken),
            ),
            "success",
        )
    for result in results:
        school = names[result.site_id]
        if result.problem == "not_sent":
            flash(_("%(school)s never got this post.", school=school), "error")
        elif result.problem == "not_live":
            flash(
                _(
                    "%(school)s does not show this post: it was withdrawn already.",
                    school=school,
                ),
                "error",
            )
    return redirect(url_for("sharing.page", article_id=article.id))


def _school_names() -> dict[int, str]:
    """{site id: name} of every school, a disabled one too (its copy may
    still be withdrawn), never the bureau's own site."""
    rows = db.session.execute(
        sa.select(Site.id, Site.name).where(Site.bureau.is_(False))
    )
    return dict(rows.all())
