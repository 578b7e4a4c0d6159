"""Shared fixtures: a real database per test (a SQLite file, or a PostgreSQL
database with `make test-postgresql`: tests/dbserver.py), real login,
article factory."""

import secrets
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import Engine
from werkzeug.security import generate_password_hash

from app import create_app
from models import Article, Role, Section, Status, User, db, set_setting, utcnow
from operations.commands import create_user
from tests import dbserver

PASSWORD = "correct horse 42"
# Hashed once with few rounds: scrypt for three users in every test's set-up
# would dominate the run time. The login path still verifies it for real.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


# Every SQLite connection the app opens (SQLAlchemy's pool and the page
# cache's own per-thread connections) reports its statements here, so a test
# can count what one request runs, whichever layer ran it.
_recorders: list[list[str]] = []
_HOUSEKEEPING = (
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "PRAGMA",
    "SAVEPOINT",
    "RELEASE",
    # What SQLAlchemy asks PostgreSQL once per new connection.
    "SHOW ",
    "SELECT PG_CATALOG.VERSION()",
    "SELECT CURRENT_SCHEMA()",
)


def _record(statement: str) -> None:
    # "-- ..." are SQLite's own statements inside one of ours (FTS5 reading
    # its index tables for a MATCH): part of that statement, not another.
    if statement.startswith("-- "):
        return
    if _recorders and not statement.lstrip().upper().startswith(_HOUSEKEEPING):
        for seen in _recorders:
            seen.append(statement)


if dbserver.ON_POSTGRESQL:
    import psycopg

    class _RecordingCursor(psycopg.Cursor):
        """psycopg has no trace callback: its cursors report what they run."""

        def execute(self, query, params=None, **kwargs):
            _record(query if isinstance(query, str) else query.as_string(self))
            return super().execute(query, params, **kwargs)

        def executemany(self, query, params_seq, **kwargs):
            _record(query if isinstance(query, str) else query.as_string(self))
            return super().executemany(query, params_seq, **kwargs)

    class _RecordingServerCursor(psycopg.ServerCursor):
        """The cursors of streamed results (yield_per, stream_results)."""

        def execute(self, query, params=None, **kwargs):
            _record(query if isinstance(query, str) else query.as_string(self))
            return super().execute(query, params, **kwargs)


@sa.event.listens_for(Engine, "connect")
def _trace_statements(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.set_trace_callback(_record)
    elif dbserver.ON_POSTGRESQL:
        dbapi_connection.cursor_factory = _RecordingCursor
        dbapi_connection.server_cursor_factory = _RecordingServerCursor


@contextmanager
def count_statements():
    """Collect the SQL statements run meanwhile (transaction control aside)."""
    seen: list[str] = []
    _recorders.append(seen)
    try:
        yield seen
    finally:
        _recorders.remove(seen)


def new_user(username: str, role: str, display_name: str | None = None) -> User:
    """A user whose password is PASSWORD, to add to the session."""
    return User(
        username=username,
        display_name=display_name or f"{role.title()} 老师",
        role=role,
        password_hash=FAST_HASH,
        session_token=secrets.token_hex(8),
    )


def _seed_users() -> None:
    users = [new_user(role, role) for role in Role.WRITERS]
    # The seeded admin holds all three management roles (三员) in 单人模式,
    # as an upgraded site's administrators do; tests/test_duties.py splits them.
    users[-1].security_admin = users[-1].audit_admin = True
    db.session.add_all(users)
    set_setting("single_admin", "1")
    # Most tests are about something other than the review chain (先审后发,
    # one level by default): editors publish directly here unless a test
    # sets review levels itself (tests/test_review.py).
    set_setting("review_levels", "0")
    db.session.commit()


def _config(folder, request=None) -> dict:
    # Tests post forms without tokens; tests marked `csrf` get the real check.
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": bool(request and request.node.get_closest_marker("csrf")),
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": dbserver.database_url(folder),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "BACKUP_FOLDER": str(folder / "backups"),
        # Each counted view written as it comes, so a test reads it at once;
        # tests/test_viewcount.py covers the batches the server uses.
        "VIEW_FLUSH_SECONDS": 0,
    }
    # @pytest.mark.config(NAME=value) sets more config through the real factory.
    marker = request and request.node.get_closest_marker("config")
    config.update(marker.kwargs if marker else {})
    return config


def _close(app) -> None:
    batch = app.extensions["pagecache"].counter.batch
    if batch is not None:
        batch.stop()
    app.extensions["pagecache"].hot.dispose()
    with app.app_context():
        db.engine.dispose()


def empty_postgresql_app(tmp_path, monkeypatch, name: str):
    """An app on a new, empty PostgreSQL database (no tables: the test runs
    the migrations), on whichever engine the suite runs; the database is
    dropped afterwards. Skips where no PostgreSQL server answers."""
    server = dbserver.SERVER or "postgresql+psycopg://postgres@127.0.0.1:5432/"
    url = sa.make_url(server).set(database=f"{dbserver.PREFIX}{name}_{tmp_path.name}")
    admin = sa.create_engine(
        sa.make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    except sa.exc.OperationalError as error:
        pytest.skip(f"no PostgreSQL server at {server}: {error.orig}")
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    yield app
    _close(app)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    admin.dispose()


@dataclass
class Site:
    """A database file and upload folder that tests start from (copied)."""

    folder: Path
    output: str = ""  # what the command that made it printed

    def copy_to(self, folder: Path) -> None:
        if dbserver.ON_POSTGRESQL:
            dbserver.create(
                dbserver.database_url(folder), dbserver.database_url(self.folder)
            )
        else:
            shutil.copy(self.folder / "test.sqlite3", folder / "test.sqlite3")
        if (self.folder / "uploads").exists():
            shutil.copytree(self.folder / "uploads", folder / "uploads")


def _build_site(folder: Path, command=None) -> Site:
    if dbserver.ON_POSTGRESQL:
        dbserver.create(dbserver.database_url(folder))
    app = create_app(_config(folder))
    with app.app_context():
        db.create_all()
        _seed_users()
    output = ""
    if command:
        result = app.test_cli_runner().invoke(args=command)
        assert result.exit_code == 0, result.output
        output = result.output
    # Closing the last connection folds SQLite's write-ahead log into the
    # file, so copying the one file copies the whole database.
    _close(app)
    if not dbserver.ON_POSTGRESQL:
        assert not (folder / "test.sqlite3-wal").exists()
    return Site(folder, output)


@pytest.fixture(scope="session")
def empty_site(tmp_path_factory):
    """The schema and the three seeded users, built once per test session:
    copying the file is much cheaper than creating the tables in every test."""
    return _build_site(tmp_path_factory.mktemp("empty-site"))


@pytest.fixture(scope="session")
def demo_site_template(tmp_path_factory):
    """The same, with the demo school loaded by the real `demo` command
    (tests marked `demo` start from a copy; `demo_output` is what it printed)."""
    return _build_site(tmp_path_factory.mktemp("demo-site"), ["demo"])


@pytest.fixture
def demo_output(demo_site_template):
    return demo_site_template.output


@pytest.fixture
def app(tmp_path, request, monkeypatch):
    name = (
        "demo_site_template"
        if request.node.get_closest_marker("demo")
        else "empty_site"
    )
    request.getfixturevalue(name).copy_to(tmp_path)
    # Whatever the app keeps in its instance folder (the audit archive, …)
    # goes to the test's folder, never to the checkout's instance/.
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    app = create_app(_config(tmp_path, request))
    yield app
    _close(app)
    if dbserver.ON_POSTGRESQL:
        dbserver.drop(app.config["SQLALCHEMY_DATABASE_URI"])


@pytest.fixture(scope="session", autouse=dbserver.ON_POSTGRESQL)
def _postgresql_databases():
    """Each test process drops what killed runs left, and its own at the end."""
    dbserver.drop_left_behind()
    yield
    dbserver.drop_own()


@pytest.fixture
def generated_admin(app):
    """The admin as init-db leaves it: needing the setup."""
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.needs_setup = True
        db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ledger_checked(app, runner):
    """After the test, `flask check-ledger` finds every live text explained."""
    yield
    result = runner.invoke(args=["check-ledger"])
    assert result.exit_code == 0, result.output


# --- helpers shared by the test modules (import them from tests.conftest) ------


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def get_article(app, article_id):
    """The article as stored now, detached so it can be read after the context."""
    with app.app_context():
        article = db.session.get(Article, article_id)
        if article is not None:
            db.session.expunge(article)
        return article


def article_titled(title: str) -> Article | None:
    """The article with this title (inside an app context)."""
    return db.session.scalar(sa.select(Article).where(Article.title == title))


def section_named(name: str) -> Section | None:
    """The section with this name (inside an app context)."""
    return db.session.scalar(sa.select(Section).where(Section.name == name))


def form_data(section, **overrides):
    """The editor's article form as the browser posts it."""
    data = {
        "title": "开学典礼",
        "section_id": str(section),
        "author_name": "教务处",
        "source": "",
        "summary": "",
        "body_html": "<p>同学们好</p>",
        "published_at": "",
        "action": "save",
    }
    data.update(overrides)
    return data


def _login(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def editor():
    """Login data for the seeded editor."""
    return {"username": "editor", "password": PASSWORD}


@pytest.fixture
def editor_client(client):
    """A client logged in as an editor through the real login form."""
    return _login(client, "editor")


@pytest.fixture
def author_client(client):
    return _login(client, "author")


@pytest.fixture
def admin_client(client):
    return _login(client, "admin")


@pytest.fixture
def login(client):
    """Log the test client in as the given seeded user (author/editor/admin)."""
    return lambda username: _login(client, username)


@pytest.fixture
def make_section(app):
    counter = iter(range(1, 10_000))

    def make(name=None, slug=None, parent_id=None, position=0):
        n = next(counter)
        with app.app_context():
            section = Section(
                name=name or f"栏目{n}",
                slug=slug or f"section-{n}",
                parent_id=parent_id,
                position=position,
            )
            db.session.add(section)
            db.session.commit()
            return section.id

    return make


@pytest.fixture
def section(make_section):
    """The id of a section to file the test's posts in."""
    return make_section(name="校园新闻", slug="campus")


@pytest.fixture
def make_article(app, make_section):
    """Create an article (published an hour ago by default) and return its id."""
    default_section = []

    def make(**fields):
        if "section_id" not in fields:
            if not default_section:
                default_section.append(make_section(name="新闻中心", slug="news"))
            fields["section_id"] = default_section[0]
        values = {
            "title": "测试文章",
            "body_html": "<p>正文内容</p>",
            "author_name": "教务处",
            "status": Status.PUBLISHED,
            "published_at": utcnow() - timedelta(hours=1),
        }
        values.update(fields)
        with app.app_context():
            article = Article(**values)
            db.session.add(article)
            db.session.flush()
            if article.status == Status.PUBLISHED:
                # As every path that publishes does: the ledger explains it.
                from review import chain

                chain.record_publish(article, None, "test fixture")
            db.session.commit()
            return article.id

    return make


# --- migration tests: a school's database at an older revision ------------------


def school_at(tmp_path, revision: str, *statements: str):
    """A school's database at an older revision, holding the given rows."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'school.sqlite3'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade(revision=revision)
        with db.engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
        db.engine.dispose()
    return app


def drop_audit_triggers(connection) -> None:
    """Lift the audit log's append-only guard, as an attacker holding the
    database's own password could (to show the hash chain still finds out)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("DROP TRIGGER audit_event_append_only ON audit_event")
        )
        return
    for trigger in ("audit_event_no_update", "audit_event_no_delete"):
        connection.execute(sa.text(f"DROP TRIGGER {trigger}"))


def rows(sql: str) -> list[tuple]:
    """What a query returns now, as plain tuples (inside an app context)."""
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def columns(table: str) -> set[str]:
    with db.engine.connect() as connection:
        return {column["name"] for column in sa.inspect(connection).get_columns(table)}


def tables() -> set[str]:
    with db.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def shown_version(app, article_id: int) -> str:
    """The version hash a reviewer's page carries for the text under review now."""
    from review import chain

    with app.app_context():
        return chain.text_hash(db.session.get(Article, article_id))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    """Wait for a real server (serve.py) to answer; 60 s: CI machines are slow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited while starting"
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not start")


def instance_with_article(tmp_path, monkeypatch, views: int = 0, editor=False):
    """A migrated instance folder, for real server processes, holding one
    published article (and an editor if asked); its path and the ids."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(instance))
    app = create_app()
    with app.app_context():
        upgrade()
        if editor:
            create_user("editor", PASSWORD, Role.EDITOR)
        section = Section(name="新闻中心", slug="news")
        db.session.add(section)
        db.session.flush()
        article = Article(
            title="开学通知",
            body_html="<p>九月一日开学</p>",
            author_name="教务处",
            section_id=section.id,
            status=Status.PUBLISHED,
            published_at=utcnow(),
            views=views,
        )
        db.session.add(article)
        db.session.commit()
        ids = {"article": article.id, "section": section.id}
        db.engine.dispose()
    app.extensions["pagecache"].hot.dispose()
    return instance, ids
