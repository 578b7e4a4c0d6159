"""The migrations on PostgreSQL: a new site is built by them, every step runs
forward and back, and the append-only triggers hold there as on SQLite.

The upgrades of existing schools' data (tests/test_migrations.py) start from
SQLite databases, as every school before this release ran; these run against
the local PostgreSQL server whichever engine the rest of the suite uses.
"""

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from models import AuditEvent, ReviewEvent, db
from tests.conftest import empty_postgresql_app, rows, tables


@pytest.fixture
def pg_app(tmp_path, monkeypatch):
    yield from empty_postgresql_app(tmp_path, monkeypatch, "migrations")


def test_every_migration_runs_forward_and_back_on_postgresql(pg_app):
    with pg_app.app_context():
        upgrade()
        built = tables()
        assert {"article", "review_event", "audit_event", "search_doc"} <= built
        downgrade(revision="base")
        assert tables() <= {"alembic_version"}
        upgrade()
        assert tables() == built
        db.engine.dispose()


def test_a_migrated_postgresql_site_serves_the_demo(pg_app):
    with pg_app.app_context():
        upgrade()
        db.engine.dispose()
    result = pg_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    client = pg_app.test_client()
    home = client.get("/")
    assert home.status_code == 200
    with pg_app.app_context():
        (article_id,) = rows("SELECT min(id) FROM article WHERE status = 'published'")[
            0
        ]
        (title,) = rows(f"SELECT title FROM article WHERE id = {article_id}")[0]
    assert title in client.get(f"/articles/{article_id}").text


def test_the_ledger_and_audit_log_refuse_changes_on_postgresql(pg_app):
    """The triggers 0016 adds: a staff member with the database password
    still cannot rewrite what was reviewed or done."""
    with pg_app.app_context():
        upgrade()
        db.session.add_all(
            [
                ReviewEvent(article_id=1, article_title="运动会", decision="approved"),
                AuditEvent(action="login", target="admin"),
            ]
        )
        db.session.commit()
        for statement in (
            "UPDATE review_event SET decision = 'returned'",
            "DELETE FROM review_event",
            "UPDATE audit_event SET detail = 'rewritten'",
            "DELETE FROM audit_event",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with db.engine.begin() as connection:
                    connection.exec_driver_sql(statement)
        assert rows("SELECT decision FROM review_event") == [("approved",)]
        assert rows("SELECT action, detail FROM audit_event") == [("login", "")]
        db.session.remove()
        db.engine.dispose()
