"""Search on PostgreSQL: migration 0017 builds the index of an existing site
and takes it away again; the backend survives what PostgreSQL refuses.

Runs against the local PostgreSQL server whichever engine the rest of the
suite uses (tests/test_search.py runs on both), skipped if there is none.
"""

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from models import Article, db
from reader import search
from tests.conftest import empty_postgresql_app, tables


@pytest.fixture
def pg_app(tmp_path, monkeypatch):
    yield from empty_postgresql_app(tmp_path, monkeypatch, "search")


def demo_ids(app, word: str) -> list[int]:
    with app.app_context():
        articles = db.session.scalars(
            sa.select(Article).where(Article.visible_clause())
        ).all()
        return sorted(
            a.id
            for a in articles
            if word in a.title + a.body_html + (a.summary or "") + a.author_name
        )


def found(client, q) -> list[int]:
    import re

    page = client.get("/search", query_string={"q": q}).text
    results = page.partition('<ol class="search-results">')[2].partition("</ol>")[0]
    return sorted(int(i) for i in re.findall(r'href="/articles/(\d+)"', results))


def test_0017_indexes_an_existing_site_and_is_undone(pg_app):
    # The demo is written by today's models, then taken back to 0016: a site
    # that searched by LIKE until now, with posts and an empty search_doc.
    with pg_app.app_context():
        upgrade()
        db.engine.dispose()
    result = pg_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    with pg_app.app_context():
        downgrade(revision="0016")
        assert "search_fts" not in tables()
        with db.engine.begin() as connection:
            connection.execute(sa.delete(search.search_doc))
        upgrade()
        assert "search_fts" in tables()
        assert search.backend_for(db.engine).name == "postgresql"
        db.engine.dispose()
    client = pg_app.test_client()
    having = demo_ids(pg_app, "开学")
    assert having and found(client, "开学") == having
    with pg_app.app_context():
        downgrade(revision="0016")
        assert "search_fts" not in tables()
        upgrade()  # and forward again
        db.engine.dispose()
    assert found(client, "开学") == having


def test_words_postgresql_cannot_hold_as_tokens_never_fail_a_save(pg_app, tmp_path):
    """A pasted code longer than a PostgreSQL lexeme (2 KB) and NUL bytes."""
    with pg_app.app_context():
        upgrade()
        db.engine.dispose()
    assert pg_app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    long_word = "a" * 3000
    with pg_app.app_context():
        article = db.session.scalars(
            sa.select(Article).where(Article.visible_clause()).limit(1)
        ).one()
        article.body_html = f"<p>航模 {long_word} 比赛</p>"
        db.session.commit()
        article_id = article.id
    client = pg_app.test_client()
    assert found(client, "航模") == [article_id]
    assert client.get("/search", query_string={"q": long_word[:90]}).status_code == 200
    assert found(client, long_word[:90]) == []


def test_searches_are_never_prepared_statements(pg_app):
    """psycopg prepares a statement run five times on a connection; PostgreSQL
    may then plan a search once for every word, and a rare word's plan made
    a word in most posts ten times slower (bench/bench_search.py)."""
    with pg_app.app_context():
        upgrade()
        db.engine.dispose()
    assert pg_app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    with pg_app.app_context():
        totals = []
        for word in ["开学", "学校", "典礼", "老师"] * 3:
            query = search.parse(word)
            hits = search.search(db.session, query)
            totals.append(search.count(db.session, query, limit=1001))
            assert len(hits) == min(totals[-1], 20)
        prepared = db.session.scalars(
            sa.text(
                "SELECT statement FROM pg_prepared_statements"
                " WHERE statement LIKE 'SELECT %search_fts%'"
            )
        ).all()
        assert max(totals) > 0 and prepared == []
