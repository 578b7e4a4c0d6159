"""Blueprint "sharing": the bureau sends a published post to its schools (站群).

Only on the bureau's site, for those who publish there (editors and
admins); newsroom/bureaupost.py makes the copies.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from core import audit, sites
from core.permissions import get_article_or_404
from models import db, parse_id
from newsroom import bureaupost

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
        copies=bureaupost.copies_of(article.id),
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
