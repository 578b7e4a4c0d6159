"""Photos in the real editor: dialogs in the UI's language, images from other
sites brought home on publish, the action bar clear of every control, and the
confirmation after publishing. Real Chromium at 375 and 1280 px."""

import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from models import Article, db
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e

TINY_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs="
# Visible text of every open Jodit dialog and popup, placeholders and
# tooltips included.
DIALOG_TEXTS_JS = """() => {
  var out = [];
  document.querySelectorAll(".jodit-dialog, .jodit-popup").forEach(function (d) {
    var walker = document.createTreeWalker(d, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      var node = walker.currentNode;
      var el = node.parentElement;
      if (node.textContent.trim() && el && el.offsetParent !== null) {
        out.push(node.textContent.trim());
      }
    }
  });
  return out;
}"""


@pytest.fixture
def page(viewport_editor_page):
    return viewport_editor_page


def jpeg(color=(30, 120, 200), size=(640, 400)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def other_site(live_app):
    """Another web site on 127.0.0.1 serving /wx/640 (a WeChat-like photo URL)."""
    photo = jpeg()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if self.path.startswith("/wx/640"):
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(photo)))
                self.end_headers()
                self.wfile.write(photo)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live_app.config["REMOTE_IMAGES_ALLOW_LOOPBACK"] = True
    yield f"http://127.0.0.1:{server.server_port}"
    live_app.config["REMOTE_IMAGES_ALLOW_LOOPBACK"] = False
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def open_editor(page, section, title):
    page.goto("/editor/articles/new")
    page.wait_for_selector(".jodit-wysiwyg")
    page.fill("#title", title)
    page.select_option("#section_id", str(section))


def set_body(page, html):
    page.evaluate("html => { Object.values(Jodit.instances)[0].value = html; }", html)


def open_image_properties(page):
    set_body(page, f'<p><img src="{TINY_GIF}" width="120" height="80"></p>')
    image = page.locator(".jodit-wysiwyg img")
    image.scroll_into_view_if_needed()
    image.dblclick(force=True)
    page.locator(".jodit-dialog .jodit-ui-image-main-tab__imageAlt").wait_for()


def test_image_dialog_is_in_chinese(page, section):
    open_editor(page, section, "对话框")
    open_image_properties(page)
    texts = page.evaluate(DIALOG_TEXTS_JS)
    for label in [
        "图片属性",
        "图片地址",
        "标题",
        "图片说明（替代文字）",
        "链接",
        "应用",
    ]:
        assert label in texts, (label, texts)
    english = [text for text in texts if re.search(r"[A-Za-z]{2,}", text)]
    assert english == [], english
    save_screenshot(page, f"editor-image-dialog-{page.viewport_name}", full_page=False)


def test_image_dialog_is_in_english_when_the_ui_is(page, section):
    page.goto("/?lang=en")
    open_editor(page, section, "Dialog")
    open_image_properties(page)
    texts = page.evaluate(DIALOG_TEXTS_JS)
    for label in ["Image properties", "Src", "Title", "Alternative", "Link"]:
        assert label in texts, (label, texts)
    assert not [t for t in texts if re.search(r"[\u4e00-\u9fff]", t)], texts
    page.keyboard.press("Escape")
    page.goto("/?lang=zh_Hans_CN")


def test_remote_images_are_brought_home_on_publish(
    page, browser, live_server, live_app, section, other_site
):
    open_editor(page, section, "转载的公众号文章")
    set_body(
        page,
        "<p>从公众号复制的文字</p>"
        f'<p><img src="{other_site}/wx/640?wx_fmt=jpeg" alt="升旗"></p>'
        f'<p><img src="{other_site}/wx/missing.jpg" alt="丢失"></p>',
    )
    page.click("button[name=action][value=publish]")
    page.wait_for_url(re.compile(r"/editor/articles/\d+/published$"))
    article_id = int(page.url.split("/")[-2])

    # The teacher is told which image could not be copied, in Chinese.
    notice = page.locator(".flash, .notice, [role=alert]").filter(
        has_text="127.0.0.1/missing.jpg"
    )
    assert "无法复制到本站" in notice.first.inner_text()
    # The confirmation links to the live post.
    link = page.locator("#live-link")
    assert link.inner_text().endswith(f"/articles/{article_id}")
    qr = page.locator("#live-qr")
    assert page.evaluate(
        "img => img.complete && img.naturalWidth > 0", qr.element_handle()
    )
    save_screenshot(page, f"editor-published-{page.viewport_name}", full_page=False)

    with live_app.app_context():
        body = db.session.get(Article, article_id).body_html
    assert "从公众号复制的文字" in body
    assert other_site not in body
    assert re.search(r'<img src="/uploads/[0-9a-f]+\.jpg" alt="升旗">', body)

    reader = browser.new_context(base_url=live_server).new_page()
    reader.goto(link.get_attribute("href"))
    photo = reader.locator(".article-body img")
    photo.wait_for()
    assert reader.evaluate(
        "img => img.complete && img.naturalWidth > 0", photo.element_handle()
    )
    reader.context.close()


# Every control of the article form, the Word import among them.
CONTROLS = (
    "#article-form input:not([type=hidden]):not(.visually-hidden), "
    "#article-form select, #article-form textarea:not(#body_html), "
    "#article-form button, #article-form a[href], #article-form label.file-button, "
    "#article-form .jodit-toolbar-button__button"
)

# Scroll handlers (Jodit's sticky toolbar) run before the next frame, as
# they would for a teacher scrolling.
COVERED_JS = """async (selector) => {
  var frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  var problems = [];
  for (const el of document.querySelectorAll(selector)) {
    var box = el.getBoundingClientRect();
    var hidden =
      el.offsetParent === null || getComputedStyle(el).visibility === "hidden";
    if (box.width < 2 || box.height < 2 || hidden || el.disabled) {
      continue;  // not shown, or not usable (undo with nothing to undo)
    }
    el.scrollIntoView({ block: "nearest", inline: "nearest" });
    await frame();
    await frame();
    box = el.getBoundingClientRect();
    var x = box.left + box.width / 2;
    var y = box.top + box.height / 2;
    var hit = document.elementFromPoint(x, y);
    if (!hit || !(el === hit || el.contains(hit))) {
      problems.push(el.outerHTML.slice(0, 120) + " under "
        + (hit ? (hit.id || hit.className || hit.tagName) : "nothing"));
    }
  }
  return problems;
}"""


def test_action_bar_is_opaque_and_covers_no_control(page, section):
    open_editor(page, section, "长文章")
    set_body(page, "".join(f"<p>第{n}段文字。</p>" for n in range(40)))
    bar = page.locator("#ed-actions")
    assert (
        bar.evaluate("el => getComputedStyle(el).backgroundColor")
        == "rgb(255, 255, 255)"
    )
    # From the top and from the bottom of the page, as a teacher scrolls.
    for start in ("0", "document.body.scrollHeight"):
        page.evaluate(f"window.scrollTo(0, {start})")
        problems = page.evaluate(COVERED_JS, CONTROLS)
        assert problems == [], problems
    docx = page.locator("label.file-button", has=page.locator("#docx-input"))
    docx.scroll_into_view_if_needed()
    assert page.evaluate(
        """(el) => { var b = el.getBoundingClientRect();
          var x = b.left + b.width / 2, y = b.top + b.height / 2;
          return el.contains(document.elementFromPoint(x, y)); }""",
        docx.element_handle(),
    )
    save_screenshot(page, f"editor-{page.viewport_name}", full_page=False)


def test_images_on_local_and_private_addresses_are_refused(
    page, live_app, section, other_site
):
    # The test server is on 127.0.0.1: with the test setting off, it is
    # refused like any address inside the school's network.
    live_app.config["REMOTE_IMAGES_ALLOW_LOOPBACK"] = False
    refused = [
        f"{other_site}/wx/640",
        "http://10.0.0.8/a.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/b.jpg",
        "http://localhost/c.jpg",
    ]
    open_editor(page, section, "内网图片")
    set_body(
        page,
        "<p>文字照样保存</p>" + "".join(f'<p><img src="{url}"></p>' for url in refused),
    )
    page.click("button[name=action][value=publish]")
    page.wait_for_url(re.compile(r"/editor/articles/\d+/published$"))
    article_id = int(page.url.split("/")[-2])
    notice = page.get_by_text("无法复制到本站").first.inner_text()
    for name in ["127.0.0.1/640", "10.0.0.8/a.jpg", "169.254.169.254/meta-data"]:
        assert name in notice, (name, notice)
    assert "::1/b.jpg" in notice and "localhost/c.jpg" in notice
    assert "内部网络或本机" in notice
    with live_app.app_context():
        body = db.session.get(Article, article_id).body_html
    assert body == "<p>文字照样保存</p>"
