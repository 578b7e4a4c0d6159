"""The parts of a login between the password and the session: the pending
second-factor step, and the known-device cookie that lets the account's
real user past the per-account ceiling (see throttle.py for the trade-off)."""

import time
from datetime import timedelta

from flask import Response, current_app, request, session
from itsdangerous import BadSignature, URLSafeSerializer

from models import User, db

KNOWN_COOKIE = "known_device"
KNOWN_FOR = timedelta(days=365)
# Accounts one browser is remembered for (a shared staff-room computer).
KNOWN_MAX = 10
PENDING = "pending_login"
# How long the second-factor step waits for its code.
PENDING_FOR = timedelta(minutes=5)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="known-device")


def known_ids() -> list[int]:
    """The accounts this browser has logged in to (signed, so not forgeable)."""
    value = request.cookies.get(KNOWN_COOKIE)
    if not value:
        return []
    try:
        ids = _signer().loads(value)
    except BadSignature:
        return []
    if not isinstance(ids, list):
        return []
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def is_known(user_id: int) -> bool:
    return user_id in known_ids()


def remember_device(response: Response, user_id: int) -> None:
    """Mark this browser as one the user logs in from."""
    ids = [user_id, *(i for i in known_ids() if i != user_id)][:KNOWN_MAX]
    response.set_cookie(
        KNOWN_COOKIE,
        _signer().dumps(ids),
        max_age=int(KNOWN_FOR.total_seconds()),
        httponly=True,
        samesite="Lax",
    )  # marked Secure over HTTPS by core/security.Transport, as every cookie


def hold(user: User, remember: bool, next_url: str | None) -> None:
    """Keep a login whose password was right until its code is typed."""
    session[PENDING] = {
        "uid": user.id,
        "token": user.login.session_token,
        "at": time.time(),
        "remember": bool(remember),
        "next": next_url or "",
    }


def pending() -> tuple[User, dict] | None:
    """The held login and its data, unless it is too old or the account
    changed since (password changed, sessions ended, deactivated)."""
    data = session.get(PENDING)
    if not isinstance(data, dict):
        return None
    age = time.time() - float(data.get("at", 0))
    user = db.session.get(User, data.get("uid") or 0)
    if (
        not 0 <= age <= PENDING_FOR.total_seconds()
        or user is None
        or not user.active
        or user.login.session_token != data.get("token")
    ):
        drop()
        return None
    return user, data


def drop() -> None:
    session.pop(PENDING, None)
