"""The editor's widgets in real Chromium: cover image, attachments, Word import
and images inside pasted HTML, each followed through to what a reader sees."""

import base64
import io
import re
import zipfile
from urllib.parse import quote

import pytest
from PIL import Image

from models import Article, Upload, db
from tests.e2e.conftest import add_section

pytestmark = pytest.mark.e2e

ATTACHMENT_NAME = "关于期末考试的通知.pdf"


@pytest.fixture(scope="module")
def section(live_app):
    return {"id": add_section(live_app, "通知公告", "notices"), "slug": "notices"}


@pytest.fixture
def page(new_page):
    """Logged in as the editor (overrides the conftest's anonymous `page`)."""
    return new_page("editor")


def png_bytes(color=(0, 102, 204), size=(40, 30)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def tiny_pdf():
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml"


def tiny_docx(heading, plain, bold):
    """A Word document with a "heading 1" paragraph and a partly bold one."""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension='
            '"xml" ContentType="application/xml"/><Override PartName="/word/'
            f'document.xml" ContentType="{MAIN_TYPE}.document.main+xml"/>'
            f'<Override PartName="/word/styles.xml" ContentType="{MAIN_TYPE}'
            '.styles+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{REL_NS}"><Relationship Id="rId1" '
            f'Type="{OFFICE_REL}/officeDocument" Target="word/document.xml"/>'
            "</Relationships>"
        ),
        "word/_rels/document.xml.rels": (
            f'<Relationships xmlns="{REL_NS}"><Relationship Id="rId1" '
            f'Type="{OFFICE_REL}/styles" Target="styles.xml"/></Relationships>'
        ),
        "word/styles.xml": (
            f'<w:styles xmlns:w="{W_NS}"><w:style w:type="paragraph" '
            'w:styleId="1"><w:name w:val="heading 1"/></w:style></w:styles>'
        ),
        "word/document.xml": (
            f'<w:document xmlns:w="{W_NS}"><w:body>'
            '<w:p><w:pPr><w:pStyle w:val="1"/></w:pPr>'
            f"<w:r><w:t>{heading}</w:t></w:r></w:p>"
            f'<w:p><w:r><w:t xml:space="preserve">{plain}</w:t></w:r>'
            f"<w:r><w:rPr><w:b/></w:rPr><w:t>{bold}</w:t></w:r></w:p>"
            "</w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def open_new_post(page, section, title):
    page.goto("/editor/articles/new")
    page.wait_for_selector(".jodit-wysiwyg")
    page.fill("#title", title)
    page.select_option("#section_id", str(section["id"]))
    body = page.locator(".jodit-wysiwyg")
    body.click()
    return body


def press(page, action):
    """Press a save/publish button and end on the post's edit page (after
    publishing, through the confirmation's «back to the editor» link)."""
    with page.expect_navigation():
        page.click(f"button[name=action][value={action}]")
    match = re.search(r"/editor/articles/(\d+)/(edit|published)$", page.url)
    assert match, page.url
    if match.group(2) == "published":
        with page.expect_navigation():
            page.click(".published-actions a[href$='/edit']")
    return int(match.group(1))


def dispatch(page, event_type, html=None, files=()):
    """Fire a paste or drop on the editor with a DataTransfer like a real
    clipboard's: optional text/html and image files (name, bytes)."""
    page.evaluate(
        """([type, html, files]) => {
          const data = new DataTransfer();
          if (html !== null) {
            data.setData('text/html', html);
            data.setData('text/plain', html.replace(/<[^>]*>/g, ''));
          }
          for (const [name, b64] of files) {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            data.items.add(new File([bytes], name, {type: 'image/png'}));
          }
          const target = document.querySelector('.jodit-wysiwyg');
          const event = type === 'paste'
            ? new ClipboardEvent('paste', {
                clipboardData: data, bubbles: true, cancelable: true})
            : new DragEvent(type, {
                dataTransfer: data, bubbles: true, cancelable: true,
                clientX: 20, clientY: 20});
          target.dispatchEvent(event);
        }""",
        [
            event_type,
            html,
            [[name, base64.b64encode(data).decode()] for name, data in files],
        ],
    )


def editor_message(page, name):
    """A message editor.js shows, as the page translated it."""
    return page.get_attribute("#editor-messages", f"data-{name}")


def body_html(live_app, article_id):
    with live_app.app_context():
        return db.session.get(Article, article_id).body_html


def test_cover_image_shows_in_list_and_share_preview_until_removed(
    page, browser, live_server, section
):
    open_new_post(page, section, "校园开放日")
    page.keyboard.type("欢迎家长参观。")
    page.set_input_files(
        "#cover-input",
        files=[{"name": "封面.png", "mimeType": "image/png", "buffer": png_bytes()}],
    )
    page.locator("#cover-preview img[src^='/uploads/']").wait_for()
    assert page.is_visible("#cover-remove")
    article_id = press(page, "publish")

    reader = browser.new_context(base_url=live_server).new_page()
    reader.goto(f"/articles/{article_id}")
    og_image = reader.get_attribute("meta[property='og:image']", "content")
    # The cover's 960 x 640 thumbnail, a JPEG whatever was uploaded.
    match = re.fullmatch(rf"{live_server}/uploads/thumbs/(\w+)-960\.jpg", og_image)
    assert match
    assert reader.request.get(og_image).headers["content-type"] == "image/jpeg"
    reader.goto(f"/sections/{section['slug']}")
    card = reader.locator(".article-card", has_text="校园开放日")
    thumbnail = card.locator(".article-card-cover img").get_attribute("src")
    assert thumbnail == f"/uploads/thumbs/{match[1]}-240.jpg"

    page.click("#cover-remove")
    assert page.locator("#cover-preview img").count() == 0
    press(page, "save")
    assert page.locator("#cover-preview img").count() == 0
    reader.goto(f"/articles/{article_id}")
    assert reader.locator("meta[property='og:image']").count() == 0
    reader.goto(f"/sections/{section['slug']}")
    card = reader.locator(".article-card", has_text="校园开放日")
    assert card.locator("img").count() == 0
    reader.context.close()


def test_attachment_with_chinese_name_is_listed_and_downloads_under_that_name(
    page, browser, live_server, section, tmp_path
):
    open_new_post(page, section, "期末考试安排")
    page.keyboard.type("请查看附件。")
    pdf = tiny_pdf()
    path = tmp_path / ATTACHMENT_NAME
    path.write_bytes(pdf)
    page.set_input_files("#attachment-input", str(path))
    item = page.locator("#attachment-list li", has_text=ATTACHMENT_NAME)
    item.wait_for()  # the post was autosaved first, then the file attached
    assert page.inner_text("#attachment-status") == ""
    article_id = press(page, "publish")
    assert page.locator("#attachment-list li", has_text=ATTACHMENT_NAME).count() == 1

    reader = browser.new_context(base_url=live_server).new_page()
    reader.goto(f"/articles/{article_id}")
    link = reader.locator(".attachments a", has_text=ATTACHMENT_NAME)
    response = reader.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.body() == pdf
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert f"filename*=UTF-8''{quote(ATTACHMENT_NAME)}" in disposition
    with reader.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == ATTACHMENT_NAME
    assert download.failure() is None
    reader.context.close()


def test_import_from_word_fills_the_editor_with_heading_and_bold_text(page, section):
    body = open_new_post(page, section, "从 Word 导入")
    docx = tiny_docx("期末考试通知", "请各位同学", "准时到场")
    page.set_input_files(
        "#docx-input",
        files=[
            {
                "name": "通知.docx",
                "mimeType": "application/octet-stream",
                "buffer": docx,
            }
        ],
    )
    body.locator("h2", has_text="期末考试通知").wait_for()
    assert body.locator("strong, b").inner_text() == "准时到场"
    assert "请各位同学" in body.inner_text()
    assert page.inner_text("#docx-status").strip() == ""  # no warnings


def test_pasted_data_image_is_uploaded_and_a_word_image_is_reported(
    page, live_app, section
):
    body = open_new_post(page, section, "粘贴的截图")
    data_src = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    dispatch(
        page,
        "paste",
        html=(
            f'<p>课堂截图</p><p><img src="{data_src}" alt="截图"></p>'
            '<p><img src="file:///C:/Users/t/AppData/Local/Temp/msohtml1/01/'
            'clip_image002.png"></p>'
        ),
    )
    warning = page.locator(
        ".jodit-ui-message", has_text=editor_message(page, "paste-images-refused")
    )
    warning.wait_for()
    assert warning.count() == 1  # once per paste, not once per image
    body.locator("img[src^='/uploads/']").wait_for()
    assert body.locator("img").count() == 1
    uploaded = body.locator("img").get_attribute("src")

    article_id = press(page, "save")
    saved = body_html(live_app, article_id)
    assert uploaded in saved and "课堂截图" in saved
    assert "data:" not in saved and "file:" not in saved
    with live_app.app_context():
        upload = db.session.scalar(
            db.select(Upload).where(Upload.stored_name == uploaded.split("/")[-1])
        )
        assert upload.article_id == article_id


def test_pasted_image_the_server_refuses_is_removed_with_its_reason(page, section):
    body = open_new_post(page, section, "坏图片")
    not_an_image = base64.b64encode(b"this is not a picture").decode()
    dispatch(
        page,
        "paste",
        html=f'<p>正文</p><img src="data:image/png;base64,{not_an_image}">',
    )
    page.locator(".jodit-ui-message_variant_error").wait_for()
    page.wait_for_function(
        "() => !document.querySelector('.jodit-wysiwyg img')", timeout=5000
    )
    assert "正文" in body.inner_text()


def test_pasted_and_dropped_image_files_go_through_the_uploader(page, section):
    body = open_new_post(page, section, "截图与拖放")
    uploaded = body.locator("img[src^='/uploads/']")
    dispatch(page, "paste", files=[("image.png", png_bytes((200, 0, 0)))])
    page.click("#image-details button[value=skip]")  # no description this time
    uploaded.first.wait_for()
    dispatch(page, "drop", files=[("照片.png", png_bytes((0, 160, 0)))])
    page.click("#image-details button[value=skip]")
    page.wait_for_function(
        "() => document.querySelectorAll(\".jodit-wysiwyg img[src^='/uploads/']\")"
        ".length === 2"
    )
    assert body.locator("img").count() == 2

    # Word and Excel put a picture of the copied text on the clipboard too:
    # the text is pasted, not the picture.
    dispatch(
        page,
        "paste",
        html="<p>来自 Word 的文字</p>",
        files=[("image.png", png_bytes())],
    )
    body.locator("p", has_text="来自 Word 的文字").wait_for()
    page.wait_for_timeout(300)  # an upload would have been inserted by now
    assert body.locator("img").count() == 2
