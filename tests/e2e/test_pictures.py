"""Pictures in real Chromium: the picture-news block and list thumbnails load,
have their size before they load (no layout shift), at phone and desktop widths.

Set SHOTS_DIR=/tmp/shots to also save screenshots for a human to look at.
"""

import pytest
import sqlalchemy as sa

from models import Article, db
from operations import demo
from tests.e2e.conftest import VIEWPORTS
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e


# Layout shifts (CLS entries) since the page started, as Chrome reports them.
LAYOUT_SHIFT = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) {
      if (!entry.hadRecentInput) total += entry.value;
    }
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(total), 300);
})"""


@pytest.fixture(scope="module")
def urls(live_app):
    with live_app.app_context():
        demo.load_demo()
        article_id = db.session.scalar(
            sa.select(Article.id).where(Article.title == "我校举行春季田径运动会")
        )
    return {
        "home": "/",
        "section": "/sections/campus",
        "article": f"/articles/{article_id}",
    }


def loaded_images(page, selector: str) -> list[int]:
    """naturalWidth of each image, after scrolling each into view (lazy ones)."""
    images = page.locator(selector)
    widths = []
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("image => image.complete", arg=image.element_handle())
        widths.append(image.evaluate("image => image.naturalWidth"))
    return widths


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_picture_news_loads_without_layout_shift(browser, live_server, urls, viewport):
    context = browser.new_context(
        base_url=live_server, viewport=VIEWPORTS[viewport], locale="zh-CN"
    )
    page = context.new_page()
    page.goto(urls["home"])
    page.wait_for_load_state("load")
    block = page.locator(".picture-news")
    assert block.is_visible()
    assert block.locator("h2").inner_text() == "图片新闻"
    big = block.locator(".picture-tile-big img")
    assert big.is_visible() and big.get_attribute("loading") is None
    # The big picture is on the first screen of a phone too.
    assert big.bounding_box()["y"] < VIEWPORTS[viewport]["height"]
    assert page.evaluate(LAYOUT_SHIFT) < 0.02
    save_screenshot(page, f"pictures-home-{viewport}", full_page=False)
    widths = loaded_images(page, ".picture-news img")
    assert len(widths) == 5 and all(width > 0 for width in widths), widths
    # Every tile shows its picture at 3:2, as the thumbnails are cut.
    for box in (img.bounding_box() for img in block.locator("img").all()):
        assert abs(box["width"] / box["height"] - 1.5) < 0.05, box
    overflow = "document.scrollingElement.scrollWidth - innerWidth"
    assert page.evaluate(overflow) <= 0
    save_screenshot(page, f"pictures-home-full-{viewport}")
    context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_section_thumbnails_load_and_article_shows_its_photo(
    browser, live_server, urls, viewport
):
    context = browser.new_context(
        base_url=live_server, viewport=VIEWPORTS[viewport], locale="zh-CN"
    )
    page = context.new_page()
    page.goto(urls["section"])
    page.wait_for_load_state("load")
    assert page.evaluate(LAYOUT_SHIFT) < 0.02
    widths = loaded_images(page, ".article-card-cover img")
    assert len(widths) >= 4 and all(width > 0 for width in widths), widths
    save_screenshot(page, f"pictures-section-{viewport}")
    # A click on the thumbnail opens the post (the title's link covers the card).
    # (Playwright's own click would refuse: the link is on top, as meant.)
    thumbnail = page.locator(".article-card-cover img").first
    thumbnail.scroll_into_view_if_needed()
    box = thumbnail.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/articles/*")
    page.goto(urls["article"])
    page.wait_for_load_state("load")
    widths = loaded_images(page, ".article-body img")
    assert widths and all(width > 0 for width in widths)
    save_screenshot(page, f"pictures-article-{viewport}")
    context.close()
