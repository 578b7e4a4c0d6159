"""Make attachments' previews in the background, one at a time per process.

An attachment is saved with Upload.preview = "pending" (storage.save_upload)
and the upload answers at once. A worker thread in each server process
claims pending rows with a conditional UPDATE (so two processes never make
one preview twice; a claim older than LEASE was a process that died), runs
previews.make() in the sandbox and records "ready" or "failed" with a note.
Pending rows are read from the database, so a restart resumes them.

The files go to <UPLOAD_FOLDER>/derived/<stored_name>/preview/ (storage
removes the whole derived folder with its upload): written into a scratch
folder first and renamed into place before the row says "ready".
"""

from __future__ import annotations

import logging
import shutil
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from core import background
from core.sites import acting_for
from models import Upload, db, utcnow
from newsroom import sandbox, storage
from newsroom.preview_files import (
    BROKEN,
    FAILED,
    PENDING,
    PREVIEW_DIR,
    READY,
    TOO_BIG,
    WORKING,
    folder,
    kind_of,
    url_prefix,
)

# The converters are imported by the sandbox's fork server, never here.
sandbox.preload("newsroom.previews")

LEASE = timedelta(minutes=5)  # longer than any conversion's time bound
POLL_SECONDS = 60.0  # rows another process left behind are seen this soon

log = logging.getLogger(__name__)


def limits() -> sandbox.Limits:
    config = current_app.config
    return sandbox.Limits(
        memory_mb=int(config.get("PREVIEW_MEMORY_MB", sandbox.DEFAULT_MEMORY_MB)),
        seconds=float(config.get("PREVIEW_SECONDS", sandbox.DEFAULT_SECONDS)),
    )


# --- the work ----------------------------------------------------------------------


def _due(now):
    return sa.or_(
        Upload.preview == PENDING,
        sa.and_(Upload.preview == WORKING, Upload.preview_until < now),
    )


def claim_next() -> tuple[int, object, int] | None:
    """Claim the oldest due row of any school (站群): (id, claim, site id), or
    None when nothing is due."""
    while True:
        now = utcnow()
        row = db.session.execute(
            sa.select(Upload.id, Upload.site_id)
            .where(_due(now))
            .order_by(Upload.id)
            .limit(1)
            .execution_options(all_sites=True)
        ).first()
        if row is None:
            db.session.rollback()
            return None
        until = now + LEASE
        claimed = db.session.execute(
            sa.update(Upload)
            .where(Upload.id == row.id, _due(now))
            .values(preview=WORKING, preview_until=until)
            # Readers see "pending" and "working" alike.
            .execution_options(
                synchronize_session=False, readers_unaffected=True, all_sites=True
            )
        ).rowcount
        db.session.commit()
        if claimed == 1:  # else another process was quicker: the next one
            return row.id, until, row.site_id


def convert(row_id: int, claim, site_id: int | None = None) -> str | None:
    """Make the preview of a claimed row, as its school; the state recorded
    (None: gone)."""
    if site_id is not None:
        with acting_for(site_id):
            return convert(row_id, claim)
    upload = db.session.get(Upload, row_id)
    if upload is None:
        return None
    kind, stored_name = kind_of(upload), upload.stored_name
    source = storage.file_path(upload)
    target = folder(upload)
    scratch = target.with_name(f"{PREVIEW_DIR}.{uuid.uuid4().hex}.tmp")
    db.session.rollback()  # no transaction held open while converting
    state, reason = FAILED, BROKEN
    try:
        scratch.mkdir(parents=True)
        if kind is not None and source.is_file():
            result = sandbox.run(
                "newsroom.previews:make",
                kind,
                str(source),
                str(scratch),
                url_prefix(stored_name),
                current_app.config.get("PREVIEW_FONTS"),
                limits=limits(),
            )
            if "refused" in result:
                reason = result["refused"]
            else:
                shutil.rmtree(target, ignore_errors=True)
                scratch.rename(target)
                state, reason = READY, ""
    except sandbox.SandboxError as error:
        log.info("no preview of upload %s: %s", row_id, error)
        if error.reason in ("memory", "timeout"):
            reason = TOO_BIG
    except Exception:  # our side (a full disk …): a note, never a retry loop
        log.exception("no preview of upload %s", row_id)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    recorded = db.session.execute(
        sa.update(Upload)
        .where(
            Upload.id == row_id,
            Upload.preview == WORKING,
            Upload.preview_until == claim,
        )
        .values(preview=state, preview_note=reason, preview_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not recorded and db.session.get(Upload, row_id) is None:
        # Deleted meanwhile: its folder may have come back with our rename.
        shutil.rmtree(storage.derived_dir(stored_name), ignore_errors=True)
        return None
    return state


def process_pending(limit: int | None = None) -> int:
    """Make every due preview now, in this thread; how many were made."""
    done = 0
    while limit is None or done < limit:
        claimed = claim_next()
        if claimed is None:
            break
        convert(*claimed)
        done += 1
    return done


# --- the worker thread -------------------------------------------------------------


class Worker(background.ProcessThread):
    """This process's preview maker: one thread, one conversion at a time
    (each bounded by the sandbox), so previews never take more than one
    sandbox's memory per server process."""

    name = "preview-worker"
    config_key = "PREVIEW_WORKER"
    extension = "previews"

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    while not self.stopping.is_set() and process_pending(limit=1):
                        pass
            except Exception:  # the database may be busy or not there yet
                log.warning("attachment previews were not made", exc_info=True)
            self.wait(POLL_SECONDS)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _wake_after_commit(session) -> None:
    if session.info.pop(storage.PREVIEW_WAKE, False):
        worker = current_app.extensions.get("previews") if current_app else None
        if worker is not None:
            worker.kick()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_after_rollback(session) -> None:
    session.info.pop(storage.PREVIEW_WAKE, None)


def init_app(app) -> None:
    """Bind the worker: it starts with a server process (serve.py), else with
    the first attachment saved; PREVIEW_WORKER False (tests) keeps it off."""
    Worker.bind(app)


def stop(app) -> None:
    Worker.stop_bound(app)
