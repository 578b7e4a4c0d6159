"""Record who did what: admin pages (users, sections, settings) and post
status changes (newsroom/articles.py). The one writer of AuditEvent rows;
every part records here, the admin's audit page (admin/views/admin.py) reads."""

from flask import flash, redirect
from flask_login import current_user

from models import AuditEvent, db


def record(action: str, target: str = "", user=None) -> None:
    """Add an audit event for user (default: the current user); the caller
    commits with its change."""
    if user is None and current_user.is_authenticated:
        user = current_user
    user_id = user.id if user is not None else None
    db.session.add(AuditEvent(user_id=user_id, action=action, target=target[:200]))


def finish_change(action: str, target: str, message: str, back: str):
    """The end of every admin change: audit it, commit both together, say
    what was done and go back to the list."""
    record(action, target)
    db.session.commit()
    flash(message, "success")
    return redirect(back)
