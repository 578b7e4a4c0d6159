"""Record who did what, from where, and whether it worked, and keep that
record honest. The one writer of AuditEvent rows: every part records here;
the audit page (admin/views/audit.py) reads.

The log is a hash chain. Each event's hash covers the hash of the event
before it; the AuditChain row holds the newest hash and the chain's length.
verify() walks the chain, so an event changed, removed or slipped in
directly in the database is found. Events are chained as they are flushed,
under a write lock on the AuditChain row, so writers in several processes
(or servers) take turns and ids follow the chain's order.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import sqlalchemy as sa
from flask import flash, has_request_context, redirect, request
from flask_login import current_user
from sqlalchemy.orm import Session

from models import AuditChain, AuditEvent, db, utcnow

SUCCESS = "success"
FAILURE = "failure"

_chain = AuditChain.__table__
_events = AuditEvent.__table__
# Events added in one flush are chained in the order they were recorded.
_order = itertools.count()


def client_address() -> str:
    """The client's address: remote_addr is the proxy's unless TRUSTED_PROXIES
    wrapped the app in ProxyFix; X-Forwarded-For is never read here, so it
    cannot be forged."""
    if not has_request_context():
        return ""
    return (request.remote_addr or "unknown")[:45]


def record(
    action: str,
    target: str = "",
    user=None,
    *,
    outcome: str = SUCCESS,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event for user (default: the current user); the caller
    commits with its change."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    event = AuditEvent(
        created_at=utcnow(),
        user_id=user.id if user is not None else None,
        action=action[:50],
        target=(target or "")[:200],
        ip=client_address(),
        outcome=outcome,
        detail=(detail or "")[:500],
    )
    event._chain_order = next(_order)
    db.session.add(event)
    return event


def record_now(action: str, target: str = "", user=None, **kwargs) -> None:
    """Record an event in a transaction of its own (a failed login, whose
    request changes nothing else, or a refusal rolled back)."""
    record(action, target, user, **kwargs)
    db.session.commit()


def finish_change(action: str, target: str, message: str, back: str):
    """The end of every admin change: audit it, commit both together, say
    what was done and go back to the list."""
    record(action, target)
    db.session.commit()
    flash(message, "success")
    return redirect(back)


def event_hash(previous: str, event) -> str:
    """The event's link in the chain. The format is frozen: migration 0015
    has a copy, and changing it would break every chain already written."""
    parts = (
        previous,
        event.created_at.isoformat(sep=" ", timespec="microseconds"),
        str(event.user_id or ""),
        event.action,
        event.target,
        event.ip,
        event.outcome,
        event.detail,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@sa.event.listens_for(Session, "before_flush")
def _chain_new_events(session, flush_context, instances):
    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not new:
        return
    new.sort(key=lambda e: getattr(e, "_chain_order", -1))
    connection = session.connection()
    # The no-op UPDATE takes the row's write lock (and SQLite's database
    # lock) first, so nobody chains between our read and our insert.
    locked = connection.execute(
        _chain.update().where(_chain.c.id == 1).values(length=_chain.c.length)
    ).rowcount
    if not locked:
        connection.execute(_chain.insert().values(id=1, head_hash="", length=0))
    head, length = connection.execute(
        sa.select(_chain.c.head_hash, _chain.c.length).where(_chain.c.id == 1)
    ).one()
    for event in new:
        if event.created_at is None:
            event.created_at = utcnow()
        for field in ("target", "ip", "detail"):
            if getattr(event, field) is None:
                setattr(event, field, "")
        event.outcome = event.outcome or SUCCESS
        event.hash = head = event_hash(head, event)
    connection.execute(
        _chain.update()
        .where(_chain.c.id == 1)
        .values(head_hash=head, length=length + len(new))
    )


@dataclass
class Verdict:
    ok: bool
    checked: int  # events walked
    note: str  # what is wrong, in English for the log; "" when ok
    event_id: int | None = None  # the first event that does not fit


def verify(save: bool = True) -> Verdict:
    """Walk the chain from its anchor; save the outcome on the AuditChain row."""
    connection = db.session.connection()
    chain = connection.execute(sa.select(_chain).where(_chain.c.id == 1)).first()
    if chain is None:
        # No event was ever recorded: an empty log is a whole one.
        count = connection.execute(sa.select(sa.func.count()).select_from(_events))
        verdict = Verdict(count.scalar() == 0, 0, "")
        if not verdict.ok:
            verdict.note = "The audit log has events but no chain head."
        return _save(verdict) if save else verdict
    head, checked = chain.anchor_hash, 0
    rows = connection.execution_options(yield_per=2000).execute(
        sa.select(_events)
        .where(_events.c.id > chain.archived_through_id)
        .order_by(_events.c.id)
    )
    verdict = None
    for row in rows:
        checked += 1
        if row.hash != event_hash(head, row):
            verdict = Verdict(
                False,
                checked,
                f"Event {row.id} does not fit the chain: it or an event before "
                "it was changed, removed or inserted in the database.",
                row.id,
            )
            break
        head = row.hash
    rows.close()
    if verdict is None:
        if checked != chain.length or head != chain.head_hash:
            verdict = Verdict(
                False,
                checked,
                f"The chain holds {chain.length} events but {checked} were found:"
                " the newest events were removed or the chain head was changed.",
            )
        else:
            verdict = Verdict(True, checked, "")
    return _save(verdict) if save else verdict


def _save(verdict: Verdict) -> Verdict:
    connection = db.session.connection()
    values = dict(
        verified_at=utcnow(), verified_ok=verdict.ok, verified_note=verdict.note
    )
    done = connection.execute(
        _chain.update().where(_chain.c.id == 1).values(**values)
    ).rowcount
    if not done:
        connection.execute(
            _chain.insert().values(id=1, head_hash="", length=0, **values)
        )
    db.session.commit()
    return verdict
