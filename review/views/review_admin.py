"""Admin pages that configure the review chain (先审后发); review/chain.py applies it.

/admin/review          the site's levels, the groups named for levels 2 and 3,
                       the bypass, the line under articles, each channel's levels
/admin/review/groups   review groups (宣传办, 校领导 …) and their members
/admin/departments/<id>/heads   the heads who do level 1 for a department

A post keeps the number of levels it was submitted with (Article.review_levels),
so changing the chain here never strands a post that is already in review.
"""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from core import audit
from core.permissions import admin_required
from forms import (
    ConfirmForm,
    PeopleForm,
    ReviewGroupForm,
    ReviewSettingsForm,
    channel_level_choices,
)
from models import (
    Article,
    Department,
    ReviewGroup,
    Section,
    User,
    db,
    department_head,
    get_settings,
    parse_id,
    set_setting,
)
from review import chain

bp = Blueprint("review_admin", __name__, url_prefix="/admin")

GROUP_LEVELS = (2, 3)


# --- Review settings ---------------------------------------------------------------


def _groups() -> list[ReviewGroup]:
    return db.session.scalars(
        sa.select(ReviewGroup).order_by(ReviewGroup.position, ReviewGroup.name)
    ).all()


def _channels() -> list[Section]:
    return db.session.scalars(
        sa.select(Section)
        .where(Section.parent_id.is_(None))
        .order_by(Section.position, Section.id)
    ).all()


def _settings_form(data: dict | None = None) -> ReviewSettingsForm:
    form = ReviewSettingsForm(data=data) if data else ReviewSettingsForm()
    choices = [(0, _("Nobody named: editors and administrators review"))]
    choices += [(group.id, group.name) for group in _groups()]
    form.group_2.choices = form.group_3.choices = choices
    return form


def _named_groups(settings: dict) -> dict[int, int]:
    """{group id: level} for the groups named for levels 2 and 3."""
    named = {}
    for level in GROUP_LEVELS:
        group_id = parse_id(settings.get(f"review_group_{level}"))
        if group_id:
            named[group_id] = level
    return named


def _render_settings(form, channel_values=None, channel_errors=(), status=200):
    settings = get_settings()
    channels = _channels()
    levels = {chain.site_levels(settings)}
    levels |= {c.review_levels for c in channels if c.review_levels is not None}
    unnamed = [
        level
        for level in GROUP_LEVELS
        if level <= max(levels) and chain.level_group(level, settings) is None
    ]
    headless = db.session.scalars(
        sa.select(Department.name)
        .where(~sa.exists().where(department_head.c.department_id == Department.id))
        .order_by(Department.position, Department.name)
    ).all()
    in_review = db.session.scalar(
        sa.select(sa.func.count(Article.id)).where(
            Article.review_level > 0, Article.deleted_at.is_(None)
        )
    )
    if channel_values is None:
        channel_values = {
            c.id: "" if c.review_levels is None else str(c.review_levels)
            for c in channels
        }
    return render_template(
        "review/settings.html",
        form=form,
        channels=channels,
        channel_choices=channel_level_choices(),
        channel_values=channel_values,
        channel_errors=channel_errors,
        channels_form=ConfirmForm(),
        unnamed=unnamed,
        headless=headless,
        in_review=in_review,
        site_levels=chain.site_levels(settings),
        level_names=chain.LEVEL_NAMES,
    ), status


@bp.get("/review")
@admin_required
def settings():
    values = get_settings()
    return _render_settings(
        _settings_form(
            {
                "levels": chain.site_levels(values),
                "group_2": parse_id(values["review_group_2"]) or 0,
                "group_3": parse_id(values["review_group_3"]) or 0,
                "bypass": chain.bypass_allowed(values),
                "show_review_line": values["show_review_line"] == "1",
            }
        )
    )


def _describe(key: str, value: str) -> str:
    """A setting's value as the audit log shows it: a group by its name."""
    if key.startswith("review_group_"):
        group = db.session.get(ReviewGroup, parse_id(value) or 0)
        return group.name if group else "-"
    return value


@bp.post("/review")
@admin_required
def update_settings():
    form = _settings_form()
    if not form.validate_on_submit():
        return _render_settings(form, status=400)
    new = {
        "review_levels": str(form.levels.data),
        "review_group_2": str(form.group_2.data or ""),
        "review_group_3": str(form.group_3.data or ""),
        "review_bypass": "1" if form.bypass.data else "0",
        "show_review_line": "1" if form.show_review_line.data else "0",
    }
    old = get_settings()
    changed = [key for key, value in new.items() if old[key] != value]
    if not changed:
        flash(_("Nothing was changed."), "success")
        return redirect(url_for("review_admin.settings"))
    for key in changed:
        set_setting(key, new[key])
    return audit.finish_change(
        "review_settings_changed",
        "; ".join(
            f"{key}: {_describe(key, old[key])} → {_describe(key, new[key])}"
            for key in changed
        ),
        _("The review settings have been saved."),
        url_for("review_admin.settings"),
    )


CHANNEL_VALUES = ("", "0", "1", "2", "3")


@bp.post("/review/channels")
@admin_required
def update_channels():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    channels = _channels()
    values = {
        c.id: request.form.get(f"channel-{c.id}")
        for c in channels
        if f"channel-{c.id}" in request.form
    }
    errors = {cid for cid, value in values.items() if value not in CHANNEL_VALUES}
    if errors:
        shown = {
            c.id: "" if c.review_levels is None else str(c.review_levels)
            for c in channels
        }
        shown.update(values)
        return _render_settings(_settings_form(), shown, errors, 400)
    changes = [
        chain.channel_change(c, None if values[c.id] == "" else int(values[c.id]))
        for c in channels
        if c.id in values
    ]
    changes = [change for change in changes if change]
    if not changes:
        flash(_("Nothing was changed."), "success")
        return redirect(url_for("review_admin.settings"))
    return audit.finish_change(
        "review_channel_changed",
        "; ".join(changes),
        _("The channels' review levels have been saved."),
        url_for("review_admin.settings") + "#channels",
    )


# --- Review groups ----------------------------------------------------------------


def _group_or_404(group_id: int) -> ReviewGroup:
    return db.get_or_404(ReviewGroup, group_id)


def _valid_group_form(form: ReviewGroupForm, group_id: int = 0) -> bool:
    """The form's checks, and one group per name."""
    if not form.validate_on_submit():
        return False
    taken = db.session.scalar(
        sa.select(ReviewGroup.id).where(
            sa.func.lower(ReviewGroup.name) == form.name.data.lower(),
            ReviewGroup.id != group_id,
        )
    )
    if taken:
        form.name.errors.append(_("There is already a review group of this name."))
    return not taken


def _render_groups(form: ReviewGroupForm, status: int = 200):
    return render_template(
        "review/groups.html",
        groups=_groups(),
        named=_named_groups(get_settings()),
        form=form,
        level_names=chain.LEVEL_NAMES,
    ), status


@bp.get("/review/groups")
@admin_required
def groups():
    return _render_groups(ReviewGroupForm())


@bp.post("/review/groups")
@admin_required
def create_group():
    form = ReviewGroupForm()
    if not _valid_group_form(form):
        return _render_groups(form, 400)
    last = db.session.scalar(sa.select(sa.func.max(ReviewGroup.position)))
    group = ReviewGroup(
        name=form.name.data,
        position=0 if last is None else last + 1,
        robot_url=form.robot_url.data or "",
    )
    db.session.add(group)
    db.session.flush()
    return audit.finish_change(
        "review_group_created",
        group.name,
        _(
            "Created the review group %(name)s. Now choose its members.",
            name=group.name,
        ),
        url_for("review_admin.group", group_id=group.id),
    )


def _people_form(chosen: list[User], first: set[int] = frozenset()) -> PeopleForm:
    """Checkboxes for the active users (and whoever is chosen now); the
    users in `first` (a department's members) come first."""
    form = PeopleForm()
    chosen_ids = {user.id for user in chosen}
    users = db.session.scalars(
        sa.select(User)
        .where(sa.or_(User.active.is_(True), User.id.in_(chosen_ids or {0})))
        .options(selectinload(User.department))
    ).all()
    users.sort(key=lambda u: (u.id not in first, u.display_name, u.username))
    form.people.choices = [(u.id, _person_label(u)) for u in users]
    if not form.is_submitted():
        form.people.data = sorted(chosen_ids)
    return form


def _person_label(user: User) -> str:
    parts = [user.display_name, user.username]
    if user.department is not None:
        parts.append(user.department.name)
    label = " · ".join(parts)
    return label if user.active else _("%(name)s (deactivated)", name=label)


def _chosen_users(form: PeopleForm) -> list[User]:
    ids = set(form.people.data or ())
    return db.session.scalars(sa.select(User).where(User.id.in_(ids or {0}))).all()


def _names(users) -> str:
    return ", ".join(user.display_name for user in users) or "-"


def _render_group(group, rename_form=None, members_form=None, status=200):
    level = _named_groups(get_settings()).get(group.id)
    if rename_form is None:
        rename_form = ReviewGroupForm(obj=group, formdata=None)
    return render_template(
        "review/group.html",
        group=group,
        level=level,
        level_name=chain.LEVEL_NAMES.get(level),
        rename_form=rename_form,
        members_form=members_form or _people_form(group.members),
        delete_form=ConfirmForm(),
    ), status


@bp.get("/review/groups/<int:group_id>")
@admin_required
def group(group_id):
    return _render_group(_group_or_404(group_id))


@bp.post("/review/groups/<int:group_id>")
@admin_required
def rename_group(group_id):
    group = _group_or_404(group_id)
    form = ReviewGroupForm()
    if not _valid_group_form(form, group.id):
        return _render_group(group, rename_form=form, status=400)
    old = group.name
    group.name = form.name.data
    group.robot_url = form.robot_url.data or ""
    return audit.finish_change(
        "review_group_renamed",
        f"{old} → {group.name}",
        _("Saved the review group %(name)s.", name=group.name),
        url_for("review_admin.group", group_id=group.id),
    )


@bp.post("/review/groups/<int:group_id>/members")
@admin_required
def update_group_members(group_id):
    group = _group_or_404(group_id)
    form = _people_form(group.members)
    if not form.validate_on_submit():
        return _render_group(group, members_form=form, status=400)
    group.members = _chosen_users(form)
    return audit.finish_change(
        "review_group_members",
        f"{group.name}: {_names(group.members)}",
        _("Saved the members of %(name)s.", name=group.name),
        url_for("review_admin.group", group_id=group.id),
    )


@bp.post("/review/groups/<int:group_id>/delete")
@admin_required
def delete_group(group_id):
    group = _group_or_404(group_id)
    back = url_for("review_admin.group", group_id=group.id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    level = _named_groups(get_settings()).get(group.id)
    if level:
        flash(
            _(
                "%(name)s is named for the level %(level)s. Name another group "
                "(or nobody) for it on the review settings page first.",
                name=group.name,
                level=chain.LEVEL_NAMES[level],
            ),
            "error",
        )
        return redirect(back)
    name = group.name
    db.session.delete(group)
    return audit.finish_change(
        "review_group_deleted",
        name,
        _("Deleted the review group %(name)s.", name=name),
        url_for("review_admin.groups"),
    )


# --- Department heads ------------------------------------------------------------


def _render_heads(department, form, status=200):
    return render_template(
        "admin/department_heads.html", department=department, form=form
    ), status


def _heads_form(department: Department) -> PeopleForm:
    return _people_form(department.heads, {m.id for m in department.members})


@bp.get("/departments/<int:department_id>/heads")
@admin_required
def department_heads(department_id):
    department = db.get_or_404(Department, department_id)
    return _render_heads(department, _heads_form(department))


@bp.post("/departments/<int:department_id>/heads")
@admin_required
def update_department_heads(department_id):
    department = db.get_or_404(Department, department_id)
    form = _heads_form(department)
    if not form.validate_on_submit():
        return _render_heads(department, form, 400)
    department.heads = _chosen_users(form)
    return audit.finish_change(
        "department_heads_changed",
        f"{department.name}: {_names(department.heads)}",
        _("Saved the heads of %(name)s.", name=department.name),
        url_for("admin.departments") + f"#department-{department.id}",
    )
