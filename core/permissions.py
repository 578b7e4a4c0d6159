"""Who may do what: every editor and admin route checks here, on the server."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from models import Article, Duty, Role, User, db


def role_required(*roles: str):
    """Require a logged-in user with one of the roles (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


class Refused(Exception):
    """The user may not do this. str() is the reason: an Action name from
    articles.py (newsroom/views/editor.py words it) or a message ready to show; status
    is the HTTP answer a JSON caller gets."""

    def __init__(self, reason: str, status: int = 403):
        super().__init__(reason)
        self.status = status


def duty_required(duty: str):
    """Require a logged-in user holding the management role (models.Duty)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if duty not in current_user.duties:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


reviewer_required = role_required(Role.EDITOR, Role.ADMIN)
# The system administrator (系统管理员): role "admin".
admin_required = role_required(Role.ADMIN)
security_admin_required = duty_required(Duty.SECURITY)
audit_admin_required = duty_required(Duty.AUDIT)


def can_edit(user: User, article: Article) -> bool:
    """Editors and admins edit any post; authors only their own."""
    return user.can_review or article.created_by_id == user.id


def get_article_or_404(article_id: int, *, trashed: bool = False) -> Article:
    """The post if the current user may edit it: 404 if missing, 403 if not theirs."""
    article = db.get_or_404(Article, article_id)
    if (article.deleted_at is not None) != trashed:
        abort(404)
    if not can_edit(current_user, article):
        abort(403)
    return article
