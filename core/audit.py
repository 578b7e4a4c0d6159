"""Record who did what: admin pages (users, sections, settings) and post
status changes (articles.py). The one writer of AuditEvent rows."""

from flask_login import current_user

from models import AuditEvent, db


def record(action: str, target: str = "", user=None) -> None:
    """Add an audit event for user (default: the current user); the caller
    commits with its change."""
    if user is None and current_user.is_authenticated:
        user = current_user
    user_id = user.id if user is not None else None
    db.session.add(AuditEvent(user_id=user_id, action=action, target=target[:200]))
