"""Ending and renewing a user's sessions (after a password or role change)."""

import secrets

from flask import current_app, request, session
from flask_login import login_user

from models import User


def rotate_session_token(user: User) -> None:
    """End every session and remember-me cookie of the user."""
    user.session_token = secrets.token_hex(16)


def relogin(user: User) -> None:
    """Keep this browser logged in after rotate_session_token() ended the rest.

    A remember-me cookie it had is re-issued with the new token.
    """
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    session.permanent = True
    login_user(user, remember=remember_cookie in request.cookies)
