"""The reader's pages of a single-school site, byte for byte, as they were.

The demo school is installed the way a school installs it (`init-db`, then
`demo`) at a fixed instant, and every reader page is fetched at that instant:
the home, every section and its second page, every post (published or not),
search, the feeds, the sitemap, robots.txt, and a page that does not exist.
Each must equal tests/fixtures/golden_pages.json.gz (on PostgreSQL,
golden_pages_postgresql.json.gz), which were written from
main before the 站群 work (issue 24) so that a single-site installation can be
shown to serve exactly the pages it served before, on either engine. Only
what differs between two installs by design is normalised: asset fingerprints
(the issue allows them to change) and uploads' random stored names.

A deliberate change to what readers see rewrites the file:
    SCHOOLNEWS_WRITE_GOLDEN=1 .venv/bin/pytest tests/test_golden_pages.py
(and the commit says why); a change that was not meant to show fails here.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from app import create_app
from models import Article, Section, Status, Upload, db
from tests import dbserver
from tests.conftest import _close, _config

# One file per engine: the pages agree but for the order of search results that
# match in the body only (by bm25 on SQLite, by date on PostgreSQL).
GOLDEN = (
    Path(__file__).parent
    / "fixtures"
    / (
        "golden_pages_postgresql.json.gz"
        if dbserver.ON_POSTGRESQL
        else "golden_pages.json.gz"
    )
)
WRITE = os.environ.get("SCHOOLNEWS_WRITE_GOLDEN") == "1"
# A Tuesday morning in term, China time, the clock for installing and reading.
INSTANT = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
# A search engine's crawler: its visits are not counted, so fetching one page
# cannot change the view counts another page shows.
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FINGERPRINT = re.compile(r"(/static/[\w./-]+?)\.[0-9a-f]{10}(\.\w+)")
SEARCHES = ["运动会", "通知", "赛", "2026年", "运动会 志愿", "没有这个词"]


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """The demo school installed at INSTANT; yields (app, reader pages)."""
    folder = tmp_path_factory.mktemp("golden")
    if dbserver.ON_POSTGRESQL:
        dbserver.create(dbserver.database_url(folder))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHOOLNEWS_INSTANCE", str(folder / "instance"))
        with time_machine.travel(INSTANT, tick=False):
            app = create_app(_config(folder))
            runner = app.test_cli_runner()
            for command in (["init-db"], ["demo"]):
                result = runner.invoke(args=command)
                assert result.exit_code == 0, result.output
            pages = _fetch_all(app)
        yield app, pages
    _close(app)
    if dbserver.ON_POSTGRESQL:
        dbserver.drop(app.config["SQLALCHEMY_DATABASE_URI"])


def _paths(app) -> list[str]:
    with app.app_context():
        slugs = db.session.scalars(sa.select(Section.slug).order_by(Section.id))
        ids = db.session.scalars(sa.select(Article.id).order_by(Article.id))
        slugs, ids = list(slugs), list(ids)
    paths = ["/", "/robots.txt", "/feed.xml", "/sitemap.xml", "/articles/999999"]
    for slug in slugs:
        paths += [f"/sections/{slug}", f"/sections/{slug}?page=2"]
        paths.append(f"/sections/{slug}/feed.xml")
    paths += [f"/articles/{article_id}" for article_id in ids]
    paths += [f"/search?q={words}" for words in SEARCHES]
    return paths


def _fetch_all(app) -> dict[str, str]:
    with app.app_context():
        names = db.session.execute(sa.select(Upload.stored_name, Upload.id))
        # By stem, which thumbnails and previews are named after too; longest
        # first, so no stem is cut short by another it starts with.
        stems = [(Path(name).stem, upload_id) for name, upload_id in names]
        uploads = sorted(stems, key=lambda row: -len(row[0]))
    client = app.test_client()
    pages = {}
    for path in _paths(app):
        response = client.get(path, headers={"User-Agent": CRAWLER})
        text = response.get_data(as_text=True)
        text = FINGERPRINT.sub(r"\1\2", text)
        for stem, upload_id in uploads:
            text = text.replace(stem, f"upload-{upload_id}")
        pages[path] = f"{response.status_code}\n{text}"
    return pages


def _golden() -> dict[str, str]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as file:
        return json.load(file)


def test_golden_file_is_written_or_present(school):
    _, pages = school
    if WRITE:
        GOLDEN.parent.mkdir(exist_ok=True)
        data = json.dumps(pages, ensure_ascii=False, indent=0, sort_keys=True)
        # mtime=0: the same pages write the same bytes (no needless diff).
        with gzip.GzipFile(GOLDEN, "wb", mtime=0) as file:
            file.write(data.encode())
    assert GOLDEN.exists(), "write it: SCHOOLNEWS_WRITE_GOLDEN=1 pytest this file"


def test_every_reader_page_is_what_it_was(school):
    _, pages = school
    golden = _golden()
    assert sorted(pages) == sorted(golden), "the set of pages changed"
    changed = [path for path in golden if pages[path] != golden[path]]
    if changed:
        first = changed[0]
        diff = difflib.unified_diff(
            golden[first].splitlines(),
            pages[first].splitlines(),
            "before",
            "now",
            lineterm="",
            n=2,
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(
            f"{len(changed)} pages differ ({changed[:8]}), first {first}:\n{shown}"
        )


def test_the_pages_are_real_pages(school):
    """The golden set shows readers' content, not errors: a broken fixture
    (every page a 500, or an empty site) would otherwise pass as «the same»."""
    app, pages = school
    statuses = [page.split("\n", 1)[0] for page in pages.values()]
    assert statuses.count("200") >= 60
    assert pages["/articles/999999"].startswith("404\n")
    assert "500" not in statuses
    with app.app_context():
        titles = db.session.scalars(
            sa.select(Article.title).where(Article.status == Status.PUBLISHED)
        )
        shown = [title for title in titles if title in pages["/"]]
    assert len(shown) >= 5
