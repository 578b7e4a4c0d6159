"""Blueprint "bureau", /admin/sites: the education bureau's own pages (站群).

Open to the system administrators of the bureau's site only: on any other
site they are not there (404), whoever asks.
"""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import audit, periods, sites
from core.downloads import XLSX, bad_request, download
from core.permissions import admin_required
from forms import MemberForm, SiteForm
from models import Site, db
from operations import members
from operations import sites as site_admin
from stats import bureaustats, statexport

bp = Blueprint("bureau", __name__, url_prefix="/admin/sites")


def bureau_required(view):
    @wraps(view)
    @admin_required
    def wrapped(*args, **kwargs):
        if not sites.is_bureau():
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _member_form() -> MemberForm:
    form = MemberForm()
    names = bureaustats.school_names()
    form.site_id.choices = [
        (site.id, names.get(site.id, site.name))
        for site in db.session.scalars(sa.select(Site).order_by(Site.id))
    ]
    return form


def _render(form: SiteForm, status: int = 200, created=None, member_form=None):
    every = db.session.scalars(sa.select(Site).order_by(Site.id)).all()
    response = render_template(
        "admin/sites.html",
        sites=every,
        names=bureaustats.school_names(),
        address=site_admin.address,
        form=form,
        member_form=member_form or _member_form(),
        created=created,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.get("")
@bureau_required
def index():
    return _render(SiteForm())


@bp.post("")
@bureau_required
def create():
    form = SiteForm()
    if not form.validate_on_submit():
        return _render(form, 400)
    try:
        site, admin, password = site_admin.add_site(
            form.name.data,
            form.host.data,
            form.prefix.data,
            admin_username=form.admin_username.data,
        )
    except site_admin.SiteError as error:
        form.name.errors.append(str(error))
        return _render(form, 400)
    audit.record("site_created", f"{site.name} {site_admin.address(site)}")
    db.session.commit()
    # Shown on this answer only (never stored in a flash cookie), like the
    # password of a new account.
    return _render(SiteForm(formdata=None), created=(site, admin.username, password))


@bp.post("/members")
@bureau_required
def add_member():
    """Let a person of one school work at another, with a role there."""
    form = _member_form()
    if not form.validate_on_submit():
        return _render(SiteForm(formdata=None), 400, member_form=form)
    try:
        member = members.add_member(
            form.site_id.data, form.username.data, form.role.data
        )
    except site_admin.SiteError as error:
        form.username.errors.append(str(error))
        return _render(SiteForm(formdata=None), 400, member_form=form)
    school = db.session.get(Site, member.site_id)
    return audit.finish_change(
        "member_added",
        f"{member.username} → {school.name} ({member.role})",
        _(
            "%(name)s now works at %(school)s too, signing in with the same password.",
            name=member.username,
            school=bureaustats.school_names().get(school.id, school.name),
        ),
        url_for("bureau.index"),
    )


@bp.post("/<int:site_id>/<any(disable, enable):change>")
@bureau_required
def switch(site_id: int, change: str):
    site = db.get_or_404(Site, site_id)
    if site.bureau:
        flash(_("The bureau's own site cannot be disabled here."), "error")
        return redirect(url_for("bureau.index"))
    try:
        site_admin.set_active(site_id, change == "enable")
    except site_admin.SiteError as error:
        flash(str(error), "error")
        return redirect(url_for("bureau.index"))
    done = (
        _("Enabled %(name)s.", name=site.name)
        if site.active
        else _("Disabled %(name)s: its address now says so.", name=site.name)
    )
    return audit.finish_change(
        f"site_{change}d", site.name, done, url_for("bureau.index")
    )


# --- The schools side by side -------------------------------------------------------


@bp.get("/stats")
@bureau_required
def stats():
    period, error = periods.requested(request.args)
    found = bureaustats.side_by_side(period) if period else []
    return render_template(
        "admin/site_stats.html",
        period=period,
        schools=found,
        table=bureaustats.schools_table(found) if period else None,
        error=error,
        picker=periods.picker_values(period, request.args),
        periods=periods.PERIODS,
    ), (400 if error else 200)


@bp.get("/stats.xlsx")
@bureau_required
def stats_workbook():
    try:
        period = periods.period_from_args(request.args)
    except periods.PeriodError as error:
        return bad_request(str(error))
    found = bureaustats.side_by_side(period)
    title = _(
        "Schools from %(start)s to %(end)s",
        start=period.start.isoformat(),
        end=period.end.isoformat(),
    )
    data = statexport.book(
        [bureaustats.schools_table(found), bureaustats.sections_table(found)], title
    )
    name = f"schools-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    audit.record("stats_exported", name, detail=f"{period.start} – {period.end}")
    db.session.commit()
    return download(data, XLSX, name)


@bp.get("/sections")
@bureau_required
def sections():
    found = bureaustats.with_sections(bureaustats.schools())
    return render_template(
        "admin/site_sections.html",
        schools=found,
        state_label=statexport.state_label,
    )
