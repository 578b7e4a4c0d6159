"""站群: one school's site as one archive, to leave an installation or join one.

An archive (`flask sites export`) holds:

    manifest.json        format, schema revision, the source site, row counts,
                         and the sha256 of every other member
    tables/<name>.jsonl  one JSON object a row
    files/<path>         the site's uploads under UPLOAD_FOLDER: originals,
                         thumbnails and what was derived from them

Which tables go in is read from the models' metadata, never listed by hand:
every table with a site_id, then every table whose foreign keys point at
one already in (revisions, view counts, memberships), and every table one
already in points at (a global table such as a future `credential`), until
nothing new is reached. A table added tomorrow comes along by itself;
SKIPPED says which reachable ones stay behind, and why.

`flask sites import` makes a new site of it in one transaction: new primary
keys everywhere, every foreign key (and the few ids kept without one, see
_SOFT) moved to the new rows, the files copied under new names, the search
index and the page cache told. A failure leaves no rows and no files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from core import audit
from core.sites import acting_for
from models import AuditEvent, Site, db
from newsroom import thumbnails
from newsroom.preview_files import derived_dir
from newsroom.uploads import random_name
from operations import backup
from reader import cachestate, search
from review.chain import version_hash

FORMAT = 1
KIND = "schoolnews-site"
MANIFEST = "manifest.json"
TABLES_DIR = "tables"
FILES_DIR = "files"

# Tables reachable from a site's rows that an archive leaves out.
SKIPPED = {
    # Logins and their throttling belong to the old address: users sign in
    # again at the new one.
    "user_session": "sessions",
    "login_attempt": "throttling",
    # Which hashed reader counted a view in the last minutes: refresh-proofing
    # only; the counts themselves are article.views and article_daily_views.
    "article_view": "refresh-proofing",
    # The outbox: pending messages would be sent a second time from the new
    # installation, sent ones are history of the old one.
    "notification": "outbox",
}
# Tables no foreign key reaches that hold the site's data by value: the
# review diffs, keyed on the hash of the text (see _version_hashes).
CONTENT_ADDRESSED = ("review_version",)
# Kept in the archive and appended to the target's audit chain through
# core/audit.py, never inserted as rows with their old hashes.
AUDIT_TABLE = "audit_event"
# Unique values the import makes anew rather than checks: stored file names.
REGENERATED = {("upload", "stored_name")}
# Columns holding version hashes (review/chain.py), which cover ids and the
# upload URLs of the body: they change with them (see _hash_map).
HASH_COLUMNS = {
    "article": "review_hash",
    "revision": "version_hash",
    "review_event": "version_hash",
    "review_version": "version_hash",
}
# Settings that name rows by id, and the table they name; site_url is the
# old address and would send the new one's readers away.
SETTING_IDS = {
    "logo_id": "upload",
    "bureau_section": "section",
    "review_group_2": "review_group",
    "review_group_3": "review_group",
}
SETTINGS_CLEARED = ("site_url",)
# Tables with ids kept without a foreign key (_soft_references): inserted
# last, when every row they may name has its new id.
SOFT_TABLES = ("setting", "pending_text", "origin", "legacy_url")
# The random part of a stored upload name (storage.STORED_NAME_RE).
_STEM_RE = re.compile(r"[0-9a-f]{16,64}")
_MEMBER_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){0,6}")


class ArchiveError(ValueError):
    """Why a site cannot be exported or imported; str() is for people."""


# --- which tables, which rows ---------------------------------------------------


@dataclass
class Link:
    """How a table's rows are reached: through fk, from the table named."""

    fk: sa.ForeignKey
    via: str
    child: bool  # the table refers to `via` (True) or `via` refers to it


def _is_site_table(table: sa.Table) -> bool:
    column = table.c.get("site_id")
    return column is not None and any(
        fk.column.table.name == "site" for fk in column.foreign_keys
    )


def plan(metadata: sa.MetaData | None = None) -> dict[str, list[Link]]:
    """The exported tables in the order they are reached, with their links."""
    metadata = metadata if metadata is not None else db.metadata
    tables = [t for t in metadata.sorted_tables if t.name not in SKIPPED]
    reached: dict[str, list[Link]] = {t.name: [] for t in tables if _is_site_table(t)}
    queue = list(reached)
    while queue:
        name = queue.pop(0)
        for table in tables:
            if table.name in reached or table.name == "site":
                continue
            links = [
                Link(fk, name, True)
                for fk in table.foreign_keys
                if fk.column.table.name == name
            ] + [
                Link(fk, name, False)
                for fk in metadata.tables[name].foreign_keys
                if fk.column.table is table
            ]
            if links:
                reached[table.name] = links
                queue.append(table.name)
    return reached


def exported_tables(metadata: sa.MetaData | None = None) -> set[str]:
    return set(plan(metadata)) | set(CONTENT_ADDRESSED)


def _selections(site_id: int) -> dict[str, sa.Select]:
    """A SELECT of each exported table's rows of the site."""
    metadata = db.metadata
    chosen: dict[str, sa.Select] = {}
    for name, links in plan().items():
        table = metadata.tables[name]
        if not links:
            chosen[name] = sa.select(table).where(table.c.site_id == site_id)
            continue
        conditions = []
        for link in links:
            # Links only lead to tables reached earlier: no recursion.
            via = chosen[link.via].subquery()
            if link.child:
                inner = sa.select(via.c[link.fk.column.name])
                conditions.append(link.fk.parent.in_(inner))
            else:
                inner = sa.select(via.c[link.fk.parent.name])
                conditions.append(link.fk.column.in_(inner))
        chosen[name] = sa.select(table).where(sa.or_(*conditions))
    hashes = sa.union(
        *(
            sa.select(chosen[name].subquery().c[column])
            for name, column in HASH_COLUMNS.items()
            if name not in CONTENT_ADDRESSED
        )
    )
    for name in CONTENT_ADDRESSED:
        table = metadata.tables[name]
        chosen[name] = sa.select(table).where(table.c.version_hash.in_(hashes))
    return chosen


# --- values in JSON -----------------------------------------------------------


def _python_type(column: sa.Column):
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _decode(column: sa.Column, value):
    if value is None or not isinstance(value, str):
        return value
    kind = _python_type(column)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is bytes:
        return base64.b64decode(value)
    return value


# --- export -------------------------------------------------------------------


@dataclass
class Exported:
    path: Path
    manifest: dict


def export_site(site_id: int, path: Path) -> Exported:
    """Write the site's archive to path (under a temporary name until whole)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Every table read from one snapshot while writers go on.
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    site = db.session.get(Site, site_id)
    if site is None:
        raise ArchiveError(_l("There is no site %(id)s.", id=site_id))
    rows = {
        name: [
            {key: _encode(value) for key, value in row._mapping.items()}
            for row in connection.execute(select)
        ]
        for name, select in _selections(site_id).items()
    }
    files = _site_files(row["stored_name"] for row in rows.get("upload", []))
    members = {
        f"{TABLES_DIR}/{name}.jsonl": "".join(
            json.dumps(row, ensure_ascii=False) + "\n" for row in table_rows
        ).encode()
        for name, table_rows in rows.items()
    }
    manifest = {
        "format": FORMAT,
        "kind": KIND,
        "alembic_revision": _revision(connection),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "id": site.id,
            "name": site.name,
            "host": site.host,
            "prefix": site.path_prefix,
        },
        "counts": {name: len(table_rows) for name, table_rows in rows.items()},
        "members": {name: _digest(data) for name, data in members.items()},
    }
    for relative, source in files.items():
        manifest["members"][f"{FILES_DIR}/{relative}"] = backup.sha256_of(source)
    db.session.rollback()  # ends the read; nothing was changed
    _write(path, manifest, members, files)
    return Exported(path, manifest)


def _site_files(stored_names) -> dict[str, Path]:
    """Each file of the uploads, by its path under UPLOAD_FOLDER."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    found: dict[str, Path] = {}
    for name in stored_names:
        original = root / name
        if not original.is_file():
            raise ArchiveError(
                _l("The uploaded file %(name)s is missing.", name=str(original))
            )
        paths = [original, *(p for p in thumbnails.paths(name) if p.is_file())]
        derived = derived_dir(name)
        if derived.is_dir():
            paths += sorted(p for p in derived.rglob("*") if p.is_file())
        for path in paths:
            found[path.relative_to(root).as_posix()] = path
    return found


def _revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None  # a database made by create_all()
    return connection.exec_driver_sql(
        "SELECT version_num FROM alembic_version"
    ).scalar()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, manifest: dict, members: dict, files: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        # Password hashes are inside: only the owner may read it.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=1).encode())
            for name, data in members.items():
                _add_bytes(archive, name, data)
            for relative, source in files.items():
                archive.add(source, f"{FILES_DIR}/{relative}", recursive=False)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


# --- reading an archive -------------------------------------------------------


@dataclass
class Archive:
    manifest: dict
    rows: dict[str, list[dict]]
    files: dict[str, Path]  # path under UPLOAD_FOLDER -> unpacked copy


def _not_an_archive() -> ArchiveError:
    return ArchiveError(_l("This file is not an archive of a school's site."))


def _damaged(member: str) -> ArchiveError:
    return ArchiveError(
        _l(
            "The archive is damaged: %(member)s does not match its checksum.",
            member=member,
        )
    )


def read_archive(path: Path, work: Path) -> Archive:
    """Unpack path into work, checking every member against the manifest."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            manifest = _manifest(tar)
            expected = dict(manifest["members"])
            rows: dict[str, list[dict]] = {}
            files: dict[str, Path] = {}
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if expected.pop(member.name, None) != _unpack(tar, member, work):
                    raise _damaged(member.name)
                unpacked = work / member.name
                if member.name.startswith(f"{TABLES_DIR}/"):
                    table = member.name[len(TABLES_DIR) + 1 : -len(".jsonl")]
                    with open(unpacked, encoding="utf-8") as fh:
                        rows[table] = [json.loads(line) for line in fh if line.strip()]
                else:
                    files[member.name[len(FILES_DIR) + 1 :]] = unpacked
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, ValueError) as e:
        if isinstance(e, ArchiveError):
            raise
        raise _not_an_archive() from None
    if expected:
        raise _damaged(sorted(expected)[0])
    return Archive(manifest, rows, files)


def _manifest(tar: tarfile.TarFile) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise _not_an_archive()
    if first.size > 16 * 1024**2:
        raise _not_an_archive()
    manifest = json.loads(tar.extractfile(first).read())
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise _not_an_archive()
    if not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT:
        raise ArchiveError(
            _l("The archive was made by a newer SchoolNews: update this one first.")
        )
    if not isinstance(manifest.get("members"), dict):
        raise _not_an_archive()
    return manifest


def _unpack(tar: tarfile.TarFile, member: tarfile.TarInfo, work: Path) -> str:
    """Unpack one member under work; its sha256."""
    name = member.name
    is_table = re.fullmatch(rf"{TABLES_DIR}/[a-z0-9_]{{1,60}}\.jsonl", name)
    is_file = name.startswith(f"{FILES_DIR}/") and _MEMBER_RE.fullmatch(name)
    if not member.isfile() or not (is_table or is_file) or ".." in name.split("/"):
        raise _damaged(name)
    target = work / PurePosixPath(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    with open(target, "wb") as out:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def check_revision(manifest: dict) -> None:
    """Refuse an archive made by a schema this installation does not know."""
    revision = manifest.get("alembic_revision")
    if revision is None:
        return
    from alembic.script import ScriptDirectory  # not loaded by server processes

    from operations.backup import MIGRATIONS_DIR

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    ours = _revision(db.session.connection())
    try:
        known = {
            script.revision
            for script in scripts.walk_revisions("base", ours or "heads")
        }
    except Exception:  # noqa: BLE001 - alembic raises several kinds here
        known = set()
    if revision not in known:
        raise ArchiveError(
            _l(
                "The archive comes from a newer SchoolNews (database revision "
                "%(revision)s): update this installation first.",
                revision=str(revision),
            )
        )


# --- import -------------------------------------------------------------------


@dataclass
class Imported:
    site: Site
    counts: dict[str, int]
    files: int
    audit_events: int
    # Links to rows the archive lacks (another school's), by column: left
    # empty, e.g. a teacher who signed in with another school's account.
    detached: dict[str, int]


def import_site(
    path: Path, host: str, prefix: str, name: str = "", rename_users: str = ""
) -> Imported:
    """Make a new site at host/prefix (already cleaned and free) of the archive.

    rename_users goes before every user name (user names are one per
    installation). Everything in one transaction; the files are copied first
    and removed again when anything fails.
    """
    root = Path(current_app.config["UPLOAD_FOLDER"])
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".site-import-") as work:
        archive = read_archive(Path(path), Path(work))
        # Only what an export writes: a crafted member cannot reach other tables.
        wanted = exported_tables()
        archive.rows = {n: r for n, r in archive.rows.items() if n in wanted}
        _rename_users(archive, rename_users)
        check_revision(archive.manifest)
        _check_unique(archive)
        copier = _Importer(archive, root)
        try:
            imported = copier.run(host, prefix, name)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            copier.remove_files()
            raise
    return imported


def _rename_users(archive: Archive, prefix: str) -> None:
    prefix = (prefix or "").strip().lower()
    if not prefix:
        return
    limit = db.metadata.tables["user"].c.username.type.length
    for row in archive.rows.get("user", []):
        row["username"] = prefix + row["username"]
        if len(row["username"]) > limit:
            raise ArchiveError(
                _l(
                    "The user name %(name)s would be longer than %(limit)s characters.",
                    name=row["username"],
                    limit=limit,
                )
            )


def _check_unique(archive: Archive) -> None:
    """Refuse values that must be unique in the installation and are taken."""
    for name, rows in archive.rows.items():
        table = db.metadata.tables.get(name)
        if table is None or not rows:
            continue
        for columns in _unique_sets(table):
            taken = _taken(table, columns, rows)
            if taken:
                raise ArchiveError(
                    _l(
                        "These %(what)s are used in this installation already: "
                        "%(values)s.",
                        what=f"{name}.{'/'.join(c.name for c in columns)}",
                        values=", ".join(taken[:20]),
                    )
                )


def _unique_sets(table: sa.Table) -> Iterator[list[sa.Column]]:
    """Unique column sets whose values an import keeps as they are."""
    sets = [[c] for c in table.columns if c.unique]
    sets += [
        list(c.columns)
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint | sa.PrimaryKeyConstraint)
    ]
    # Unique indexes too, partial ones as if whole: refusing too much is safe.
    sets += [list(i.columns) for i in table.indexes if i.unique]
    seen = set()
    for columns in sets:
        names = tuple(sorted(c.name for c in columns))
        if names in seen:
            continue
        seen.add(names)
        # Scoped to the new site, or ids made anew: nothing to collide with.
        if any(
            c.name == "site_id"
            or c.foreign_keys
            or _is_surrogate(c)
            or (table.name, c.name) in REGENERATED
            for c in columns
        ):
            continue
        if table.name in HASH_COLUMNS and HASH_COLUMNS[table.name] in names:
            continue  # content-addressed: the same text is the same row
        yield columns


def _taken(table: sa.Table, columns: list[sa.Column], rows: list[dict]) -> list[str]:
    connection = db.session.connection()
    keys = {tuple(row.get(c.name) for c in columns) for row in rows}
    taken = []
    for key in sorted(keys, key=str):
        where = [
            sa.func.lower(c) == str(v).lower()
            if isinstance(v, str)
            else c == _decode(c, v)
            for c, v in zip(columns, key, strict=True)
        ]
        found = sa.select(sa.literal(1)).select_from(table).where(*where).limit(1)
        if connection.execute(found).first():
            taken.append("/".join(str(v) for v in key))
    return taken


def _is_surrogate(column: sa.Column) -> bool:
    """A single integer primary key the database numbers, with no foreign key."""
    table = column.table
    return (
        column.primary_key
        and len(table.primary_key.columns) == 1
        and isinstance(column.type, sa.Integer)
        and column.autoincrement in (True, "auto")
        and not column.foreign_keys
    )


def _pk(table: sa.Table) -> sa.Column | None:
    columns = list(table.primary_key.columns)
    return columns[0] if len(columns) == 1 and _is_surrogate(columns[0]) else None


@dataclass
class _Importer:
    archive: Archive
    root: Path
    ids: dict[str, dict] = field(default_factory=dict)  # table -> old -> new id
    stems: dict[str, str] = field(default_factory=dict)  # old -> new upload stem
    hashes: dict[str, str] = field(default_factory=dict)  # old -> new version hash
    written: list[Path] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)  # derived/<name>/ made here
    detached: dict[str, int] = field(default_factory=dict)
    deferred: list[tuple[sa.Table, int, dict]] = field(default_factory=list)
    site_id: int = 0

    def run(self, host: str, prefix: str, name: str) -> Imported:
        source = self.archive.manifest.get("source") or {}
        site = Site(
            name=(name or str(source.get("name") or "") or "SchoolNews")[:100],
            host=host,
            path_prefix=prefix,
        )
        db.session.add(site)
        db.session.flush()
        self.site_id = site.id
        self.connection = db.session.connection()
        self._new_stems()
        self._copy_files()
        order = self._order()
        late = [
            t
            for t in order
            if t.name in SOFT_TABLES or t.name in HASH_COLUMNS and t.name != "article"
        ]
        for table in order:
            if table not in late and table.name != AUDIT_TABLE:
                self._insert(table)
        self._finish_deferred()
        self.hashes = self._hash_map()
        self._rehash_articles()
        for table in late:
            self._insert(table)
        events = self._append_audit()
        with acting_for(site.id):
            search.index(self.connection, self.ids.get("article", {}).values())
            cachestate.bump(self.connection)
            audit.record(
                "site.imported",
                site.name,
                detail=f"from {source.get('name', '')} "
                f"({source.get('host', '')}{source.get('prefix', '')})"[:500],
            )
            db.session.flush()
        counts = {n: len(r) for n, r in self.archive.rows.items()}
        return Imported(site, counts, len(self.archive.files), events, self.detached)

    # Files

    def _new_stems(self) -> None:
        for row in self.archive.rows.get("upload", []):
            stem, _, ext = row["stored_name"].rpartition(".")
            self.stems[stem] = random_name(ext).rpartition(".")[0]

    def _rename(self, text: str) -> str:
        return _STEM_RE.sub(lambda m: self.stems.get(m.group(0), m.group(0)), text)

    def _copy_files(self) -> None:
        for relative, unpacked in self.archive.files.items():
            relative = self._rename(relative)
            target = self.root / relative
            if relative.startswith("derived/"):
                self.folders.add(self.root / "/".join(relative.split("/")[:2]))
            target.parent.mkdir(parents=True, exist_ok=True)
            # "x": a file of the target's is never replaced.
            with open(unpacked, "rb") as source, open(target, "xb") as out:
                self.written.append(target)
                shutil.copyfileobj(source, out, 1024 * 1024)

    def remove_files(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)

    # Rows

    def _order(self) -> list[sa.Table]:
        return [t for t in db.metadata.sorted_tables if t.name in self.archive.rows]

    def _insert(self, table: sa.Table) -> None:
        pk = _pk(table)
        rows = [self._values(table, row) for row in self.archive.rows[table.name]]
        if table.name in CONTENT_ADDRESSED:
            rows = self._new_versions(table, rows)
        if pk is None:
            if any(later for _values, later in rows):
                # Only a numbered row can be completed afterwards.
                raise ArchiveError(_l("The archive cannot be imported here."))
            if rows:
                self.connection.execute(table.insert(), [v for v, _later in rows])
            return
        mapping = self.ids.setdefault(table.name, {})
        for old, (values, later) in zip(
            (r[pk.name] for r in self.archive.rows[table.name]), rows, strict=True
        ):
            values.pop(pk.name, None)
            new = self.connection.execute(
                table.insert().values(values).returning(pk)
            ).scalar_one()
            mapping[old] = new
            if later:
                self.deferred.append((table, new, later))

    def _values(self, table: sa.Table, row: dict) -> tuple[dict, dict]:
        """The row for the new site, and its foreign keys to rows not
        inserted yet (set afterwards; None meanwhile)."""
        values, later = {}, {}
        for column in table.columns:
            if column.name not in row:
                continue  # an older archive: the column's default
            value = _decode(column, row[column.name])
            if column.name == "site_id" and _is_site_table(table):
                value = self.site_id
            elif column.foreign_keys and value is not None:
                target = next(iter(column.foreign_keys)).column.table
                if target.name not in self.ids and _pk(target) is not None:
                    later[column.name] = value
                    value = None
                else:
                    value = self._map(target.name, value, column)
            elif isinstance(value, str):
                value = self._rename(value)
            values[column.name] = value
        _soft_references(self, table.name, values)
        if table.name in HASH_COLUMNS and table.name != "article":
            column = HASH_COLUMNS[table.name]
            values[column] = self.hashes.get(values[column], values[column])
        return values, later

    def _map(self, table: str, old, column: sa.Column | None = None):
        if table not in self.ids and _pk(db.metadata.tables[table]) is None:
            return old  # a natural key (setting's), kept
        new = self.ids.get(table, {}).get(old)
        if new is not None or column is None:
            return new
        what = f"{column.table.name}.{column.name}"
        if column.nullable:
            self.detached[what] = self.detached.get(what, 0) + 1
        else:
            raise ArchiveError(
                _l(
                    "The archive is damaged: %(what)s names a row it lacks.",
                    what=what,
                )
            )
        return None

    def _finish_deferred(self) -> None:
        for table, new, later in self.deferred:
            values = {}
            for name, old in later.items():
                target = next(iter(table.c[name].foreign_keys)).column.table.name
                values[name] = self._map(target, old, table.c[name])
            pk = _pk(table)
            self.connection.execute(table.update().where(pk == new).values(values))

    # Review hashes and the ledger

    def _hash_map(self) -> dict[str, str]:
        """Old version hash -> new, for every text the archive can rebuild.

        A hash covers the section, cover and attachment ids and the body's
        upload URLs, all new here; hashes of texts it cannot rebuild stay as
        they are, in the ledger and the revisions alike, so they still meet.
        """
        rename = self._rename
        mapped = {}
        for row in self.archive.rows.get("review_version", []):
            attached = [i for i, _name in json.loads(row["attachments"] or "[]")]
            mapped[row["version_hash"]] = version_hash(
                rename(row["title"] or ""),
                rename(row["summary"] or ""),
                rename(row["body_html"] or ""),
                self._soft("section", row["section_id"]),
                self._soft("upload", row["cover_id"]),
                [self._soft("upload", i) for i in attached],
            )
        live: dict[int, list[int]] = {}
        for row in self.archive.rows.get("upload", []):
            if row["kind"] == "attachment" and not row["held"] and row["article_id"]:
                live.setdefault(row["article_id"], []).append(row["id"])
        for row in self.archive.rows.get("article", []):
            attached = live.get(row["id"], [])
            old = version_hash(
                row["title"],
                row["summary"],
                row["body_html"],
                row["section_id"],
                row["cover_id"],
                attached,
            )
            mapped[old] = version_hash(
                rename(row["title"] or ""),
                rename(row["summary"] or ""),
                rename(row["body_html"] or ""),
                self._soft("section", row["section_id"]),
                self._soft("upload", row["cover_id"]),
                [self._soft("upload", i) for i in attached],
            )
        return mapped

    def _soft(self, table: str, old):
        return self.ids.get(table, {}).get(old) if old else old

    def _rehash_articles(self) -> None:
        table = db.metadata.tables["article"]
        for row in self.archive.rows.get("article", []):
            new_hash = self.hashes.get(row["review_hash"])
            if row["review_hash"] and new_hash:
                self.connection.execute(
                    table.update()
                    .where(table.c.id == self.ids["article"][row["id"]])
                    .values(review_hash=new_hash)
                )

    def _new_versions(self, table: sa.Table, rows: list[dict]) -> list[dict]:
        """The diffs' texts this installation lacks (the same text is one row)."""
        wanted = {row["version_hash"]: (row, later) for row, later in rows}
        have = set(
            self.connection.execute(
                sa.select(table.c.version_hash).where(
                    table.c.version_hash.in_(list(wanted))
                )
            ).scalars()
        )
        return [pair for key, pair in wanted.items() if key not in have]

    def _append_audit(self) -> int:
        """Add the site's audit events at the end of the target's chain."""
        rows = self.archive.rows.get(AUDIT_TABLE, [])
        table = db.metadata.tables[AUDIT_TABLE]
        for row in sorted(rows, key=lambda r: r["id"]):
            values = {
                name: _decode(table.c[name], value)
                for name, value in row.items()
                if name in table.c and name not in ("id", "hash", "site_id")
            }
            values["user_id"] = self._soft("user", values.get("user_id"))
            event = AuditEvent(site_id=self.site_id, **values)
            # core/audit.py chains new events in this order, under its lock.
            event._chain_order = next(audit._order)
            db.session.add(event)
        db.session.flush()
        return len(rows)


def _soft_references(importer: _Importer, table: str, values: dict) -> None:
    """Move the ids kept without a foreign key (see models.py) to the new rows."""
    soft = importer._soft
    if table == "setting":
        key = values.get("key")
        if key in SETTING_IDS and values.get("value"):
            new = soft(SETTING_IDS[key], _int(values["value"]))
            values["value"] = str(new or "")
        elif key in SETTINGS_CLEARED:
            values["value"] = ""
    elif table == "article":
        written = (values.get("review_writers") or "").split(",")
        writers = [soft("user", _int(i)) for i in written]
        found = [str(i) for i in writers if i]
        values["review_writers"] = f",{','.join(found)}," if found else ""
    elif table == "pending_text":
        values["section_id"] = soft("section", values.get("section_id"))
        if values.get("cover_id"):  # 0: the edit removes the cover
            values["cover_id"] = soft("upload", values["cover_id"])
    elif table == "review_version":
        values["section_id"] = soft("section", values.get("section_id"))
        values["cover_id"] = soft("upload", values.get("cover_id"))
        attached = json.loads(values.get("attachments") or "[]")
        values["attachments"] = json.dumps(
            [[soft("upload", i), name] for i, name in attached], ensure_ascii=False
        )
    elif table == "review_event":
        # A purged post's lines keep it apart from every post of the target.
        old = values["article_id"]
        values["article_id"] = soft("article", old) or -abs(old)
        values["user_id"] = soft("user", values.get("user_id"))
    elif table in ("origin", "legacy_url") and values.get("target_id"):
        kind = values.get("target_type")
        values["target_id"] = soft(kind, values["target_id"]) or values["target_id"]


def _int(text) -> int | None:
    text = str(text or "").strip()
    return int(text) if text.isdigit() else None
