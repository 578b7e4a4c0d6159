"""Attachments that open anywhere, in real Chromium: a teacher attaches a PDF,
a Word file and a workbook; the server's preview worker converts them; a
reader on a 375 px phone opens each preview as an ordinary page, with nothing
downloaded, no plugin and no horizontal scrolling of the page."""

import time

import pytest
from axe_playwright_python.sync_playwright import Axe

from newsroom import preview_queue
from tests.documents import make_drawn_pdf, make_merged_xlsx
from tests.e2e.conftest import VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import WCAG_AA
from tests.e2e.test_editor_widgets import open_new_post, press
from tests.e2e.test_editor_widgets import section as section  # noqa: F401
from tests.test_docx_import import make_docx

pytestmark = pytest.mark.e2e

FILES = {
    "2026年秋季运动会通知.pdf": lambda: make_drawn_pdf(
        ["Page one\nSports day", "Page two\nTimetable", "Page three\nSign here"]
    ),
    "运动会安排.docx": make_docx,
    "报名表.xlsx": make_merged_xlsx,
}


@pytest.fixture(scope="module")
def live_app(live_app):
    """The module's site with its preview worker running, as under serve.py."""
    live_app.config["PREVIEW_WORKER"] = True
    live_app.extensions["previews"].start()
    yield live_app
    preview_queue.stop(live_app)


@pytest.fixture(scope="module")
def post(browser, live_server, login_state, section, tmp_path_factory):  # noqa: F811
    """A published post with the three attachments (attached in the editor)."""
    context = browser.new_context(
        base_url=live_server, storage_state=login_state("editor"), locale="zh-CN"
    )
    page = context.new_page()
    open_new_post(page, section, "秋季运动会通知")
    page.keyboard.type("请查看附件。")
    folder = tmp_path_factory.mktemp("attachments")
    for name, make in FILES.items():
        path = folder / name
        path.write_bytes(make())
        page.set_input_files("#attachment-input", str(path))
        page.locator("#attachment-list li", has_text=name).wait_for()
    article_id = press(page, "publish")
    context.close()
    return article_id


def reader_page(new_page, viewport, downloads):
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page.on("download", lambda download: downloads.append(download.url))
    return page


def wait_for_previews(page, article_id):
    """Reload the post until every attachment has its thumbnail (ready)."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(f"/articles/{article_id}")
        if page.locator(".attachments .attachment-thumb").count() == len(FILES):
            return
        assert time.monotonic() < deadline, page.inner_text(".attachments")
        time.sleep(0.5)


def loaded(image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def open_preview(page, name):
    item = page.locator(".attachment-file", has_text=name)
    with page.expect_navigation():
        item.locator(".attachment-preview-link").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_each_attachment_opens_as_a_page_of_the_site(new_page, post, viewport):
    downloads = []
    page = reader_page(new_page, viewport, downloads)
    wait_for_previews(page, post)
    for thumb in page.locator(".attachment-thumb").all():
        thumb.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=thumb.element_handle())
        assert loaded(thumb)
        # Each file's own first page, the Word file's and the sheet's drawn.
        assert thumb.get_attribute("src").endswith("/preview/thumb.jpg")
        assert thumb.evaluate("img => img.naturalWidth") == 240
    assert fits(page)
    save_screenshot(page, f"previews-article-{viewport}")
    page.locator(".attachments").scroll_into_view_if_needed()
    save_screenshot(page, f"previews-attachments-{viewport}", full_page=False)
    axe = Axe()
    problems = {}

    open_preview(page, "2026年秋季运动会通知.pdf")
    pages = page.locator(".preview-pages img")
    assert pages.count() == 3
    for image in pages.all():
        image.scroll_into_view_if_needed()  # lazy: fetched when scrolled to
        page.wait_for_function("img => img.complete", arg=image.element_handle())
        assert loaded(image)
        box = image.bounding_box()
        assert box["width"] <= VIEWPORTS[viewport]["width"]
    assert "3 / 3" in page.inner_text(".preview-pages")
    assert fits(page)
    save_screenshot(page, f"previews-pdf-{viewport}")
    problems["pdf"] = axe.run(page, options=WCAG_AA).response["violations"]
    page.go_back()

    open_preview(page, "运动会安排.docx")
    body = page.locator(".preview-document")
    assert "项目表头" in body.locator("table").inner_text()
    assert body.locator("strong", has_text="准时").is_visible()
    assert loaded(body.locator("img[alt='运动会照片']"))
    assert fits(page)
    save_screenshot(page, f"previews-docx-{viewport}")
    problems["docx"] = axe.run(page, options=WCAG_AA).response["violations"]
    page.go_back()

    open_preview(page, "报名表.xlsx")
    sheets = page.locator(".preview-sheet")
    assert sheets.locator("h2").all_inner_texts() == ["报名", "日程"]
    title = sheets.first.locator("td[colspan='3']")
    assert title.inner_text() == "2026年秋季运动会报名表"
    assert sheets.nth(1).locator("td[rowspan='3']").inner_text() == "上午"
    assert fits(page)  # a wide sheet scrolls inside its box, not the page
    save_screenshot(page, f"previews-xlsx-{viewport}")
    problems["xlsx"] = axe.run(page, options=WCAG_AA).response["violations"]

    assert downloads == []
    assert {kind: [v["id"] for v in found] for kind, found in problems.items()} == {
        "pdf": [],
        "docx": [],
        "xlsx": [],
    }


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_editor_links_each_ready_preview(new_page, post, viewport):
    reader = new_page(viewport=VIEWPORTS[viewport])
    wait_for_previews(reader, post)
    page = new_page("editor", VIEWPORTS[viewport])
    page.goto(f"/editor/articles/{post}/edit")
    links = page.locator("#attachment-list .attachment-preview-link")
    assert links.count() == len(FILES)
    box = page.locator("#attachments-box")
    box.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, f"previews-editor-{viewport}", full_page=False)
