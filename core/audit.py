"""Record who did what, from where, and whether it worked, and keep that
record honest. The one writer of AuditEvent rows: every part records here;
the audit page (admin/views/audit.py) reads.

The log is a hash chain. Each event's hash covers the hash of the event
before it; the AuditChain row holds the newest hash and the chain's length.
verify() walks the chain, so an event changed, removed or slipped in
directly in the database is found. Events are chained as they are flushed,
under a write lock on the AuditChain row, so writers in several processes
(or servers) take turns and ids follow the chain's order.

Events older than the retention are archived, not simply deleted: `flask
backup` writes them to instance/audit-archive/audit-<first>-<last>.jsonl.gz
(write_archive), puts that folder into the backup, and only then deletes
them (commit_archive), moving the chain's anchor to the last archived hash.
verify_archives() checks the files from the first anchor to the live chain.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
        # The first event of a log: two processes may both find no row, so
        # the second's insert must wait and then lock it, not fail.
        connection.execute(_first_chain_row(connection.dialect.name))
        connection.execute(
            _chain.update().where(_chain.c.id == 1).values(length=_chain.c.length)
        )
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


def _first_chain_row(dialect: str):
    values = dict(id=1, head_hash="", length=0)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(_chain).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(_chain).values(values).on_conflict_do_nothing()
    return _chain.insert().values(values)


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
    # yield_per on this statement only: on the connection it would make the
    # UPDATE in _save a server-side cursor too, which PostgreSQL refuses.
    rows = connection.execute(
        sa.select(_events)
        .where(_events.c.id > chain.archived_through_id)
        .order_by(_events.c.id)
        .execution_options(yield_per=2000)
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


# --- archiving events past the retention -------------------------------------

ARCHIVE_FOLDER = "audit-archive"  # inside the instance folder
ARCHIVE_FORMAT = 1
ARCHIVE_KIND = "schoolnews-audit-archive"
ARCHIVE_NAME_RE = re.compile(r"audit-([1-9][0-9]{0,17})-([1-9][0-9]{0,17})\.jsonl\.gz")
# Every column, in the table's order: the file alone can be re-hashed.
ARCHIVE_FIELDS = (
    "id",
    "created_at",
    "user_id",
    "action",
    "target",
    "ip",
    "outcome",
    "detail",
    "hash",
)
MIN_RETENTION_DAYS = 180  # 网络安全法 art. 21: at least six months


class ArchiveError(Exception):
    """Events that cannot be archived; str() says why (for the log)."""


@dataclass
class Archived:
    """Events written to an archive file and not yet deleted."""

    path: Path
    after_id: int  # the chain's archived_through_id when the file was written
    first_id: int
    last_id: int
    count: int
    last_hash: str


def retention_days(settings: dict) -> int:
    """The audit_retention_days setting, never below six months."""
    try:
        days = int(settings.get("audit_retention_days") or 0)
    except ValueError:
        days = 0
    return max(days, MIN_RETENTION_DAYS)


def write_archive(folder: Path, before: datetime) -> Archived | None:
    """Write the live events recorded before `before` (naive UTC) into one
    file in folder; None when there are none. Deletes nothing.

    Only a run that starts at the anchor and fits the chain is archived:
    moving the anchor past a broken link would hide the tampering.
    """
    connection = db.session.connection()
    chain = connection.execute(sa.select(_chain).where(_chain.c.id == 1)).first()
    if chain is None:
        return None
    after = chain.archived_through_id
    # A run without gaps: it ends before the first event that is still young.
    young = connection.execute(
        sa.select(sa.func.min(_events.c.id)).where(
            _events.c.id > after, _events.c.created_at >= before
        )
    ).scalar()
    query = sa.select(_events).where(_events.c.id > after).order_by(_events.c.id)
    if young is not None:
        query = query.where(_events.c.id < young)
    rows = connection.execute(query).all()
    if not rows:
        return None
    head = chain.anchor_hash
    for row in rows:
        if row.hash != event_hash(head, row):
            raise ArchiveError(
                f"Event {row.id} does not fit the chain: nothing was archived."
            )
        head = row.hash
    archived = Archived(
        folder / f"audit-{rows[0].id}-{rows[-1].id}.jsonl.gz",
        after,
        rows[0].id,
        rows[-1].id,
        len(rows),
        head,
    )
    header = {
        "kind": ARCHIVE_KIND,
        "format": ARCHIVE_FORMAT,
        "after_id": after,
        "anchor_hash": chain.anchor_hash,
        "first_id": archived.first_id,
        "last_id": archived.last_id,
        "count": archived.count,
        "last_hash": head,
    }
    folder.mkdir(parents=True, exist_ok=True)
    partial = archived.path.with_name(archived.path.name + ".part")
    try:
        with gzip.open(partial, "wt", encoding="utf-8", newline="\n") as out:
            out.write(json.dumps(header, ensure_ascii=False) + "\n")
            for row in rows:
                out.write(json.dumps(_archive_line(row), ensure_ascii=False) + "\n")
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, archived.path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return archived


def _archive_line(row) -> dict:
    line = {field: getattr(row, field) for field in ARCHIVE_FIELDS}
    line["created_at"] = row.created_at.isoformat(sep=" ", timespec="microseconds")
    return line


def commit_archive(archived: Archived) -> bool:
    """Delete the archived events and move the anchor past them, in one
    transaction, and record it; False (nothing done) when another run
    archived meanwhile."""
    connection = db.session.connection()
    moved = connection.execute(
        _chain.update()
        .where(_chain.c.id == 1, _chain.c.archived_through_id == archived.after_id)
        .values(
            archived_through_id=archived.last_id,
            anchor_hash=archived.last_hash,
            length=_chain.c.length - archived.count,
        )
    ).rowcount
    if not moved:
        db.session.rollback()
        return False
    # Inserted before the delete: SQLite gives a new row max(id) + 1, so an
    # emptied table would hand out archived ids again.
    record(
        "audit_archived",
        archived.path.name,
        detail=f"{archived.count} events, ids {archived.first_id}-{archived.last_id}",
    )
    db.session.flush()
    # The trigger allows exactly this: ids up to archived_through_id.
    connection.execute(_events.delete().where(_events.c.id <= archived.last_id))
    db.session.commit()
    return True


def is_leftover(path: Path) -> bool:
    """An archive file whose events are all still in this database, with the
    same hashes: a backup stopped before deleting them, or one restored. It
    may be written anew; a file of another chain is never taken for one."""
    through = (
        db.session.connection()
        .execute(sa.select(_chain.c.archived_through_id).where(_chain.c.id == 1))
        .scalar()
    )
    first_id, last_id = map(int, ARCHIVE_NAME_RE.fullmatch(path.name).groups())
    if first_id <= (through or 0):
        return False
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "null"))
    except (OSError, EOFError, ValueError):
        return False
    if not isinstance(header, dict) or header.get("last_id") != last_id:
        return False
    live = db.session.connection().execute(
        sa.select(_events.c.hash).where(_events.c.id == last_id)
    )
    return live.scalar() == header.get("last_hash")


def archive_files(folder: Path) -> list[Path]:
    """The archive files in folder, oldest first."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if ARCHIVE_NAME_RE.fullmatch(p.name)]
    return sorted(files, key=lambda p: int(ARCHIVE_NAME_RE.fullmatch(p.name)[1]))


def verify_archives(folder: Path) -> Verdict:
    """Check every archive file's chain, that each one goes on from the one
    before, and that the newest ones join the live chain at its anchor."""
    chain = (
        db.session.connection()
        .execute(sa.select(_chain).where(_chain.c.id == 1))
        .first()
    )
    through = chain.archived_through_id if chain else 0
    anchor = chain.anchor_hash if chain else ""
    checked, after, head = 0, 0, ""
    joined = through == 0
    for path in archive_files(folder):
        try:
            count, file_after, file_anchor, last_id, last_hash = _walk_archive(path)
        except ArchiveError as error:
            return Verdict(False, checked, f"{path.name}: {error}")
        checked += count
        if file_after != after or file_anchor != head:
            return Verdict(
                False,
                checked,
                f"{path.name} does not go on from the archive before it "
                f"(events after {after} are missing or were replaced).",
            )
        if last_id == through:
            if last_hash != anchor:
                return Verdict(
                    False,
                    checked,
                    f"{path.name} does not end at the live chain's anchor.",
                )
            joined = True
        elif last_id > through:
            # Archived, but still in the database (a restored backup, or a
            # backup whose deletion did not happen): the two must agree.
            live = db.session.connection().execute(
                sa.select(_events.c.hash).where(_events.c.id == last_id)
            )
            if live.scalar() != last_hash:
                return Verdict(
                    False,
                    checked,
                    f"{path.name} does not agree with event {last_id} in the database.",
                    last_id,
                )
        after, head = last_id, last_hash
    if not joined:
        return Verdict(
            False,
            checked,
            f"The archive of the events up to {through} is missing: no file "
            "ends at the live chain's anchor.",
        )
    return Verdict(True, checked, "")


class _Row:
    """An archived event read back, shaped like a row for event_hash()."""

    def __init__(self, line: dict):
        self.__dict__.update(line)
        self.created_at = datetime.fromisoformat(line["created_at"])


def _walk_archive(path: Path) -> tuple[int, int, str, int, str]:
    """Re-hash one file; (events, after_id, anchor, last id, last hash)."""
    first_id, last_id = map(int, ARCHIVE_NAME_RE.fullmatch(path.name).groups())
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "null"))
            if not isinstance(header, dict) or header.get("kind") != ARCHIVE_KIND:
                raise ArchiveError("not an audit archive (no header line).")
            head = anchor = str(header.get("anchor_hash", ""))
            previous = after = int(header.get("after_id", -1))
            count = 0
            for text in lines:
                row = _Row(json.loads(text))
                if count == 0 and row.id != first_id:
                    raise ArchiveError("its events do not match its name.")
                if row.id <= previous or row.hash != event_hash(head, row):
                    raise ArchiveError(
                        f"event {row.id} does not fit the chain: the file was changed."
                    )
                previous, head, count = row.id, row.hash, count + 1
    except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
        raise ArchiveError(f"cannot be read: {error}") from None
    if count == 0 or previous != last_id or after >= first_id:
        raise ArchiveError("its events do not match its name.")
    if header.get("count") != count or header.get("last_hash") != head:
        raise ArchiveError("its header does not match its events.")
    return count, after, anchor, last_id, head
