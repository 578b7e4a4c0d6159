"""The restore drill (恢复演练): prove that a backup restores, without
touching the live site.

An archive is checked and restored into a temporary instance exactly as
`flask restore` would (a PostgreSQL dump into a scratch database on the
live site's server, created and dropped), opened with the app factory and
migrated; its row counts must match its manifest, its audit chain and
archive files must verify. The live site keeps the date and outcome as evidence for the
self-assessment, and an audit event.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from core import audit
from models import db, set_setting, utcnow
from operations import backup


@dataclass
class Drill:
    archive: Path
    steps: list[str] = field(default_factory=list)  # what was checked, in order
    problem: str = ""  # "" when the archive restored and checked out

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def result(self) -> str:
        """The restore_drill_result setting: "ok" or what failed."""
        return "ok" if self.ok else self.problem


def run_drill(app, archive: Path) -> Drill:
    """Restore archive into a temporary instance and check it there."""
    drill = Drill(archive)
    try:
        _restore_and_check(app, archive, drill)
    except backup.BackupError as error:
        drill.problem = str(error)
    except (sa.exc.SQLAlchemyError, OSError) as error:
        drill.problem = f"The restored site could not be opened: {error}"
    return drill


def _restore_and_check(app, archive: Path, drill: Drill) -> None:
    with tempfile.TemporaryDirectory(prefix="schoolnews-drill-") as tmp:
        staging = Path(tmp, "staging")
        staging.mkdir()
        checked = backup.unpack_and_check(
            archive,
            staging,
            max_bytes=app.config.get("RESTORE_MAX_BYTES") or backup.RESTORE_MAX_BYTES,
            max_ratio=app.config.get("RESTORE_MAX_RATIO") or backup.RESTORE_MAX_RATIO,
            instance=backup.Instance.of(app),  # its pg_restore reads a dump whole
        )
        manifest = checked.manifest
        drill.steps.append("The archive is sound (members, manifest, integrity).")
        site = Path(tmp, "site")
        site.mkdir()
        if checked.engine == "postgresql":
            instance = _scratch_database(app, site)
            uri = instance.url.render_as_string(hide_password=False)
        else:
            instance = backup.Instance(site / "cms.sqlite3", site / "uploads", site)
            uri = f"sqlite:///{instance.database}"
        try:
            backup.restore_backup(checked, instance)
            drill.steps.append(f"Restored it into {site} ({instance.label}).")
            config = dict(app.config)
            config.update(
                SQLALCHEMY_DATABASE_URI=uri,
                UPLOAD_FOLDER=str(instance.uploads),
                BACKUP_FOLDER=str(site / "backups"),
                BACKUP_COPY_TO=None,
            )
            restored = app.extensions["factory"](config)
            try:
                with restored.app_context():
                    try:
                        _check_restored(restored, manifest, instance, drill)
                    finally:
                        db.session.remove()
                        db.engine.dispose()
            finally:
                restored.extensions["pagecache"].hot.dispose()
        finally:
            if instance.url is not None:
                backup.drop_database(instance.url)


def _scratch_database(app, site: Path) -> backup.Instance:
    """A new database on the live site's PostgreSQL server, dropped after."""
    live = backup.Instance.of(app)
    if live.engine != "postgresql":
        raise backup.BackupError(
            "This archive holds a PostgreSQL database: drill it on a site that "
            "uses PostgreSQL (the copy is restored on that server)."
        )
    name = f"{live.url.database[:30]}_drill_{secrets.token_hex(4)}"
    return backup.Instance(
        None, site / "uploads", site, live.url.set(database=name), live.tools
    )


def _check_restored(restored, manifest: dict, instance, drill: Drill) -> None:
    if manifest.get("alembic_revision"):
        from flask_migrate import upgrade  # not loaded by server processes

        upgrade()
        drill.steps.append("Migrated it to this release.")
    connection = db.session.connection()
    for table in backup.COUNTED_TABLES:
        expected = manifest["counts"][table]
        found = connection.execute(
            sa.select(sa.func.count()).select_from(sa.table(table))
        ).scalar()
        if found != expected:
            raise backup.BackupError(
                f"The restored {table} table has {found} rows, the manifest "
                f"says {expected}."
            )
    expected = manifest.get("audit_events")
    if expected is not None:
        found = connection.execute(
            sa.select(sa.func.count()).select_from(sa.table("audit_event"))
        ).scalar()
        if found != expected:
            raise backup.BackupError(
                f"The restored audit log has {found} events, the manifest "
                f"says {expected}."
            )
    files = sum(1 for path in instance.uploads.iterdir() if path.is_file())
    if files < manifest["upload_files"]:
        raise backup.BackupError(
            f"{files} uploaded files were restored, the manifest says "
            f"{manifest['upload_files']}."
        )
    drill.steps.append("Row counts and uploaded files match the manifest.")
    verdict = audit.verify(save=False)
    if not verdict.ok:
        raise backup.BackupError(
            f"The restored audit log does not verify: {verdict.note}"
        )
    archives = audit.verify_archives(instance.folder / audit.ARCHIVE_FOLDER)
    if not archives.ok:
        raise backup.BackupError(
            f"The restored audit archive does not verify: {archives.note}"
        )
    drill.steps.append(
        f"The audit chain verifies ({verdict.checked} events, "
        f"{archives.checked} archived)."
    )


def record(drill: Drill) -> None:
    """Keep the drill's date and outcome on the live site, and audit it."""
    set_setting("restore_drill_at", utcnow().isoformat(timespec="seconds"))
    set_setting("restore_drill_result", drill.result[:500])
    audit.record(
        "restore_drill",
        drill.archive.name,
        outcome=audit.SUCCESS if drill.ok else audit.FAILURE,
        detail=drill.result,
    )
    db.session.commit()
