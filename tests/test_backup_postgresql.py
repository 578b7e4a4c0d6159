"""Backup and restore on PostgreSQL: pg_dump of a live site under writes,
pg_restore into a fresh database, refusals that say why (make test-postgresql)."""

import io
import tarfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from app import create_app
from models import Article, db
from tests import dbserver
from tests.conftest import PASSWORD, form_data

pytestmark = dbserver.postgresql_only


def cli(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=[*map(str, args)], **kwargs)


def backup(app):
    result = cli(app, "backup")
    assert result.exit_code == 0, (result.output, result.exc_info)
    return Path(result.output.split("Wrote ")[1].split(" (")[0])


@pytest.fixture
def fresh_site(tmp_path, monkeypatch):
    """make(name): an app on a new, empty PostgreSQL database of its own."""
    made = []

    def make(name="restored", **config):
        url = dbserver.database_url(tmp_path, name)
        dbserver.create(url)
        made.append(url)
        folder = tmp_path / name
        monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(folder / "instance"))
        site = create_app(
            {
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "SECRET_KEY": "test",
                "SQLALCHEMY_DATABASE_URI": url,
                "UPLOAD_FOLDER": str(folder / "uploads"),
                **config,
            }
        )
        made.append(site)
        return site

    yield make
    for item in made:
        if isinstance(item, str):
            dbserver.drop(item)
        else:
            with item.app_context():
                db.engine.dispose()
            item.extensions["pagecache"].hot.dispose()


def titles(app) -> set[str]:
    with app.app_context():
        db.engine.dispose()  # connections from before a restore
        return set(db.session.scalars(sa.select(Article.title)))


def databases_like(url: str, part: str) -> list[str]:
    server = sa.create_engine(
        sa.make_url(url).set(database="postgres"), poolclass=NullPool
    )
    try:
        with server.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname LIKE :n"),
                    {"n": f"{sa.make_url(url).database}%{part}%"},
                ).scalars()
            )
    finally:
        server.dispose()


def test_a_backup_under_writes_restores_into_a_fresh_database_with_every_post(
    app, section, fresh_site
):
    acknowledged = []  # titles whose publish request returned after its commit
    errors = []
    stop = threading.Event()

    def publisher(k):
        client = app.test_client()
        client.post("/login", data={"username": "editor", "password": PASSWORD})
        n = 0
        while not stop.is_set():
            title = f"第{k}组第{n}号通知"
            response = client.post(
                "/editor/articles/new",
                data=form_data(section, title=title, action="publish"),
            )
            if response.status_code != 302:
                errors.append((title, response.status_code))
                return
            acknowledged.append(title)
            n += 1

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 20 and time.monotonic() < deadline and not errors:
            time.sleep(0.02)
        before = list(acknowledged)
        archive = backup(app)
        during = len(acknowledged) - len(before)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    assert len(before) >= 20
    assert during > 0, "no post was published while pg_dump ran"
    with tarfile.open(archive) as tar:
        assert "database.pgdump" in tar.getnames()
        assert "cms.sqlite3" not in tar.getnames()

    restored = fresh_site("restored")
    result = cli(restored, "restore", archive)
    assert result.exit_code == 0, (result.output, result.exc_info)
    assert "pg_restore read the whole dump" in result.output
    found = titles(restored)
    assert set(before) <= found
    # Posts published while pg_dump ran are in it whole or not at all.
    assert found <= set(acknowledged)
    verified = cli(restored, "audit-verify")
    assert verified.exit_code == 0, verified.output


def test_the_restored_database_holds_exactly_the_archive(app, make_article):
    make_article(title="备份前的通知")
    archive = backup(app)
    make_article(title="备份后的通知")

    refused = cli(app, "restore", archive)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert titles(app) == {"备份前的通知", "备份后的通知"}

    result = cli(app, "restore", archive, "--force", "--yes")
    assert result.exit_code == 0, (result.output, result.exc_info)
    assert titles(app) == {"备份前的通知"}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    (aside,) = databases_like(url, "_replaced_")
    assert f"renamed {aside}" in result.output
    kept = sa.create_engine(sa.make_url(url).set(database=aside), poolclass=NullPool)
    with kept.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(Article))
        assert count.scalar() == 2
    kept.dispose()
    dbserver.drop(sa.make_url(url).set(database=aside).render_as_string(False))
    assert databases_like(url, "_restoring_") == []


def test_restore_refuses_while_the_database_is_in_use(app, make_article, fresh_site):
    make_article(title="第一篇")
    archive = backup(app)
    site = fresh_site("busy")
    engine = sa.create_engine(site.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect():  # a server still running on it
        result = cli(site, "restore", archive)
    engine.dispose()
    assert result.exit_code == 1
    assert "is in use: stop the site's servers" in result.output
    assert "Nothing was restored" in result.output
    assert "Traceback" not in result.output
    url = site.config["SQLALCHEMY_DATABASE_URI"]
    assert databases_like(url, "_restoring_") == []
    with site.app_context():
        assert sa.inspect(db.engine).get_table_names() == []  # still empty
        db.engine.dispose()
    assert cli(site, "restore", archive).exit_code == 0
    assert titles(site) == {"第一篇"}


def test_a_damaged_dump_is_refused_and_nothing_is_restored(app, make_article, tmp_path):
    for n in range(5):
        make_article(title=f"第{n}篇", body_html="<p>" + "正文" * 2000 + "</p>")
    archive = backup(app)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for info in source.getmembers():
            data = source.extractfile(info).read()
            if info.name == "database.pgdump":
                data = data[: len(data) // 2]
                info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    result = cli(app, "restore", damaged, "--force", "--yes")
    assert result.exit_code == 1
    assert "dump in the archive is damaged" in result.output
    assert "Nothing was restored" in result.output
    assert len(titles(app)) == 5


def test_an_archive_of_the_other_engine_is_refused_with_the_way_over(
    app, tmp_path, monkeypatch
):
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "sqlite-instance"))
    sqlite_site = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.sqlite3'}",
            "UPLOAD_FOLDER": str(tmp_path / "sqlite-uploads"),
        }
    )
    with sqlite_site.app_context():
        db.create_all()
    try:
        sqlite_archive = backup(sqlite_site)
        pg_archive = backup(app)

        onto_postgresql = cli(app, "restore", sqlite_archive, "--force", "--yes")
        assert onto_postgresql.exit_code == 1
        assert "holds a SQLite database" in onto_postgresql.output
        assert "migrate-to-postgresql" in onto_postgresql.output
        assert "Traceback" not in onto_postgresql.output

        onto_sqlite = cli(sqlite_site, "restore", pg_archive, "--force", "--yes")
        assert onto_sqlite.exit_code == 1
        assert "holds a PostgreSQL database and this site uses SQLite" in (
            onto_sqlite.output
        )
    finally:
        with sqlite_site.app_context():
            db.engine.dispose()
        sqlite_site.extensions["pagecache"].hot.dispose()


def test_without_pg_dump_the_backup_says_what_to_install(app, tmp_path):
    empty = tmp_path / "no-tools"
    empty.mkdir()
    app.config["POSTGRESQL_BIN"] = str(empty)
    result = cli(app, "backup")
    assert result.exit_code == 1
    assert "pg_dump was not found" in result.output
    assert "apt-get install postgresql-client" in result.output
    assert "Windows" in result.output
    folder = Path(app.config["BACKUP_FOLDER"])
    assert not folder.exists() or list(folder.iterdir()) == []


def test_the_drill_restores_into_a_scratch_database_and_drops_it(app, make_article):
    make_article(title="演练用的通知")
    backup(app)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    result = cli(app, "backup-drill")
    assert result.exit_code == 0, (result.output, result.exc_info)
    assert "_drill_" in result.output  # restored on the server, not in a file
    assert "Row counts and uploaded files match the manifest." in result.output
    assert "The restore drill passed." in result.output
    assert databases_like(url, "_drill_") == []
    assert titles(app) == {"演练用的通知"}
