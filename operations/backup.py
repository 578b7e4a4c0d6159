"""Back up a whole instance into one archive, and restore it after checking it.

An archive (schoolnews-YYYYmmdd-HHMMSS.tar.gz) holds:

    manifest.json     what is inside: engine, versions, counts, when it was made
    cms.sqlite3       the database, copied with SQLite's online backup API
    database.pgdump   or, for a PostgreSQL site, pg_dump's custom-format dump
    uploads/<name>    every photo and attachment the database refers to
    secret_key        and config.py, when the instance has them
    audit-archive/    audit events past the retention (core/audit.py)

Copying cms.sqlite3 while the site runs loses what is still in the -wal file
(the issue that started this lost 73 acknowledged posts that way). The online
backup API reads one consistent snapshot through SQLite itself, WAL included,
while readers and writers go on. Uploads are copied after the snapshot: a
file is always written before its row is committed (storage.py), so every row
in the snapshot already has its file on disk.

On PostgreSQL one REPEATABLE READ transaction exports its snapshot: the
manifest's counts and the list of uploads are read in it, and pg_dump
--snapshot dumps exactly that state, so all three agree while writers go on.
A restore goes into a new database first, is checked there, and only then
takes the configured database's name; the replaced one is renamed aside.

The archive is written under a temporary name and renamed when complete, so a
crash or a full disk never leaves something that looks like a backup.

run_backup() also archives audit events older than the retention (they are
deleted only once the backup holding them is complete) and, with
BACKUP_COPY_TO set, copies the archive to another machine's share.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import tokenize
import tomllib
import unicodedata
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent  # the checkout, above operations/
MIGRATIONS_DIR = ROOT / "migrations"

FORMAT = 1
ARCHIVE_RE = re.compile(r"schoolnews-(\d{8}-\d{6})(?:-(\d+))?\.tar\.gz")
DATABASE_MEMBER = "cms.sqlite3"
DUMP_MEMBER = "database.pgdump"
ENGINES = ("sqlite", "postgresql")
MANIFEST_MEMBER = "manifest.json"
UPLOADS_DIR = "uploads"
# Instance files that make the copy run elsewhere: without the secret key,
# every session and remember-me cookie of the old server would be refused.
SETTINGS_FILES = ("secret_key", "config.py")
CONFIG_MEMBER = "config.py"
# Names storage.random_name() produces; nothing else is ever restored.
STORED_NAME_RE = re.compile(r"[0-9a-f]{16,64}\.[a-z0-9]{1,8}")
# core/audit.py's archive files (kept in step with ARCHIVE_FOLDER and
# ARCHIVE_NAME_RE there, which server processes import without this module).
AUDIT_DIR = "audit-archive"
AUDIT_NAME_RE = re.compile(r"audit-([1-9][0-9]{0,17})-([1-9][0-9]{0,17})\.jsonl\.gz")
# A lock older than this was left by a crashed backup, not a running one.
ARCHIVE_LOCK_STALE = timedelta(hours=6)

# A row whose file disappears between the snapshot and the copy was deleted
# meanwhile (the row goes first, then the file); a new snapshot sees that.
SNAPSHOT_ATTEMPTS = 5

# Restore limits, checked from the tar headers before anything is unpacked
# (an 8 MB archive once unpacked to 1.5 GB). RESTORE_MAX_BYTES and
# RESTORE_MAX_RATIO in the app's config override the first two.
RESTORE_MAX_BYTES = 20 * 1024**3
RESTORE_MAX_RATIO = 100
# Below this a high ratio is harmless: a new site's database is mostly zeros.
RATIO_FLOOR = 64 * 1024**2
# Members read whole into memory or shown on screen.
SMALL_MEMBERS = {MANIFEST_MEMBER: 1024**2, "secret_key": 4096, CONFIG_MEMBER: 1024**2}
COUNTED_TABLES = ("article", "revision", "upload", "user", "section")


class BackupError(Exception):
    """A backup or restore that cannot go on; str() says why, for the admin."""


@dataclass
class Instance:
    """Where one site keeps its data."""

    database: Path | None  # the SQLite file; None on PostgreSQL
    uploads: Path
    folder: Path  # instance/: secret_key, config.py
    url: object = None  # sqlalchemy URL of a PostgreSQL database
    tools: Path | None = None  # POSTGRESQL_BIN: where pg_dump is, if not on PATH

    @classmethod
    def of(cls, app) -> Instance:
        from models import db

        with app.app_context():
            url = db.engine.url
        uploads = Path(app.config["UPLOAD_FOLDER"])
        folder = Path(app.instance_path)
        if url.get_backend_name() == "postgresql" and url.database:
            tools = app.config.get("POSTGRESQL_BIN")
            return cls(None, uploads, folder, url, Path(tools) if tools else None)
        if url.get_backend_name() != "sqlite" or not url.database:
            raise BackupError(
                "Backup and restore handle SQLite and PostgreSQL databases only."
            )
        return cls(database=Path(url.database), uploads=uploads, folder=folder)

    @property
    def engine(self) -> str:
        return "sqlite" if self.url is None else "postgresql"

    @property
    def label(self) -> str:
        """The database as staff know it (never with its password)."""
        if self.url is None:
            return str(self.database)
        return (
            f"the PostgreSQL database {self.url.database} on "
            f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        )


# --- backup ------------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    pruned: list[Path]
    archived: object = None  # core.audit.Archived, when events were archived
    archive_note: str = ""  # why older events were not archived this time
    copied_to: Path | None = None  # the off-machine copy (BACKUP_COPY_TO)
    copy_error: str = ""  # why that copy failed; the local backup stands
    notes: list[str] = field(default_factory=list)


def backup_folder(app) -> Path:
    """Where archives go unless told otherwise: BACKUP_FOLDER, else instance/backups."""
    return Path(app.config.get("BACKUP_FOLDER") or Path(app.instance_path, "backups"))


def run_backup(app, folder: Path | None = None) -> BackupResult:
    """Back up the app's instance: archive audit events past the retention
    into it first, copy it to BACKUP_COPY_TO, and keep only the newest
    BACKUP_KEEP archives."""
    from flask import has_app_context

    folder = Path(folder) if folder else backup_folder(app)
    instance = Instance.of(app)
    with nullcontext() if has_app_context() else app.app_context():
        with _archive_lock(instance.folder / AUDIT_DIR) as locked:
            archived, note = _archive_old_events(instance, locked)
            try:
                path, manifest = create_backup(instance, folder)
            except sqlite3.Error as error:
                raise BackupError(
                    f"The database could not be copied: {error}"
                ) from None
            except sa.exc.SQLAlchemyError as error:
                raise BackupError(
                    f"The database could not be read: {_first_line(error)}"
                ) from None
            except OSError as error:  # a full disk, a folder without write access
                raise BackupError(f"The backup could not be written: {error}") from None
            result = BackupResult(path, manifest, [], archived, note)
            if archived is not None:
                from core import audit

                # Only now, with the backup holding them complete on disk.
                if not audit.commit_archive(archived):
                    result.archived = None
                    result.archive_note = "another backup archived them meanwhile"
        copy_to = app.config.get("BACKUP_COPY_TO")
        if copy_to:
            _copy_offsite(app, result, Path(copy_to))
    keep = int(app.config.get("BACKUP_KEEP") or 0)
    result.pruned = prune_backups(folder, keep) if keep > 0 else []
    return result


def _archive_old_events(instance: Instance, locked: bool):
    """Write the audit events past the retention to the instance's archive
    folder (deleted after the backup); (Archived or None, why not)."""
    from core import audit
    from models import db, get_settings, utcnow

    if not locked:
        return None, "another backup is archiving audit events"
    archive = instance.folder / AUDIT_DIR
    try:
        # Files whose events are all still in the database (a backup that
        # stopped before deleting them, a restored one) are written anew.
        for path in audit.archive_files(archive):
            if audit.is_leftover(path):
                path.unlink()
        days = audit.retention_days(get_settings())
        archived = audit.write_archive(archive, utcnow() - timedelta(days=days))
        db.session.commit()  # ends the read; nothing was changed
    except audit.ArchiveError as error:
        db.session.rollback()
        return None, str(error)
    except OSError as error:
        db.session.rollback()
        raise BackupError(f"The audit archive could not be written: {error}") from None
    return archived, ""


@contextmanager
def _archive_lock(folder: Path):
    """One archiving backup at a time, across processes (cron and the admin
    page); yields False when another holds it."""
    lock = folder / ".lock"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            age = 0
        if age < ARCHIVE_LOCK_STALE.total_seconds():
            yield False
            return
        lock.unlink(missing_ok=True)
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        yield True
    finally:
        lock.unlink(missing_ok=True)


def _copy_offsite(app, result: BackupResult, target: Path) -> None:
    """Copy the archive to BACKUP_COPY_TO, record it; a failure is reported
    in result.copy_error and the audit log, and the local backup stands."""
    from core import audit
    from models import db, set_setting, utcnow

    try:
        result.copied_to = copy_offsite(result.path, target)
    except BackupError as error:
        result.copy_error = str(error)
        app.logger.error("the off-machine copy of %s failed: %s", result.path, error)
        audit.record(
            "backup_copied", result.path.name, outcome=audit.FAILURE, detail=str(error)
        )
    else:
        set_setting("offsite_copy_at", utcnow().isoformat(timespec="seconds"))
        audit.record("backup_copied", result.path.name, detail=str(result.copied_to))
    db.session.commit()


def copy_offsite(path: Path, target: Path) -> Path:
    """Copy path into the folder target (a mounted share, a USB disk) and
    check the copy's size and sha256; return the copy."""
    # The folder must exist already: creating it where a share is not
    # mounted would fill the local disk and look like an off-machine copy.
    if not target.is_dir():
        raise BackupError(
            f"BACKUP_COPY_TO {target} is not a folder (is the share mounted?)."
        )
    copy = target / path.name
    partial = copy.with_name(copy.name + ".part")
    try:
        shutil.copyfile(path, partial)
        _fsync(partial)
        same_size = partial.stat().st_size == path.stat().st_size
        if not same_size or sha256_of(partial) != sha256_of(path):
            raise BackupError(f"The copy in {target} differs from the backup.")
        os.replace(partial, copy)
    except OSError as error:
        raise BackupError(f"Copying to {target} failed: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return copy


def sha256_of(path: Path) -> str:
    """A file's sha256, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def create_backup(instance: Instance, folder: Path) -> tuple[Path, dict]:
    """Write one archive of the instance into folder; return it and its manifest."""
    if instance.engine == "sqlite" and not instance.database.exists():
        raise BackupError(f"There is no database at {instance.database}.")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as work:
        if instance.engine == "postgresql":
            snapshot = Path(work) / DUMP_MEMBER
            names, manifest = _dump_postgresql(instance, snapshot)
        else:
            snapshot = Path(work) / DATABASE_MEMBER
            names, manifest = _snapshot_sqlite(instance, snapshot)
        path = _new_archive_path(folder)
        partial = path.with_name(path.name + ".part")
        try:
            # The archive holds the secret key and password hashes: only the
            # owner may read it (Windows keeps the folder's own permissions).
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
                _add_bytes(archive, MANIFEST_MEMBER, _json(manifest))
                archive.add(snapshot, snapshot.name)
                for name in SETTINGS_FILES:
                    source = instance.folder / name
                    if source.is_file():
                        archive.add(source, name)
                for name in names:
                    archive.add(instance.uploads / name, f"{UPLOADS_DIR}/{name}")
                for source in audit_archive_files(instance.folder / AUDIT_DIR):
                    archive.add(source, f"{AUDIT_DIR}/{source.name}")
            _fsync(partial)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return path, manifest


def _snapshot_sqlite(instance: Instance, snapshot: Path) -> tuple[list[str], dict]:
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        copy_database(instance.database, snapshot)
        names = referenced_uploads(snapshot)
        missing = [n for n in names if not (instance.uploads / n).is_file()]
        if not missing:
            return names, _manifest(snapshot, len(names))
    raise _missing_uploads(instance, missing)


def _missing_uploads(instance: Instance, missing: list[str]) -> BackupError:
    return BackupError(
        f"{len(missing)} uploaded files are missing from "
        f"{instance.uploads}, for example {missing[0]}."
    )


def _dump_postgresql(instance: Instance, dump: Path) -> tuple[list[str], dict]:
    """pg_dump the database into dump; the upload names and manifest are read
    from the very snapshot pg_dump dumps."""
    pg_dump = pg_tool(instance, "pg_dump")
    engine = _engine(instance.url)
    try:
        for _attempt in range(SNAPSHOT_ATTEMPTS):
            with engine.connect().execution_options(
                isolation_level="REPEATABLE READ"
            ) as connection:
                run = connection.exec_driver_sql
                # The transaction stays open until pg_dump has attached to it.
                snapshot = run("SELECT pg_export_snapshot()").scalar()
                names = sorted(run("SELECT stored_name FROM upload").scalars())
                missing = [n for n in names if not (instance.uploads / n).is_file()]
                if missing:
                    continue
                manifest = _manifest_postgresql(connection, len(names))
                _run_tool(
                    instance,
                    [
                        pg_dump,
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={dump}",
                        "--no-password",
                    ],
                    instance.url,
                )
                return names, manifest
    finally:
        engine.dispose()
    raise _missing_uploads(instance, missing)


def _manifest_postgresql(connection, uploads: int) -> dict:
    run = connection.exec_driver_sql

    def exists(table: str) -> bool:
        # A failed query would abort the snapshot's transaction: look first.
        return run(f"SELECT to_regclass('{table}') IS NOT NULL").scalar()

    revision = None
    if exists("alembic_version"):
        revision = run("SELECT version_num FROM alembic_version").scalar()
    counts = {
        table: run(f'SELECT count(*) FROM "{table}"').scalar()
        for table in COUNTED_TABLES
    }
    audit_events = None
    if exists("audit_event"):
        audit_events = run("SELECT count(*) FROM audit_event").scalar()
    return _manifest_fields(revision, counts, uploads, audit_events) | {
        "engine": "postgresql",
        "server_version": run("SHOW server_version").scalar(),
    }


def audit_archive_files(folder: Path) -> list[Path]:
    """The audit archive files in folder (nothing else there is backed up)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if AUDIT_NAME_RE.fullmatch(p.name))


def copy_database(source: Path, target: Path) -> None:
    """Copy a live SQLite database to target, consistently, as one file."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=-1 copies everything in one step from one read snapshot, so
        # writers committing meanwhile can neither be half-included nor make
        # the copy start over.
        src.backup(dst, pages=-1)
        # The copy must not depend on a -wal file that the archive lacks.
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
        src.close()


def referenced_uploads(database: Path) -> list[str]:
    """The stored names of every upload row, in a closed database file."""
    with _connect(database) as connection:
        rows = connection.execute("SELECT stored_name FROM upload").fetchall()
    return sorted(name for (name,) in rows)


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete archives beyond the newest `keep`; return what was deleted."""
    archives = list_backups(folder)
    old = archives[keep:]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def list_backups(folder: Path) -> list[Path]:
    """Archives in folder, newest first (their names sort by time)."""
    if not folder.is_dir():
        return []
    archives = [p for p in folder.iterdir() if ARCHIVE_RE.fullmatch(p.name)]
    return sorted(archives, key=_archive_order, reverse=True)


def _archive_order(path: Path) -> tuple[str, int]:
    # By name, not mtime (a copy elsewhere and back changes mtime); the
    # "-2" of a second backup within the same second must sort after none.
    stamp, n = ARCHIVE_RE.fullmatch(path.name).groups()
    return stamp, int(n or 1)


def _new_archive_path(folder: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"schoolnews-{stamp}.tar.gz"
    n = 1
    # Two backups within one second (an admin's double click, cron meanwhile).
    while path.exists() or path.with_name(path.name + ".part").exists():
        n += 1
        path = folder / f"schoolnews-{stamp}-{n}.tar.gz"
    return path


def _manifest(snapshot: Path, uploads: int) -> dict:
    with _connect(snapshot) as connection:
        revision = _alembic_revision(connection)
        counts = {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in COUNTED_TABLES
        }
        try:
            audit_events = connection.execute(
                "SELECT count(*) FROM audit_event"
            ).fetchone()[0]
        except sqlite3.OperationalError:
            audit_events = None
    return _manifest_fields(revision, counts, uploads, audit_events) | {
        "engine": "sqlite"
    }


def _manifest_fields(revision, counts: dict, uploads: int, audit_events) -> dict:
    return {
        "format": FORMAT,
        "app": "SchoolNews",
        "app_version": app_version(),
        "alembic_revision": revision,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": counts,
        "upload_files": uploads,
        # Not in counts: archives of older releases lack it (checked if present).
        "audit_events": audit_events,
    }


def app_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["version"]


def _alembic_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # made by create_all(), not migrations
        return None
    return row[0] if row else None


# --- checking an archive -------------------------------------------------------


@dataclass
class Checked:
    """An archive unpacked into a staging folder and found sound."""

    folder: Path
    manifest: dict

    @property
    def engine(self) -> str:
        return self.manifest.get("engine") or "sqlite"  # older archives: SQLite

    @property
    def database(self) -> Path:
        return self.folder / DATABASE_MEMBER

    @property
    def dump(self) -> Path:
        return self.folder / DUMP_MEMBER

    @property
    def uploads(self) -> Path:
        return self.folder / UPLOADS_DIR

    @property
    def audit_archive(self) -> Path:
        return self.folder / AUDIT_DIR

    @property
    def config(self) -> Path | None:
        """The archive's config.py, restored only when asked for (it is code)."""
        path = self.folder / CONFIG_MEMBER
        return path if path.is_file() else None


def unpack_and_check(
    archive_path: Path,
    staging: Path,
    *,
    max_bytes: int = RESTORE_MAX_BYTES,
    max_ratio: float = RESTORE_MAX_RATIO,
    engine: str | None = None,
    instance: Instance | None = None,
) -> Checked:
    """Unpack archive_path into the empty folder staging and check everything.

    Refuses (BackupError) an archive that is not ours, a member name that
    could write outside staging, an archive that would unpack to more than
    max_bytes, than the free disk space or than max_ratio times its own size,
    a malformed manifest, a database that fails SQLite's integrity check, and
    any upload the database refers to that is missing. With engine, refuses
    an archive of the other engine; a PostgreSQL dump is read whole with
    instance's pg_restore (its uploads are checked once it is restored).
    """
    try:
        archive = tarfile.open(archive_path, "r:gz")
    except (OSError, tarfile.TarError) as error:
        raise BackupError(
            f"{archive_path} is not a SchoolNews backup: {error}"
        ) from None
    with archive:
        try:
            # Reading the headers decompresses the archive but writes nothing.
            members = archive.getmembers()
            targets = [(m, t) for m in members if (t := _member_target(m)) is not None]
            budget = _check_sizes(
                archive_path, staging, [m for m, _ in targets], max_bytes, max_ratio
            )
            for member, target in targets:
                destination = staging.joinpath(*target.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                with source, open(destination, "xb") as out:
                    budget -= _copy_at_most(source, out, member, budget)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise BackupError(
                    f"There is not enough free disk space in {staging.parent} "
                    "to unpack the archive."
                ) from None
            raise BackupError(f"The archive is damaged: {error}") from None
        except (EOFError, tarfile.TarError) as error:
            raise BackupError(f"The archive is damaged: {error}") from None

    manifest_path = staging / MANIFEST_MEMBER
    if not manifest_path.is_file():
        raise BackupError("The archive has no manifest.json.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"manifest.json cannot be read: {error}") from None
    _check_manifest(manifest)
    checked = Checked(staging, manifest)
    if engine is not None and checked.engine != engine:
        raise BackupError(_wrong_engine(checked.engine, engine))
    _check_revision(manifest.get("alembic_revision"))
    if checked.engine == "postgresql":
        if not checked.dump.is_file() or checked.database.exists():
            raise BackupError(f"The archive has no {DUMP_MEMBER}.")
        if instance is not None:
            _check_dump(checked, instance)
        return checked
    if not checked.database.is_file() or checked.dump.exists():
        raise BackupError(f"The archive has no {DATABASE_MEMBER}.")
    _check_database(checked.database)
    try:
        names = referenced_uploads(checked.database)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"The database in the archive is damaged: {error}") from None
    missing = [name for name in names if not (checked.uploads / name).is_file()]
    if missing:
        raise BackupError(
            f"{len(missing)} uploaded files the database refers to are missing "
            f"from the archive, for example uploads/{missing[0]}."
        )
    return checked


def _wrong_engine(archive: str, site: str) -> str:
    if archive == "sqlite":
        return (
            "This archive holds a SQLite database and this site uses "
            "PostgreSQL. Restore it on a SQLite site, then move that site "
            "over with `flask --app app migrate-to-postgresql URL`."
        )
    return (
        "This archive holds a PostgreSQL database and this site uses SQLite. "
        "Restore it on a site whose SQLALCHEMY_DATABASE_URI names a "
        "PostgreSQL database."
    )


def _check_dump(checked: Checked, instance: Instance) -> None:
    """Read the whole dump (every table's data, not only its table of
    contents), so a damaged or truncated one is refused before anything."""
    pg_restore = pg_tool(instance, "pg_restore")
    try:
        command = [pg_restore, "--file", os.devnull, str(checked.dump)]
        _run_tool(instance, command, instance.url)
    except BackupError as error:
        if "newer pg_dump" in str(error):
            raise
        raise BackupError(
            f"The database dump in the archive is damaged: {error}"
        ) from None


def _check_sizes(
    archive_path: Path,
    staging: Path,
    members: list[tarfile.TarInfo],
    max_bytes: int,
    max_ratio: float,
) -> int:
    """Refuse, from the headers alone, an archive too big to unpack; return its size."""
    from core.i18n import display_size

    for member in members:
        limit = SMALL_MEMBERS.get(member.name)
        if limit is not None and member.size > limit:
            raise BackupError(
                f"Refused the member {member.name!r}: {display_size(member.size)} "
                f"is too large for it."
            )
    total = sum(member.size for member in members)
    if total > max_bytes:
        raise BackupError(
            f"The archive would unpack to {display_size(total)}, more than the "
            f"{display_size(max_bytes)} allowed (RESTORE_MAX_BYTES)."
        )
    free = _free_space(staging)
    if total > free:
        raise BackupError(
            f"The archive would unpack to {display_size(total)}, but only "
            f"{display_size(free)} are free in {staging.parent}."
        )
    packed = max(archive_path.stat().st_size, 1)
    if total > RATIO_FLOOR and total > max_ratio * packed:
        raise BackupError(
            f"The archive would unpack to {display_size(total)} from only "
            f"{display_size(packed)} (more than {max_ratio:g}:1), which no "
            "SchoolNews backup does. If it is yours, raise RESTORE_MAX_RATIO."
        )
    return total


def _free_space(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _copy_at_most(source, out, member: tarfile.TarInfo, budget: int) -> int:
    """Copy one member, stopping at its stated size; return the bytes written."""
    # tarfile reads exactly the header's size, but the header is what was
    # checked: a member that yields more than it stated is refused, not written.
    limit = min(member.size, budget)
    written = 0
    while chunk := source.read(1024 * 1024):
        written += len(chunk)
        if written > limit:
            raise BackupError(
                f"Refused the member {member.name!r}: it holds more than the "
                f"{member.size} bytes its header states."
            )
        out.write(chunk)
    return written


def _check_manifest(manifest) -> None:
    if not isinstance(manifest, dict):
        raise BackupError("manifest.json is malformed: it is not a JSON object.")
    version = manifest.get("format")
    # bool is an int: "format": true must not pass for 1.
    if type(version) is not int or version != FORMAT:
        raise BackupError("This archive was made by an unknown SchoolNews version.")
    wrong = []
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(
        _is_count(counts.get(table)) for table in COUNTED_TABLES
    ):
        wrong.append("counts")
    if not _is_count(manifest.get("upload_files")):
        wrong.append("upload_files")
    if manifest.get("audit_events") is not None and not _is_count(
        manifest["audit_events"]
    ):
        wrong.append("audit_events")
    try:
        datetime.fromisoformat(manifest.get("created_at"))
    except (TypeError, ValueError):
        wrong.append("created_at")
    if manifest.get("engine", "sqlite") not in ENGINES:
        wrong.append("engine")
    revision = manifest.get("alembic_revision")
    if revision is not None and not (
        isinstance(revision, str) and re.fullmatch(r"[0-9A-Za-z_]{1,64}", revision)
    ):
        wrong.append("alembic_revision")
    if wrong:
        raise BackupError(
            f"manifest.json is malformed: {', '.join(wrong)} missing or of the "
            "wrong type."
        )


def _is_count(value) -> bool:
    return type(value) is int and value >= 0


def config_for_display(path: Path) -> str:
    """The text of an archive's config.py exactly as Python would read it.

    Refuses a file whose shown text could differ from what runs: one that is
    not UTF-8 or declares another encoding (a "coding: utf-7" line hides
    code from the reader). Control and invisible format characters (terminal
    escapes, bidirectional overrides) are shown escaped.
    """
    data = path.read_bytes()
    try:
        # PEP 263's rules, as Python applies them when it compiles the file.
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise BackupError(f"config.py in the archive cannot be read: {error}") from None
    if encoding not in ("utf-8", "utf-8-sig"):
        raise BackupError(
            f"config.py in the archive declares the encoding {encoding!r}; "
            "only UTF-8 is restored."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BackupError("config.py in the archive is not UTF-8 text.") from None
    text = text.replace("\r\n", "\n")
    return "".join(
        char
        if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp")
        else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _member_target(member: tarfile.TarInfo) -> PurePosixPath | None:
    """Where a member may go inside the staging folder; refuse anything else.

    Only the names create_backup() writes are accepted, as plain files: no
    absolute paths, "..", backslashes, links or devices, which could make
    extraction write outside the instance (a path traversal).
    """
    name = member.name
    path = PurePosixPath(name)
    if (
        "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or ".." in path.parts
        or name != str(path)
    ):
        raise BackupError(f"Refused the member {name!r}: unsafe path.")
    if member.isdir():
        if name in (UPLOADS_DIR, AUDIT_DIR):
            return None
        raise BackupError(f"Refused the member {name!r}: unexpected folder.")
    # Only what tarfile.add() writes: no sparse members, whose few stored
    # bytes unpack to a file of any size.
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse:
        raise BackupError(f"Refused the member {name!r}: not a regular file.")
    allowed_top = (MANIFEST_MEMBER, DATABASE_MEMBER, DUMP_MEMBER, *SETTINGS_FILES)
    if len(path.parts) == 1 and name in allowed_top:
        return path
    if (
        len(path.parts) == 2
        and path.parts[0] == UPLOADS_DIR
        and STORED_NAME_RE.fullmatch(path.parts[1])
    ):
        return path
    if (
        len(path.parts) == 2
        and path.parts[0] == AUDIT_DIR
        and AUDIT_NAME_RE.fullmatch(path.parts[1])
    ):
        return path
    raise BackupError(f"Refused the member {name!r}: not part of a backup.")


def _check_database(database: Path) -> None:
    try:
        with _connect(database) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
            connection.execute("SELECT count(*) FROM upload").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"The database in the archive is damaged: {error}") from None
    if rows != [("ok",)]:
        problems = "; ".join(row[0] for row in rows[:3])
        raise BackupError(f"The database in the archive is damaged: {problems}")


def _check_revision(revision: str | None) -> None:
    if revision is None:
        return
    # Alembic is loaded here only: server processes run without it, and the
    # admin page's backups never check revisions.
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        known = scripts.get_revision(revision)
    except Exception:  # noqa: BLE001 - alembic raises several kinds here
        known = None
    if known is None:
        raise BackupError(
            f"This backup comes from a newer SchoolNews (database revision "
            f"{revision}). Update SchoolNews first, then restore it."
        )


# --- restore -----------------------------------------------------------------


def is_empty(instance: Instance) -> bool:
    """True for a new instance: no data in the database, no uploaded files.

    The app itself creates an empty uploads folder and a secret key on start,
    so those do not count as data.
    """
    if instance.uploads.is_dir() and any(instance.uploads.iterdir()):
        return False
    if instance.engine == "postgresql":
        return _is_empty_postgresql(instance.url)
    if not instance.database.exists() or instance.database.stat().st_size == 0:
        return True
    try:
        with _connect(instance.database) as connection:
            tables = connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
            ).fetchall()
            return all(
                connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() is None
                for (name,) in tables
            )
    except sqlite3.DatabaseError:
        return False  # something is there, even if broken: never overwrite it


@dataclass
class Replaced:
    """Where restore_backup() put what it replaced."""

    folder: Path | None = None  # instance/replaced-…: files and the SQLite file
    database: str | None = None  # the replaced PostgreSQL database's new name


def restore_backup(
    checked: Checked, instance: Instance, *, with_config: bool = False
) -> Replaced:
    """Put a checked archive's files in place of the instance's.

    The archive's config.py is restored only with_config: it runs as code at
    the next start, so restoring someone else's archive would run theirs.
    Data that was there before is moved, not deleted, into
    instance/replaced-YYYYmmdd-HHMMSS/ (a PostgreSQL database is renamed
    <name>_replaced_…). The server must be stopped: a running one keeps the
    old database open.
    """
    if checked.engine != instance.engine:
        raise BackupError(_wrong_engine(checked.engine, instance.engine))
    replacing = not is_empty(instance)
    aside = instance.folder / f"replaced-{time.strftime('%Y%m%d-%H%M%S')}"
    moved = False
    database_aside = None
    if instance.engine == "postgresql":
        # Restored and checked in a database of its own first: a failure up
        # to the rename leaves the site exactly as it was.
        restored = _restore_postgresql(checked, instance)
        database_aside = _swap_postgresql(instance, restored, replacing)

    def move_aside(path: Path) -> None:
        nonlocal moved
        if path.exists():
            aside.mkdir(parents=True, exist_ok=True)
            shutil.move(path, aside / path.name)
            moved = True

    # A -wal or -shm left from the old database would be replayed into the
    # restored one and corrupt it: they go with the file they belong to.
    if instance.engine == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            move_aside(instance.database.with_name(instance.database.name + suffix))
    if instance.uploads.is_dir() and any(instance.uploads.iterdir()):
        move_aside(instance.uploads)
    else:
        shutil.rmtree(instance.uploads, ignore_errors=True)

    if instance.engine == "sqlite":
        instance.database.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(checked.database, instance.database)
        _queue_previews(instance.database)
    if checked.uploads.is_dir():
        shutil.move(checked.uploads, instance.uploads)
    else:
        instance.uploads.mkdir(parents=True, exist_ok=True)
    # The old site's audit archive belongs to the old database's chain.
    archive = instance.folder / AUDIT_DIR
    if audit_archive_files(archive):
        move_aside(archive)
    else:
        shutil.rmtree(archive, ignore_errors=True)
    if checked.audit_archive.is_dir():
        shutil.move(checked.audit_archive, archive)
    for name in SETTINGS_FILES:
        source = checked.folder / name
        if name == CONFIG_MEMBER and not with_config:
            continue
        if source.is_file():
            # An empty instance's secret_key was generated on start: not data.
            if replacing:
                move_aside(instance.folder / name)
            shutil.move(source, instance.folder / name)
            _make_private(instance.folder / name)
    return Replaced(aside if moved else None, database_aside)


def _queue_previews(database: Path) -> None:
    """Attachments' previews are not in archives (made again, like thumbnails):
    the restored site's preview worker makes them anew."""
    connection = sqlite3.connect(database)
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(upload)")}
        if "preview" in columns:  # an older archive: its migration queues them
            connection.execute(
                "UPDATE upload SET preview = 'pending', preview_note = '',"
                " preview_until = NULL WHERE preview != ''"
            )
            connection.commit()
    finally:
        connection.close()


# --- PostgreSQL ------------------------------------------------------------------


def pg_tool(instance: Instance, name: str) -> str:
    """The path of pg_dump or pg_restore, or a BackupError saying how to get it."""
    if instance.tools is not None:
        found = shutil.which(name, path=str(instance.tools))
    else:
        found = shutil.which(name)
    if found is None:
        where = f" in POSTGRESQL_BIN ({instance.tools})" if instance.tools else ""
        raise BackupError(
            f"{name} was not found{where}. Install PostgreSQL's client tools: on "
            "Debian `apt-get install postgresql-client`, on Windows the "
            "PostgreSQL installer's Command Line Tools (then set POSTGRESQL_BIN "
            "to its bin folder, or add it to PATH)."
        )
    return found


def _pg_environment(url) -> dict[str, str]:
    """libpq's variables for url: the password never goes on a command line,
    where every user of the machine could read it (ps)."""
    # The site's URL alone says where to connect: a PGHOST or PGSERVICE left
    # in cron's environment must not send the dump to another server.
    chosen = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGSERVICE")
    environment = {k: v for k, v in os.environ.items() if k not in chosen}
    environment.setdefault("PGCONNECT_TIMEOUT", "30")
    host = url.host or url.query.get("host")
    values = {
        "PGHOST": host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
        "PGSSLMODE": url.query.get("sslmode"),
    }
    environment.update({k: str(v) for k, v in values.items() if v})
    return environment


def _run_tool(instance: Instance, command: list[str], url) -> str:
    """Run pg_dump or pg_restore against url; a BackupError with its message
    (never a traceback) when it fails."""
    name = Path(command[0]).stem
    try:
        done = subprocess.run(
            command,
            env=_pg_environment(url),
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
        )
    except OSError as error:
        raise BackupError(f"{name} could not be run: {error}") from None
    if done.returncode == 0:
        return done.stdout
    message = done.stderr.strip() or f"exit status {done.returncode}"
    if "server version mismatch" in message:
        raise BackupError(
            f"{name} is older than the PostgreSQL server, so it cannot back it "
            f"up ({_first_line(message)}). Install the client tools of the "
            "server's version (Debian: postgresql-client-<version>) or set "
            "POSTGRESQL_BIN to their folder."
        )
    if "unsupported version" in message and "file header" in message:
        raise BackupError(
            f"The dump in the archive was made by a newer pg_dump than this "
            f"{name} ({_first_line(message)}). Install newer PostgreSQL client "
            "tools, then restore it."
        )
    lines = [line for line in message.splitlines() if line.strip()]
    raise BackupError(f"{name} failed: {' '.join(lines[:3])}")


def _first_line(error) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _engine(url) -> sa.Engine:
    return sa.create_engine(url, poolclass=NullPool)


def _server(url) -> sa.Engine:
    """A connection to the server itself, for CREATE/ALTER/DROP DATABASE."""
    return sa.create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _related_name(url, role: str) -> str:
    """A database name next to url's: <name>_<role>_<unique>, within 63 bytes."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", url.database)[:30]
    return f"{base}_{role}_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(2)}"


def _database_exists(server: sa.Engine, name: str) -> bool:
    with server.connect() as connection:
        return bool(
            connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": name},
            ).scalar()
        )


def drop_database(url) -> None:
    """Drop url's database (a drill's scratch copy) if it exists."""
    server = _server(url)
    try:
        with server.connect() as connection:
            name = _quote(url.database)
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
    finally:
        server.dispose()


def _is_empty_postgresql(url) -> bool:
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                sa.text(
                    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)"
                    " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                    " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
                    " AND table_name != 'alembic_version'"
                )
            ).scalars()
            return all(
                connection.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first()
                is None
                for table in list(tables)
            )
    except sa.exc.OperationalError as error:
        if "does not exist" in str(error.orig):
            return True  # no database yet: the restore creates it
        raise BackupError(
            f"The database cannot be reached: {_first_line(error)}"
        ) from None
    finally:
        engine.dispose()


def _create_beside(instance: Instance, suffix: str, what: str):
    """A new, empty database next to the instance's (same server and user);
    returns its URL. template0: nothing a DBA added to template1 can clash
    with a dump restored into it."""
    url = instance.url.set(database=_related_name(instance.url, suffix))
    server = _server(instance.url)
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(
                f"CREATE DATABASE {_quote(url.database)} TEMPLATE template0"
                " ENCODING 'UTF8'"
            )
    except sa.exc.SQLAlchemyError as error:
        raise BackupError(
            f"{what} could not be created ({_first_line(error)}). "
            f"The database user needs CREATEDB "
            f"(ALTER ROLE {instance.url.username or 'schoolnews'} CREATEDB)."
        ) from None
    finally:
        server.dispose()
    return url


def _restore_postgresql(checked: Checked, instance: Instance) -> str:
    """pg_restore the archive's dump into a new database next to the instance's
    and check it there; return that database's name (the caller renames it)."""
    pg_restore = pg_tool(instance, "pg_restore")
    staging = _create_beside(instance, "restoring", "A database to restore into")
    server = _server(instance.url)
    try:
        _run_tool(
            instance,
            [
                pg_restore,
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={staging.database}",
                str(checked.dump),
            ],
            staging,
        )
        _check_restored_postgresql(checked, staging)
    except BaseException:
        with server.connect() as connection:
            connection.exec_driver_sql(
                f"DROP DATABASE IF EXISTS {_quote(staging.database)}"
            )
        server.dispose()
        raise
    server.dispose()
    return staging.database


def scratch_postgresql(instance: Instance, folder: Path):
    """A throwaway copy of the site's PostgreSQL database, for an import's
    --dry-run: pg_dump of one snapshot (the site keeps running), restored
    into a new database next to it. Returns its URL; drop_database() it."""
    dump = folder / "site.pgdump"
    _run_tool(
        instance,
        [pg_tool(instance, "pg_dump"), "--format=custom", f"--file={dump}"],
        instance.url,
    )
    scratch = _create_beside(instance, "dryrun", "A scratch database")
    try:
        _run_tool(
            instance,
            [
                pg_tool(instance, "pg_restore"),
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={scratch.database}",
                str(dump),
            ],
            scratch,
        )
    except BaseException:
        drop_database(scratch)
        raise
    return scratch


def _check_restored_postgresql(checked: Checked, url) -> None:
    """What the SQLite restore checks in the file, checked in the restored
    database: counts as the manifest says, every upload in the archive."""
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            for table in COUNTED_TABLES:
                found = connection.exec_driver_sql(
                    f'SELECT count(*) FROM "{table}"'
                ).scalar()
                expected = checked.manifest["counts"][table]
                if found != expected:
                    raise BackupError(
                        f"The restored {table} table has {found} rows, the "
                        f"manifest says {expected}: the archive is damaged."
                    )
            names = connection.exec_driver_sql(
                "SELECT stored_name FROM upload"
            ).scalars()
            missing = [n for n in names if not (checked.uploads / n).is_file()]
            if missing:
                raise BackupError(
                    f"{len(missing)} uploaded files the database refers to are "
                    "missing from the archive, for example "
                    f"uploads/{missing[0]}."
                )
            columns = connection.exec_driver_sql(
                "SELECT 1 FROM information_schema.columns"
                " WHERE table_name = 'upload' AND column_name = 'preview'"
            ).scalar()
            if columns:  # as _queue_previews() on SQLite
                connection.exec_driver_sql(
                    "UPDATE upload SET preview = 'pending', preview_note = '',"
                    " preview_until = NULL WHERE preview != ''"
                )
    except sa.exc.SQLAlchemyError as error:
        raise BackupError(
            f"The restored database cannot be read: {_first_line(error)}"
        ) from None
    finally:
        engine.dispose()


def _swap_postgresql(instance: Instance, restored: str, replacing: bool) -> str | None:
    """Give the restored database the instance's name; the replaced one is
    renamed aside (or dropped when it held no data). Return the aside name."""
    target = instance.url.database
    aside = _related_name(instance.url, "replaced") if replacing else None
    server = _server(instance.url)
    try:
        with server.connect() as connection:
            run = connection.exec_driver_sql
            moved = False
            try:
                if _database_exists(server, target):
                    if aside:
                        run(
                            f"ALTER DATABASE {_quote(target)} RENAME TO {_quote(aside)}"
                        )
                        moved = True
                    else:
                        run(f"DROP DATABASE {_quote(target)}")
                run(f"ALTER DATABASE {_quote(restored)} RENAME TO {_quote(target)}")
            except sa.exc.SQLAlchemyError as error:
                if moved:
                    run(f"ALTER DATABASE {_quote(aside)} RENAME TO {_quote(target)}")
                run(f"DROP DATABASE IF EXISTS {_quote(restored)}")
                if "being accessed by other users" in str(error.orig):
                    raise BackupError(
                        f"The database {target} is in use: stop the site's "
                        "servers (and any other program connected to it), then "
                        "restore again."
                    ) from None
                raise BackupError(
                    f"The restored database could not replace {target}: "
                    f"{_first_line(error)}"
                ) from None
    finally:
        server.dispose()
    return aside if moved else None


# --- helpers -------------------------------------------------------------------


class _connect:
    """A sqlite3 connection closed on exit (sqlite3's own `with` only commits)."""

    def __init__(self, path: Path):
        # as_uri() escapes "?", "#" and "%" that a folder name may contain.
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        self.connection = sqlite3.connect(uri, uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.close()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def _make_private(path: Path) -> None:
    try:
        path.chmod(0o600)
    except OSError:  # Windows has no POSIX modes
        pass


def _fsync(path: Path) -> None:
    # The archive must be on disk before it counts as a backup, and before
    # older ones are pruned because of it.
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
