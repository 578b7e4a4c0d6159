"""WCAG 2.1 A/AA checks with axe-core on every kind of page, phone and desktop.

axe-core comes inside the PyPI package axe-playwright-python (a dev dependency);
nothing is fetched at run time.
"""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

import backup
import demo
from models import Article, Section, db

pytestmark = pytest.mark.e2e

WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
}
VIEWPORTS = {
    "phone": {"width": 375, "height": 812},
    "desktop": {"width": 1280, "height": 900},
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
def test_reader_pages_pass_wcag_aa(browser, live_server, paths, axe, viewport):
    # bypass_csp lets the test inject axe; the site itself never needs it.
    context = browser.new_context(
        base_url=live_server, viewport=VIEWPORTS[viewport], bypass_csp=True
    )
    page = context.new_page()
    found = {}
    for name, path in paths.items():
        page.goto(path)
        if problems := violations(page, axe):
            found[name] = problems
    context.close()
    assert found == {}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_editor_pages_pass_wcag_aa(
    browser, live_app, live_server, login_state, paths, axe, viewport
):
    backup.run_backup(live_app)  # so the backups page shows its table
    context = browser.new_context(
        base_url=live_server,
        viewport=VIEWPORTS[viewport],
        bypass_csp=True,
        storage_state=login_state("admin"),
    )
    page = context.new_page()
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
    context.close()
    assert found == {}
