"""Readers and writers at once on one SQLite file: nobody sees "database is locked"."""

import threading

import pytest

from models import Article, Status, db
from tests.conftest import PASSWORD

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

BROWSER_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/98.0.4758.101 Mobile Safari/537.36"
)


def test_views_and_editor_saves_at_the_same_time_all_succeed(app, make_article):
    articles = [make_article(title=f"文章{i}") for i in range(4)]
    drafts = [make_article(title=f"草稿{i}", status=Status.DRAFT) for i in range(8)]
    errors, statuses = [], []
    barrier = threading.Barrier(16, timeout=30)

    def reader(n):
        client = app.test_client()
        try:
            barrier.wait()
            for article_id in articles:
                response = client.get(
                    f"/articles/{article_id}",
                    headers={"User-Agent": BROWSER_UA.replace("V2203A", f"V{n}")},
                )
                statuses.append(response.status_code)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    def writer(n):
        client = app.test_client()
        try:
            client.post("/login", data={"username": "editor", "password": PASSWORD})
            barrier.wait()
            version = 1
            for round_ in range(3):
                response = client.post(
                    f"/editor/articles/{drafts[n]}/autosave",
                    json={
                        "title": f"草稿{n}-{round_}",
                        "body_html": f"<p>第{round_}次</p>",
                        "version": version,
                    },
                    headers={"Accept": "application/json"},
                )
                statuses.append(response.status_code)
                version = response.get_json().get("version", version)
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    threads += [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert statuses == [200] * len(statuses), statuses
    with app.app_context():
        for article_id in articles:
            assert db.session.get(Article, article_id).views == 8
        for n, draft_id in enumerate(drafts):
            assert db.session.get(Article, draft_id).title == f"草稿{n}-2"
