"""Blueprint "ledger": the review ledger (审核台账) for admins, read-only.

/admin/review-ledger shows a month's events (per department or post);
/admin/review-ledger.xlsx is the same month as a workbook, a row per post.
Only GET routes: the ledger is never edited, here or in the database.
"""

from flask import Blueprint, render_template, request

from core import audit
from core.downloads import XLSX, bad_request, download
from core.paging import page_number
from core.permissions import admin_required
from models import db, get_settings
from review import chain, ledger, ledgerexport

bp = Blueprint("ledger", __name__, url_prefix="/admin")


def _filters_or_error():
    try:
        return ledger.filters_from_args(request.args), None
    except ledger.LedgerError as error:
        return None, str(error)


@bp.get("/review-ledger")
@admin_required
def page():
    filters, error = _filters_or_error()
    events = summary = None
    if filters is not None:
        events = db.paginate(
            ledger.events_query(filters),
            page=page_number(),
            per_page=ledger.PER_PAGE,
            error_out=True,
        )
        summary = ledger.summary(filters)
    return render_template(
        "review/ledger.html",
        filters=filters,
        events=events,
        summary=summary,
        error=error,
        form=_form_values(filters),
        departments=ledger.department_choices(),
        level_names=chain.LEVEL_NAMES,
        decision_names=chain.DECISION_NAMES,
        decisions=chain.Decision,
    ), (400 if error else 200)


def _form_values(filters) -> dict[str, str]:
    """What the filter form shows: the request's own input after an error."""
    if filters is not None:
        values = filters.query_args()
        values.setdefault("month", "")
    else:
        values = {key: request.args.get(key, "") for key in ("month", "article")}
        values["department"] = request.args.get("department", "")
    return values


@bp.get("/review-ledger.xlsx")
@admin_required
def workbook():
    filters, error = _filters_or_error()
    if error:
        return bad_request(error)
    data = ledgerexport.workbook(filters, get_settings()["school_name"])
    name = ledgerexport.file_name(filters)
    detail = " ".join(f"{key}={value}" for key, value in filters.query_args().items())
    audit.record("ledger_exported", name, detail=detail)
    db.session.commit()
    return download(data, XLSX, name)
