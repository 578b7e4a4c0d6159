"""Searching from a phone: the box in the phone menu, the results, a result.

Set SHOTS_DIR=/tmp/shots to also save screenshots of the results page.
"""

import pytest

from operations import demo
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module", autouse=True)
def demo_site(live_app):
    with live_app.app_context():
        demo.load_demo()


def test_a_phone_reader_searches_from_the_menu_and_opens_a_result(page):
    page.set_viewport_size(PHONE)
    page.goto("/")
    header_box = page.locator("#search-header")
    assert not header_box.is_visible()  # folded into the menu on phones
    menu_box = page.locator("#search-menu")
    assert not menu_box.is_visible()
    page.locator(".nav-mobile > summary").click()
    assert menu_box.is_visible()
    save_screenshot(page, "search-menu-375", full_page=False)
    menu_box.fill("开学")
    menu_box.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("h1").inner_text() == "搜索"
    results = page.locator(".search-result")
    assert results.count() == 1
    mark = results.first.locator("mark").first
    assert mark.inner_text() == "开学" and mark.is_visible()
    assert page.locator(".search-summary").inner_text().startswith("找到 1 篇")
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    save_screenshot(page, "search-375")
    title = results.first.locator(".search-result-title a")
    expected = title.inner_text()
    title.click()
    page.wait_for_url("**/articles/*")
    assert expected == "我校举行新学年开学典礼暨表彰大会"
    assert page.locator("h1").inner_text() == expected


def test_a_desktop_reader_searches_from_the_header_and_filters(page):
    page.set_viewport_size(DESKTOP)
    page.goto("/sections/news")
    assert not page.locator("#search-menu").is_visible()
    box = page.locator("#search-header")
    assert box.is_visible()
    box.fill("通知")
    page.locator(".search-box-header button").click()
    page.wait_for_url("**/search?q=*")
    everywhere = page.locator(".search-result").count()
    assert everywhere > 1
    save_screenshot(page, "search-1280")
    page.select_option("#search-section", "notices")
    page.locator(".search-form-button").click()
    page.wait_for_url("**section=notices*")
    filtered = page.locator(".search-result").count()
    assert 0 < filtered <= everywhere
    assert page.locator("#search-q").input_value() == "通知"
    page.fill("#search-q", "火星探测器")
    page.locator(".search-form-button").click()
    page.wait_for_url("**/search?q=*")
    assert page.locator(".search-empty").is_visible()
    save_screenshot(page, "search-empty-1280")
    page.set_viewport_size(PHONE)
    save_screenshot(page, "search-empty-375")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_a_result_found_in_an_attachment_says_which(new_page, live_app, viewport):
    from axe_playwright_python.sync_playwright import Axe

    from models import Article, Section, Status, db, utcnow
    from newsroom import storage
    from tests.documents import make_pdf
    from tests.e2e.test_accessibility import violations

    title = "关于举办2026年秋季运动会的通知"
    with live_app.app_context():
        article = db.session.scalar(db.select(Article).filter_by(title=title))
        if article is None:
            article = Article(
                title=title,
                body_html="<p>各班：运动会定于十月举行，报名方式见附件。</p>",
                section_id=db.session.scalar(db.select(Section.id)),
                status=Status.PUBLISHED,
                published_at=utcnow(),
            )
            db.session.add(article)
            db.session.flush()
            pdf = make_pdf(
                [
                    "2026年秋季运动会报名表",
                    "项目：跳高 跳远 200米",
                    "航模比赛：周六下午",
                ]
            )
            storage.save_upload(
                pdf,
                kind="attachment",
                ext="pdf",
                content_type="application/pdf",
                original_name="2026年秋季运动会报名表.pdf",
                user_id=None,
                article_id=article.id,
            )
            db.session.commit()
    page = new_page(viewport=viewport, bypass_csp=True)  # bypass: to inject axe
    page.goto("/search?q=航模比赛")
    result = page.locator(".search-result").filter(has_text=title)
    assert result.count() == 1
    line = result.locator(".search-result-attachment")
    # «附件：2026年秋季运动会报名表.pdf» once translated.
    assert line.inner_text().endswith("2026年秋季运动会报名表.pdf")
    assert (
        result.locator(".search-result-snippet mark").first.inner_text() == "航模比赛"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    save_screenshot(page, f"search-attachment-{viewport['width']}")
    assert violations(page, Axe()) == []
