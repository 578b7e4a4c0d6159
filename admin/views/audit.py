"""Blueprint "audit", /admin/audit: the audit administrator's log (审计管理员).

/admin/audit lists the events by filter, with the hash chain's state;
/admin/audit.xlsx and /admin/audit.csv export the same filter (each export
is an event itself); POST /admin/audit/verify walks the chain now.
"""

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from admin import auditlog
from core import audit
from core.downloads import XLSX, bad_request, download
from core.paging import paginate
from core.permissions import audit_admin_required
from forms import ConfirmForm
from models import AuditChain, db, get_settings

bp = Blueprint("audit", __name__, url_prefix="/admin")

PER_PAGE = 50
# Kept for callers that name the event types; admin/auditlog.py has them all.
LABELS = auditlog.LABELS


def _filters_or_error():
    try:
        return auditlog.filters_from_args(request.args), None
    except auditlog.FilterError as error:
        return None, str(error)


@bp.get("/audit")
@audit_admin_required
def log():
    filters, error = _filters_or_error()
    page = None
    if filters is not None:
        page = paginate(auditlog.events_query(filters), per_page=PER_PAGE)
    form_values = {
        key: request.args.get(key, "")
        for key in ("from", "to", "user", "event", "outcome", "address")
    }
    return render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        error=error,
        form=form_values,
        args=filters.query_args() if filters else {},
        groups=auditlog.GROUPS,
        labels=auditlog.LABELS,
        outcomes=auditlog.OUTCOMES,
        users=auditlog.user_choices(),
        no_user=auditlog.NO_USER,
        detail_text=auditlog.detail_text,
        chain=db.session.get(AuditChain, 1),
        broken=_broken_message,
        verify_form=ConfirmForm(),
    ), (400 if error else 200)


def _broken_message(note: str) -> str:
    """The last verification's finding in the reader's language."""
    if match := re.match(r"Event (\d+) does not fit", note or ""):
        return _(
            "Event number %(id)s does not fit the chain: it, or an event before it, "
            "was changed, removed or inserted directly in the database.",
            id=match[1],
        )
    if "newest events were removed" in (note or ""):
        return _(
            "The newest events were removed from the database, or the chain's "
            "end was changed."
        )
    return note or _("The audit log was altered.")


@bp.get("/audit.xlsx")
@audit_admin_required
def workbook():
    return _export("xlsx")


@bp.get("/audit.csv")
@audit_admin_required
def csv_file():
    return _export("csv")


def _export(kind: str):
    filters, error = _filters_or_error()
    if error:
        return bad_request(error)
    if kind == "xlsx":
        data = auditlog.workbook(filters, get_settings()["school_name"])
        mimetype = XLSX
    else:
        data = auditlog.csv_bytes(filters)
        mimetype = "text/csv; charset=utf-8"
    # Who took the log away, and which part of it, is itself worth keeping.
    audit.record("audit_exported", kind, detail=filters.describe())
    db.session.commit()
    return download(data, mimetype, auditlog.file_name(kind))


@bp.post("/audit/verify")
@audit_admin_required
def verify():
    if not ConfirmForm().validate_on_submit():
        flash(_("The form had expired. Please try again."), "error")
        return redirect(url_for("audit.log"))
    verdict = audit.verify()
    outcome = audit.SUCCESS if verdict.ok else audit.FAILURE
    audit.record(
        "audit_verified",
        "",
        outcome=outcome,
        detail=verdict.note or f"{verdict.checked} events",
    )
    db.session.commit()
    if verdict.ok:
        flash(
            _(
                "The audit chain is intact: %(count)d events checked.",
                count=verdict.checked,
            ),
            "success",
        )
    else:
        flash(_broken_message(verdict.note), "error")
    return redirect(url_for("audit.log"))
