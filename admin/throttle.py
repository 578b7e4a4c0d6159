"""Login throttling: slow down, then block, guessing per (name, address) and address.

A failure never counts against a user name everywhere: that would let anyone
lock the administrator out by typing wrong passwords for "admin". The budget
belongs to the pair (user name, client address), so a storm from one address
leaves the real user free to log in from another, and to the address alone,
so one address cannot spray guesses over many names.
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
    wait: timedelta = timedelta(0)
    scope: str = ""  # "name" or "address": which budget ran out

    @property
    def refused(self) -> bool:
        return self.wait > timedelta(0)


def begin(username: str, address: str) -> Attempt:
    """Record a login attempt, then decide whether it may check a password.

    The attempt is stored (pending) before the password is checked and counted
    against the attempts stored before it (lower ids), so a burst of parallel
    guesses cannot all pass before any of them has failed. When only attempts
    still in flight stand in the way, it waits for them: they may be a room of
    teachers logging in at once, whose successes then no longer count.
    """
    now = utcnow()
    row = LoginAttempt(username=username, ip=address, created_at=now, pending=True)
    db.session.add(row)
    db.session.flush()
    attempt = Attempt(id=row.id, username=username, address=address)
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
    for scope, limit, query in (
        ("name", PER_NAME, earlier.where(LoginAttempt.username == attempt.username)),
        ("address", PER_ADDRESS, earlier),
    ):
        rows = db.session.execute(
            query.order_by(
                LoginAttempt.created_at.desc(), LoginAttempt.id.desc()
            ).limit(limit.block)
        ).all()
        wait = pause([r.created_at for r in rows], limit, now)
        if wait > timedelta(0):
            # A request that died mid-check leaves its row pending for good;
            # it counts as a failure but is not waited for.
            recent = now - STALE_IN_FLIGHT
            in_flight |= any(r.pending and r.created_at > recent for r in rows)
        if wait > attempt.wait:
            attempt.wait, attempt.scope = wait, scope
    return in_flight


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
