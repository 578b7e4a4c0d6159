"""A teacher writes a post in the real editor; a reader sees it. Real Chromium."""

import re
from pathlib import Path

import pytest
from PIL import Image

from models import Article, Section, Status, Upload, db, set_setting

pytestmark = pytest.mark.e2e

GPS_IFD = 0x8825


@pytest.fixture(scope="module")
def section_id(live_app):
    with live_app.app_context():
        section = db.session.scalar(db.select(Section).where(Section.slug == "e2e"))
        if section is None:
            section = Section(name="校园新闻", slug="e2e")
            db.session.add(section)
        # Teachers publish directly in this school (no review step).
        set_setting("review_levels", "0")
        db.session.commit()
        return section.id


@pytest.fixture
def photo_with_gps(tmp_path):
    path = tmp_path / "运动会.jpg"
    image = Image.new("RGB", (1200, 800), (40, 120, 200))
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"  # camera make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 30.0)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 10.0)
    image.save(path, "JPEG", exif=exif)
    with Image.open(path) as check:  # the fixture really carries a location
        assert check.getexif().get_ifd(GPS_IFD)
    return path


def toolbar_button(page, name):
    return page.locator(f".jodit-toolbar-button_{name} .jodit-toolbar-button__button")


def open_new_post(page, login_page, section_id, title):
    login_page(page, "author")
    page.goto("/editor/articles/new")
    page.wait_for_selector(".jodit-wysiwyg")
    page.fill("#title", title)
    page.select_option("#section_id", str(section_id))
    body = page.locator(".jodit-wysiwyg")
    body.click()
    return body


def test_teacher_publishes_bold_text_list_and_photo_and_reader_sees_it(
    page, browser, live_server, live_app, login_page, section_id, photo_with_gps
):
    body = open_new_post(page, login_page, section_id, "春季运动会")
    page.keyboard.type("开幕式在操场举行。")
    toolbar_button(page, "bold").click()
    page.keyboard.type("全体师生参加")
    toolbar_button(page, "bold").click()
    page.keyboard.press("Enter")
    toolbar_button(page, "ul").click()
    page.keyboard.type("第一项：入场式")
    page.keyboard.press("Enter")
    page.keyboard.type("第二项：百米跑")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")

    toolbar_button(page, "image").click()
    file_input = page.locator(".jodit-drag-and-drop__file-box input[type=file]")
    file_input.set_input_files(str(photo_with_gps))
    # The editor asks for a description (alt text) and an optional caption.
    page.fill("#image-alt", "运动会开幕式")
    page.click("#image-details-insert")
    body.locator("img[src^='/uploads/'][alt='运动会开幕式']").wait_for()

    page.click("button[name=action][value=publish]")
    # Publishing ends on the confirmation with the live address.
    page.wait_for_url(re.compile(r"/editor/articles/\d+/published$"))
    article_id = int(page.url.rstrip("/").split("/")[-2])

    reader = browser.new_context(base_url=live_server).new_page()
    reader.goto(f"/articles/{article_id}")
    article_body = reader.locator(".article-body")
    assert "全体师生参加" in article_body.locator("strong, b").first.inner_text()
    assert article_body.locator("ul li").count() == 2
    photo = article_body.locator("img[src^='/uploads/']")
    photo.wait_for()
    assert reader.evaluate(
        "img => img.complete && img.naturalWidth > 0", photo.element_handle()
    )
    reader.context.close()

    with live_app.app_context():
        article = db.session.get(Article, article_id)
        assert article.is_public
        upload = db.session.scalar(
            db.select(Upload).where(Upload.article_id == article_id)
        )
        assert upload is not None, "the photo was linked to the post on save"
        stored = Path(live_app.config["UPLOAD_FOLDER"]) / upload.stored_name
    with Image.open(stored) as saved:
        assert not saved.getexif()
        assert "exif" not in saved.info


def test_autosaved_text_survives_a_reload(page, login_page, section_id):
    open_new_post(page, login_page, section_id, "自动保存的标题")
    page.keyboard.type("这段文字没有按保存按钮。")
    page.wait_for_selector("#autosave-status.is-ok", timeout=15_000)
    assert re.search(r"/editor/articles/\d+/edit$", page.url)
    page.reload()
    page.wait_for_selector(".jodit-wysiwyg")
    assert page.input_value("#title") == "自动保存的标题"
    assert "这段文字没有按保存按钮。" in page.locator(".jodit-wysiwyg").inner_text()


def test_publishing_while_an_autosave_is_on_its_way_is_not_a_conflict(
    page, login_page, live_app, section_id
):
    """The server has taken the autosave but its answer (the new version) is
    still on the way when the teacher presses 发布: the post must publish."""
    open_new_post(page, login_page, section_id, "保存途中发布")
    page.keyboard.type("第一段。")
    page.wait_for_selector("#autosave-status.is-ok", timeout=15_000)

    held = []
    page.route("**/autosave", lambda route: held.append((route, route.fetch())))
    page.keyboard.type("第二段。")
    for _ in range(150):  # the next autosave reaches the server, unanswered
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no autosave was sent"
    page.click("button[name=action][value=publish]")
    page.wait_for_timeout(800)  # the submit must still be waiting here
    route, response = held.pop()
    route.fulfill(response=response)
    page.wait_for_url(re.compile(r"/editor/articles/\d+/published$"))
    article_id = int(page.url.split("/")[-2])
    with live_app.app_context():
        article = db.session.get(Article, article_id)
        assert article.status == Status.PUBLISHED
        assert "第二段。" in article.body_html


def test_expired_session_on_save_keeps_the_page_and_offers_login(
    page, login_page, section_id
):
    open_new_post(page, login_page, section_id, "会话过期")
    page.keyboard.type("不能丢的正文")
    url = page.url
    page.context.clear_cookies()  # the session ends while the teacher types
    page.click("button[name=action][value=save]")
    login_link = page.locator("#submit-status a[href^='/login']")
    login_link.wait_for()
    assert login_link.get_attribute("target") == "_blank"
    assert page.url == url
    assert "不能丢的正文" in page.locator(".jodit-wysiwyg").inner_text()
    saved = page.evaluate(
        "() => Object.keys(localStorage)"
        ".filter(k => k.startsWith('schoolnews-editor:'))"
        ".map(k => localStorage.getItem(k)).join()"
    )
    assert "不能丢的正文" in saved


def test_word_paste_keeps_structure_without_a_dialog(page, login_page, section_id):
    body = open_new_post(page, login_page, section_id, "从 Word 粘贴")
    word_html = (
        "<html xmlns:o='urn:schemas-microsoft-com:office:office'><head>"
        "<style>p.MsoNormal{mso-style-parent:'';font-family:宋体}</style></head>"
        "<body><!--[if gte mso 9]><xml><w:WordDocument></w:WordDocument></xml>"
        "<![endif]--><p class=MsoNormal><b>通知标题</b><o:p></o:p></p>"
        "<table><tr><td>班级</td><td>人数</td></tr></table></body></html>"
    )
    page.evaluate(
        """html => {
          const data = new DataTransfer();
          data.setData('text/html', html);
          data.setData('text/plain', '通知标题');
          const event = new ClipboardEvent('paste', {
            clipboardData: data, bubbles: true, cancelable: true});
          document.querySelector('.jodit-wysiwyg').dispatchEvent(event);
        }""",
        word_html,
    )
    body.locator("b, strong").first.wait_for()
    assert page.locator(".jodit-dialog").count() == 0
    html = body.inner_html()
    assert "通知标题" in html and "<td>班级</td>" in html
    assert "mso-style-parent" not in html and "<o:p>" not in html
    assert "WordDocument" not in html and "class=" not in html
