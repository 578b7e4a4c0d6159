"""Dormant accounts: staff who left keep an account nobody uses. Accounts
unused for dormant_days (a setting) are listed for the system administrator
and, with dormant_auto_disable, disabled the moment anyone tries them."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from admin.sessions import rotate_session_token
from core import audit
from models import User, db, get_settings, utcnow


def days(settings: dict | None = None) -> int:
    settings = settings or get_settings()
    try:
        return max(1, int(settings["dormant_days"]))
    except ValueError:
        return 180


def last_used(user: User) -> datetime:
    """When the account was last used: its last login, else its creation."""
    return user.last_login_at or user.created_at


def cutoff(settings: dict | None = None) -> datetime:
    return utcnow() - timedelta(days=days(settings))


def is_dormant(user: User, settings: dict | None = None) -> bool:
    return user.active and last_used(user) < cutoff(settings)


def dormant_users() -> list[User]:
    """Active accounts unused for dormant_days, longest unused first."""
    used = sa.func.coalesce(User.last_login_at, User.created_at)
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.active.is_(True), used < cutoff())
            .order_by(used, User.id)
        )
    )


def disable_if_dormant(user: User) -> bool:
    """With dormant_auto_disable on, disable a dormant account (audited, not
    committed). True when it was disabled."""
    settings = get_settings()
    if settings["dormant_auto_disable"] != "1" or not is_dormant(user, settings):
        return False
    disable(user, automatic=True)
    return True


def disable(user: User, *, automatic: bool = False) -> None:
    """Disable one dormant account and end its sessions (not committed)."""
    user.active = False
    rotate_session_token(user)
    audit.record(
        "dormant_disabled",
        user.username,
        detail="automatic" if automatic else "",
    )
