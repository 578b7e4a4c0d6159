"""Blueprint "notify_admin", /admin/notifications: where messages went, and tests.

Admins see each target (site-wide URLs, e-mail, the robots of departments and
review groups) with its last result, the recent messages, and send a test
message to one target or all; the worker (notify.py) sends it.
"""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import audit, notify
from core.permissions import admin_required
from forms import ConfirmForm
from models import Notification, db

bp = Blueprint("notify_admin", __name__, url_prefix="/admin")

RECENT = 50


def _last_rows(keys: list[str]) -> dict[str, Notification]:
    latest = (
        sa.select(sa.func.max(Notification.id))
        .where(Notification.target.in_(keys or [""]))
        .group_by(Notification.target)
    )
    rows = db.session.scalars(
        sa.select(Notification).where(Notification.id.in_(latest))
    )
    return {row.target: row for row in rows}


@bp.get("/notifications")
@admin_required
def page():
    targets = notify.all_targets()
    names = {target.key: target.name for target in targets}
    recent = db.session.scalars(
        sa.select(Notification).order_by(Notification.id.desc()).limit(RECENT)
    ).all()
    return render_template(
        "admin/notifications.html",
        targets=targets,
        last=_last_rows([target.key for target in targets]),
        names=names,
        recent=recent,
        redacted=notify.redacted,
        form=ConfirmForm(),
    )


@bp.post("/notifications/test")
@admin_required
def send_test():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    wanted = request.form.get("target", "")
    targets = [t for t in notify.all_targets() if wanted in ("all", t.key)]
    if not targets and wanted == "all":
        flash(_("No notification target is set up yet."), "error")
        return redirect(url_for("notify_admin.page"))
    if not targets:
        abort(404)
    title = _("Test message from %(site)s", site=notify.get_settings()["school_name"])
    body = _("If you can read this, notifications reach this target.")
    queued = []
    for target in targets:
        recipient = ""
        if target.kind == "email":
            recipient = current_user.email or ""
            if not recipient:
                flash(
                    _(
                        "Add your own e-mail address to your account first: "
                        "the test e-mail goes to you."
                    ),
                    "error",
                )
                continue
        notify.queue(target.key, title, body, recipient, event=notify.Event.TEST)
        queued.append(str(target.name))
    if queued:
        audit.record("notification_test", ", ".join(queued))
        db.session.commit()
        flash(
            _(
                "A test message is on its way to: %(names)s. Reload this page in "
                "a few seconds to see the result.",
                names="、".join(queued),
            ),
            "success",
        )
    return redirect(url_for("notify_admin.page"))
