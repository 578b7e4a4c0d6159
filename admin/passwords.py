"""The password policy (等保 身份鉴别): length, character classes, common
passwords, no reuse of the last N, optional expiry with a warning.

Every place that sets a password goes through check() and change(), so the
rules and the history are kept in one place; the settings are the security
administrator's (models.SETTING_DEFAULTS, password_*).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.security import check_password_hash

from models import PasswordHistory, User, db, get_settings, utcnow

COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
MAX_LENGTH = 128
# Words guessers build passwords around (Admin@2024, P@ssw0rd!, Woaini520).
BASES = frozenset(
    """admin administrator password passwd pass qwerty qwertyuiop asdfgh
    asdfghjkl zxcvbnm iloveyou woaini welcome letmein school xuexiao teacher
    laoshi jiaoshi student xuesheng abc abcd abcdef test root user guest
    love monkey dragon football baseball master super manager""".split()
)
_LOOKALIKES = str.maketrans("@4310$5!7", "aaeiossit")
_AFFIXES = "0123456789!@#$%^&*()_+-=.,;:?~ "


@dataclass(frozen=True)
class Policy:
    min_length: int
    classes: int  # of lower, upper, digit, other
    history: int  # earlier passwords refused
    max_age_days: int  # 0: passwords never expire
    warn_days: int

    @classmethod
    def current(cls, settings: dict | None = None) -> Policy:
        settings = settings or get_settings()

        def number(key, low, high, fallback):
            try:
                return min(high, max(low, int(settings[key])))
            except (KeyError, ValueError):
                return fallback

        return cls(
            min_length=number("password_min_length", 8, 64, 8),
            classes=number("password_classes", 1, 4, 3),
            history=number("password_history", 0, 24, 5),
            max_age_days=number("password_max_age_days", 0, 3650, 0),
            warn_days=number("password_warn_days", 0, 90, 14),
        )


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip() for line in lines if line.strip() and not line.startswith("#")
    )


def classes_of(password: str) -> int:
    """How many of the four classes (lower, upper, digit, other) it uses."""
    kinds = set()
    for ch in password:
        if ch.isdigit():
            kinds.add("digit")
        elif ch.islower():
            kinds.add("lower")
        elif ch.isupper():
            kinds.add("upper")
        elif not unicodedata.category(ch).startswith("C"):
            kinds.add("other")  # symbols, spaces, and letters without case (汉字)
    return len(kinds)


def is_common(password: str, username: str = "") -> bool:
    lowered = password.lower()
    if lowered in common_passwords():
        return True
    letters = lowered.strip(_AFFIXES)
    # Decorations come off first: "P@ssw0rd!" is password, not passwordi.
    core = letters.translate(_LOOKALIKES).strip(_AFFIXES)
    if core in BASES or letters in BASES or len(set(lowered)) <= 2:
        return True
    name = username.lower()
    return bool(name) and len(name) >= 3 and (name in lowered or lowered in name)


def check(password: str, user: User | None = None, username: str = "") -> list[str]:
    """What is wrong with the password under the policy, ready to show."""
    policy = Policy.current()
    problems = []
    if len(password) < policy.min_length:
        problems.append(
            ngettext(
                "Use at least %(num)d character.",
                "Use at least %(num)d characters.",
                policy.min_length,
            )
        )
    elif len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(num)d characters.", num=MAX_LENGTH))
    if classes_of(password) < policy.classes:
        problems.append(
            _(
                "Use at least %(num)d of these: lower-case letters, capital letters, "
                "digits, other characters.",
                num=policy.classes,
            )
        )
    name = username or (user.username if user is not None else "")
    if is_common(password, name):
        problems.append(_("This password is too common or too close to the user name."))
    elif user is not None and policy.history and reused(user, password, policy):
        problems.append(
            ngettext(
                "Do not reuse your last password.",
                "Do not reuse any of your last %(num)d passwords.",
                policy.history,
            )
        )
    return problems


def reused(user: User, password: str, policy: Policy) -> bool:
    user = user.login  # one password for every school the person works for
    if user.password_hash and check_password_hash(user.password_hash, password):
        return True
    earlier = db.session.scalars(
        sa.select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(max(0, policy.history - 1))
    )
    return any(check_password_hash(h, password) for h in earlier)


def change(user: User, password: str, *, by_admin: bool = False) -> None:
    """Set a password, keeping the one it replaces in the history. A password
    set by an administrator (a new account, a reset) must be changed by its
    user at the next login. Not committed."""
    user = user.login
    if user.password_hash and user.id is not None:
        db.session.add(
            PasswordHistory(user_id=user.id, password_hash=user.password_hash)
        )
        keep = max(1, Policy.current().history)
        old = (
            sa.select(PasswordHistory.id)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.id.desc())
            .offset(keep)
        )
        db.session.flush()
        db.session.execute(
            sa.delete(PasswordHistory).where(PasswordHistory.id.in_(old))
        )
    user.set_password(password)
    user.must_change_password = by_admin


def expires_at(user: User, policy: Policy | None = None) -> datetime | None:
    policy = policy or Policy.current()
    if not policy.max_age_days:
        return None
    login = user.login
    changed = login.password_changed_at or login.created_at
    return changed + timedelta(days=policy.max_age_days)


def is_expired(user: User, policy: Policy | None = None) -> bool:
    end = expires_at(user, policy)
    return end is not None and end <= utcnow()


def days_left(user: User, policy: Policy | None = None) -> int | None:
    """Days until the password expires, when within the warning period."""
    policy = policy or Policy.current()
    end = expires_at(user, policy)
    if end is None:
        return None
    left = end - utcnow()
    if left > timedelta(days=policy.warn_days):
        return None
    return max(0, left.days)


def describe(policy: Policy | None = None) -> str:
    """The rules in one sentence, for the hint under a new-password field."""
    policy = policy or Policy.current()
    if policy.classes <= 1:
        return ngettext(
            "At least %(num)d character; not a common password.",
            "At least %(num)d characters; not a common password.",
            policy.min_length,
        )
    return _(
        "At least %(num)d characters, using %(classes)d of: lower-case letters, "
        "capital letters, digits, other characters; not a common password.",
        num=policy.min_length,
        classes=policy.classes,
    )


def change_reason(user: User, policy: Policy | None = None) -> str | None:
    """Why the user must choose a new password before anything else:
    "must_change" (set by an administrator), "expired", or None."""
    if user.login.must_change_password:
        return "must_change"
    if is_expired(user, policy):
        return "expired"
    return None
