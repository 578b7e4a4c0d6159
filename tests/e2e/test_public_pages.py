"""The reader's site in real Chromium: phone navigation, layout widths, pages.

Set SHOTS_DIR=/tmp/shots to also save full-page screenshots for a human to look at.
"""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from models import Article, Section, db
from operations import demo
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 812}
SMALL_PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def urls(live_app):
    """Demo content on the live server; the paths of one page of each kind."""
    with live_app.app_context():
        demo.load_demo()
        article_id = db.session.scalar(
            sa.select(Article.id).where(
                Article.visible_clause(), Article.title == "关于期末考试安排的通知"
            )
        )
        channel = db.session.scalar(
            sa.select(Section.slug).where(Section.slug == "news")
        )
    return {
        "home": "/",
        "section": f"/sections/{channel}",
        "article": f"/articles/{article_id}",
        "missing": "/no-such-page",
    }


def open_page(page, path, viewport):
    page.set_viewport_size(viewport)
    page.goto(path)
    page.wait_for_load_state("load")


def horizontal_overflow(page):
    return page.evaluate(
        "document.scrollingElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_phone_nav_is_folded_and_opens_by_click(page, urls):
    open_page(page, urls["home"], PHONE)
    toggle = page.locator(".nav-mobile > summary")
    links = page.locator(".nav-mobile .nav-list")
    assert toggle.is_visible()
    assert not links.is_visible()
    assert not page.locator(".nav-desktop").is_visible()
    toggle.click()
    assert links.is_visible()
    save_screenshot(page, "home-375-menu", full_page=False)
    # site.js sets it in the <details> "toggle" event, which fires after the click.
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.locator('.nav-mobile a[href="/sections/news"]').click()
    page.wait_for_url("**/sections/news")


def test_phone_nav_opens_and_closes_by_keyboard(page, urls):
    open_page(page, urls["home"], PHONE)
    links = page.locator(".nav-mobile .nav-list")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.locator(".nav-mobile > summary").focus()
    page.keyboard.press("Enter")
    assert links.is_visible()
    # The menu opens on its search box, then the channels.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "search-menu"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.nav-list') !== null")
    page.keyboard.press("Escape")
    assert not links.is_visible()
    page.keyboard.press(" ")
    assert links.is_visible()


def test_phone_nav_works_without_javascript(browser, live_server, urls):
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport=PHONE
    )
    try:
        page = context.new_page()
        page.goto(urls["home"])
        assert not page.locator(".nav-mobile .nav-list").is_visible()
        page.locator(".nav-mobile > summary").click()
        assert page.locator(".nav-mobile .nav-list").is_visible()
    finally:
        context.close()


def test_desktop_nav_is_shown_with_sub_section_menus(page, urls):
    open_page(page, urls["home"], DESKTOP)
    nav = page.locator(".nav-desktop")
    assert nav.is_visible()
    assert not page.locator(".nav-mobile > summary").is_visible()
    # Other browser tests share the server and may add sections: match by slug.
    item = nav.locator('.nav-item:has(> a[href="/sections/teaching"])')
    submenu = item.locator(".nav-sub")
    assert not submenu.is_visible()
    item.locator("> a").hover()
    assert submenu.is_visible()


def test_desktop_sub_sections_open_for_keyboard_focus(page, urls):
    open_page(page, urls["home"], DESKTOP)
    item = page.locator('.nav-desktop .nav-item:has(> a[href="/sections/teaching"])')
    item.locator("> a").focus()
    assert item.locator(".nav-sub").is_visible()


def test_article_page_shows_title_and_meta_line(page, urls):
    open_page(page, urls["article"] + "?lang=en", PHONE)
    assert page.locator("h1").inner_text() == "关于期末考试安排的通知"
    meta = page.locator(".article-meta").inner_text()
    for label in ("Author:", "Views:", "Date:"):
        assert label in meta
    assert page.locator('.breadcrumb a[href="/sections/news"]').count() == 1


@pytest.mark.parametrize("viewport", [SMALL_PHONE, PHONE], ids=["320px", "375px"])
def test_pages_never_scroll_sideways_on_phones(page, urls, viewport):
    for name, path in urls.items():
        open_page(page, path, viewport)
        assert horizontal_overflow(page) <= 1, name


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_every_kind_of_page_answers_with_its_heading(page, urls, viewport):
    expected = {"home": 200, "section": 200, "article": 200, "missing": 404}
    for name, path in urls.items():
        page.set_viewport_size(viewport)
        response = page.goto(path)
        assert response.status == expected[name], name
        assert page.locator("h1").count() == 1, name
        assert page.locator("main").is_visible(), name
        # With SHOTS_DIR set, also kept for a person to look at.
        save_screenshot(page, f"{name}-{viewport['width']}")
