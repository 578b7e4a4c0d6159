"""Blueprint "selfcheck", /admin/compliance: the 等保 self-assessment (自查报告)
for any of the three management roles, on screen and as .docx or .xlsx."""

from functools import wraps

from flask import Blueprint, abort, current_app, render_template
from flask_babel import force_locale
from flask_login import current_user, login_required

from core import audit
from core.downloads import download
from models import db

bp = Blueprint("selfcheck", __name__, url_prefix="/admin")

# The assessor reads Chinese, whatever language the administrator uses.
EXPORT_LOCALE = "zh_Hans_CN"


def any_duty_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.duties:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.get("/compliance")
@any_duty_required
def page():
    # The assessment's code (about 0.8 MB) loads on first use: most server
    # processes never show it, and each must stay under 80 MB (make bench).
    from admin import selfcheck

    rows = selfcheck.assess()
    return render_template(
        "admin/selfcheck.html", rows=rows, summary=selfcheck.summary(rows)
    )


@bp.get("/compliance.docx")
@any_duty_required
def export_docx():
    return _export("docx")


@bp.get("/compliance.xlsx")
@any_duty_required
def export_xlsx():
    return _export("xlsx")


def _export(kind: str):
    from admin import selfcheck, selfcheck_export  # on first use, as page()

    app = current_app._get_current_object()
    with force_locale(EXPORT_LOCALE):
        facts = selfcheck.gather(app)
        rows = selfcheck.evaluate(facts)
        report = selfcheck_export.Report(
            school=facts.settings["school_name"], made_at=facts.now, rows=rows
        )
        data, mimetype, name = selfcheck_export.build(kind, report)
    audit.record("selfcheck_exported", name, detail=kind)
    db.session.commit()
    return download(data, mimetype, name)
