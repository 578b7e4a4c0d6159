"""The CLI a self-hoster uses: init-db, create-user."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from models import Article, Role, Section, User, db
from reader.search import is_index_table
from tests import dbserver
from tests.conftest import _close

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def include_name(name, type_, parent_names):
    return not (type_ == "table" and is_index_table(name))


_opened = []


@pytest.fixture(autouse=True)
def _close_fresh_apps():
    yield
    while _opened:
        _close(_opened.pop())


def fresh_app(tmp_path):
    """An app whose database file does not exist yet (on PostgreSQL: an
    empty database, as `createdb` leaves it; dropped when the run ends)."""
    url = dbserver.database_url(tmp_path, "fresh")
    if dbserver.ON_POSTGRESQL:
        dbserver.create(url)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    _opened.append(app)
    return app


def test_init_db_migrates_empty_database_to_the_models(tmp_path):
    app = fresh_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, (result.output, result.exc_info)
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": include_name}
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], "migrations and models.py disagree"
        db.session.remove()
        db.engine.dispose()


def test_init_db_creates_admin_once_and_prints_password(tmp_path):
    app = fresh_app(tmp_path)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    assert "password:" in first.output
    password = first.output.split("password:")[1].split()[0]
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.role == Role.ADMIN and admin.check_password(password)
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0 and "password:" not in second.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
        db.session.remove()
        db.engine.dispose()


def test_init_db_again_keeps_existing_articles(tmp_path):
    app = fresh_app(tmp_path)
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    runner.invoke(args=["demo"])
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Article.id)))
    assert runner.invoke(args=["init-db"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == before
        db.session.remove()
        db.engine.dispose()


@dbserver.sqlite_only
def test_database_uses_wal_and_foreign_keys(app):
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_create_user_with_password_option(app, runner):
    result = runner.invoke(
        args=["create-user", "wang", "--role", "editor", "--password", "s3cret-pass"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "wang"))
        assert user.role == Role.EDITOR and user.check_password("s3cret-pass")


def test_create_user_prompts_for_password(app, runner):
    result = runner.invoke(
        args=["create-user", "li"], input="long-enough-1\nlong-enough-1\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "li"))
        assert user.role == Role.AUTHOR and user.check_password("long-enough-1")


def test_create_user_refuses_duplicate_and_short_password(runner):
    duplicate = runner.invoke(args=["create-user", "editor", "--password", "x" * 10])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "zhao", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output


def test_create_user_refuses_unknown_role(runner):
    result = runner.invoke(
        args=["create-user", "q", "--role", "root", "--password", "x" * 9]
    )
    assert result.exit_code != 0


def test_missing_secret_key_is_generated_once_and_kept(tmp_path):
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite3'}",
        "SECRET_KEY": None,
    }
    first = create_app(config)
    second = create_app(config)
    assert first.config["SECRET_KEY"] and len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


# --- A fresh install, as `make run` does it ----------------------------------


def test_fresh_install_messages_read_in_order(tmp_path):
    app = fresh_app(tmp_path)
    runner = app.test_cli_runner()
    output = runner.invoke(args=["init-db"]).output
    output += runner.invoke(args=["demo"]).output
    lines = output.splitlines()

    def line_of(text):
        return next(i for i, line in enumerate(lines) if text in line)

    steps = [
        line_of("Created the database"),
        line_of("username: admin"),
        line_of("asked to change it"),
        line_of("Loading the demo content"),
        line_of("Demo content ready"),
    ]
    assert steps == sorted(steps), output
    assert "up to date" not in output
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.needs_setup
        db.session.remove()
        db.engine.dispose()


def test_init_db_gives_a_new_site_the_default_sections(tmp_path):
    from operations.sitetree import DEFAULT_SLUGS

    app = fresh_app(tmp_path)
    app.test_cli_runner().invoke(args=["init-db"])
    with app.app_context():
        assert set(db.session.scalars(sa.select(Section.slug))) == DEFAULT_SLUGS
        db.session.remove()
        db.engine.dispose()


def test_demo_skipped_on_a_new_site_is_not_loaded_later(tmp_path):
    app = fresh_app(tmp_path)
    runner = app.test_cli_runner()
    runner.invoke(args=["init-db"])
    assert "Skipped" in runner.invoke(args=["demo", "--skip"]).output
    output = runner.invoke(args=["demo"]).output
    assert "skipped" in output and "Demo content ready" not in output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 0
        db.session.remove()
        db.engine.dispose()


def test_demo_leaves_a_site_with_its_own_posts_alone(app, runner, make_article):
    make_article(title="我们自己的新闻")
    output = runner.invoke(args=["demo"]).output
    assert "content of its own" in output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 1


def test_make_run_skips_the_demo_with_demo_0():
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    recipe = makefile.split("\nrun:")[1].split("\n\n")[0]
    assert recipe.index("init-db") < recipe.index(" demo") < recipe.index("serve.py")
    assert "--skip" in recipe and "DEMO" in recipe
