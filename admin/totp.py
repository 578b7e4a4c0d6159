"""The second factor: TOTP codes from any authenticator app (RFC 6238), and
one-time recovery codes for a lost phone.

User.totp_secret holds the base32 secret and User.totp_last_step the last
time step accepted, so a code read over a shoulder cannot be used again while
it is still valid. A person working for several schools has one second
factor: every function here works on their home row (User.login).
"""

import hashlib
import hmac
import secrets
import time

import pyotp
import sqlalchemy as sa
from markupsafe import Markup

from models import RecoveryCode, User, db, get_settings, utcnow

STEP_SECONDS = 30
# A code from the step before or after also counts: phones' clocks drift.
VALID_WINDOW = 1
RECOVERY_CODES = 10
# No 0/o, 1/l/i: recovery codes are copied from paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_LENGTH = 10


def required_for(user: User, settings: dict | None = None) -> bool:
    """Whether the site's policy (totp_required) asks this user for a code."""
    required = (settings or get_settings())["totp_required"]
    return required == "all" or (required == "admins" and bool(user.duties))


def secret_of(user: User) -> str | None:
    user = user.login
    return user.totp_secret or None


def last_step(user: User) -> int:
    user = user.login
    return -1 if user.totp_last_step is None else user.totp_last_step


def begin_enrolment(user: User) -> str:
    """A new secret, not asked for at login until confirmed (not committed)."""
    user = user.login
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = None
    user.totp_last_step = None
    return user.totp_secret


def provisioning_uri(user: User, issuer: str) -> str:
    return pyotp.TOTP(secret_of(user)).provisioning_uri(
        name=user.username, issuer_name=issuer or "SchoolNews"
    )


def qr_svg(text: str, title: str) -> Markup:
    """The QR code an authenticator app scans, as inline SVG."""
    from reader.qrsvg import qr_svg as make  # segno, loaded on first use

    # segno's own output: numbers and a path, nothing from the user but the
    # title, which segno escapes.
    return Markup(make(text, title).decode())


def _digits(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace())


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is, within the valid window."""
    code = _digits(code)
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    step = int((time.time() if now is None else now) // STEP_SECONDS)
    for candidate in range(step - VALID_WINDOW, step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def verify(user: User, code: str) -> bool:
    """Accept a code once: a code of the last step used, or older, is refused.

    The step is claimed with a conditional UPDATE, so two requests racing
    with one code cannot both win. Not committed.
    """
    user = user.login
    secret = secret_of(user)
    if secret is None:
        return False
    step = matching_step(secret, code)
    if step is None or step <= last_step(user):
        return False
    claimed = db.session.execute(
        sa.update(User)
        .where(
            User.id == user.id,
            User.totp_secret == secret,
            sa.func.coalesce(User.totp_last_step, -1) < step,
        )
        .values(totp_last_step=step)
        # The home row may be another school's (a member's login).
        .execution_options(synchronize_session="fetch", all_sites=True)
    )
    return claimed.rowcount == 1


def confirm(user: User, code: str) -> bool:
    """Turn the second factor on once the app shows a right code."""
    user = user.login
    if user.has_totp or not verify(user, code):
        return False
    user.totp_enabled_at = utcnow()
    return True


def turn_off(user: User) -> None:
    """Forget the secret and the recovery codes (not committed)."""
    user = user.login
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _hash(code: str) -> str:
    # Random 49-bit codes need no slow hash: nothing to guess offline that
    # is cheaper than guessing them online.
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return "sha256$" + hashlib.sha256(normal.encode()).hexdigest()


def make_recovery_codes(user: User) -> list[str]:
    """Ten new codes, replacing the old ones; shown once, stored hashed."""
    user = user.login
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


def looks_like_recovery_code(code: str) -> bool:
    return len("".join(ch for ch in code if ch.isalnum())) == _CODE_LENGTH


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one unused recovery code (not committed)."""
    user = user.login
    if not looks_like_recovery_code(code):
        return False
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return used.rowcount == 1


def recovery_codes_left(user: User) -> int:
    user = user.login
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
