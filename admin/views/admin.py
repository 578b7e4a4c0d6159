"""Blueprint "admin", /admin: users, sections, site settings, backups."""

from datetime import UTC, datetime
from functools import wraps

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from admin import accounts, duties, passwords
from admin import dormant as dormant_accounts
from admin.sessions import end_all, relogin, rotate_session_token
from admin.settings import LogoError, drop_fixed_site_url, save_settings
from core import audit, sites
from core.errors import wants_json
from core.i18n import display_size
from core.permissions import admin_required, security_admin_required
from forms import (
    ConfirmForm,
    DepartmentForm,
    PasswordResetForm,
    SectionDeleteForm,
    SectionForm,
    SettingsForm,
    UserCreateForm,
    UserEditForm,
)
from models import (
    Article,
    Department,
    PendingText,
    Section,
    User,
    db,
    get_settings,
    parse_id,
)
from newsroom import bureaupost
from operations import backup
from review import chain

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _system(user) -> bool:
    return user.is_admin


def _security(user) -> bool:
    return user.is_security_admin


# The admin pages in the order of their tabs, and who each opens for: each
# user is shown only the pages their roles open (admin/duties.py).
ADMIN_PAGES = (
    ("admin.users", _l("Users"), lambda u: u.is_admin or u.is_security_admin),
    ("admin.departments", _l("Departments"), _system),
    ("admin.sections", _l("Sections"), _system),
    ("admin.settings", _l("Site settings"), _system),
    ("review_admin.settings", _l("Review chain"), _system),
    ("security.page", _l("Password and login"), _security),
    ("wordlist.words", _l("Word list"), _security),
    (
        "admin.backups",
        _l("Backups"),
        lambda u: _system(u) and sites.runs_installation(),
    ),
    ("audit.log", _l("Audit log"), lambda u: u.is_audit_admin),
    ("selfcheck.page", _l("Self-assessment"), lambda u: bool(u.duties)),
    ("stats.overview", _l("Statistics"), lambda u: u.can_review),
    ("ledger.page", _l("Review ledger"), _system),
    ("notify_admin.page", _l("Notifications"), _system),
    ("bureau.index", _l("Schools"), lambda u: _system(u) and sites.is_bureau()),
)


@bp.app_template_global()
def admin_pages() -> list[tuple[str, str]]:
    """(endpoint, label) of the admin pages the current user may open."""
    if not current_user.is_authenticated:
        return []
    return [
        (endpoint, label)
        for endpoint, label, opens in ADMIN_PAGES
        if endpoint in current_app.view_functions and opens(current_user)
    ]


@bp.app_template_global()
def admin_home() -> str | None:
    """Where the workspace menu's «Administration» leads: the first admin page
    the user's roles open (statistics has a link of its own)."""
    for endpoint, _label in admin_pages():
        if endpoint != "stats.overview":
            return url_for(endpoint)
    return None


@bp.before_app_request
def _managers_manage_only():
    # An account there only for a management role (Role.MANAGER) writes no
    # posts (最小权限): the workspace under /editor/ (posts, uploads, the
    # review queue) sends it to its own admin page; fetch() and forms are
    # refused.
    if not request.path.startswith("/editor/") or not current_user.is_authenticated:
        return None
    if current_user.writes_posts:
        return None
    home = admin_home()
    if request.method == "GET" and home and not wants_json():
        return redirect(home)
    abort(403)


@bp.after_app_request
def _audit_admin_lands_on_the_log(response):
    # An account that is there only to read the audit log starts there after
    # logging in, instead of on a dashboard of posts it never writes.
    if (
        request.blueprint == "auth"
        and request.method == "POST"
        and response.status_code == 302
        and response.location == url_for("editor.dashboard")
        and current_user.is_authenticated
        and (duties.only_audits(current_user) or not current_user.writes_posts)
    ):
        if duties.only_audits(current_user):
            response.location = url_for("audit.log")
        else:
            response.location = admin_home() or response.location
    return response


# --- Users -------------------------------------------------------------------


def accounts_required(view):
    """The users pages: the system administrator's, and the security
    administrator's for the accounts holding the security or audit role."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not (current_user.is_admin or current_user.is_security_admin):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


def _managed_user_or_403(user_id: int) -> User:
    user = _user_or_404(user_id)
    if not duties.may_manage(current_user, user):
        abort(403)
    return user


def _department_choices():
    departments = db.session.scalars(
        sa.select(Department).order_by(Department.position, Department.name)
    ).all()
    return [(0, _("(no department)"))] + [(d.id, d.name) for d in departments]


def _create_form() -> UserCreateForm:
    form = UserCreateForm()
    form.department_id.choices = _department_choices()
    return form


def _render_users(form: UserCreateForm | None = None, status: int = 200):
    users = db.session.scalars(
        sa.select(User).order_by(User.username).options(selectinload(User.department))
    ).all()
    dormant = dormant_accounts.dormant_users()
    refusals = {
        user.id: duties.deactivation_problem(current_user, user) for user in dormant
    }
    return render_template(
        "admin/users.html",
        users=users,
        form=form if current_user.is_admin else None,
        dormant=dormant,
        dormant_days=dormant_accounts.days(),
        refusals=refusals,
        can_disable=[u for u in dormant if refusals[u.id] is None],
        confirm_form=ConfirmForm(),
        single_admin=duties.single_admin(),
        forbidden=duties.forbidden_holders(),
        holders={duty: duties.active_holders(duty) for duty in duties.LABELS},
        duty_labels=duties.LABELS,
        password_hint=accounts.password_hint(),
    ), status


@bp.get("/users")
@accounts_required
def users():
    if get_settings()["dormant_auto_disable"] == "1":
        # Turned on: nobody should meet a dormant account still active here.
        disabled = dormant_accounts.disable_all(None)
        if disabled:
            db.session.commit()
    return _render_users(_create_form())


@bp.post("/users")
@admin_required
def create_user():
    form = _create_form()
    if not form.validate_on_submit():
        return _render_users(form)
    problem = accounts.username_problem(form.username.data)
    if problem:
        form.username.errors.append(problem)
    form.password.errors.extend(
        passwords.check(form.password.data, username=form.username.data)
    )
    if form.username.errors or form.password.errors:
        return _render_users(form)
    user = accounts.new_account(
        form.username.data,
        form.display_name.data,
        form.password.data,
        role=form.role.data,
        byline=form.byline.data or "",
        email=form.email.data or None,
        department_id=form.department_id.data or None,
    )
    department = db.session.get(Department, form.department_id.data or 0)
    return audit.finish_change(
        "user_created",
        f"{user.username} ({user.role}"
        + (f", {department.name})" if department else ")"),
        _(
            "Created the account %(name)s. Give them the initial password: they "
            "choose their own when they first log in.",
            name=user.username,
        ),
        url_for("admin.users"),
    )


def _user_form(user: User | None = None) -> UserEditForm:
    form = UserEditForm(obj=user) if user is not None else UserEditForm()
    form.department_id.choices = _department_choices()
    if user is not None:
        form.department_id.data = user.department_id or 0
    return form


def _render_user(user: User, edit_form=None, reset_form=None, status=200):
    return render_template(
        "admin/user.html",
        user=user,
        edit_form=edit_form or _user_form(user),
        reset_form=reset_form or PasswordResetForm(),
        confirm_form=ConfirmForm(),
        manages=duties.may_manage(current_user, user),
        deactivation_problem=duties.deactivation_problem(current_user, user),
        duty_labels=duties.LABELS,
        guarded=duties.GUARDED,
        password_hint=accounts.password_hint(),
        elsewhere=accounts.login_elsewhere(user),
    ), status


@bp.get("/users/<int:user_id>")
@accounts_required
def user(user_id):
    return _render_user(_user_or_404(user_id))


@bp.post("/users/<int:user_id>")
@accounts_required
def update_user(user_id):
    user = _managed_user_or_403(user_id)
    form = _user_form()
    if not form.validate_on_submit():
        return _render_user(user, edit_form=form)
    problem = duties.role_problem(current_user, user, form.role.data)
    if problem:
        flash(problem, "error")
        return redirect(url_for("admin.user", user_id=user.id))
    if form.role.data != user.role:
        audit.record("role_changed", f"{user.username}: {user.role} → {form.role.data}")
        user.role = form.role.data
    if (form.display_name.data, form.byline.data or "") != (
        user.display_name,
        user.byline,
    ):
        audit.record("user_updated", user.username)
        user.display_name = form.display_name.data
        user.byline = form.byline.data or ""
    if (form.email.data or None) != user.email:
        audit.record("user_updated", f"{user.username}: e-mail")
        user.email = form.email.data or None
    department_id = form.department_id.data or None
    if department_id != user.department_id:
        department = db.session.get(Department, department_id or 0)
        audit.record(
            "department_assigned",
            f"{user.username} → {department.name if department else '-'}",
        )
        user.department_id = department_id
    db.session.commit()
    flash(_("Saved the account %(name)s.", name=user.username), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/duties")
@security_admin_required
def update_duty(user_id):
    """Grant or remove the security or audit role (the security
    administrator's; the system role is the role «Administrator»)."""
    user = _user_or_404(user_id)
    duty = request.form.get("duty")
    if not ConfirmForm().validate_on_submit() or duty not in duties.GUARDED:
        abort(400)
    on = request.form.get("on") == "1"
    problem = duties.set_duty(current_user, user, duty, on)
    if problem:
        flash(problem, "error")
        return redirect(url_for("admin.user", user_id=user.id) + "#duties")
    db.session.commit()
    message = (
        _("%(name)s is now %(role)s.", name=user.username, role=duties.LABELS[duty])
        if on
        else _(
            "%(name)s is no longer %(role)s.",
            name=user.username,
            role=duties.LABELS[duty],
        )
    )
    flash(message, "success")
    if user.id == current_user.id and not current_user.is_security_admin:
        return redirect(url_for("editor.dashboard"))
    return redirect(url_for("admin.user", user_id=user.id) + "#duties")


@bp.post("/duties/single")
@security_admin_required
def update_single_admin():
    """单人模式 on or off: turning it off is refused while an account holds
    roles only it allows together."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    on = request.form.get("on") == "1"
    problem = duties.set_single_admin(on)
    if problem:
        flash(problem, "error")
    else:
        db.session.commit()
        flash(
            _("Single administrator mode is on.")
            if on
            else _("Single administrator mode is off."),
            "success",
        )
    return redirect(url_for("admin.users") + "#duties")


@bp.post("/users/<int:user_id>/password")
@accounts_required
def reset_password(user_id):
    user = _managed_user_or_403(user_id)
    elsewhere = accounts.login_elsewhere(user)
    if elsewhere:
        flash(elsewhere, "error")
        return redirect(url_for("admin.user", user_id=user.id))
    form = PasswordResetForm()
    if not form.validate_on_submit():
        return _render_user(user, reset_form=form)
    generated = None
    if form.generate.data:
        generated = accounts.generated_password(user)
        password = generated
    elif form.new_password.data:
        password = form.new_password.data
        form.new_password.errors.extend(passwords.check(password, user))
        if form.new_password.errors:
            return _render_user(user, reset_form=form)
    else:
        form.new_password.errors.append(
            _("Type a new password, or generate one instead.")
        )
        return _render_user(user, reset_form=form)
    own = user.id == current_user.id
    # Someone else's new password is only known to them once they choose it.
    passwords.change(user, password, by_admin=not own)
    rotate_session_token(user)
    audit.record("password_reset", user.username)
    db.session.commit()
    if generated:
        # Shown once on the next page and never stored in clear text.
        flash(
            _(
                "New password for %(name)s: %(password)s — note it now, "
                "it will not be shown again.",
                name=user.username,
                password=generated,
            ),
            "secret",
        )
    else:
        flash(_("The password of %(name)s was changed.", name=user.username), "success")
    if own:
        # The admin reset their own password: keep this session alive.
        relogin(user)
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/sessions/end")
@accounts_required
def end_sessions(user_id):
    """Log the user out on every device: a lost phone, a shared PC left open."""
    user = _managed_user_or_403(user_id)
    if user.is_member and user.id != current_user.id:
        # Their login is another school's: end their sessions here only.
        end_all(user, "admin", everywhere=False)
    else:
        rotate_session_token(user)
    audit.record("sessions_ended", user.username)
    db.session.commit()
    if user.id == current_user.id:
        relogin(user)
        flash(_("Your sessions on other devices have been ended."), "success")
    else:
        flash(
            _("%(name)s has been logged out on every device.", name=user.username),
            "success",
        )
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/deactivate")
@accounts_required
def deactivate_user(user_id):
    user = _managed_user_or_403(user_id)
    problem = duties.deactivation_problem(current_user, user)
    back = request.form.get("back") == "users"
    if problem:
        flash(problem, "error")
    elif user.active:
        accounts.deactivate(user)
        db.session.commit()
        flash(_("Deactivated %(name)s.", name=user.username), "success")
    if back:
        return redirect(url_for("admin.users") + "#dormant")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@accounts_required
def reactivate_user(user_id):
    user = _managed_user_or_403(user_id)
    if not user.active:
        user.active = True
        audit.record("user_reactivated", user.username)
        db.session.commit()
        flash(_("Reactivated %(name)s.", name=user.username), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/dormant/deactivate")
@accounts_required
def deactivate_dormant():
    """«全部停用»: every dormant account this administrator may deactivate."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    disabled = dormant_accounts.disable_all(current_user)
    db.session.commit()
    flash(
        ngettext(
            "Deactivated %(num)d dormant account.",
            "Deactivated %(num)d dormant accounts.",
            len(disabled),
        ),
        "success",
    )
    return redirect(url_for("admin.users") + "#dormant")


# --- Departments -------------------------------------------------------------


def _render_departments(form: DepartmentForm, status: int = 200, typed=None):
    departments = db.session.scalars(
        sa.select(Department)
        .order_by(Department.position, Department.name)
        .options(selectinload(Department.heads))
    ).all()
    members = dict(
        db.session.execute(
            sa.select(User.department_id, sa.func.count())
            .where(User.department_id.is_not(None))
            .group_by(User.department_id)
        ).all()
    )
    return render_template(
        "admin/departments.html",
        departments=departments,
        members=members,
        form=form,
        delete_form=ConfirmForm(),
        typed=typed or {},  # {department id: its form as typed, with errors}
    ), status


def _department_name_taken(name: str, department_id: int | None = None) -> bool:
    query = sa.select(Department.id).where(Department.name == name)
    if department_id:
        query = query.where(Department.id != department_id)
    return db.session.scalar(query) is not None


@bp.get("/departments")
@admin_required
def departments():
    return _render_departments(DepartmentForm())


@bp.post("/departments")
@admin_required
def create_department():
    form = DepartmentForm()
    if not form.validate_on_submit():
        return _render_departments(form, 400)
    if _department_name_taken(form.name.data):
        form.name.errors.append(_("There is already a department of this name."))
        return _render_departments(form, 400)
    position = form.position.data
    if position is None:
        last = db.session.scalar(sa.select(sa.func.max(Department.position)))
        position = 0 if last is None else last + 1
    department = Department(
        name=form.name.data, position=position, robot_url=form.robot_url.data or ""
    )
    db.session.add(department)
    return audit.finish_change(
        "department_created",
        department.name,
        _("Created the department %(name)s.", name=department.name),
        url_for("admin.departments"),
    )


@bp.post("/departments/<int:department_id>")
@admin_required
def update_department(department_id):
    department = db.get_or_404(Department, department_id)
    form = DepartmentForm(prefix=f"d{department.id}")
    error = None
    if not form.validate_on_submit():
        error = next(iter(form.errors.values()))[0]
    elif _department_name_taken(form.name.data, department.id):
        error = _("There is already a department of this name.")
    if error:
        flash(
            _("%(name)s was not saved: %(error)s", name=department.name, error=error),
            "error",
        )
        # Shown again as typed: a long robot address is not retyped lightly.
        return _render_departments(DepartmentForm(), 400, {department.id: form})
    old = department.name
    department.name = form.name.data
    department.robot_url = form.robot_url.data or ""
    if form.position.data is not None:
        department.position = form.position.data
    return audit.finish_change(
        "department_updated",
        f"{old} → {department.name}",
        _("Saved the department %(name)s.", name=department.name),
        url_for("admin.departments"),
    )


@bp.post("/departments/<int:department_id>/delete")
@admin_required
def delete_department(department_id):
    department = db.get_or_404(Department, department_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    members = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.department_id == department.id)
    )
    if members:
        flash(
            _(
                "%(name)s still has %(count)d members. Move them to another "
                "department first (on each user's page).",
                name=department.name,
                count=members,
            ),
            "error",
        )
        return redirect(url_for("admin.departments"))
    name = department.name
    db.session.delete(department)
    return audit.finish_change(
        "department_deleted",
        name,
        _("Deleted the department %(name)s.", name=name),
        url_for("admin.departments"),
    )


# --- Sections ----------------------------------------------------------------


def _channels(exclude_id: int | None = None) -> list[Section]:
    return db.session.scalars(
        sa.select(Section)
        .where(Section.parent_id.is_(None), Section.id != (exclude_id or 0))
        .order_by(Section.position, Section.id)
    ).all()


def _parent_choices(exclude_id: int | None = None):
    choices = [(0, _("None: this is a channel in the navigation bar"))]
    choices += [(c.id, c.name) for c in _channels(exclude_id)]
    return choices


def _post_counts() -> dict[int, int]:
    # Trashed posts count too: deleting their section would orphan them.
    rows = db.session.execute(
        sa.select(Article.section_id, sa.func.count(Article.id)).group_by(
            Article.section_id
        )
    )
    return dict(rows.all())


def _section_label(section: Section) -> str:
    if section.parent:
        return f"{section.parent.name} › {section.name}"
    return section.name


def _slug_taken(slug: str, section_id: int | None = None) -> bool:
    query = sa.select(Section.id).where(Section.slug == slug)
    if section_id:
        query = query.where(Section.id != section_id)
    return db.session.scalar(query) is not None


def _siblings_of(parent_id: int | None):
    """SQL condition for the sections under parent_id (channels when None)."""
    if parent_id is None:
        return Section.parent_id.is_(None)
    return Section.parent_id == parent_id


def _next_position(parent_id: int | None) -> int:
    last = db.session.scalar(
        sa.select(sa.func.max(Section.position)).where(_siblings_of(parent_id))
    )
    return 0 if last is None else last + 1


def _check_section_form(form: SectionForm, section: Section | None) -> bool:
    """Validate uniqueness and the two-level tree rules; add errors to the form."""
    ok = True
    if _slug_taken(form.slug.data, section.id if section else None):
        form.slug.errors.append(_("Another section already uses this address."))
        ok = False
    parent_id = form.parent_id.data or None
    if parent_id and section is not None:
        if parent_id == section.id:
            form.parent_id.errors.append(_("A section cannot be inside itself."))
            ok = False
        elif section.children:
            form.parent_id.errors.append(
                _(
                    "This channel has sub-sections, so it cannot become a "
                    "sub-section. Move its sub-sections first."
                )
            )
            ok = False
    if parent_id:
        parent = db.session.get(Section, parent_id)
        if parent is None or parent.parent_id is not None:
            form.parent_id.errors.append(_("Choose a channel."))
            ok = False
    return ok


def _set_review_levels(section: Section, form: SectionForm) -> None:
    """A channel's own review levels, when its form offered them."""
    if section.parent_id is None and form.review_levels.raw_data:
        change = chain.channel_change(section, form.review_levels.data)
        if change:
            audit.record("review_channel_changed", change)


def _render_sections(form: SectionForm):
    channels = _channels()
    return render_template(
        "admin/sections.html",
        channels=channels,
        form=form,
        counts=_post_counts(),
    )


def _new_section_form() -> SectionForm:
    form = SectionForm()
    form.parent_id.choices = _parent_choices()
    return form


@bp.get("/sections")
@admin_required
def sections():
    form = _new_section_form()
    parent = request.args.get("parent", type=int)
    if parent and not form.is_submitted():
        form.parent_id.data = parent
    return _render_sections(form)


@bp.post("/sections")
@admin_required
def create_section():
    form = _new_section_form()
    if form.validate_on_submit() and _check_section_form(form, None):
        parent_id = form.parent_id.data or None
        position = form.position.data
        section = Section(
            name=form.name.data,
            slug=form.slug.data,
            parent_id=parent_id,
            position=_next_position(parent_id) if position is None else position,
            update_days=form.update_days.data,
        )
        db.session.add(section)
        return audit.finish_change(
            "section_created",
            f"{section.name} ({section.slug})",
            _("Created the section %(name)s.", name=section.name),
            url_for("admin.sections"),
        )
    return _render_sections(form)


def _delete_form(section: Section) -> SectionDeleteForm:
    form = SectionDeleteForm()
    others = db.session.scalars(
        sa.select(Section).where(Section.id != section.id).order_by(Section.name)
    ).all()
    form.target_id.choices = [(0, _("(do not move: only delete an empty section)"))]
    form.target_id.choices += sorted(
        ((s.id, _section_label(s)) for s in others), key=lambda c: c[1]
    )
    return form


def _render_section(section, form=None, delete_form=None):
    if form is None:
        form = SectionForm(obj=section)
        form.parent_id.data = section.parent_id or 0
    form.parent_id.choices = _parent_choices(exclude_id=section.id)
    return render_template(
        "admin/section.html",
        section=section,
        form=form,
        delete_form=delete_form or _delete_form(section),
        post_count=_post_counts().get(section.id, 0),
    )


@bp.get("/sections/<int:section_id>")
@admin_required
def section(section_id):
    return _render_section(db.get_or_404(Section, section_id))


@bp.post("/sections/<int:section_id>")
@admin_required
def update_section(section_id):
    section = db.get_or_404(Section, section_id)
    form = SectionForm()
    form.parent_id.choices = _parent_choices(exclude_id=section.id)
    if not (form.validate_on_submit() and _check_section_form(form, section)):
        return _render_section(section, form=form)
    parent_id = form.parent_id.data or None
    if parent_id != section.parent_id and form.position.data == section.position:
        # Moved to another channel: put it last there unless a position was set.
        section.position = _next_position(parent_id)
    elif form.position.data is not None:
        section.position = form.position.data
    section.parent_id = parent_id
    section.name = form.name.data
    section.slug = form.slug.data
    if form.update_days.raw_data:
        section.update_days = form.update_days.data
    _set_review_levels(section, form)
    return audit.finish_change(
        "section_updated",
        f"{section.name} ({section.slug})",
        _("Saved the section %(name)s.", name=section.name),
        url_for("admin.sections"),
    )


@bp.post("/sections/<int:section_id>/move")
@admin_required
def move_section(section_id):
    section = db.get_or_404(Section, section_id)
    step = {"up": -1, "down": 1}.get(request.form.get("direction"))
    if step is None:
        flash(_("Choose up or down."), "error")
        return redirect(url_for("admin.sections"))
    siblings = db.session.scalars(
        sa.select(Section)
        .where(_siblings_of(section.parent_id))
        .order_by(Section.position, Section.id)
    ).all()
    index = siblings.index(section)
    other = index + step
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
        # Renumber so equal positions (e.g. all 0) still reorder predictably.
        for position, sibling in enumerate(siblings):
            sibling.position = position
        audit.record("section_moved", section.name)
        db.session.commit()
    return redirect(url_for("admin.sections") + f"#section-{section.id}")


@bp.post("/sections/<int:section_id>/delete")
@admin_required
def delete_section(section_id):
    section = db.get_or_404(Section, section_id)
    form = _delete_form(section)
    if not form.validate_on_submit():
        return _render_section(section, delete_form=form)
    back = url_for("admin.section", section_id=section.id)
    if section.children:
        flash(
            _(
                "%(name)s has sub-sections. Move or delete them first.",
                name=section.name,
            ),
            "error",
        )
        return redirect(back)
    count = _post_counts().get(section.id, 0)
    if count:
        target = db.session.get(Section, form.target_id.data or 0)
        if target is None:
            flash(
                _(
                    "%(name)s still has %(count)d posts (trashed ones included). "
                    "Choose a section to move them to.",
                    name=section.name,
                    count=count,
                ),
                "error",
            )
            return redirect(back)
        _move_posts(section, target)
        audit.record("posts_moved", f"{count}: {section.name} → {target.name}")
    name = section.name
    db.session.delete(section)
    return audit.finish_change(
        "section_deleted",
        f"{name} ({section.slug})",
        _("Deleted the section %(name)s.", name=name),
        url_for("admin.sections"),
    )


def _move_posts(section: Section, target: Section) -> None:
    """Every post (and pending edit) of a section being deleted goes to target."""
    what = f"{section.name} → {target.name}"
    posts = db.session.scalars(
        sa.select(Article).where(Article.section_id == section.id)
    )
    for article in posts:
        article.section_id = target.id
        article.channel_id = target.parent_id or target.id
        chain.record_move(article, current_user, what)
    db.session.execute(
        sa.update(PendingText)
        .where(PendingText.section_id == section.id)
        .values(section_id=target.id)
    )


# --- Site settings -----------------------------------------------------------

TEXT_SETTINGS = (
    "school_name",
    "phone",
    "address",
    "footer_text",
    "icp_number",
    "psb_number",
)
# The mail server notify.py sends through; the password is never shown again.
SMTP_SETTINGS = ("smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_sender")


def _render_settings(form: SettingsForm):
    return render_template("admin/settings.html", form=form)


def _bureau_section_choices(form: SettingsForm) -> None:
    """A school of a 站群 picks where the bureau's posts go; elsewhere the
    field is not there."""
    if sites.bureau_site_id() is None or sites.is_bureau():
        del form.bureau_section
        return
    form.bureau_section.choices = [
        ("", _("Automatic: 通知公告, else the first section"))
    ] + [
        (str(s.id), f"{s.parent.name} › {s.name}" if s.parent else s.name)
        for s in bureaupost.posting_sections()
    ]


@bp.get("/settings")
@admin_required
def settings():
    values = get_settings()
    data = {key: values[key] for key in TEXT_SETTINGS + SMTP_SETTINGS}
    data["smtp_port"] = parse_id(values["smtp_port"])
    data["site_url"] = values["site_url"]
    data["bureau_section"] = values["bureau_section"]
    form = SettingsForm(data=data)
    drop_fixed_site_url(form)
    _bureau_section_choices(form)
    return _render_settings(form)


@bp.post("/settings")
@admin_required
def update_settings():
    form = SettingsForm()
    drop_fixed_site_url(form)
    _bureau_section_choices(form)
    if not form.validate_on_submit():
        return _render_settings(form)
    new = {key: form[key].data or "" for key in TEXT_SETTINGS + SMTP_SETTINGS}
    new["smtp_port"] = str(form.smtp_port.data or "")
    if form.site_url:
        new["site_url"] = form.site_url.data or ""
    if form.bureau_section:
        new["bureau_section"] = form.bureau_section.data or ""
    if form.smtp_password.data:  # empty keeps the saved one
        new["smtp_password"] = form.smtp_password.data
    try:
        save_settings(new, form.logo.data, form.remove_logo.data)
    except LogoError as error:
        form.logo.errors.append(str(error))
        return _render_settings(form)
    flash(_("The site settings have been saved."), "success")
    return redirect(url_for("admin.settings"))


# --- Backups -----------------------------------------------------------------


def _installation_only() -> None:
    # A backup holds every school's site: in a 站群 only the bureau's
    # administrators make and download them.
    if not sites.runs_installation():
        abort(404)


@bp.get("/backups")
@admin_required
def backups():
    _installation_only()
    folder = backup.backup_folder(current_app)
    archives = []
    for path in backup.list_backups(folder):
        stat = path.stat()
        made = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
        archives.append((path.name, display_size(stat.st_size), made))
    return render_template(
        "admin/backups.html",
        archives=archives,
        keep=current_app.config.get("BACKUP_KEEP") or 0,
    )


@bp.post("/backups")
@admin_required
def create_backup():
    _installation_only()
    try:
        result = backup.run_backup(current_app._get_current_object())
    except backup.BackupError as error:
        current_app.logger.error("backup from the admin page failed: %s", error)
        flash(_("The backup failed: %(reason)s", reason=str(error)), "error")
        return redirect(url_for("admin.backups"))
    if result.copy_error:
        # The local archive stands; the copy elsewhere (BACKUP_COPY_TO) did not.
        flash(
            _(
                "The copy to another machine failed: %(reason)s",
                reason=result.copy_error,
            ),
            "error",
        )
    return audit.finish_change(
        "backup_created",
        result.path.name,
        _("Made the backup %(name)s.", name=result.path.name),
        url_for("admin.backups"),
    )


@bp.get("/backups/<name>")
@admin_required
def download_backup(name):
    _installation_only()
    # Only archive names reach the file system: no other file in the folder
    # (nor outside it) can be fetched through this URL.
    folder = backup.backup_folder(current_app)
    if not backup.ARCHIVE_RE.fullmatch(name) or not (folder / name).is_file():
        abort(404)
    # The archive holds every password hash and the secret key: who took a
    # copy is worth knowing.
    audit.record("backup_downloaded", name)
    db.session.commit()
    response = send_from_directory(
        folder, name, as_attachment=True, mimetype="application/gzip"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
