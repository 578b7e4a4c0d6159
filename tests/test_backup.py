"""Backup and restore: one command each, consistent while the site writes, checked."""

import io
import json
import os
import re
import tarfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app import MIGRATIONS_DIR, create_app
from models import (
    Article,
    AuditEvent,
    Revision,
    Role,
    Section,
    Status,
    Upload,
    User,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from newsroom import storage
from tests import dbserver
from tests.conftest import PASSWORD, new_user

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

SECRET = "ab" * 32
CONFIG = 'SITE_NOTE = "第一中学"\n'


@pytest.fixture
def make_site(tmp_path, monkeypatch):
    """An app whose instance (database, uploads, secret_key) is tmp_path/name;
    with make test-postgresql its database is a new PostgreSQL database."""
    apps = []
    databases = []

    def make(name, *, seed=True, **config):
        folder = tmp_path / name
        # create_app() reads the instance folder from here, as `serve.py` does.
        monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(folder))
        url = f"sqlite:///{folder / 'cms.sqlite3'}"
        if dbserver.ON_POSTGRESQL:
            url = dbserver.database_url(tmp_path, name)
            dbserver.create(url)
            databases.append(url)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test",
                "SQLALCHEMY_DATABASE_URI": url,
                "UPLOAD_FOLDER": str(folder / "uploads"),
                **config,
            }
        )
        apps.append(app)
        if seed:
            (folder / "secret_key").write_text(SECRET)
            (folder / "config.py").write_text(CONFIG, encoding="utf-8")
            with app.app_context():
                db.create_all()
                db.session.add(new_user("admin", Role.ADMIN, "管理员"))
                db.session.add(Section(name="校园新闻", slug="campus"))
                db.session.commit()
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
        app.extensions["pagecache"].hot.dispose()
    for url in databases:
        dbserver.drop(url)


def add_post(app, n: int) -> tuple[int, str, bytes]:
    """Commit a published post with two revisions and an attachment."""
    data = b"%PDF-1.7\n" + os.urandom(3000)
    with app.app_context():
        article = Article(
            title=f"第{n}号通知",
            body_html=f"<p>正文{n}</p>",
            section_id=1,
            status=Status.PUBLISHED,
            published_at=utcnow() - timedelta(hours=1),
            created_by_id=1,
        )
        db.session.add(article)
        db.session.flush()
        for version in (1, 2):
            db.session.add(
                Revision(article_id=article.id, title=f"v{version}", body_html="<p/>")
            )
        upload = storage.save_upload(
            data,
            kind="attachment",
            ext="pdf",
            content_type="application/pdf",
            original_name=f"通知{n}.pdf",
            user_id=1,
            article_id=article.id,
        )
        db.session.commit()
        return article.id, upload.stored_name, data


def backup(app, *args):
    result = app.test_cli_runner().invoke(args=["backup", *map(str, args)])
    assert result.exit_code == 0, (result.output, result.exc_info)
    return Path(result.output.split("Wrote ")[1].split(" (")[0])


def restore(app, archive, *options):
    return app.test_cli_runner().invoke(args=["restore", str(archive), *options])


def repack(archive: Path, edit) -> Path:
    """A copy of archive with its members changed by edit([(TarInfo, bytes)])."""
    with tarfile.open(archive, "r:gz") as source:
        members = [
            (m, source.extractfile(m).read() if m.isfile() else b"")
            for m in source.getmembers()
        ]
    out = archive.with_name("edited-" + archive.name)
    with tarfile.open(out, "w:gz") as target:
        for info, data in edit(members):
            info.size = len(data) if info.isfile() else 0
            target.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out


def test_backup_while_writers_commit_restores_every_acknowledged_post(make_site):
    old = make_site("old")
    acknowledged = []  # appended only after the commit returned
    errors = []
    stop = threading.Event()

    def writer(offset):
        try:
            for n in range(offset, offset + 400):
                if stop.is_set():
                    return
                acknowledged.append(add_post(old, n))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    before = list(acknowledged)
    archive = backup(old, old.instance_path + "/backups")
    during = len(acknowledged) - len(before)
    time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(before) >= 30

    new = make_site("new", seed=False)
    result = restore(new, archive)
    assert result.exit_code == 0, (result.output, result.exc_info)
    uploads = Path(new.config["UPLOAD_FOLDER"])
    with new.app_context():
        restored = set(db.session.scalars(sa.select(Article.id)))
        for article_id, stored_name, data in before:
            assert article_id in restored
            revisions = db.session.scalar(
                sa.select(sa.func.count(Revision.id)).where(
                    Revision.article_id == article_id
                )
            )
            assert revisions == 2
            assert (uploads / stored_name).read_bytes() == data
        # Posts committed while the backup ran are in it whole or not at all.
        for upload in db.session.scalars(sa.select(Upload)):
            assert (uploads / upload.stored_name).is_file()
        assert len(restored) <= len(before) + during + len(threads)
    assert Path(new.instance_path, "secret_key").read_text() == SECRET
    # config.py is code: it comes back only with --with-config.
    assert not Path(new.instance_path, "config.py").exists()
    assert "config.py was not restored" in result.output


def test_restored_site_serves_the_posts_and_files(make_site):
    old = make_site("old")
    article_id, _name, data = add_post(old, 1)
    archive = backup(old)
    assert archive.parent == Path(old.instance_path, "backups")

    new = make_site("new", seed=False)
    assert restore(new, archive).exit_code == 0
    client = new.test_client()
    with new.app_context():
        upload_id = db.session.scalar(sa.select(Upload.id))
    page = client.get(f"/articles/{article_id}")
    assert page.status_code == 200 and "第1号通知" in page.get_data(as_text=True)
    download = client.get(f"/attachments/{upload_id}")
    assert download.get_data() == data
    download.close()  # send_file keeps the file open until then


def test_a_restored_site_makes_its_attachment_previews_again(make_site):
    old = make_site("old")
    add_post(old, 1)
    with old.app_context():
        db.session.execute(sa.update(Upload).values(preview="ready"))
        db.session.commit()
        derived = storage.derived_dir(db.session.scalar(sa.select(Upload.stored_name)))
    (derived / "preview").mkdir(parents=True)
    (derived / "preview" / "preview.json").write_text("{}")
    archive = backup(old)
    with tarfile.open(archive) as opened:
        assert not [n for n in opened.getnames() if "derived" in n]

    new = make_site("new", seed=False)
    assert restore(new, archive).exit_code == 0
    with new.app_context():
        assert db.session.scalar(sa.select(Upload.preview)) == "pending"


def corrupt_database(members):
    for info, data in members:
        if info.name == "cms.sqlite3":
            # Scribble over the second page: a table's b-tree.
            data = data[:4096] + b"\xa5" * 4096 + data[8192:]
        yield info, data


def drop_one_upload(members):
    dropped = False
    for info, data in members:
        if info.name.startswith("uploads/") and not dropped:
            dropped = True
            continue
        yield info, data


def member(name, data=b"x", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, data


def adding(*extra):
    return lambda members: [*members, *extra]


def replacing(name, data):
    return lambda members: [(i, data if i.name == name else d) for i, d in members]


def without(name):
    return lambda members: [(i, d) for i, d in members if i.name != name]


def manifest_without(name):
    def edit(members):
        for info, data in members:
            if info.name == "manifest.json":
                manifest = json.loads(data)
                del manifest[name]
                data = json.dumps(manifest).encode()
            yield info, data

    return edit


def sparse_member(name, real_size):
    """A PAX 1.0 sparse member: one stored byte that unpacks to real_size bytes."""
    data = b"1\n0\n1\n".ljust(512, b"\0") + b"x"
    info = tarfile.TarInfo(name)
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(real_size),
    }
    return info, data


def manifest_with(**fields):
    def edit(members):
        for info, data in members:
            if info.name == "manifest.json":
                data = json.dumps(json.loads(data) | fields).encode()
            yield info, data

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # test_backup_postgresql.py damages a PostgreSQL dump.
        pytest.param(corrupt_database, "damaged", marks=dbserver.sqlite_only),
        (drop_one_upload, "missing from the archive"),
        (adding(member("../escaped.txt")), "unsafe path"),
        (adding(member("uploads/../../escaped.txt")), "unsafe path"),
        (adding(member("/tmp/escaped.txt")), "unsafe path"),
        (adding(member("uploads\\..\\..\\escaped.txt")), "unsafe path"),
        (
            adding(
                member(
                    "uploads/" + "e" * 32 + ".jpg",
                    kind=tarfile.SYMTYPE,
                    linkname="/etc/passwd",
                )
            ),
            "not a regular file",
        ),
        (adding(member("app.py", b"import os")), "not part of a backup"),
        (adding(member("photos", kind=tarfile.DIRTYPE)), "unexpected folder"),
        (without("manifest.json"), "no manifest.json"),
        (replacing("manifest.json", b"{not json"), "manifest.json cannot be read"),
        (manifest_with(format=99), "unknown SchoolNews version"),
        (manifest_with(alembic_revision="9999"), "newer SchoolNews"),
        (manifest_without("counts"), "manifest.json is malformed: counts"),
        (manifest_with(counts=[1, 2]), "manifest.json is malformed: counts"),
        (manifest_with(counts={"article": "3"}), "manifest.json is malformed"),
        (manifest_with(upload_files=-1), "manifest.json is malformed: upload_files"),
        (manifest_without("created_at"), "manifest.json is malformed: created_at"),
        (manifest_with(created_at="\x1b[2J"), "manifest.json is malformed"),
        (manifest_with(alembic_revision=["x"]), "malformed: alembic_revision"),
        (replacing("manifest.json", b"[1, 2]"), "not a JSON object"),
        (replacing("manifest.json", b"null"), "not a JSON object"),
        (manifest_with(format=True), "unknown SchoolNews version"),
        (replacing("manifest.json", b" " * (2 * 1024**2)), "too large"),
        (
            adding(sparse_member("uploads/" + "0" * 32 + ".bin", 64 * 1024**2)),
            "not a regular file",
        ),
        (adding(member("audit-archive/../secret_key")), "unsafe path"),
        (adding(member("audit-archive/evil.sh")), "not part of a backup"),
        (adding(member("audit-archive/audit-0-5.jsonl.gz")), "not part of a backup"),
        (adding(member("audit-archive/x/audit-1-5.jsonl.gz")), "not part of a backup"),
        (
            adding(
                member(
                    "audit-archive/audit-1-5.jsonl.gz",
                    kind=tarfile.SYMTYPE,
                    linkname="/etc/passwd",
                )
            ),
            "not a regular file",
        ),
        (manifest_with(audit_events="3"), "malformed: audit_events"),
    ],
    ids=[
        "corrupt-db",
        "missing-upload",
        "dotdot",
        "dotdot-in-uploads",
        "absolute",
        "backslash",
        "symlink",
        "stray-file",
        "stray-folder",
        "no-manifest",
        "unreadable-manifest",
        "unknown-format",
        "newer-revision",
        "manifest-without-counts",
        "counts-not-an-object",
        "count-not-a-number",
        "negative-upload-files",
        "manifest-without-created-at",
        "created-at-not-a-date",
        "revision-not-a-string",
        "manifest-a-list",
        "manifest-null",
        "format-true",
        "huge-manifest",
        "sparse-member",
        "audit-archive-dotdot",
        "audit-archive-stray-file",
        "audit-archive-bad-name",
        "audit-archive-nested",
        "audit-archive-symlink",
        "audit-events-not-a-number",
    ],
)
def test_restore_refuses_a_bad_archive_and_changes_nothing(make_site, edit, message):
    old = make_site("old")
    for n in range(3):
        add_post(old, n)
    bad = repack(backup(old), edit)

    new = make_site("new", seed=False)
    result = restore(new, bad)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a message, no traceback
    assert message in result.output
    assert "Nothing was restored" in result.output
    assert not Path(new.instance_path, "cms.sqlite3").exists()
    assert list(Path(new.config["UPLOAD_FOLDER"]).iterdir()) == []
    assert not list(Path(new.instance_path).parent.rglob("escaped.txt"))


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda data: data[: len(data) // 2], "damaged"),
        (lambda data: b"PDF-1.4 not an archive", "is not a SchoolNews backup"),
    ],
    ids=["truncated", "not-an-archive"],
)
def test_restore_refuses_a_truncated_archive(make_site, cut, message):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    truncated = archive.with_name("truncated.tar.gz")
    truncated.write_bytes(cut(archive.read_bytes()))
    new = make_site("new", seed=False)
    result = restore(new, truncated)
    assert result.exit_code != 0 and message in result.output
    assert not Path(new.instance_path, "cms.sqlite3").exists()


ZEROS_NAME = "uploads/" + "0" * 32 + ".bin"


def assert_untouched(app):
    folder = Path(app.instance_path)
    assert not (folder / "cms.sqlite3").exists()
    assert not (folder / "config.py").exists()
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []
    assert not list(folder.glob(".restore-*"))


@pytest.mark.parametrize(
    ("config", "zeros", "message"),
    [
        ({"RESTORE_MAX_BYTES": 4 * 1024**2}, 8 * 1024**2, "(RESTORE_MAX_BYTES)"),
        ({"RESTORE_MAX_RATIO": 50}, 24 * 1024**2, "more than 50:1"),
        ({}, 24 * 1024**2, "more than 100:1"),
    ],
    ids=["over-max-bytes", "configured-ratio", "default-ratio"],
)
def test_restore_refuses_an_archive_that_unpacks_too_big(
    make_site, monkeypatch, config, zeros, message
):
    old = make_site("old")
    add_post(old, 1)
    bomb = repack(backup(old), adding((tarfile.TarInfo(ZEROS_NAME), bytes(zeros))))
    assert bomb.stat().st_size < 200 * 1024
    # The ratio is only checked above RATIO_FLOOR: 64 MB of zeros would slow
    # the test, not change what it shows.
    monkeypatch.setattr("operations.backup.RATIO_FLOOR", 1024**2)
    new = make_site("new", seed=False, **config)
    result = restore(new, bomb)
    assert result.exit_code == 1, result.output
    assert "Nothing was restored" in result.output
    assert message in result.output
    assert_untouched(new)


def test_restore_refuses_an_archive_bigger_than_the_free_disk_space(
    make_site, monkeypatch
):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    monkeypatch.setattr("operations.backup._free_space", lambda folder: 10 * 1024)
    new = make_site("new", seed=False)
    result = restore(new, archive)
    assert result.exit_code == 1
    assert "are free in" in result.output and "Nothing was restored" in result.output
    assert_untouched(new)


def test_unpacking_stops_at_the_size_the_header_states(tmp_path):
    from operations import backup as backup_module

    info = tarfile.TarInfo(ZEROS_NAME)
    info.size = 10
    out = io.BytesIO()
    with pytest.raises(backup_module.BackupError, match="more than the 10 bytes"):
        backup_module._copy_at_most(io.BytesIO(bytes(11)), out, info, 1000)
    assert len(out.getvalue()) <= 10


MARKER_CONFIG = """\
import pathlib
pathlib.Path({marker!r}).write_text("their code ran")
SITE_NOTE = "别人的配置"
"""


def test_restore_leaves_out_config_py_unless_asked(make_site, tmp_path):
    marker = tmp_path / "marker"
    old = make_site("old")
    add_post(old, 1)
    Path(old.instance_path, "config.py").write_text(
        MARKER_CONFIG.format(marker=str(marker)), encoding="utf-8"
    )
    archive = backup(old)

    new = make_site("new", seed=False)
    result = restore(new, archive)
    assert result.exit_code == 0, result.output
    assert "config.py was not restored" in result.output
    assert "--with-config" in result.output
    assert str(marker) not in result.output  # not shown when not asked for
    assert not Path(new.instance_path, "config.py").exists()
    # What the next start does (create_app without test_config):
    new.config.from_pyfile("config.py", silent=True)
    assert not marker.exists()
    assert Path(new.instance_path, "secret_key").read_text() == SECRET


def test_restore_with_config_shows_it_before_writing_it(make_site, tmp_path):
    marker = tmp_path / "marker"
    code = MARKER_CONFIG.format(marker=str(marker))
    old = make_site("old")
    add_post(old, 1)
    Path(old.instance_path, "config.py").write_text(code, encoding="utf-8")
    archive = backup(old)

    new = make_site("new", seed=False)
    declined = new.test_cli_runner().invoke(
        args=["restore", str(archive), "--with-config"], input="n\n"
    )
    assert declined.exit_code != 0
    assert code in declined.output
    assert_untouched(new)

    accepted = new.test_cli_runner().invoke(
        args=["restore", str(archive), "--with-config"], input="y\n"
    )
    assert accepted.exit_code == 0, accepted.output
    output = accepted.output
    assert output.index(code) < output.index("Restored config.py")
    assert "was not restored" not in output
    written = Path(new.instance_path, "config.py")
    assert written.read_text(encoding="utf-8") == code
    assert not marker.exists()  # shown and written, not run


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (b"# -*- coding: utf-7 -*-\nX = 1\n", "declares the encoding 'utf-7'"),
        (b"X = '\xff'\n", "cannot be read"),
    ],
    ids=["utf-7", "not-utf-8"],
)
def test_restore_with_config_refuses_a_config_that_reads_otherwise(
    make_site, config, message
):
    old = make_site("old")
    add_post(old, 1)
    Path(old.instance_path, "config.py").write_bytes(config)
    archive = backup(old)
    new = make_site("new", seed=False)
    result = restore(new, archive, "--with-config", "--yes")
    assert result.exit_code == 1
    assert message in result.output and "Nothing was restored" in result.output
    assert_untouched(new)


def test_restore_with_config_escapes_terminal_controls(make_site):
    old = make_site("old")
    add_post(old, 1)
    hidden = 'import os  # \x1b[2K\rSITE_NOTE = "\u202e"\n'
    Path(old.instance_path, "config.py").write_text(hidden, encoding="utf-8")
    archive = backup(old)
    new = make_site("new", seed=False)
    result = restore(new, archive, "--with-config", "--yes")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "\\x1b[2K\\r" in result.output and "\\u202e" in result.output
    written = Path(new.instance_path, "config.py").read_bytes()
    assert written == hidden.encode()


@dbserver.sqlite_only  # the PostgreSQL case: test_backup_postgresql.py
def test_restore_over_data_needs_force_and_keeps_the_old_data_aside(make_site):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    current = make_site("current")
    current_id, current_file, _data = add_post(current, 2)
    add_post(current, 3)

    refused = restore(current, archive)
    assert refused.exit_code != 0 and "--force" in refused.output
    with current.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 2
        db.engine.dispose()

    result = restore(current, archive, "--force", "--yes")
    assert result.exit_code == 0, result.output
    with current.app_context():
        db.engine.dispose()  # connections opened before the restore
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 1
    aside = next(Path(current.instance_path).glob("replaced-*"))
    assert (aside / "uploads" / current_file).is_file()
    assert (aside / "cms.sqlite3").is_file()


def test_restore_with_force_asks_before_replacing(make_site):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    current = make_site("current")
    add_post(current, 2)
    result = current.test_cli_runner().invoke(
        args=["restore", str(archive), "--force"], input="n\n"
    )
    assert result.exit_code != 0
    with current.app_context():
        title = db.session.scalar(sa.select(Article.title))
        assert title == "第2号通知"


def test_backup_keeps_only_the_newest_archives(make_site):
    old = make_site("old", BACKUP_KEEP=2)
    add_post(old, 1)
    folder = Path(old.instance_path, "backups")
    folder.mkdir()
    unrelated = folder / "notes.txt"
    unrelated.write_text("keep me")
    made = [backup(old) for _ in range(3)]
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([made[1].name, made[2].name, "notes.txt"])


def test_backup_archive_is_private_and_has_a_manifest(make_site):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    if os.name == "posix":
        assert archive.stat().st_mode & 0o077 == 0
    with tarfile.open(archive) as tar:
        import json

        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["counts"]["article"] == 1
    assert manifest["counts"]["revision"] == 2
    assert manifest["upload_files"] == 1
    assert manifest["app_version"]


# --- the admin page ----------------------------------------------------------


def csrf_token(page) -> str:
    """The page's CSRF token ("" when the app runs with CSRF off)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True))
    return match[1] if match else ""


def log_in(app, username="admin"):
    client = app.test_client()
    token = csrf_token(client.get("/login"))
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    return client


def test_admin_makes_and_downloads_a_backup_from_the_browser(make_site):
    site = make_site("site")
    add_post(site, 1)
    with site.app_context():
        # As an upgraded site's admin: all three management roles (单人模式).
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = True
        set_setting("single_admin", "1")
        db.session.commit()
    client = log_in(site)
    folder = Path(site.instance_path, "backups")

    refused = client.post("/admin/backups")  # no CSRF token
    assert refused.status_code == 400
    assert not folder.exists() or not list(folder.iterdir())

    page = client.get("/admin/backups")
    made = client.post("/admin/backups", data={"csrf_token": csrf_token(page)})
    assert made.status_code == 302
    (archive,) = folder.iterdir()
    listing = client.get("/admin/backups").get_data(as_text=True)
    assert archive.name in listing

    download = client.get(f"/admin/backups/{archive.name}")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in download.headers["Cache-Control"]
    assert download.get_data() == archive.read_bytes()
    download.close()
    with site.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("backup%"))
        ).all()
    assert actions == ["backup_created", "backup_downloaded"]
    audit_page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Made a backup" in audit_page and "Downloaded a backup" in audit_page

    # The archive restores like one made with the command.
    new = make_site("new", seed=False)
    assert restore(new, archive).exit_code == 0


def test_backups_are_for_administrators_only(make_site):
    site = make_site("site", WTF_CSRF_ENABLED=False)
    with site.app_context():
        db.session.add(new_user("editor", Role.EDITOR, "编辑"))
        db.session.commit()
    archive = backup(site)
    anonymous = site.test_client()
    assert anonymous.get("/admin/backups").status_code == 302
    assert anonymous.get(f"/admin/backups/{archive.name}").status_code == 302
    editor = log_in(site, "editor")
    assert editor.get("/admin/backups").status_code == 403
    assert editor.post("/admin/backups").status_code == 403
    assert editor.get(f"/admin/backups/{archive.name}").status_code == 403
    assert len(list(archive.parent.iterdir())) == 1


@pytest.mark.parametrize(
    "name", ["secret_key", "..%2Fsecret_key", "%2E%2E%2Fcms.sqlite3", "x.tar.gz"]
)
def test_backup_download_serves_nothing_but_archives(make_site, name):
    site = make_site("site")
    Path(site.instance_path, "backups").mkdir()
    Path(site.instance_path, "backups", "secret_key").write_text(SECRET)
    client = log_in(site)
    response = client.get(f"/admin/backups/{name}")
    assert response.status_code == 404
    assert SECRET not in response.get_data(as_text=True)


def test_backup_of_a_migrated_site_restores_and_stays_migrated(make_site):
    # A real installation: `init-db` (Alembic migrations), not create_all().
    old = make_site("old", seed=False)
    assert old.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    assert old.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    with old.app_context():
        posts = db.session.scalar(sa.select(sa.func.count(Article.id)))
    archive = backup(old)

    new = make_site("new", seed=False)
    result = restore(new, archive)
    assert result.exit_code == 0, (result.output, result.exc_info)
    assert "Database is up to date." in result.output
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with new.app_context():
        db.engine.dispose()
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == posts
        revision = db.session.execute(
            sa.text("SELECT version_num FROM alembic_version")
        ).scalar()
        assert revision == head


# --- the audit log in backups ----------------------------------------------------


def audit_actions(app, since=0):
    with app.app_context():
        return db.session.execute(
            sa.select(
                AuditEvent.action,
                AuditEvent.user_id,
                AuditEvent.outcome,
                AuditEvent.detail,
            )
            .where(AuditEvent.id > since)
            .order_by(AuditEvent.id)
        ).all()


def record_old_events(app, count, days=200):
    from core import audit

    with app.app_context():
        for n in range(count):
            event = audit.record("settings_changed", f"第{n}次")
            event.created_at = utcnow() - timedelta(days=days)
        db.session.commit()


def test_the_command_line_backup_is_recorded(make_site):
    site = make_site("site")
    archive = backup(site)
    (event,) = audit_actions(site)
    assert (event.action, event.user_id, event.outcome) == (
        "backup_created",
        None,
        "success",
    )
    with site.app_context():
        assert db.session.scalar(sa.select(AuditEvent.target)) == archive.name


def test_a_restore_is_recorded_in_the_restored_log(make_site):
    old = make_site("old")
    add_post(old, 1)
    archive = backup(old)
    new = make_site("new", seed=False)
    assert restore(new, archive).exit_code == 0
    events = audit_actions(new)
    # backup_created comes after the snapshot: the restore is the only event.
    assert [e.action for e in events] == ["restore"]
    assert events[-1].user_id is None and events[-1].detail == archive.name
    verified = new.test_cli_runner().invoke(args=["audit-verify"])
    assert verified.exit_code == 0, verified.output


def test_the_audit_archive_travels_with_the_backup(make_site):
    old = make_site("old")
    record_old_events(old, 4)
    first = backup(old)  # archives the 4 old events, then deletes them
    archive_dir = Path(old.instance_path, "audit-archive")
    (archived,) = archive_dir.glob("audit-*.jsonl.gz")
    second = backup(old)
    with tarfile.open(second) as tar:
        assert f"audit-archive/{archived.name}" in tar.getnames()
        assert not [n for n in tar.getnames() if n.endswith(".lock")]

    # The second backup's database no longer holds them; its archive does.
    new = make_site("new", seed=False)
    assert restore(new, second).exit_code == 0
    restored = Path(new.instance_path, "audit-archive", archived.name)
    assert restored.read_bytes() == archived.read_bytes()
    result = new.test_cli_runner().invoke(args=["audit-verify", "--archives"])
    assert result.exit_code == 0, result.output
    assert "the archive holds 4 events" in result.output

    # The first backup holds the events both ways (deleted only after it).
    again = make_site("again", seed=False)
    assert restore(again, first).exit_code == 0
    with again.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(
                    AuditEvent.action == "settings_changed"
                )
            )
            == 4
        )
    result = again.test_cli_runner().invoke(args=["audit-verify", "--archives"])
    assert result.exit_code == 0, result.output


def test_restoring_over_a_site_moves_its_audit_archive_aside(make_site):
    old = make_site("old")
    archive = backup(old)
    site = make_site("site")
    record_old_events(site, 2)
    backup(site)
    theirs = list(Path(site.instance_path, "audit-archive").glob("audit-*"))
    assert theirs
    result = restore(site, archive, "--force", "--yes")
    assert result.exit_code == 0, result.output
    assert not list(Path(site.instance_path, "audit-archive").glob("audit-*"))
    aside = list(Path(site.instance_path).glob("replaced-*/audit-archive/audit-*"))
    assert [p.name for p in aside] == [p.name for p in theirs]


# --- the off-machine copy ----------------------------------------------------------


def test_each_backup_is_copied_to_the_other_machine(make_site, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    site = make_site("site", BACKUP_COPY_TO=str(share))
    add_post(site, 1)
    result = site.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    archive = Path(result.output.split("Wrote ")[1].split(" (")[0])
    copy = share / archive.name
    assert copy.read_bytes() == archive.read_bytes()
    assert f"Copied it to {copy}" in result.output
    assert not list(share.glob("*.part"))
    with site.app_context():
        assert get_settings()["offsite_copy_at"].startswith(str(utcnow().year))
    copied = [e for e in audit_actions(site) if e.action == "backup_copied"]
    assert copied[0].outcome == "success" and str(copy) in copied[0].detail


def test_a_failed_copy_is_loud_and_the_local_backup_stands(make_site, tmp_path):
    share = tmp_path / "not-mounted"  # the share's folder does not exist
    site = make_site("site", BACKUP_COPY_TO=str(share))
    result = site.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 1
    assert "the copy to another machine failed" in result.output
    assert "is the share mounted?" in result.output
    assert not share.exists()  # never created where the share should be
    (archive,) = Path(site.instance_path, "backups").iterdir()
    assert archive.name in result.output
    with site.app_context():
        assert get_settings()["offsite_copy_at"] == ""
    copied = [e for e in audit_actions(site) if e.action == "backup_copied"]
    assert copied[0].outcome == "failure"
    assert "backup_created" in [e.action for e in audit_actions(site)]


def test_a_copy_that_differs_is_refused(make_site, tmp_path, monkeypatch):
    import shutil

    share = tmp_path / "share"
    share.mkdir()
    site = make_site("site", BACKUP_COPY_TO=str(share))
    real = shutil.copyfile

    def flaky(source, target):
        real(source, target)
        with open(target, "r+b") as fh:  # one bit flipped on the way
            first = fh.read(1)
            fh.seek(0)
            fh.write(bytes([first[0] ^ 1]))

    monkeypatch.setattr(shutil, "copyfile", flaky)
    result = site.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 1
    assert "differs from the backup" in result.output
    assert list(share.iterdir()) == []


def test_the_web_backup_is_copied_too(make_site, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    site = make_site("site", BACKUP_COPY_TO=str(share), WTF_CSRF_ENABLED=False)
    client = log_in(site)
    assert client.post("/admin/backups").status_code == 302
    (copy,) = share.iterdir()
    (archive,) = Path(site.instance_path, "backups").iterdir()
    assert copy.read_bytes() == archive.read_bytes()


# --- the restore drill ---------------------------------------------------------------


def drill(app, *args):
    return app.test_cli_runner().invoke(args=["backup-drill", *map(str, args)])


@dbserver.sqlite_only  # the PostgreSQL case: test_backup_postgresql.py
def test_the_restore_drill_restores_the_newest_backup_elsewhere_and_checks_it(
    make_site,
):
    site = make_site("site")
    add_post(site, 1)
    record_old_events(site, 3)
    backup(site)  # archives the old events
    add_post(site, 2)
    newest = backup(site)
    database = Path(site.instance_path, "cms.sqlite3")
    before = database.read_bytes()
    result = drill(site)
    assert result.exit_code == 0, result.output
    assert f"Restore drill with {newest}" in result.output
    assert "Row counts and uploaded files match the manifest." in result.output
    assert "The audit chain verifies" in result.output and "3 archived" in result.output
    assert "The restore drill passed." in result.output
    with site.app_context():
        settings = get_settings()
        assert settings["restore_drill_result"] == "ok"
        assert settings["restore_drill_at"].startswith(str(utcnow().year))
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 2
    event = audit_actions(site)[-1]
    assert (event.action, event.outcome) == ("restore_drill", "success")
    # The live site's data was only read (the drill's event aside).
    assert before[:100] == database.read_bytes()[:100]


def test_a_drill_finds_counts_that_do_not_match_the_manifest(make_site):
    site = make_site("site")
    add_post(site, 1)
    archive = backup(site)

    def one_more_post(members):
        for info, data in members:
            if info.name == "manifest.json":
                manifest = json.loads(data)
                manifest["counts"]["article"] += 1
                data = json.dumps(manifest).encode()
            yield info, data

    edited = repack(archive, one_more_post)
    result = drill(site, edited)
    assert result.exit_code == 1
    assert "The restore drill failed" in result.output
    assert "article table has 1 rows, the manifest says 2" in result.output
    with site.app_context():
        assert "manifest says 2" in get_settings()["restore_drill_result"]
    event = audit_actions(site)[-1]
    assert (event.action, event.outcome) == ("restore_drill", "failure")


@dbserver.sqlite_only  # the PostgreSQL case: test_backup_postgresql.py
def test_a_drill_finds_an_altered_audit_log_in_the_archive(make_site, tmp_path):
    import sqlite3

    site = make_site("site")
    record_old_events(site, 3, days=1)
    archive = backup(site)

    def altered(members):
        for info, data in members:
            if info.name == "cms.sqlite3":
                path = tmp_path / "altered.sqlite3"
                path.write_bytes(data)
                connection = sqlite3.connect(path)
                connection.execute("DROP TRIGGER audit_event_no_update")
                connection.execute("UPDATE audit_event SET target = 'x' WHERE id = 2")
                connection.commit()
                connection.close()
                data = path.read_bytes()
            yield info, data

    result = drill(site, repack(archive, altered))
    assert result.exit_code == 1
    assert "audit log does not verify: Event 2 does not fit" in result.output


def test_a_drill_of_a_damaged_archive_fails_and_says_why(make_site):
    site = make_site("site")
    add_post(site, 1)
    damaged = repack(backup(site), drop_one_upload)
    result = drill(site, damaged)
    assert result.exit_code == 1 and "missing from the archive" in result.output
    with site.app_context():
        assert "missing" in get_settings()["restore_drill_result"]


def test_a_drill_without_any_backup_says_what_to_do(make_site):
    site = make_site("site")
    result = drill(site)
    assert result.exit_code == 1
    assert "There is no backup" in result.output and "backup" in result.output


def test_a_failed_web_copy_is_shown_and_the_local_backup_stands(make_site, tmp_path):
    share = tmp_path / "not-mounted"
    site = make_site("site", BACKUP_COPY_TO=str(share), WTF_CSRF_ENABLED=False)
    client = log_in(site)
    page = client.post("/admin/backups", follow_redirects=True).get_data(as_text=True)
    assert "复制到另一台机器失败" in page
    (archive,) = Path(site.instance_path, "backups").iterdir()
    assert archive.name in page
