"""The word list of the compliance check (/admin/words): the security
administrator's (等保 三员).

The list lives in the database (WordRule) so that each school keeps its own;
compliance.matcher_from_db() notices every change on the next check.
"""

import sqlalchemy as sa
from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from core import audit, sites
from core.paging import paginate
from core.permissions import security_admin_required
from forms import WordRuleForm
from models import WordRule, current_site_id, db
from review import compliance

bp = Blueprint("wordlist", __name__, url_prefix="/admin/words")

PER_PAGE = 100


def _rule_or_404(rule_id: int) -> WordRule:
    return db.get_or_404(WordRule, rule_id)


def _valid(form: WordRuleForm, rule: WordRule | None) -> bool:
    """The form's own checks plus the list's: one rule per term, sane exceptions."""
    if not form.validate_on_submit():
        return False
    ok = True
    taken = db.session.scalar(
        sa.select(WordRule.id).where(
            WordRule.term == form.term.data,
            WordRule.id != (rule.id if rule else 0),
        )
    )
    if taken:
        form.term.errors.append(_("This term is already in the list."))
        ok = False
    if form.replacement.data and form.replacement.data == form.term.data:
        form.replacement.errors.append(_("The replacement is the same as the term."))
        ok = False
    for word in compliance.split_exceptions(form.exceptions.data):
        if form.term.data not in word or word == form.term.data:
            form.exceptions.errors.append(
                _(
                    "«%(word)s» does not contain the term as part of a longer word.",
                    word=word,
                )
            )
            ok = False
    return ok


def _fill(rule: WordRule, form: WordRuleForm) -> None:
    rule.term = form.term.data
    rule.replacement = form.replacement.data or ""
    rule.severity = form.severity.data
    rule.exceptions = " ".join(compliance.split_exceptions(form.exceptions.data))
    rule.note = form.note.data or ""


def _render_list(form: WordRuleForm, status: int = 200):
    query = request.args.get("q", "").strip()[:50]
    select = sa.select(WordRule).order_by(WordRule.term)
    if query:
        pattern = f"%{query}%"
        select = select.where(
            sa.or_(WordRule.term.like(pattern), WordRule.replacement.like(pattern))
        )
    page = paginate(select, per_page=PER_PAGE)
    total = db.session.scalar(sa.select(sa.func.count(WordRule.id)))
    return render_template(
        "review/words.html",
        page=page,
        form=form,
        query=query,
        total=total,
        shared=_shared_rules(),
    ), status


def _shared_rules() -> list[WordRule]:
    """The bureau's terms, which hold on this school's site too (站群)."""
    bureau = sites.bureau_site_id()
    if bureau is None or bureau == current_site_id():
        return []
    return db.session.scalars(
        sa.select(WordRule)
        .where(WordRule.site_id == bureau)
        .order_by(WordRule.term)
        .execution_options(all_sites=True)
    ).all()


@bp.get("")
@security_admin_required
def words():
    return _render_list(WordRuleForm())


@bp.post("")
@security_admin_required
def create_word():
    form = WordRuleForm()
    if not _valid(form, None):
        return _render_list(form, 422)
    rule = WordRule()
    _fill(rule, form)
    db.session.add(rule)
    return audit.finish_change(
        "word_rule_created",
        rule.term,
        _("Added «%(term)s» to the word list.", term=rule.term),
        url_for("wordlist.words"),
    )


@bp.get("/<int:rule_id>")
@security_admin_required
def word(rule_id: int):
    rule = _rule_or_404(rule_id)
    return render_template("review/word.html", rule=rule, form=WordRuleForm(obj=rule))


@bp.post("/<int:rule_id>")
@security_admin_required
def update_word(rule_id: int):
    rule = _rule_or_404(rule_id)
    form = WordRuleForm()
    if not _valid(form, rule):
        return render_template("review/word.html", rule=rule, form=form), 422
    _fill(rule, form)
    return audit.finish_change(
        "word_rule_updated",
        rule.term,
        _("Saved «%(term)s».", term=rule.term),
        url_for("wordlist.words"),
    )


@bp.post("/<int:rule_id>/delete")
@security_admin_required
def delete_word(rule_id: int):
    rule = _rule_or_404(rule_id)
    db.session.delete(rule)
    return audit.finish_change(
        "word_rule_deleted",
        rule.term,
        _("Deleted «%(term)s» from the word list.", term=rule.term),
        url_for("wordlist.words"),
    )
