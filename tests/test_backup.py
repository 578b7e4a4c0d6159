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
    db,
    utcnow,
)
from newsroom import storage
from tests.conftest import PASSWORD, new_user

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

SECRET = "ab" * 32
CONFIG = 'SITE_NOTE = "第一中学"\n'


@pytest.fixture
def make_site(tmp_path, monkeypatch):
    """An app whose instance (database, uploads, secret_key) is tmp_path/name."""
    apps = []

    def make(name, *, seed=True, **config):
        folder = tmp_path / name
        # create_app() reads the instance folder from here, as `serve.py` does.
        monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(folder))
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'cms.sqlite3'}",
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
        (corrupt_database, "damaged"),
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
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
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
