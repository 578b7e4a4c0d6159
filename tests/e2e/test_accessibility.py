"""WCAG 2.1 A/AA checks with axe-core on every kind of page, phone and desktop.

axe-core comes inside the PyPI package axe-playwright-python (a dev dependency);
nothing is fetched at run time.
"""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from models import Article, Section, db
from operations import backup, demo
from tests.e2e.conftest import VIEWPORTS

pytestmark = pytest.mark.e2e

WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
}


@pytest.fixture(scope="module")
def paths(live_app):
    with live_app.app_context():
        demo.load_demo()
        article_id = db.session.scalar(
            sa.select(Article.id).where(Article.visible_clause()).limit(1)
        )
        section = db.session.scalar(sa.select(Section.slug).limit(1))
    return {
        "home": "/",
        "section": f"/sections/{section}",
        "section with thumbnails": "/sections/campus",
        "article": f"/articles/{article_id}",
        "missing": "/no-such-page",
        "login": "/login",
        "english home": "/?lang=en",
        "search results": "/search?q=开学",
        "search filtered, no results": "/search?q=火星&section=news",
        "search with many pages": "/search?q=学",
        "empty search": "/search",
    }


@pytest.fixture(scope="module")
def axe():
    return Axe()


def violations(page, axe) -> list[str]:
    results = axe.run(page, options=WCAG_AA)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_reader_pages_pass_wcag_aa(new_page, paths, axe, viewport):
    # bypass_csp lets the test inject axe; the site itself never needs it.
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    found = {}
    for name, path in paths.items():
        page.goto(path)
        if problems := violations(page, axe):
            found[name] = problems
    assert found == {}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_editor_pages_pass_wcag_aa(new_page, live_app, paths, axe, viewport):
    backup.run_backup(live_app)  # so the backups page shows its table
    page = new_page("admin", VIEWPORTS[viewport], bypass_csp=True)
    found = {}
    for path in [
        "/editor/",
        "/editor/articles/new",
        # The confirmation after publishing (a demo post is published).
        paths["article"].replace("/articles/", "/editor/articles/") + "/published",
        "/editor/trash",
        "/account/password",
        "/admin/users",
        "/admin/sections",
        "/admin/settings",
        "/admin/backups",
        "/admin/demo",
        "/admin/departments",
        "/admin/stats",
        f"/editor/articles/{paths['article'].rsplit('/', 1)[1]}/stats",
        "/admin/words",
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if problems := violations(page, axe):
            found[path] = problems
    # The photo description dialog, as it opens after an upload.
    page.goto("/editor/articles/new")
    page.wait_for_selector(".jodit-wysiwyg")
    page.evaluate("document.getElementById('image-details').showModal()")
    if problems := violations(page, axe):
        found["photo description dialog"] = problems
    assert found == {}
