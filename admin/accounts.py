"""Accounts an administrator makes: user names that are free and not a
default name, passwords that pass the policy (admin/passwords.py) and must be
changed at the first login, and the policy said in a hint under the field."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from admin import passwords
from admin.sessions import end_all, rotate_session_token
from core import audit
from models import Role, Site, User, db
from stats import bureaustats

# Names a guesser tries first (等保: rename or remove default accounts).
DEFAULT_NAMES = frozenset({"admin", "administrator", "root"})


def username_problem(name: str, exclude: User | None = None) -> str | None:
    """Why this user name cannot be used, or None."""
    if name.lower() in DEFAULT_NAMES:
        return _(
            "%(name)s is the first name guessers try: choose another, such as "
            "your own name in pinyin.",
            name=name,
        )
    # One name per installation: another school's account holds it too (站群).
    query = (
        sa.select(User.id)
        .where(sa.func.lower(User.username) == name.lower())
        .execution_options(all_sites=True)
    )
    if exclude is not None and exclude.id is not None:
        query = query.where(User.id != exclude.id)
    if db.session.scalar(query):
        return _("This username is already taken.")
    return None


def login_elsewhere(user: User) -> str | None:
    """Why this school may not reset the user's password or second factor:
    they sign in with their account at another school (站群), which alone
    manages it. None for an account of this school."""
    if not user.is_member:
        return None
    site_id = user.login.site_id
    site = db.session.get(Site, site_id)
    return _(
        "%(name)s signs in with their account at %(school)s: only that school "
        "can reset its password or second factor.",
        name=user.username,
        school=bureaustats.school_names().get(site_id, site.name if site else ""),
    )


def password_hint() -> str:
    """The current policy in one line, for the hint under a new password."""
    policy = passwords.Policy.current()
    length = ngettext(
        "At least %(num)d character.", "At least %(num)d characters.", policy.min_length
    )
    if policy.classes <= 1:
        return length
    return " ".join(
        (
            length,
            _(
                "Use %(num)d of: lower-case letters, capital letters, digits, "
                "other characters.",
                num=policy.classes,
            ),
        )
    )


def generated_password(user: User) -> str:
    """A random password the policy accepts."""
    while True:
        password = secrets.token_urlsafe(12)
        if not passwords.check(password, user):
            return password


def new_account(
    username: str,
    display_name: str,
    password: str,
    *,
    role: str = Role.AUTHOR,
    **fields,
) -> User:
    """A new account whose password was chosen for it: its user must choose
    their own at the first login. Added to the session, not committed."""
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        session_token=secrets.token_hex(16),
        **fields,
    )
    passwords.change(user, password, by_admin=True)
    db.session.add(user)
    return user


def deactivate(user: User, action: str = "user_deactivated", detail: str = "") -> None:
    """Turn an account off and end every session it has; audited, not
    committed (an admin's button, or a dormant account's disabling)."""
    user.active = False
    if user.is_member:
        # Their login is their home school's: end only the sessions here.
        end_all(user, "admin", everywhere=False)
    else:
        rotate_session_token(user)
    audit.record(action, user.username, detail=detail)
