"""Blueprint "editor", /editor: the teachers' and editors' workspace."""

from __future__ import annotations

import functools
from datetime import UTC

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_time, to_user_timezone, to_utc
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from core import errors, sites, siteurl
from core.errors import json_error, wants_json
from core.paging import paginate
from core.permissions import can_edit, get_article_or_404, reviewer_required
from forms import ArticleForm
from models import (
    Article,
    Revision,
    Section,
    Status,
    Upload,
    db,
    parse_id,
    utcnow,
)
from newsroom import articles, remote_images, storage
from newsroom.articles import Action, Changes, Conflict, Refused
from newsroom.jodit_i18n import jodit_strings
from newsroom.sanitize import FONT_SIZES_PX, INDENT_STEP_PX, LINE_HEIGHTS, clean_html
from review import chain, compliance, compliance_panel
from stats import pubstats

bp = Blueprint("editor", __name__, url_prefix="/editor")

# Dashboard filter values; "scheduled" is a published post with a future time.
STATUS_FILTERS = ("draft", "pending", "published", "scheduled")


# --- Helpers ------------------------------------------------------------------


def section_choices() -> list[SelectChoice]:
    """Sub-sections grouped under their channel; a channel without any is itself."""
    channels = db.session.scalars(
        sa.select(Section)
        .where(Section.parent_id.is_(None))
        .order_by(Section.position, Section.id)
        .options(selectinload(Section.children))
    ).all()
    choices = [SelectChoice(value="", label=_("Choose a section"))]
    for channel in channels:
        if channel.children:
            choices.extend(
                SelectChoice(value=child.id, label=child.name, optgroup=channel.name)
                for child in channel.children
            )
        else:
            choices.append(SelectChoice(value=channel.id, label=channel.name))
    return choices


def build_form(article: Article | None = None, **kwargs) -> ArticleForm:
    form = ArticleForm(**kwargs)
    form.section_id.choices = section_choices()
    if request.method == "GET":
        if article is None:
            form.author_name.data = current_user.default_byline
            form.version.data = ""
        else:
            # An edit of a published post waiting for review is what the
            # author goes on with; readers keep the approved text meanwhile.
            form.process(obj=article)
            pending = chain.pending_text(article)
            if pending is not None and article.status == Status.PUBLISHED:
                for key in articles.PENDING_FIELDS:
                    getattr(form, key).data = getattr(pending, key)
            form.section_id.data = article.section_id
            form.published_at.data = _local(article.published_at)
            form.cover_id.data = article.cover_id or ""
            form.version.data = str(article.version)
    return form


def _local(value):
    """Naive UTC from the database to naive site-local time for datetime-local."""
    if value is None:
        return None
    return to_user_timezone(value.replace(tzinfo=UTC)).replace(tzinfo=None)


def _cover(raw, article: Article | None) -> Upload | None:
    """The image raw names, if this user may put it on this post.

    An author may use their own uploads and the post's own images (a cover an
    editor chose stays when the author saves); another teacher's photo that
    belongs to no post is private to them until they publish it. Editors may
    use any image.
    """
    upload_id = parse_id(raw)
    upload = db.session.get(Upload, upload_id) if upload_id else None
    if upload is None or upload.kind != "image":
        return None
    if current_user.is_authenticated and current_user.can_review:
        return upload
    if current_user.is_authenticated and upload.uploaded_by_id == current_user.id:
        return upload
    if article is not None and (
        upload.article_id == article.id or upload.id == article.cover_id
    ):
        return upload
    return None


def _cover_id(raw, article: Article | None) -> int | None:
    """A cover must be an image the user may use; anything else is dropped."""
    upload = _cover(raw, article)
    return upload.id if upload else None


def changes_from_form(form: ArticleForm, article: Article | None = None) -> Changes:
    published_at = form.published_at.data
    return Changes(
        title=form.title.data,
        body_html=form.body_html.data or "",
        summary=form.summary.data,
        author_name=form.author_name.data or current_user.default_byline,
        source=form.source.data,
        section_id=form.section_id.data,
        cover_id=_cover_id(form.cover_id.data, article),
        published_at=to_utc(published_at) if published_at else None,
        pinned=form.pinned.data if current_user.can_review else None,
        photographer=form.photographer.data or "",
    )


def render_editor(
    form: ArticleForm,
    article: Article | None,
    status: int = 200,
    findings: list | None = None,
    **kw,
):
    # Whatever comes back to the page goes through the sanitizer first: a
    # re-rendered form must never echo submitted markup unfiltered.
    form.body_html.data = clean_html(form.body_html.data or "")
    user = current_user if current_user.is_authenticated else None
    cover = _cover(form.cover_id.data, article)
    return (
        render_template(
            "newsroom/edit.html",
            form=form,
            article=article,
            cover=cover,
            actions=articles.allowed_actions(user, article) if user else [],
            can_pin=bool(user and user.can_review),
            can_publish=bool(user and articles.may_publish(user, article)),
            needs_review=articles.needs_review(article),
            pending=chain.pending_text(article) if article else None,
            may_review=bool(user and article and chain.may_review(user, article)),
            level_names=chain.LEVEL_NAMES,
            can_delete=bool(user and article and articles.may_delete(user, article)),
            read_only=bool(
                user and article and not articles.may_edit_content(user, article)
            ),
            jodit_strings=jodit_strings(),
            font_sizes=FONT_SIZES_PX,
            line_heights=[f"{value:g}" for value in LINE_HEIGHTS],
            indent_step=INDENT_STEP_PX,
            findings=[compliance_panel.finding_json(f) for f in findings or []],
            **kw,
        ),
        status,
    )


def _json_body() -> dict:
    """The JSON object a fetch() call sent; anything else is a 400 in JSON."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(json_error(_("The request could not be understood."), 400))
    return data


def _done(message: str, endpoint: str, **values):
    """The end of a change outside the form: commit, say so, go on."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def _expected_version(raw) -> int:
    """The version the form was loaded with; unreadable means conflict-safe 0."""
    return parse_id(raw) or 0


def _after_save(result: str | None, article: Article):
    """Back to the editor, or, once a post has gone live, to its confirmation."""
    if result in ("publish", "bypass") and article.is_public:
        return redirect(url_for("editor.published", article_id=article.id))
    _flash_done(result, article)
    return redirect(url_for("editor.edit_article", article_id=article.id))


def _flash_done(result: str | None, article: Article) -> None:
    if result in ("publish", "bypass") and article.is_scheduled:
        flash(_("Scheduled: it will appear at the publish time."), "success")
    elif result == "submit":
        flash(
            _(
                "Submitted for review (%(levels)s levels). You will see here when "
                "it passes or comes back.",
                levels=article.review_levels,
            ),
            "success",
        )
        _flash_personal_data(article)
        if not chain.reviewer_ids(article, article.review_level):
            # A one-person site: nobody else may approve it (never oneself).
            flash(
                _(
                    "Nobody can review this post yet: only other editors or "
                    "admins, or the department heads and groups an admin names, "
                    "may. Ask an admin to name reviewers, or publish it without "
                    "review with a reason."
                ),
                "error",
            )
    elif result in ("publish", "bypass"):
        flash(_("Published."), "success")
    elif article.status == Status.PUBLISHED and chain.pending_text(article):
        flash(
            _(
                "Saved. Readers still see the approved text until your changes "
                "pass review: submit them when they are ready."
            ),
            "success",
        )
    elif result == "unpublish":
        flash(_("Unpublished: the post is a draft again."), "success")
    else:
        flash(_("Saved."), "success")


def _flash_personal_data(article: Article) -> None:
    """At submit, tell the teacher what the reviewer will have to justify."""
    findings = compliance.check_article(
        article, own_hosts=siteurl.own_hosts(), text=chain.review_text(article)
    )
    needing = compliance.needing_confirmation(findings)
    if needing:
        flash(
            _(
                "The post contains personal data (%(values)s): the reviewer must "
                "confirm with a reason that it may be published, or return the "
                "post. Remove it now if it should not be online.",
                values=_("; ").join(f.value for f in needing),
            ),
            "warning",
        )


def _localise_remote_images(form: ArticleForm, article_id: int | None):
    """Bring the body's images from other sites home (real saves only, never
    autosave); the form then holds the body that will be saved."""
    result = remote_images.localise_images(
        clean_html(form.body_html.data or ""),
        user_id=current_user.id,
        article_id=article_id,
    )
    if result.saved or result.failed:
        form.body_html.data = result.html
    return result


def _flash_remote_failures(result) -> None:
    if not result.failed:
        return
    names = "; ".join(
        _("%(name)s (%(reason)s)", name=name, reason=reason)
        for name, reason in result.failed
    )
    flash(
        _(
            "These images from other sites could not be copied to this site and "
            "were left out: %(names)s. The text was saved. Save the images on "
            "your computer and insert them with the image button.",
            names=names,
        ),
        "error",
    )


def _refused_message(error: Refused) -> str:
    reason = str(error)
    if reason in (Action.PUBLISH, "bypass"):
        return _(
            "Posts in this section are reviewed before they go online. Submit the "
            "post for review instead."
        )
    if reason == "reason":
        return _(
            "To publish without review, write the reason in the box next to the "
            "button. It is recorded in the review ledger."
        )
    if reason == Action.SUBMIT:
        return _("This post is already waiting for review.")
    if reason == Action.UNPUBLISH:
        return _("You may not unpublish this post.")
    if reason == "edit":
        return _("This post is published. Ask an editor to change it.")
    if reason == "empty":
        return _(
            "The post has no text, photo or attachment yet: write the body "
            "before you submit or publish it. Your text was kept."
        )
    if reason == "unexplained":
        return _(
            "This post's text online was never approved in the review ledger: "
            "it cannot come back online as it is. Unpublish it and submit it "
            "for review."
        )
    if reason == "restore_revision":
        return _("You may not restore an older version of this post.")
    return _("You are not allowed to do that.")


def _session_lost_response(form: ArticleForm, article: Article | None):
    """Re-show the submitted text when the session ended, without saving it."""
    login_url = url_for("auth.login")
    return render_editor(
        form,
        article,
        status=401 if not current_user.is_authenticated else 400,
        session_lost=True,
        login_url=login_url,
    )


# --- Compliance check (compliance.py) before submit and publish -----------------


def _compliance_refuses(article: Article, action: str) -> bool:
    """Check the saved text before submit and publish.

    When the check refuses, a message listing the findings is flashed and
    True is returned; the caller keeps the text saved without the action.
    A confirmed publish with personal data is recorded in the audit log.
    """
    if action not in (Action.SUBMIT, Action.PUBLISH):
        return False
    if action not in articles.allowed_actions(current_user, article):
        return False  # apply_action refuses it with its own message
    publishing = action == Action.PUBLISH
    reason = compliance_panel.confirmed_reason()
    findings = compliance.check_article(
        article, own_hosts=siteurl.own_hosts(), text=chain.review_text(article)
    )
    verdict = compliance.judge(findings, publishing=publishing, reason=reason)
    if verdict.ok:
        if publishing and compliance.needing_confirmation(findings):
            compliance_panel.record_confirmation(article, reason, findings)
        return False
    if verdict.blocked:
        terms = _("; ").join(
            _(
                "«%(term)s» (use «%(replacement)s»)",
                term=f.value,
                replacement=f.suggestion,
            )
            if f.suggestion
            else _("«%(term)s»", term=f.value)
            for f in verdict.blocked
        )
        if publishing:
            message = _(
                "Not published: the text contains words that may not be "
                "published: %(terms)s. Your text was saved; change these words "
                "and try again.",
                terms=terms,
            )
        else:
            message = _(
                "Not submitted: the text contains words that may not be "
                "published: %(terms)s. Your text was saved; change these words "
                "and try again.",
                terms=terms,
            )
    else:
        values = _("; ").join(f.value for f in verdict.unconfirmed)
        message = _(
            "Not published: the text contains personal data (%(values)s). Remove "
            "it, or tick the confirmation below the check and give a reason. "
            "Your text was saved.",
            values=values,
        )
    flash(message, "error")
    return True


def _live_edit_check(form: ArticleForm, article: Article, action: str):
    """Saving a live post where the edit goes straight online (nothing is
    reviewed there) publishes it: the text as submitted and every attachment
    (held ones too, which this save releases) are checked first. The verdict,
    or None when this save publishes nothing."""
    if action != Action.SAVE or article.status != Status.PUBLISHED:
        return None
    if not articles.may_edit_content(current_user, article):
        return None
    section_id = form.section_id.data or None
    if articles.holds_edit(current_user, article, action, section_id=section_id):
        return None  # the edit waits for review, which checks it
    findings = compliance.check_post(
        form.title.data or "",
        form.summary.data,
        clean_html(form.body_html.data or ""),
        compliance.attachment_texts(article.all_attachments),
        own_hosts=siteurl.own_hosts(),
    )
    return compliance.judge(
        findings, publishing=True, reason=compliance_panel.confirmed_reason()
    )


def _live_edit_refusal(verdict) -> str:
    if verdict.blocked:
        return _(
            "Not saved: the text contains words that may not be published: "
            "%(terms)s. Readers still see the previous text; change these words "
            "and save again.",
            terms=_("; ").join(f"«{f.value}»" for f in verdict.blocked),
        )
    return _(
        "Not saved: the text contains personal data (%(values)s), and this post "
        "is online. Remove it, or tick the confirmation below the check and give "
        "a reason. Readers still see the previous text.",
        values=_("; ").join(f.value for f in verdict.unconfirmed),
    )


def _refused_by_check(article: Article):
    """Keep the text (no status change) and show the findings next to it."""
    db.session.commit()
    return redirect(url_for("editor.edit_article", article_id=article.id, check=1))


@bp.post("/check")
@login_required
def check():
    """The findings for the editor's current form content (JSON, CSRF checked)."""
    data = _json_body()

    def text(key):
        value = data.get(key)
        return value if isinstance(value, str) else ""

    article_id = parse_id(data.get("article_id"))
    attachments = []
    if article_id:
        article = db.session.get(Article, article_id)
        if article is not None and can_edit(current_user, article):
            # The files as the editor lists them (held ones too), with their
            # text: what the reviewer and publishing will check.
            attachments = compliance.attachment_texts(article.all_attachments)
    findings = compliance.check_post(
        text("title"),
        text("summary"),
        text("body_html"),
        attachments,
        own_hosts=siteurl.own_hosts(),
    )
    return jsonify(findings=[compliance_panel.finding_json(f) for f in findings])


# --- Dashboard ----------------------------------------------------------------


@bp.get("/")
@login_required
def dashboard():
    now = utcnow()
    stmt = sa.select(Article).where(Article.deleted_at.is_(None))
    if not current_user.can_review:
        stmt = stmt.where(Article.created_by_id == current_user.id)
    status = request.args.get("status", "")
    if status == "scheduled":
        stmt = stmt.where(
            Article.status == Status.PUBLISHED, Article.published_at > now
        )
    elif status == "published":
        stmt = stmt.where(
            Article.status == Status.PUBLISHED,
            sa.or_(Article.published_at.is_(None), Article.published_at <= now),
        )
    elif status in (Status.DRAFT, Status.PENDING):
        stmt = stmt.where(Article.status == status)
    else:
        status = ""
    section_id = request.args.get("section", "")
    section_id = parse_id(section_id)
    section = db.session.get(Section, section_id) if section_id else None
    if section is not None:
        stmt = stmt.where(Article.section_id.in_(section.subtree_ids()))
    query = request.args.get("q", "").strip()[:100]
    if query:
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Article.title.ilike(f"%{escaped}%", escape="\\"))
    stmt = stmt.options(
        selectinload(Article.section), selectinload(Article.created_by)
    ).order_by(Article.updated_at.desc(), Article.id.desc())
    page = paginate(stmt)
    pending_count = None
    if current_user.can_review:
        pending_count = db.session.scalar(
            sa.select(sa.func.count(Article.id)).where(
                Article.status == Status.PENDING, Article.deleted_at.is_(None)
            )
        )
    return render_template(
        "newsroom/dashboard.html",
        page=page,
        status=status,
        section=section,
        query=query,
        sections=section_choices()[1:],
        pending_count=pending_count,
        waiting_for_me=len(chain.queue_for(current_user)),
        now=now,
        mine=pubstats.author_summary(current_user.id),
    )


# --- New and edit -------------------------------------------------------------


def login_keeping_text(view):
    """login_required for the editor page: a POST whose session has ended
    re-shows the submitted text with a login link instead of dropping it."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if current_user.is_authenticated:
            return view(**kwargs)
        if request.method == "GET":
            return current_app.login_manager.unauthorized()
        return _session_lost_response(build_form(), None)

    return wrapped


def _submitted_action() -> str:
    """The pressed button's action; anything unknown is a plain save."""
    action = request.form.get("action", Action.SAVE)
    return action if action in Action.ALL else Action.SAVE


@bp.route("/articles/new", methods=["GET", "POST"])
@login_keeping_text
def new_article():
    form = build_form()
    if request.method == "GET" or not form.validate_on_submit():
        return render_editor(form, None, status=200 if request.method == "GET" else 422)
    action = _submitted_action()
    submitted_body = form.body_html.data
    fetched = _localise_remote_images(form, None)
    article = articles.create_article(changes_from_form(form), current_user)
    if _compliance_refuses(article, action):
        _flash_remote_failures(fetched)
        return _refused_by_check(article)
    try:
        result = articles.apply_action(article, action, current_user, _bypass_reason())
    except Refused as error:
        db.session.rollback()
        storage.discard(fetched.saved)
        form.body_html.data = submitted_body
        form.form_errors.append(_refused_message(error))
        return render_editor(form, None, status=403)
    db.session.commit()
    _flash_remote_failures(fetched)
    return _after_save(result, article)


@bp.route("/articles/<int:article_id>/edit", methods=["GET", "POST"])
@login_keeping_text
def edit_article(article_id: int):
    article = get_article_or_404(article_id)
    form = build_form(article)
    if request.method == "GET":
        return _edit_page(form, article)
    if not form.validate_on_submit():
        return render_editor(form, article, status=422)
    action = _submitted_action()
    submitted_body = form.body_html.data
    fetched = (
        _localise_remote_images(form, article.id)
        if articles.may_edit_content(current_user, article)
        else remote_images.Result(html=submitted_body)
    )
    live_check = _live_edit_check(form, article, action)
    if live_check is not None and not live_check.ok:
        # Nothing is saved: readers keep the text they have, the form keeps
        # everything that was typed, the findings are beside it.
        db.session.rollback()
        storage.discard(fetched.saved)
        form.body_html.data = submitted_body
        form.form_errors.append(_live_edit_refusal(live_check))
        return render_editor(form, article, status=422, findings=live_check.findings)
    try:
        articles.save_article(
            article,
            changes_from_form(form, article),
            current_user,
            _expected_version(form.version.data),
            action,
        )
        if live_check is not None and compliance.needing_confirmation(
            live_check.findings
        ):
            compliance_panel.record_confirmation(
                article, compliance_panel.confirmed_reason(), live_check.findings
            )
        refused_by_check = _compliance_refuses(article, action)
        if not refused_by_check:
            result = articles.apply_action(
                article, action, current_user, _bypass_reason()
            )
    except (Conflict, Refused) as error:
        db.session.rollback()
        storage.discard(fetched.saved)
        form.body_html.data = submitted_body  # exactly what the teacher had
        article = db.session.get(Article, article_id)
        if isinstance(error, Conflict):
            return render_editor(form, article, status=409, conflict=True)
        form.form_errors.append(_refused_message(error))
        return render_editor(form, article, status=403)
    _flash_remote_failures(fetched)
    if refused_by_check:
        return _refused_by_check(article)
    db.session.commit()
    return _after_save(result, article)


def _bypass_reason() -> str:
    """Why an editor publishes past the review chain (the ledger keeps it)."""
    return request.form.get("bypass_reason", "")


def _edit_page(form: ArticleForm, article: Article):
    """The edit page, offering the user's working copy if it has unsaved text.

    With ?restore=1 the form shows the working copy instead of the saved post.
    It then carries the current version: the page has said that someone else
    saved meanwhile, and their text stays in the revisions.
    """
    if request.args.get("check") == "1":  # back from a refused submit/publish
        findings = compliance.check_article(article, own_hosts=siteurl.own_hosts())
        return render_editor(form, article, findings=findings)
    draft = articles.working_copy(article.id, current_user.id)
    if draft is None or not articles.working_copy_differs(draft, article):
        return render_editor(form, article)
    stale = articles.is_stale(draft, article)
    if request.args.get("restore") != "1":
        return render_editor(form, article, working_copy=draft, stale=stale)
    for key in articles.CONTENT_FIELDS:
        getattr(form, key).data = getattr(draft, key)
    return render_editor(form, article, restored=draft, stale=stale)


@bp.get("/articles/<int:article_id>/published")
@login_required
def published(article_id: int):
    """The confirmation after 发布: the live article's address to open or share."""
    article = get_article_or_404(article_id)
    if not article.is_public:
        return redirect(url_for("editor.edit_article", article_id=article.id))
    return render_template(
        "newsroom/published.html",
        article=article,
        live_url=siteurl.absolute_url("public.article", article_id=article.id),
        # 站群: the bureau's editors send what they publish to its schools.
        bureau_sends=sites.is_bureau() and current_user.can_review,
    )


@bp.post("/articles/<int:article_id>/working-copy/discard")
@login_required
def discard_working_copy(article_id: int):
    article = get_article_or_404(article_id)
    articles.discard_working_copy(article.id, current_user.id)
    return _done(
        _("Your unsaved changes were discarded."),
        "editor.edit_article",
        article_id=article.id,
    )


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    """A stale token (often an expired session) must not throw away the text."""
    if not wants_json() and request.endpoint in (
        "editor.new_article",
        "editor.edit_article",
    ):
        article = None
        article_id = (request.view_args or {}).get("article_id")
        if article_id and current_user.is_authenticated:
            article = db.session.get(Article, article_id)
            if article is not None and not can_edit(current_user, article):
                article = None
        form = build_form(meta={"csrf": False})
        form.validate()  # fills .data from the submitted values; nothing is saved
        for field in form:
            field.errors = []
        return _session_lost_response(form, article)
    return errors.stale_form()


# --- Autosave (JSON, called by static/js/editor.js) -----------------------------


class InvalidDraft(Exception):
    """Autosaved text the article form would refuse; str() is the message."""


# Text fields an autosave may send; they keep the form's filters and limits.
AUTOSAVE_TEXT = ("title", "author_name", "source", "summary")


def _autosave_fields(data: dict, article: Article | None = None) -> dict:
    """The fields an autosave may change, checked by ArticleForm's own
    validators so its limits are the form's. A draft may leave any of them
    empty; what is typed must be valid, or InvalidDraft says why."""
    sent = {key: data[key] for key in AUTOSAVE_TEXT if isinstance(data.get(key), str)}
    form = ArticleForm(formdata=MultiDict(sent), meta={"csrf": False})
    fields = {}
    for key in sent:
        field = form[key]
        if field.data and not field.validate(form):
            raise InvalidDraft(
                _("%(field)s: %(error)s", field=field.label.text, error=field.errors[0])
            )
        fields[key] = field.data
    if isinstance(data.get("body_html"), str):
        fields["body_html"] = data["body_html"]
    section_id = parse_id(data.get("section_id"))
    if section_id and db.session.get(Section, section_id):
        fields["section_id"] = section_id
    if "cover_id" in data:
        fields["cover_id"] = _cover_id(data.get("cover_id"), article)
    return fields


def _saved_json(article: Article, status: int = 200, draft=None):
    """What an autosave answers: when it saved, and where the next one goes.

    With the working copy of a published post (draft), readers see no change
    yet, and the version echoes the one the page was loaded with: handing out
    the current one would let a later real save overwrite someone else's edit.
    """
    saved_at = article.updated_at if draft is None else draft.saved_at
    time = format_time(saved_at.replace(tzinfo=UTC), "HH:mm")
    extra = {}
    if draft is None:
        message = _("Saved at %(time)s", time=time)
    else:
        message = _(
            "Saved at %(time)s. Readers see the changes after you press Update.",
            time=time,
        )
        extra["working_copy"] = True
    return jsonify(
        id=article.id,
        version=article.version if draft is None else draft.base_version,
        status=article.status,
        saved=True,
        message=message,
        edit_url=url_for("editor.edit_article", article_id=article.id),
        autosave_url=url_for("editor.autosave", article_id=article.id),
        **extra,
    ), status


@bp.post("/articles/autosave")
@login_required
def autosave_new():
    """Create the one draft a new post autosaves into; later saves use its id."""
    data = _json_body()
    try:
        fields = _autosave_fields(data, None)
    except InvalidDraft as error:
        return json_error(str(error), 422)
    if "section_id" not in fields:
        first = db.session.scalar(
            sa.select(Section.id).order_by(Section.parent_id.is_not(None), Section.id)
        )
        if first is None:
            return json_error(_("Ask an administrator to create a section."), 422)
        fields["section_id"] = first
    article = articles.create_article(
        Changes(
            title=fields.get("title", ""),
            body_html=fields.get("body_html", ""),
            summary=fields.get("summary"),
            author_name=fields.get("author_name") or current_user.default_byline,
            source=fields.get("source"),
            section_id=fields["section_id"],
            cover_id=fields.get("cover_id"),
        ),
        current_user,
    )
    db.session.commit()
    return _saved_json(article, 201)


@bp.post("/articles/<int:article_id>/autosave")
@login_required
def autosave(article_id: int):
    article = get_article_or_404(article_id)
    data = _json_body()
    try:
        draft = articles.autosave_article(
            article,
            _autosave_fields(data, article),
            current_user,
            _expected_version(data.get("version")),
        )
    except Conflict:
        return json_error(
            _(
                "Someone else saved this post meanwhile. Your text was not saved "
                "on the server: copy it, then open the current version."
            ),
            409,
            conflict=True,
            edit_url=url_for("editor.edit_article", article_id=article_id),
        )
    except InvalidDraft as error:
        return json_error(str(error), 422)
    except Refused as error:
        return json_error(_refused_message(error), 403)
    db.session.commit()
    return _saved_json(article, draft=draft)


@bp.get("/csrf-token")
@login_required
def csrf_token():
    """A fresh token after logging in again in another window."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Preview ------------------------------------------------------------------


@bp.get("/articles/<int:article_id>/preview")
@login_required
def preview_article(article_id: int):
    """The reader's article page for any status; counts no view."""
    article = get_article_or_404(article_id)
    return render_template(
        "newsroom/preview.html",
        article=article,
        previous=None,
        following=None,
        description=article.summary or "",
        canonical=siteurl.absolute_url("public.article", article_id=article.id),
        og_image=None,
        active_channel_id=article.section.channel.id,
        preview=True,
    )


# --- Revisions ----------------------------------------------------------------


def _revision_or_404(article: Article, revision_id: int) -> Revision:
    revision = db.get_or_404(Revision, revision_id)
    if revision.article_id != article.id:
        abort(404)
    return revision


@bp.get("/articles/<int:article_id>/revisions")
@reviewer_required
def revisions(article_id: int):
    article = get_article_or_404(article_id)
    return render_template("newsroom/revisions.html", article=article)


@bp.get("/articles/<int:article_id>/revisions/<int:revision_id>")
@reviewer_required
def revision(article_id: int, revision_id: int):
    article = get_article_or_404(article_id)
    return render_template(
        "newsroom/revision.html",
        article=article,
        revision=_revision_or_404(article, revision_id),
    )


@bp.post("/articles/<int:article_id>/revisions/<int:revision_id>/restore")
@reviewer_required
def restore_revision(article_id: int, revision_id: int):
    article = get_article_or_404(article_id)
    revision = _revision_or_404(article, revision_id)
    try:
        articles.restore_revision(article, revision, current_user)
    except Conflict:
        flash(_("Someone saved the post meanwhile. Try again."), "error")
        return redirect(url_for("editor.revisions", article_id=article_id))
    except Refused as error:
        db.session.rollback()
        flash(_refused_message(error), "error")
        return redirect(url_for("editor.revisions", article_id=article_id))
    if chain.pending_text(article) is not None and chain.in_review(article):
        message = _(
            "The older version was restored as an edit waiting for review: "
            "readers keep the current text until it is approved."
        )
    else:
        message = _("The older version was restored.")
    return _done(message, "editor.edit_article", article_id=article_id)


# --- Trash --------------------------------------------------------------------


@bp.post("/articles/<int:article_id>/delete")
@login_required
def delete_article(article_id: int):
    article = get_article_or_404(article_id)
    try:
        articles.trash(article, current_user)
    except Refused:
        abort(403)
    return _done(_("Moved to the trash."), "editor.dashboard")


@bp.get("/trash")
@reviewer_required
def trash():
    stmt = (
        sa.select(Article)
        .where(Article.deleted_at.is_not(None))
        .options(selectinload(Article.section), selectinload(Article.created_by))
        .order_by(Article.deleted_at.desc(), Article.id.desc())
    )
    page = paginate(stmt)
    return render_template("newsroom/trash.html", page=page)


@bp.post("/articles/<int:article_id>/restore")
@reviewer_required
def restore_article(article_id: int):
    article = get_article_or_404(article_id, trashed=True)
    try:
        articles.restore_from_trash(article, current_user)
    except Refused as error:
        flash(_refused_message(error), "error")
        return redirect(url_for("editor.trash"))
    return _done(_("Restored from the trash."), "editor.trash")


def _confirmed() -> bool:
    if request.form.get("confirm") == "yes":
        return True
    flash(_("Tick the box to confirm that it cannot be undone."), "error")
    return False


@bp.post("/articles/<int:article_id>/purge")
@reviewer_required
def purge_article(article_id: int):
    article = get_article_or_404(article_id, trashed=True)
    if _confirmed():
        articles.delete_forever(article, current_user)
        db.session.commit()
        flash(_("Deleted forever."), "success")
    return redirect(url_for("editor.trash"))


@bp.post("/trash/empty")
@reviewer_required
def empty_trash():
    if _confirmed():
        trashed = db.session.scalars(
            sa.select(Article).where(Article.deleted_at.is_not(None))
        ).all()
        for article in trashed:
            articles.delete_forever(article, current_user)
        db.session.commit()
        flash(_("The trash is empty."), "success")
    return redirect(url_for("editor.trash"))
