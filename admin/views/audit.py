"""Blueprint "audit", /admin/audit: the audit administrator's log (审计管理员)."""

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from core.paging import paginate
from core.permissions import audit_admin_required
from models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/admin")

PER_PAGE = 50
LABELS = {
    "user_created": _l("Created a user"),
    "user_updated": _l("Changed a user"),
    "role_changed": _l("Changed a role"),
    "user_deactivated": _l("Deactivated a user"),
    "user_reactivated": _l("Reactivated a user"),
    "password_reset": _l("Reset a password"),
    "password_changed": _l("Changed own password"),
    "sessions_ended": _l("Ended a user's sessions"),
    "department_assigned": _l("Changed a user's department"),
    "department_created": _l("Created a department"),
    "department_updated": _l("Changed a department"),
    "department_deleted": _l("Deleted a department"),
    "section_created": _l("Created a section"),
    "section_updated": _l("Changed a section"),
    "section_moved": _l("Reordered a section"),
    "section_deleted": _l("Deleted a section"),
    "posts_moved": _l("Moved posts to another section"),
    "settings_changed": _l("Changed site settings"),
    "backup_created": _l("Made a backup"),
    "backup_downloaded": _l("Downloaded a backup"),
    "setup_completed": _l("Completed the first-run setup"),
    "demo_cleared": _l("Cleared the demo content"),
    "word_rule_created": _l("Added a term to the word list"),
    "word_rule_updated": _l("Changed a term of the word list"),
    "word_rule_deleted": _l("Deleted a term from the word list"),
    "article.compliance_confirmed": _l("Published personal data with a reason"),
    "review_settings_changed": _l("Changed the review chain"),
    "review_channel_changed": _l("Changed a channel's review levels"),
    "review_group_created": _l("Created a review group"),
    "review_group_renamed": _l("Renamed a review group"),
    "review_group_members": _l("Changed a review group's members"),
    "review_group_deleted": _l("Deleted a review group"),
    "department_heads_changed": _l("Changed a department's heads"),
    "notification_test": _l("Sent a test notification"),
}


@bp.get("/audit")
@audit_admin_required
def log():
    page = paginate(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()), per_page=PER_PAGE
    )
    return render_template("admin/audit.html", page=page, labels=LABELS)
