"""Login throttling: slow down, then block, guessing per (name, address) and
address, and space out guessing per account across all addresses.

A failure never blocks a user name everywhere: that would let anyone lock the
administrator out by typing wrong passwords for "admin". The budget belongs
to the pair (user name, client address), so a storm from one address leaves
the real user free to log in from another, and to the address alone, so one
address cannot spray guesses over many names.

A guesser with many addresses (a botnet, or a whole IPv6 range) gets each
pair's free tries from every address, so each account also has a ceiling
across all addresses: past ACCOUNT_CEILING failures in the window, the
account takes one password check per ACCOUNT_SPACING from browsers that have
not logged in to it before; other tries are refused without a check. That
caps a storm at about 120 guesses an hour per account, whatever its size.

The trade-off: the real user, from a new browser, competes with the storm for
those checks, waiting up to ACCOUNT_SPACING for a free one (more while the
storm lasts) — slowed, never locked out for long. A browser where the user
has logged in to the account before carries a signed «known device» cookie
(admin/signin.py) and skips the account's ceiling, keeping only the pair's
limits, which a storm from elsewhere does not touch. A thief of that cookie
still needs the password, at the pair's pace; the second factor
(admin/totp.py) is the answer for accounts worth a sustained attack.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from models import LoginAttempt, db, utcnow

# Failures older than this no longer count, and are deleted.
FAILURE_WINDOW = timedelta(hours=1)
LONGEST_PAUSE = timedelta(minutes=15)
# How long a try waits for earlier ones still checking a password (a password
# check takes well under a second) before counting them as failures.
IN_FLIGHT_WAIT = timedelta(seconds=5)
STALE_IN_FLIGHT = timedelta(minutes=1)


@dataclass(frozen=True)
class Limit:
    free: int  # failures in the window that cost no waiting
    block: int  # failures in the window that block until the oldest leaves it


# A teacher who mistypes five times waits a minute, then 2, 4, 8, 15 minutes
# after each further failure; ten failures block the pair for up to an hour.
PER_NAME = Limit(free=5, block=10)
# A shared address without TRUSTED_PROXIES is the whole school: keep it generous.
PER_ADDRESS = Limit(free=20, block=50)
# Failures of one account from any address before its checks are spaced out,
# and the spacing (for browsers without the account's known-device cookie).
ACCOUNT_CEILING = 10
ACCOUNT_SPACING = timedelta(seconds=30)


def pause(times: list[datetime], limit: Limit, now: datetime) -> timedelta:
    """How long to wait before the next try, given failure times newest first."""
    if len(times) >= limit.block:
        return max(timedelta(0), times[limit.block - 1] + FAILURE_WINDOW - now)
    if len(times) >= limit.free:
        step = min(LONGEST_PAUSE, timedelta(minutes=2 ** (len(times) - limit.free)))
        return max(timedelta(0), times[0] + step - now)
    return timedelta(0)


def minutes(wait: timedelta) -> int:
    """A wait in whole minutes, rounded up, for the message."""
    return max(1, math.ceil(wait.total_seconds() / 60))


@dataclass
class Attempt:
    id: int
    username: str
    address: str
    known_device: bool = False  # skips the account's ceiling
    wait: timedelta = timedelta(0)
    scope: str = ""  # "name", "address" or "account": which budget ran out

    @property
    def refused(self) -> bool:
        return self.wait > timedelta(0)


# The PostgreSQL advisory lock that orders login attempts (any fixed number).
ATTEMPT_LOCK = 0x5C4E01


def seconds(wait: timedelta) -> int:
    """A wait in whole seconds, rounded up, for the message."""
    return max(1, math.ceil(wait.total_seconds()))


def begin(username: str, address: str, *, known_device: bool = False) -> Attempt:
    """Record a login attempt, then decide whether it may check a password.

    The attempt is stored (pending) before the password is checked and counted
    against the attempts stored before it (lower ids), so a burst of parallel
    guesses cannot all pass before any of them has failed. When only attempts
    still in flight stand in the way, it waits for them: they may be a room of
    teachers logging in at once, whose successes then no longer count.
    """
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        # Ids must be committed in their order, or two guesses in flight
        # each count without the other (SQLite's write lock does this there).
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(ATTEMPT_LOCK)))
    row = LoginAttempt(username=username, ip=address, created_at=now, pending=True)
    db.session.add(row)
    db.session.flush()
    attempt = Attempt(
        id=row.id, username=username, address=address, known_device=known_device
    )
    db.session.execute(
        sa.delete(LoginAttempt).where(LoginAttempt.created_at < now - FAILURE_WINDOW)
    )
    db.session.commit()
    deadline = time.monotonic() + IN_FLIGHT_WAIT.total_seconds()
    while True:
        in_flight = _decide(attempt, now)
        if not (attempt.refused and in_flight) or time.monotonic() > deadline:
            break
        db.session.commit()  # end the read, so the next one sees their outcome
        time.sleep(0.05)
    if attempt.refused:
        # A refused try checked no password, so it is not a failure: counting
        # it would only stretch the wait of whoever shares the address.
        forget(attempt)
    return attempt


def _decide(attempt: Attempt, now: datetime) -> bool:
    """Set the attempt's wait; tell whether attempts in flight caused it."""
    earlier = sa.select(LoginAttempt.created_at, LoginAttempt.pending).where(
        LoginAttempt.ip == attempt.address,
        LoginAttempt.id < attempt.id,
        LoginAttempt.created_at > now - FAILURE_WINDOW,
    )
    attempt.wait, attempt.scope = timedelta(0), ""
    in_flight = False
    checks = [
        ("name", PER_NAME, earlier.where(LoginAttempt.username == attempt.username)),
        ("address", PER_ADDRESS, earlier),
    ]
    if not attempt.known_device:
        everywhere = sa.select(LoginAttempt.created_at, LoginAttempt.pending).where(
            LoginAttempt.username == attempt.username,
            LoginAttempt.id < attempt.id,
            LoginAttempt.created_at > now - FAILURE_WINDOW,
        )
        checks.append(("account", None, everywhere))
    for scope, limit, query in checks:
        rows = db.session.execute(
            query.order_by(
                LoginAttempt.created_at.desc(), LoginAttempt.id.desc()
            ).limit(limit.block if limit else ACCOUNT_CEILING)
        ).all()
        times = [r.created_at for r in rows]
        wait = pause(times, limit, now) if limit else spacing(times, now)
        if wait > timedelta(0):
            # A request that died mid-check leaves its row pending for good;
            # it counts as a failure but is not waited for.
            recent = now - STALE_IN_FLIGHT
            in_flight |= any(r.pending and r.created_at > recent for r in rows)
        if wait > attempt.wait:
            attempt.wait, attempt.scope = wait, scope
    return in_flight


def spacing(times: list[datetime], now: datetime) -> timedelta:
    """The account's wait, given its latest failures (any address) newest first."""
    if len(times) < ACCOUNT_CEILING:
        return timedelta(0)
    return max(timedelta(0), times[0] + ACCOUNT_SPACING - now)


def failed(attempt: Attempt) -> None:
    db.session.execute(
        sa.update(LoginAttempt)
        .where(LoginAttempt.id == attempt.id)
        .values(pending=False)
    )
    db.session.commit()


def forget(attempt: Attempt) -> None:
    db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
    db.session.commit()


def succeeded(attempt: Attempt) -> None:
    """Clear the failures of this name from this address (not from elsewhere)."""
    db.session.execute(
        sa.delete(LoginAttempt).where(
            LoginAttempt.username == attempt.username,
            LoginAttempt.ip == attempt.address,
            LoginAttempt.id <= attempt.id,
            # Guesses still in flight beside it are not forgiven in advance.
            sa.or_(LoginAttempt.pending.is_(False), LoginAttempt.id == attempt.id),
        )
    )
    db.session.commit()


@dataclass
class FailedAccount:
    username: str
    failures: int
    addresses: int
    latest: datetime

    @property
    def slowed(self) -> bool:
        return self.failures >= ACCOUNT_CEILING


def failed_accounts() -> list[FailedAccount]:
    """User names with failed logins in the window, most failures first."""
    rows = db.session.execute(
        sa.select(
            LoginAttempt.username,
            sa.func.count(),
            sa.func.count(sa.distinct(LoginAttempt.ip)),
            sa.func.max(LoginAttempt.created_at),
        )
        .where(
            LoginAttempt.pending.is_(False),
            LoginAttempt.created_at > utcnow() - FAILURE_WINDOW,
        )
        .group_by(LoginAttempt.username)
        .order_by(sa.func.count().desc(), LoginAttempt.username)
    )
    return [FailedAccount(*row) for row in rows]


def unlock(username: str) -> int:
    """Forget every failure of the user name, from every address (解除锁定);
    how many there were. Not committed."""
    done = db.session.execute(
        sa.delete(LoginAttempt).where(LoginAttempt.username == username.lower())
    )
    return done.rowcount
