"""Per-device sessions: one UserSession row for each login on one browser.

Flask-Login keeps "<user id>:<session token>:<device key>" in the session
cookie and, signed, in the remember-me cookie (models.User.get_id); every
user this module logs in or loads gets its device's key (with_device).
A cookie is good while the user's token is unchanged and its device's row
is live, so:
- logout ends this device's row only, and its remember-me cookie with it;
- rotate_session_token() (a password change, an admin's «end sessions», a
  deactivation) changes the token and ends every row;
- cookies from before per-device sessions (no key) are asked to log in.
"""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import login_user

from core.audit import client_address
from models import User, UserSession, db, parse_id, utcnow

# last_seen_at is written at most this often per session.
TOUCH_EVERY = timedelta(minutes=1)
REMEMBER_DAYS = 14


def with_device(user: User, key: str) -> User:
    """Make the user's Flask-Login id name this device's row."""
    user.device_key = key
    return user


def start(user: User, remember: bool) -> UserSession:
    """Open a session row for this browser (not committed)."""
    _end_stale(user)
    row = UserSession(
        key=secrets.token_urlsafe(32),
        remembered=remember,
        user_id=user.id,
        ip=client_address(),
        user_agent=request.user_agent.string[:200],
    )
    db.session.add(row)
    db.session.flush()
    g.device_session = row
    with_device(user, row.key)
    return row


def load(user_id: str) -> User | None:
    """The user a cookie's id names, if its token and device row are live."""
    uid, _sep, rest = user_id.partition(":")
    token, _sep, key = rest.partition(":")
    uid = parse_id(uid)
    if uid is None or not token or not key:
        return None  # an old cookie without a device key: log in again
    user = db.session.get(User, uid)
    if user is None or not secrets.compare_digest(
        user.login.session_token.encode(), token.encode()
    ):
        return None
    row = db.session.scalar(sa.select(UserSession).where(UserSession.key == key))
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return None
    if _is_stale(row):
        end(row, "idle")
        return None
    g.device_session = row
    return with_device(user, key)


def current() -> UserSession | None:
    """This browser's row, once the user is loaded."""
    return g.get("device_session")


def touch() -> None:
    """Note that this device was seen (at most once a minute) and commit."""
    row = current()
    if row is None:
        return
    now = utcnow()
    if row.ended_at is None and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        row.ip = client_address()
    if db.session.dirty:
        db.session.commit()


def end(row: UserSession, reason: str) -> None:
    """End one device's session (not committed)."""
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.end_reason = reason[:20]


def end_all(
    user: User,
    reason: str,
    keep: UserSession | None = None,
    *,
    everywhere: bool = True,
) -> int:
    """End every live session of the user but `keep`, at every school they
    work for or only at this one; how many ended."""
    if user.id is None:
        return 0
    ids = person_ids(user) if everywhere else [user.id]
    query = sa.update(UserSession).where(
        UserSession.user_id.in_(ids), UserSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    done = db.session.execute(query.values(ended_at=utcnow(), end_reason=reason[:20]))
    return done.rowcount


def live(user: User) -> list[UserSession]:
    """The user's sessions still open, last seen first."""
    rows = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return [row for row in rows if not _is_stale(row)]


def _lifetime(row: UserSession) -> timedelta:
    config = current_app.config
    # A row whose browser got a remember-me cookie outlives the idle timeout
    # (until unused for the cookie's lifetime); any other ends with the
    # session cookie.
    if row.remembered:
        duration = config.get("REMEMBER_COOKIE_DURATION", timedelta(REMEMBER_DAYS))
        if isinstance(duration, int):
            duration = timedelta(seconds=duration)
        return duration
    # The session cookie itself expires after the idle time; last_seen_at
    # lags by up to TOUCH_EVERY.
    return timedelta(minutes=config["SESSION_IDLE_MINUTES"]) + TOUCH_EVERY


def _is_stale(row: UserSession) -> bool:
    return utcnow() - row.last_seen_at > _lifetime(row)


def _end_stale(user: User) -> None:
    """Mark the user's sessions that timed out as ended (seen at the next login)."""
    for row in db.session.scalars(
        sa.select(UserSession).where(
            UserSession.user_id == user.id, UserSession.ended_at.is_(None)
        )
    ):
        if _is_stale(row):
            end(row, "idle")


def rotate_session_token(user: User, reason: str = "all_ended") -> None:
    """End every session and remember-me cookie of the user, at every school
    they work for (not committed)."""
    user.login.session_token = secrets.token_hex(16)
    end_all(user, reason)


def person_ids(user: User) -> list[int]:
    """The ids of the person's rows at every school (站群): the home row and
    the rows that sign in with it."""
    home = user.login_id or user.id
    return list(
        db.session.scalars(
            sa.select(User.id)
            .where(sa.or_(User.id == home, User.login_id == home))
            .execution_options(all_sites=True)
        )
    )


def relogin(user: User) -> None:
    """Keep this browser logged in after rotate_session_token() ended the rest.

    This device's row is opened again, and a remember-me cookie it had is
    re-issued with the new token.
    """
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    remember = remember_cookie in request.cookies
    row = current()
    if row is not None and row.user_id == user.id:
        row.ended_at, row.end_reason = None, ""
        with_device(user, row.key)
    else:
        start(user, remember)
    db.session.commit()
    session.permanent = True
    login_user(user, remember=remember)


_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("DingTalk", "DingTalk"),
    ("Edg", "Edge"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """ "Chrome · Windows" from a user agent string; "" when unknown."""
    found = [
        next((name for mark, name in table if mark in user_agent), "")
        for table in (_BROWSERS, _SYSTEMS)
    ]
    return " · ".join(part for part in found if part)
