"""Record who did what in the admin pages (users, sections, settings)."""

from flask_login import current_user

from models import AuditEvent, db


def record(action: str, target: str = "") -> None:
    """Add an audit event for the current user; the caller commits with its change."""
    user_id = current_user.id if current_user.is_authenticated else None
    db.session.add(AuditEvent(user_id=user_id, action=action, target=target[:200]))
