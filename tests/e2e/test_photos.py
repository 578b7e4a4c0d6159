"""Multi-photo posts in the real editor: photos never nest, Enter after a
photo starts a paragraph, several photos upload at once and can go in as a
grid (组图), and the reader's page limits tall photos and links each to its
full size. Real Chromium, real Jodit, real uploads."""

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from models import Article, db
from tests.e2e.conftest import VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e

# Structure of the editor's (or the page's) body: the tag names of its
# top-level elements, and of the elements inside each figure.
STRUCTURE_JS = """(root) => Array.prototype.map.call(root.children, (el) => ({
  tag: el.tagName.toLowerCase(),
  text: el.textContent.trim(),
  inside: Array.prototype.map.call(el.querySelectorAll("*"), (c) =>
    c.tagName.toLowerCase()),
}))"""


@pytest.fixture
def page(viewport_editor_page):
    return viewport_editor_page


@pytest.fixture
def photos(tmp_path):
    paths = []
    for n, color in enumerate([(200, 60, 60), (60, 160, 60), (60, 80, 200)], 1):
        path = tmp_path / f"运动会{n}.jpg"
        Image.new("RGB", (800, 500), color).save(path, "JPEG")
        paths.append(path)
    return paths


def open_editor(page, section, title):
    page.goto("/editor/articles/new")
    page.wait_for_selector(".jodit-wysiwyg")
    page.fill("#title", title)
    page.select_option("#section_id", str(section))


def jodit_html(page) -> str:
    return page.evaluate("Object.values(Jodit.instances)[0].value")


def insert_photo(page, path, alt, caption):
    """Insert one photo the way a teacher does: the toolbar's photo button,
    a file, then the description dialog."""
    button = page.locator(
        ".jodit-toolbar__box .jodit-toolbar-button_image .jodit-toolbar-button__button"
    )
    button.scroll_into_view_if_needed()
    button.click()
    page.set_input_files(
        ".jodit-popup .jodit-drag-and-drop__file-box input[type=file]", str(path)
    )
    page.locator("#image-details").wait_for()
    page.fill("#image-alt", alt)
    page.fill("#image-caption", caption)
    count = page.locator(".jodit-wysiwyg img").count()
    page.click("#image-details-insert")
    page.locator(".jodit-wysiwyg img").nth(count).wait_for()
    # Typing goes where the caret is: only once the dialog has closed and
    # handed the focus back to the text (a busy machine once typed the first
    # characters into the old caret place).
    page.locator("#image-details").wait_for(state="hidden")
    page.wait_for_function(
        "document.activeElement && document.activeElement.closest('.jodit-wysiwyg')"
    )


def publish(page, live_app):
    page.click("button[name=action][value=publish]")
    page.wait_for_url(re.compile(r"/editor/articles/\d+/published$"))
    article_id = int(page.url.split("/")[-2])
    with live_app.app_context():
        stored = db.session.get(Article, article_id).body_html
    return article_id, stored


def structure_of(page, html):
    return page.evaluate(
        "(html) => { var t = document.createElement('div'); t.innerHTML = html;"
        f" return ({STRUCTURE_JS})(t); }}",
        html,
    )


def assert_three_photos_three_lines(structure):
    kept = [block for block in structure if block["tag"] != "p" or block["text"]]
    assert [block["tag"] for block in kept] == ["figure", "p"] * 3, structure
    for n, block in enumerate(kept):
        if block["tag"] == "figure":
            assert "figure" not in block["inside"], block
            assert "p" not in block["inside"], block
            assert block["text"] == f"第{n // 2 + 1}张的说明", block
        else:
            assert block["text"] == f"第{n // 2 + 1}张照片后的文字", block


def test_three_photos_typed_after_one_another_stay_siblings(
    page, live_app, section, photos
):
    open_editor(page, section, "运动会照片")
    page.locator(".jodit-wysiwyg").click()
    for n, path in enumerate(photos, 1):
        insert_photo(page, path, f"运动会第{n}张", f"第{n}张的说明")
        page.keyboard.type(f"第{n}张照片后的文字")
    in_editor = page.evaluate(
        f"({STRUCTURE_JS})(Object.values(Jodit.instances)[0].editor)"
    )
    assert_three_photos_three_lines(in_editor)

    article_id, stored = publish(page, live_app)
    assert_three_photos_three_lines(structure_of(page, stored))
    page.goto(f"/articles/{article_id}")
    on_page = page.evaluate(
        f"({STRUCTURE_JS})(document.querySelector('.article-body'))"
    )
    assert_three_photos_three_lines(on_page)


def cursor_at_end_of(page, selector, index=0):
    page.evaluate(
        """([selector, index]) => {
          var j = Object.values(Jodit.instances)[0];
          j.s.setCursorIn(j.editor.querySelectorAll(selector)[index], false);
        }""",
        [selector, index],
    )


def test_enter_in_a_caption_and_a_photo_inserted_there_go_after_the_figure(
    page, live_app, section, photos
):
    open_editor(page, section, "说明里回车")
    page.locator(".jodit-wysiwyg").click()
    insert_photo(page, photos[0], "第一张", "第1张的说明")
    cursor_at_end_of(page, "figcaption")
    page.keyboard.press("Enter")
    page.keyboard.type("回车后的段落")
    # Back into the caption, then another photo: it goes after the figure.
    cursor_at_end_of(page, "figcaption")
    insert_photo(page, photos[1], "第二张", "第2张的说明")
    page.keyboard.type("第二张后的段落")
    html = jodit_html(page)
    structure = structure_of(page, html)
    assert [(b["tag"], b["text"]) for b in structure] == [
        ("figure", "第1张的说明"),
        ("figure", "第2张的说明"),
        ("p", "第二张后的段落"),
        ("p", "回车后的段落"),
    ], html
    _, stored = publish(page, live_app)
    assert structure_of(page, stored) == structure


def test_backspace_after_a_photo_never_pulls_the_text_into_it(page, section, photos):
    open_editor(page, section, "退格")
    page.locator(".jodit-wysiwyg").click()
    insert_photo(page, photos[0], "第一张", "说明")
    page.keyboard.type("文字")
    page.keyboard.press("Home")
    page.keyboard.press("Backspace")  # to the end of the caption
    page.keyboard.type("二")
    page.keyboard.press("Enter")  # an empty paragraph after the photo...
    page.keyboard.press("Backspace")  # ...and gone again
    structure = structure_of(page, jodit_html(page))
    assert [(b["tag"], b["text"]) for b in structure] == [
        ("figure", "说明二"),
        ("p", "文字"),
    ]


def test_a_photo_inserted_mid_paragraph_splits_it(page, live_app, section, photos):
    open_editor(page, section, "段落中间插图")
    page.evaluate(
        "() => { Object.values(Jodit.instances)[0].value = '<p>前半句后半句</p>'; }"
    )
    page.evaluate(
        """() => { var j = Object.values(Jodit.instances)[0];
          var text = j.editor.querySelector('p').firstChild;
          var range = j.ed.createRange(); range.setStart(text, 3);
          range.collapse(true); j.s.selectRange(range); }"""
    )
    insert_photo(page, photos[0], "插图", "")
    structure = structure_of(page, jodit_html(page))
    assert [(b["tag"], b["text"]) for b in structure] == [
        ("p", "前半句"),
        ("figure", ""),
        ("p", "后半句"),
    ]


def photo_files(tmp_path, count, size=(800, 500)):
    paths = []
    for n in range(count):
        path = tmp_path / f"入场式{n + 1}.jpg"
        Image.new("RGB", size, (40 * n % 255, 120, 200 - 30 * n)).save(path, "JPEG")
        paths.append(path)
    return paths


def choose_photos(page, paths):
    button = page.locator(
        ".jodit-toolbar__box .jodit-toolbar-button_image .jodit-toolbar-button__button"
    )
    button.scroll_into_view_if_needed()
    button.click()
    page.set_input_files(
        ".jodit-popup .jodit-drag-and-drop__file-box input[type=file]",
        [str(path) for path in paths],
    )


def grid_columns(page, selector):
    """How many columns the grid at selector shows."""
    return page.locator(selector).evaluate(
        "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"
    )


def test_several_photos_upload_three_at_a_time_and_go_in_as_a_grid(
    page, live_app, section, tmp_path
):
    paths = photo_files(tmp_path, 5)
    open_editor(page, section, "运动会入场式组图")
    page.locator(".jodit-wysiwyg").click()
    page.keyboard.type("入场式照片如下：")

    in_flight, most, held = [0], [0], []

    def on_request(request):
        if request.url.endswith("/editor/uploads/image"):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    def on_done(request):
        if request.url.endswith("/editor/uploads/image"):
            in_flight[0] -= 1

    def hold_first(route):
        if not held:
            held.append(route)  # answered below, after the progress is seen
        else:
            route.continue_()

    page.on("request", on_request)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_done)
    page.route("**/editor/uploads/image", hold_first)
    choose_photos(page, paths)
    # The other four finish while the first is held: the teacher sees it.
    progress = page.locator("#photo-progress")
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("4")
    expect(progress).to_contain_text("5")
    assert page.locator("#photo-progress-bar").get_attribute("max") == "5"
    save_screenshot(page, f"photos-progress-{page.viewport_name}", full_page=False)
    held[0].continue_()

    dialog = page.locator("#photos-details")
    expect(dialog).to_be_visible()
    expect(progress).to_be_hidden()
    assert most[0] == 3, most  # bounded, and in parallel
    items = dialog.locator(".photos-list li")
    assert items.count() == 5
    # One description for all, then a caption for two of them.
    items.nth(0).locator("input").first.fill("运动会入场式")
    dialog.locator(".photos-same-alt").click()
    items.nth(0).locator("input").nth(1).fill("初一（1）班")
    items.nth(4).locator("input").nth(1).fill("初三（2）班")
    dialog.locator("input[value=photo-grid-3]").check()
    save_screenshot(page, f"photos-dialog-{page.viewport_name}", full_page=False)
    dialog.locator("#photos-details-insert").click()
    page.keyboard.type("组图后的文字")

    editor_grid = ".jodit-wysiwyg .photo-grid-3"
    page.locator(editor_grid).wait_for()
    structure = structure_of(page, jodit_html(page))
    assert [(b["tag"], b["text"]) for b in structure] == [
        ("p", "入场式照片如下："),
        ("div", "初一（1）班初三（2）班"),
        ("p", "组图后的文字"),
    ]
    in_editor = grid_columns(page, editor_grid)
    assert in_editor == (1 if page.viewport_name == "phone" else 3)
    save_screenshot(page, f"photos-grid-editor-{page.viewport_name}", full_page=False)

    article_id, stored = publish(page, live_app)
    grid = re.search(r'<div class="photo-grid-3">(.*?)</div>', stored).group(1)
    assert grid.count("<figure>") == 5
    assert grid.count('alt="运动会入场式"') == 5
    assert "<figcaption>初一（1）班</figcaption>" in grid
    page.goto(f"/articles/{article_id}")
    assert grid_columns(page, ".article-body .photo-grid-3") == in_editor
    photos_on_page = page.locator(".article-body .photo-grid-3 figure a img")
    assert photos_on_page.count() == 5
    save_screenshot(page, f"photos-grid-article-{page.viewport_name}")


def test_a_tall_photo_fits_on_the_screen_and_opens_full_size(
    page, live_app, section, tmp_path
):
    tall = tmp_path / "旗杆.jpg"
    Image.new("RGB", (600, 1500), (90, 140, 200)).save(tall, "JPEG")
    open_editor(page, section, "竖拍的照片")
    page.locator(".jodit-wysiwyg").click()
    insert_photo(page, tall, "升旗仪式的旗杆", "竖拍")
    page.keyboard.type("照片下面的文字")
    editor_photo = page.locator(".jodit-wysiwyg figure img")
    assert editor_photo.bounding_box()["height"] <= 0.86 * page.viewport_size["height"]
    save_screenshot(page, f"photos-tall-editor-{page.viewport_name}", full_page=False)
    article_id, _ = publish(page, live_app)

    page.goto(f"/articles/{article_id}")
    photo = page.locator(".article-body figure img")
    photo.scroll_into_view_if_needed()
    box = photo.bounding_box()
    screen = page.viewport_size["height"]
    assert box["height"] <= 0.86 * screen, (box, screen)
    assert abs(box["width"] / box["height"] - 600 / 1500) < 0.02, box
    save_screenshot(page, f"photos-tall-article-{page.viewport_name}")
    link = page.locator(".article-body figure > a")
    href = link.get_attribute("href")
    assert href == photo.get_attribute("src")
    with page.expect_navigation():
        photo.click()
    assert page.url.endswith(href)
    full = page.evaluate(
        "() => [document.images[0].naturalWidth, document.images[0].naturalHeight]"
    )
    assert full == [600, 1500]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_editor_and_article_with_a_grid_pass_wcag_aa(
    new_page, live_app, section, tmp_path, viewport
):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    # bypass_csp lets the test inject axe; the site itself never needs it.
    page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)
    open_editor(page, section, "无障碍组图")
    page.locator(".jodit-wysiwyg").click()
    choose_photos(page, photo_files(tmp_path, 3))
    dialog = page.locator("#photos-details")
    expect(dialog).to_be_visible()
    found = {}
    if problems := violations(page, axe):
        found["photos dialog"] = problems
    dialog.locator("input[type=text]").first.fill("校运会颁奖")
    dialog.locator(".photos-same-alt").click()
    dialog.locator("input[data-id='photo-caption-']").nth(1).fill("颁奖台")
    dialog.locator("input[value=photo-grid-2]").check()
    dialog.locator("#photos-details-insert").click()
    page.locator(".jodit-wysiwyg .photo-grid-2").wait_for()
    page.keyboard.type("组图之后")
    if problems := violations(page, axe):
        found["editor with a grid"] = problems
    article_id, _ = publish(page, live_app)
    page.goto(f"/articles/{article_id}")
    page.locator(".article-body .photo-grid-2").wait_for()
    if problems := violations(page, axe):
        found["article with a grid"] = problems
    assert found == {}
