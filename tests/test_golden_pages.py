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

The same pages are asked of the demo school as the code before 站群 (schema
0018) installed it, upgraded in place to head by `init-db` (what `make run`
does): a school that upgrades must see no difference either.

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
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from alembic.script import ScriptDirectory

from app import MIGRATIONS_DIR, create_app
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
# The demo school made by the code before 站群 (see fixtures/README.md).
OLD_DEMO = Path(__file__).parent / "fixtures" / "demo_0018.sqlite3.gz"
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
    yield from _installed(folder, [["init-db"], ["demo"]])
    if dbserver.ON_POSTGRESQL:
        dbserver.drop(dbserver.database_url(folder))


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """The demo school as the code before 站群 (schema 0018) installed it at
    INSTANT (tests/fixtures/demo_0018.sqlite3.gz), upgraded in place by
    `init-db` as `make run` does; yields (app, reader pages)."""
    if dbserver.ON_POSTGRESQL:
        pytest.skip("the schema 0018 database is a SQLite file")
    folder = tmp_path_factory.mktemp("upgraded")
    with gzip.open(OLD_DEMO) as packed, open(folder / "test.sqlite3", "wb") as file:
        shutil.copyfileobj(packed, file)
    yield from _installed(folder, [["init-db"]])


def _installed(folder: Path, commands: list[list[str]]):
    """Run the commands at INSTANT on the database in folder, then fetch every
    reader page; yields (app, pages) and closes the app afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHOOLNEWS_INSTANCE", str(folder / "instance"))
        with time_machine.travel(INSTANT, tick=False):
            app = create_app(_config(folder))
            runner = app.test_cli_runner()
            for command in commands:
                result = runner.invoke(args=command)
                assert result.exit_code == 0, result.output
            pages = _fetch_all(app)
        yield app, pages
    _close(app)


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
    _assert_golden(pages)


def test_an_upgraded_database_serves_the_same_pages(upgraded):
    """A school that ran the code before 站群 and upgrades in place (0018 to
    head: its rows become the first site's) serves the very same pages."""
    app, pages = upgraded
    with app.app_context():
        version = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert version == head, "init-db did not upgrade the database to head"
    _assert_golden(pages)


def _assert_golden(pages: dict[str, str]) -> None:
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
