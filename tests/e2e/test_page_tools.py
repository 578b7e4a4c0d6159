"""The article page's tools in real Chromium, on a phone and a desktop screen.

Set SHOTS_DIR=/tmp/shots to also save screenshots for a human to look at.
"""

from datetime import timedelta

import pytest
import sqlalchemy as sa
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image

from models import Article, Section, Status, db, utcnow
from operations import demo
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import WCAG_AA

pytestmark = pytest.mark.e2e

VIEWPORTS = {
    "375": {"width": 375, "height": 800},
    "1280": {"width": 1280, "height": 900},
}


@pytest.fixture(scope="module")
def articles(live_app):
    """Two demo articles and a long one of our own."""
    with live_app.app_context():
        demo.load_demo()
        ids = db.session.scalars(
            sa.select(Article.id).where(Article.visible_clause()).limit(2)
        ).all()
        long = Article(
            title="关于寒假安全教育的通知",
            body_html="".join(
                f"<p>第{n}段：请各位家长督促孩子注意交通、用电和防溺水安全。</p>"
                for n in range(60)
            ),
            author_name="德育处",
            section_id=db.session.scalar(sa.select(Section.id).limit(1)),
            status=Status.PUBLISHED,
            published_at=utcnow() - timedelta(hours=1),
        )
        db.session.add(long)
        db.session.commit()
        return [*ids, long.id]


@pytest.fixture(params=VIEWPORTS)
def view(request, browser, live_server):
    """A fresh browser (nothing in localStorage) at one screen size."""
    context = browser.new_context(
        base_url=live_server,
        viewport=VIEWPORTS[request.param],
        locale="zh-CN",
        bypass_csp=True,  # for axe only; the site's own scripts need no bypass
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.viewport_name = request.param
    yield page
    context.close()


def body_font_size(page) -> float:
    return page.eval_on_selector(
        ".article-body", "el => parseFloat(getComputedStyle(el).fontSize)"
    )


def test_font_size_choice_grows_the_text_and_is_kept(view, articles):
    first, second, _long = articles
    view.goto(f"/articles/{first}")
    medium = body_font_size(view)
    large = view.get_by_role("button", name="大", exact=True)
    assert large.get_attribute("aria-pressed") == "false"
    assert (
        view.get_by_role("button", name="中", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    large.click()
    assert body_font_size(view) > medium
    save_screenshot(view, f"article-{view.viewport_name}-large", full_page=False)
    assert large.get_attribute("aria-pressed") == "true"

    view.goto(f"/articles/{second}")
    assert body_font_size(view) > medium
    kept = view.get_by_role("button", name="大", exact=True)
    assert kept.get_attribute("aria-pressed") == "true"
    view.get_by_role("button", name="小", exact=True).click()
    assert body_font_size(view) < medium
    view.reload()
    assert body_font_size(view) < medium


def test_printing_hides_navigation_and_shows_the_address(view, articles):
    first = articles[0]
    view.goto(f"/articles/{first}")
    address = view.locator(".print-address")
    assert view.locator(".main-nav").is_visible()
    assert not address.is_visible()
    view.emulate_media(media="print")
    for hidden in (
        ".main-nav",
        ".topbar",
        ".site-footer",
        ".page-tools",
        ".breadcrumb",
    ):
        assert not view.locator(hidden).is_visible(), hidden
    assert address.is_visible()
    text = address.inner_text()
    assert f"/articles/{first}" in text and "阳光实验中学" in text
    assert view.locator(".article-body").is_visible()
    save_screenshot(view, f"article-{view.viewport_name}-print")


def test_back_to_top_appears_on_a_long_page_and_scrolls_up(view, articles):
    view.goto(f"/articles/{articles[2]}")
    link = view.get_by_role("link", name="返回顶部")
    assert not link.is_visible()  # at the top there is nowhere to go back to
    view.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    link.wait_for(state="visible")
    save_screenshot(view, f"article-{view.viewport_name}-scrolled", full_page=False)
    box = link.bounding_box()
    size = VIEWPORTS[view.viewport_name]
    # Floating at the bottom right of the screen.
    assert box["x"] + box["width"] > size["width"] * 0.8
    assert box["y"] + box["height"] > size["height"] * 0.85
    link.click()
    view.wait_for_function("window.scrollY === 0")
    link.wait_for(state="hidden")


def test_back_to_top_works_without_javascript(browser, live_server, articles):
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport=VIEWPORTS["375"]
    )
    try:
        page = context.new_page()
        page.goto(f"/articles/{articles[2]}")
        # No JavaScript: no buttons that would do nothing; the link and QR stay.
        assert not page.get_by_role("button", name="大", exact=True).is_visible()
        assert not page.get_by_role("button", name="打印本页").is_visible()
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.get_by_role("link", name="返回顶部").click()
        page.wait_for_function("window.scrollY === 0")
    finally:
        context.close()


def test_qr_code_shows_the_address_on_desktop_only(view, articles, tmp_path):
    first = articles[0]
    fetched = []
    view.on("request", lambda request: fetched.append(request.url))
    view.goto(f"/articles/{first}")
    view.wait_for_load_state("networkidle")
    save_screenshot(view, f"article-{view.viewport_name}", full_page=False)
    # Folded away, the code is not even downloaded.
    assert not [url for url in fetched if url.endswith("/qr.svg")]
    summary = view.locator(".share-qr > summary")
    if view.viewport_name == "375":
        assert not summary.is_visible()  # a phone has the link already
        return
    image = view.get_by_role("img", name=f"本页地址的二维码：{view.url}")
    assert not image.is_visible()
    summary.click()
    image.wait_for(state="visible")
    view.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    shot = tmp_path / "qr.png"
    image.screenshot(path=str(shot))
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(shot).convert("L"))]
    assert decoded == [view.url]
    save_screenshot(view, "article-1280-qr", full_page=False)
    # The open panel, pressed buttons and all, still passes WCAG 2.1 AA.
    view.get_by_role("button", name="大", exact=True).click()
    results = Axe().run(view, options=WCAG_AA)
    assert results.response["violations"] == []
