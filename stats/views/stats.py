"""Blueprint "stats": 发稿统计 for editors and admins, and one post's views.

/admin/stats (the page), /admin/stats.xlsx and /admin/stats.csv (the same
tables as files) are for editors and admins; /editor/articles/<id>/stats is
for whoever may edit the post, its author included.
"""

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import audit, periods
from core.downloads import XLSX, bad_request, download
from core.permissions import get_article_or_404, reviewer_required
from models import db, get_settings
from stats import charts, freshness, pubstats, statexport

bp = Blueprint("stats", __name__)


@bp.get("/admin/stats")
@reviewer_required
def overview():
    period, error = periods.requested(request.args)
    report = pubstats.build_report(period) if period else None
    return render_template(
        "stats/site.html",
        report=report,
        chart=charts.daily_chart(report.daily) if report else None,
        error=error,
        picker=periods.picker_values(period, request.args),
        periods=periods.PERIODS,
        channel_note=statexport.channel_note(),
    ), (400 if error else 200)


@bp.get("/admin/stats.xlsx")
@reviewer_required
def workbook():
    period, error = periods.requested(request.args)
    if error:
        return bad_request(error)
    report = pubstats.build_report(period)
    data = statexport.workbook(report, get_settings()["school_name"])
    name = statexport.file_name(report, "xlsx")
    _record_export(name, f"{period.start} – {period.end}")
    return download(data, XLSX, name)


@bp.get("/admin/stats.csv")
@reviewer_required
def csv_table():
    key = request.args.get("table", "")
    if key not in statexport.TABLE_KEYS:
        return bad_request(_("Choose one of the tables offered."))
    period, error = periods.requested(request.args)
    if error:
        return bad_request(error)
    report = pubstats.build_report(period)
    table = statexport.table_by_key(report, key)
    name = statexport.file_name(report, "csv", key)
    _record_export(name, f"{period.start} – {period.end}")
    return download(statexport.csv_bytes(table), "text/csv; charset=utf-8", name)


@bp.get("/admin/stats/sections")
@reviewer_required
def sections():
    return render_template(
        "stats/sections.html",
        report=freshness.build_report(),
        state_label=statexport.state_label,
    )


@bp.get("/admin/stats/sections.xlsx")
@reviewer_required
def sections_workbook():
    report = freshness.build_report()
    school = get_settings()["school_name"]
    title = _("%(school)s: section updates on %(day)s", school=school, day=report.today)
    name = f"section-updates-{report.today:%Y%m%d}.xlsx"
    data = statexport.book([statexport.freshness_table(report)], title)
    _record_export(name, report.today.isoformat())
    return download(data, XLSX, name)


def _record_export(name: str, detail: str) -> None:
    audit.record("stats_exported", name, detail=detail)
    db.session.commit()


@bp.get("/editor/articles/<int:article_id>/stats")
@login_required
def article(article_id):
    article = get_article_or_404(article_id)
    try:
        period = pubstats.post_period(article, request.args)
        error = None
    except periods.PeriodError as exc:
        period, error = None, str(exc)
    daily = pubstats.post_daily(article.id, period) if period else []
    return render_template(
        "stats/post.html",
        article=article,
        period=period,
        chart=charts.daily_chart(daily) if period else None,
        error=error,
        picker=periods.picker_values(period, request.args),
        can_see_site=current_user.can_review,
    ), (400 if error else 200)
