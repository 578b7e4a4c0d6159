"""migrate-to-postgresql: a SQLite site (the demo school, and a generated
10,000-post site) moved into an empty PostgreSQL database answers readers
and editors as before, with every table's rows the same.

The source is always a SQLite file, also when the suite runs on PostgreSQL;
the target needs the PostgreSQL server (SCHOOLNEWS_TEST_POSTGRESQL, or the
local one at 127.0.0.1:5432): without it these tests are skipped.
"""

import os
import re
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from app import create_app
from models import Article, Section, Setting, Status, User, db, utcnow
from operations import topostgresql
from tests import dbserver
from tests.conftest import _close, _config, _login, _seed_users, form_data

SERVER = dbserver.SERVER or "postgresql+psycopg://postgres@127.0.0.1:5432/"


def _server_problem() -> str | None:
    engine = sa.create_engine(
        sa.make_url(SERVER).set(database="postgres"),
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect():
            return None
    except sa.exc.DBAPIError as error:
        return " ".join(str(error.orig).split())
    finally:
        engine.dispose()


_PROBLEM = _server_problem()
pytestmark = pytest.mark.skipif(
    _PROBLEM is not None,
    reason=f"needs the PostgreSQL server at {SERVER}: {_PROBLEM}",
)


def _admin(sql: str) -> None:
    engine = sa.create_engine(
        sa.make_url(SERVER).set(database="postgres"),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as connection:
        connection.exec_driver_sql(sql)
    engine.dispose()


def new_database(template: str | None = None) -> str:
    """A new PostgreSQL database's URL, empty or a copy of `template`'s (named
    like dbserver's: a killed run's are dropped by the next PostgreSQL run)."""
    name = f"sn_{os.getpid()}_migrate_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{sa.make_url(template).database}"' if template else ""
    _admin(f'CREATE DATABASE "{name}"{copy}')
    return sa.make_url(SERVER).set(database=name).render_as_string(False)


def drop_database(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')


@pytest.fixture
def target():
    url = new_database()
    yield url
    drop_database(url)


def site_app(folder, url: str):
    """The site's app on this database, with the folder's uploads."""
    return create_app(_config(folder) | {"SQLALCHEMY_DATABASE_URI": url})


def sqlite_url(folder) -> str:
    return f"sqlite:///{folder / 'test.sqlite3'}"


def migrate(app, url: str):
    return app.test_cli_runner().invoke(args=["migrate-to-postgresql", url])


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every copied table's rows, sorted: compared value by value."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        rows = {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in topostgresql.copied_tables()
            if table.name != "search_doc"  # the index: rebuilt on the target
        }
    engine.dispose()
    return rows


def newest_visible(app) -> tuple[int, str, str]:
    """(id, title, section slug) of the newest post readers see."""
    with app.app_context():
        article = db.session.scalars(
            sa.select(Article)
            .where(Article.visible_clause())
            .order_by(Article.published_at.desc())
            .limit(1)
        ).one()
        return article.id, article.title, article.section.slug


def reader(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0 Safari/537.36"
    )
    return client


def views_of(app, article_id) -> int:
    with app.app_context():
        return db.session.get(Article, article_id).views


def assert_reader_pages(app, article_id: int, title: str, slug: str, query: str):
    """Home, section, article, search, feed and sitemap answer with the post."""
    client = reader(app)
    link = f"/articles/{article_id}"
    pages = {
        "/": link,
        f"/sections/{slug}": link,
        link: title,
        f"/search?q={query}": link,
        "/feed.xml": link,
        "/sitemap.xml": link,
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert expected in response.get_data(as_text=True), path


def assert_views_count(app, article_id: int):
    before = views_of(app, article_id)
    for _ in range(2):
        client = reader(app)
        client.get("/")  # the reader's cookie
        assert client.get(f"/articles/{article_id}").status_code == 200
    assert views_of(app, article_id) == before + 2


def assert_editor_publishes(app, section_slug: str, highest_id: int) -> int:
    """An editor logs in and publishes; readers see it. The new post's id."""
    with app.app_context():
        section_id = db.session.scalar(
            sa.select(Section.id).where(Section.slug == section_slug)
        )
    editor = _login(app.test_client(), "editor")
    title = "迁移到新数据库后的第一篇新闻"
    response = editor.post(
        "/editor/articles/new",
        data=form_data(section_id, title=title, action="publish"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        article = db.session.scalar(sa.select(Article).where(Article.title == title))
        assert article.status == Status.PUBLISHED
        # The id sequence starts after the copied ids.
        assert article.id > highest_id
        new_id = article.id
    home = reader(app).get("/").get_data(as_text=True)
    assert title in home
    assert f"/articles/{new_id}" in home
    return new_id


# --- The demo school ---------------------------------------------------------------


def _build_demo(folder):
    """The demo school in a SQLite file, as tests/conftest.py builds it."""
    app = site_app(folder, sqlite_url(folder))
    with app.app_context():
        db.create_all()
        _seed_users()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    _close(app)


@pytest.fixture(scope="module")
def demo_sqlite(request, tmp_path_factory):
    """A folder holding the demo school's SQLite file and uploads."""
    if not dbserver.ON_POSTGRESQL:
        return request.getfixturevalue("demo_site_template").folder
    folder = tmp_path_factory.mktemp("demo-sqlite")
    _build_demo(folder)
    return folder


@pytest.fixture
def demo_site(demo_sqlite, tmp_path, monkeypatch):
    """A copy of the demo school on SQLite, its app, running."""
    shutil.copy(demo_sqlite / "test.sqlite3", tmp_path / "test.sqlite3")
    shutil.copytree(demo_sqlite / "uploads", tmp_path / "uploads")
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    app = site_app(tmp_path, sqlite_url(tmp_path))
    yield app
    _close(app)


@dataclass
class Moved:
    folder: Path  # the SQLite site's database and uploads, as copied
    template: str  # the PostgreSQL database it went into; tests get copies
    output: str
    uploads: dict[str, int]  # name: size, before the copy

    @property
    def source(self) -> str:
        return sqlite_url(self.folder)


def uploads_of(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def moved_once(demo_sqlite, tmp_path_factory):
    """The demo school moved once by the command; each test gets a copy."""
    folder = tmp_path_factory.mktemp("moved-demo")
    shutil.copy(demo_sqlite / "test.sqlite3", folder / "test.sqlite3")
    shutil.copytree(demo_sqlite / "uploads", folder / "uploads")
    uploads = uploads_of(folder / "uploads")
    template = new_database()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHOOLNEWS_INSTANCE", str(folder / "instance"))
        source = site_app(folder, sqlite_url(folder))
        # Staff signed in on the old site: the audit log has events to carry over.
        _login(source.test_client(), "editor")
        result = migrate(source, template)
        _close(source)
    assert result.exit_code == 0, result.output
    yield Moved(folder, template, result.output, uploads)
    drop_database(template)


@pytest.fixture
def moved(moved_once, tmp_path, monkeypatch):
    """The moved demo school's app, on a copy of the moved database."""
    url = new_database(template=moved_once.template)
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    app = create_app(
        _config(tmp_path)
        | {
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(moved_once.folder / "uploads"),
        }
    )
    yield app
    _close(app)
    drop_database(url)


def test_demo_site_moves_with_every_row_and_matching_checksums(moved_once):
    output = moved_once.output
    for table in topostgresql.copied_tables():
        assert re.search(rf"^{table.name} .* OK$", output, re.MULTILINE), table.name
    assert "MISMATCH" not in output
    assert f"All {len(topostgresql.copied_tables())} tables match" in output
    url = sa.make_url(moved_once.template).set(drivername="postgresql+psycopg")
    assert f"SQLALCHEMY_DATABASE_URI = '{url}'" in output
    assert "Writes made on the site during the copy are not moved" in output
    source_rows = table_rows(moved_once.source)
    assert source_rows == table_rows(moved_once.template)
    assert len(source_rows["article"]) >= 40
    assert len(source_rows["audit_event"]) >= 1
    # Posts with a cover (a foreign key to a table copied after theirs).
    cover = [c.name for c in Article.__table__.columns].index("cover_id")
    assert any(row[cover] for row in source_rows["article"])
    assert uploads_of(moved_once.folder / "uploads") == moved_once.uploads


def test_moved_demo_site_serves_readers_and_counts_views(moved):
    article_id, title, slug = newest_visible(moved)
    assert_reader_pages(moved, article_id, title, slug, query=title)
    assert_views_count(moved, article_id)
    # The uploads stay in the folder the SQLite site used, and are served.
    with moved.app_context():
        stored = (
            db.session.scalars(sa.select(Article).where(Article.cover_id.is_not(None)))
            .first()
            .cover.stored_name
        )
    with reader(moved).get(f"/uploads/{stored}") as response:
        assert response.status_code == 200
        assert len(response.get_data()) > 1000


def test_editor_publishes_on_the_moved_demo_site(moved):
    with moved.app_context():
        highest = db.session.scalar(sa.select(sa.func.max(Article.id)))
    _id, _title, slug = newest_visible(moved)
    new_id = assert_editor_publishes(moved, slug, highest)
    assert_reader_pages(
        moved, new_id, "迁移到新数据库后的第一篇新闻", slug, query="迁移"
    )


def test_audit_chain_verifies_on_the_moved_site(moved_once, moved):
    events = len(table_rows(moved_once.source)["audit_event"])
    assert events >= 1
    result = moved.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 0, result.output
    assert f"OK: the audit chain holds {events} events." in result.output


def test_checksum_finds_a_row_changed_after_the_copy(moved_once, moved):
    source = sa.create_engine(moved_once.source, poolclass=NullPool)
    destination = sa.create_engine(
        moved.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool
    )
    with source.connect() as old, destination.connect() as new:
        assert all(check.ok for check in topostgresql.verify(old, new))
        new.execute(
            sa.update(Section).where(Section.slug == newest_visible(moved)[2]),
            {"name": "改过的栏目名"},
        )
        checks = {check.name: check for check in topostgresql.verify(old, new)}
        new.rollback()
    source.dispose()
    destination.dispose()
    assert not checks["section"].ok
    assert checks["section"].source_rows == checks["section"].target_rows
    assert [name for name, check in checks.items() if not check.ok] == ["section"]


def test_writes_during_the_copy_are_left_out_whole(demo_site, target):
    """The copy reads one moment of the SQLite file while the site writes on."""
    path = demo_site.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with demo_site.app_context():
        posts = db.session.scalar(sa.select(sa.func.count(Article.id)))
        section_id = db.session.scalar(sa.select(sa.func.min(Section.id)))

    def write_meanwhile(line: str) -> None:
        if line.startswith("Copying the rows"):
            writer = sqlite3.connect(path, timeout=15)
            now = utcnow().isoformat(sep=" ")
            writer.execute(
                "INSERT INTO article (title, body_html, excerpt, author_name,"
                " section_id, channel_id, status, published_at, pinned, views,"
                " version, created_at, updated_at) VALUES ('复制时写的新闻',"
                " '<p>x</p>', 'x', '教务处', ?, ?, 'published', ?, 0, 0, 1, ?, ?)",
                (section_id, section_id, now, now, now),
            )
            writer.commit()
            writer.close()

    with demo_site.app_context():
        result = topostgresql.migrate(
            db.engine,
            topostgresql.target_url(target),
            demo_site.extensions["migrate"].directory,
            write_meanwhile,
        )
    assert result.ok
    assert {c.name: c.source_rows for c in result.checks}["article"] == posts
    with demo_site.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == posts + 1
    engine = sa.create_engine(target, poolclass=NullPool)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count(Article.id))) == posts
    engine.dispose()


# --- Refusals ------------------------------------------------------------------------


def test_refuses_a_database_that_has_tables(demo_site, target):
    engine = sa.create_engine(target, poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id integer)")
    result = migrate(demo_site, target)
    assert result.exit_code == 1
    assert "is not empty" in result.output
    assert "public.notes" in result.output
    assert "Traceback" not in result.output
    with engine.connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    engine.dispose()
    assert tables == ["notes"]


def test_refuses_a_database_that_cannot_hold_chinese(demo_site):
    name = f"sn_{os.getpid()}_migrate_latin1"
    _admin(
        f'CREATE DATABASE "{name}" ENCODING LATIN1 TEMPLATE template0'
        " LC_COLLATE 'C' LC_CTYPE 'C'"
    )
    try:
        result = migrate(demo_site, SERVER + name)
    finally:
        _admin(f'DROP DATABASE "{name}"')
    assert result.exit_code == 1
    assert "stores text as LATIN1, not UTF8" in result.output
    assert f"createdb -E UTF8 -T template0 {name}" in result.output


def test_refuses_a_user_who_may_not_create_tables(demo_site, target):
    role = f"sn_{os.getpid()}_migrate_reader"
    _admin(f'CREATE ROLE "{role}" LOGIN')
    engine = sa.create_engine(target, poolclass=NullPool)
    with engine.begin() as connection:
        # As PostgreSQL 15 has it by default; older versions let everyone.
        connection.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    engine.dispose()
    try:
        url = sa.make_url(target).set(username=role).render_as_string(False)
        result = migrate(demo_site, url)
    finally:
        drop_database(target)
        _admin(f'DROP ROLE "{role}"')
    assert result.exit_code == 1
    assert f"The user {role!r} may not create tables" in result.output
    assert "OWNER TO" in result.output


def test_names_createdb_for_a_database_that_does_not_exist(demo_site):
    missing = sa.make_url(SERVER).set(database=f"sn_{os.getpid()}_migrate_missing")
    result = migrate(demo_site, missing.render_as_string(False))
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert f"createdb -h {missing.host}" in result.output
    assert missing.database in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://postgres@127.0.0.1:1/schoolnews",
            "Cannot connect to PostgreSQL",
        ),
        ("mysql://root@127.0.0.1/schoolnews", "must be a PostgreSQL database"),
        ("sqlite:///other.sqlite3", "must be a PostgreSQL database"),
        ("postgresql+psycopg2://postgres@127.0.0.1/x", "through psycopg 3"),
        ("postgresql://postgres@127.0.0.1:5432", "names no database"),
        ("schoolnews", "is not a database URL"),
    ],
)
def test_refuses_a_url_it_cannot_use(demo_site, url, message):
    result = migrate(demo_site, url)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_site_already_on_postgresql_is_not_moved(moved):
    result = migrate(moved, SERVER + "elsewhere")
    assert result.exit_code == 1
    assert "This site's database is postgresql, not SQLite" in result.output
    assert "Traceback" not in result.output


# --- A generated site of 10,000 posts ------------------------------------------------


# 30 to 60 s on this 2-core machine, most of it PostgreSQL building the
# search index: in the PostgreSQL run only, for `make test`'s time budget.
@dbserver.postgresql_only
def test_generated_10000_post_site_moves_and_works(tmp_path, target, monkeypatch):
    from bench import sitegen

    # sitegen points SCHOOLNEWS_INSTANCE at its site: restored after the test.
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    site = sitegen.generate(10_000, log=lambda message: None)
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    shutil.copy(os.path.join(site.instance, "cms.sqlite3"), tmp_path / "test.sqlite3")
    source = site_app(tmp_path, sqlite_url(tmp_path))
    with source.app_context():
        _seed_users()  # staff for the editor's check
        rare = set(
            db.session.scalars(
                sa.select(Article.id).where(Article.body_html.contains(site.rare_word))
            )
        )
    result = migrate(source, target)
    _close(source)
    assert result.exit_code == 0, result.output
    assert re.search(r"^article +10,000 +10,000  OK$", result.output, re.MULTILINE)
    assert "article: 6,000 / 10,000" in result.output  # progress as it goes
    assert "Rebuilding the search index of 10,000 posts" in result.output
    assert "MISMATCH" not in result.output

    moved = site_app(tmp_path, target)
    try:
        with moved.app_context():
            assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 10_000
            school = db.session.get(Setting, (1, "school_name")).value
            title, slug = db.session.execute(
                sa.select(Article.title, Section.slug)
                .join(Section, Section.id == Article.section_id)
                .where(Article.id == site.article_id)
            ).one()
        assert school in reader(moved).get("/").get_data(as_text=True)
        assert_reader_pages(moved, site.article_id, title, slug, query=title)
        found = reader(moved).get(f"/search?q={site.rare_word}").get_data(as_text=True)
        assert rare and all(f'/articles/{i}"' in found for i in rare)
        deep = reader(moved).get(f"/sections/{site.channel_slug}?page={site.deep_page}")
        assert deep.status_code == 200
        assert_views_count(moved, site.article_id)
        assert_editor_publishes(moved, slug, highest_id=10_000)
        with moved.app_context():
            assert db.session.scalar(
                sa.select(sa.func.count(User.id)).where(User.username == "editor")
            )
            assert db.session.get(Article, site.article_id).published_at <= (
                utcnow() + timedelta(seconds=1)
            )
    finally:
        _close(moved)
