"""The reviewer's queue and decision page in real Chromium, phone and desktop."""

import io

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask import url_for
from PIL import Image

from models import Article, Department, Role, Section, User, db, set_setting
from newsroom import storage
from newsroom.sanitize import clean_html
from operations.commands import create_user
from review import chain
from tests.e2e.conftest import PASSWORD, VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e

PHONE = "13912345678"


@pytest.fixture(scope="module")
def school(live_app):
    """A teacher of 教务处 whose head reviews level 1 (one level on the site)."""
    with live_app.app_context():
        department = Department(name="教务处")
        db.session.add_all([department, Section(name="校园新闻", slug="campus")])
        db.session.commit()
        teacher = create_user("teacher", PASSWORD, Role.AUTHOR, "王老师")
        head = create_user("head", PASSWORD, Role.AUTHOR, "李主任")
        teacher.department = head.department = department
        department.heads.append(head)
        set_setting("review_levels", "1")
        db.session.commit()
    return live_app


def submitted_post(app, title: str) -> int:
    """A post the teacher wrote and submitted, with a phone number in it."""
    with app.app_context():
        teacher = db.session.scalar(sa.select(User).where(User.username == "teacher"))
        article = Article(
            title=title,
            body_html=f"<p>报名请联系王老师，电话 {PHONE}。</p>",
            author_name="王老师",
            section_id=db.session.scalar(sa.select(Section.id)),
            created_by_id=teacher.id,
        )
        db.session.add(article)
        db.session.flush()
        chain.submit(article, teacher)
        db.session.commit()
        return article.id


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_head_finds_the_post_in_the_queue_sees_findings_and_approves(
    school, new_page, viewport
):
    title = f"运动会报名通知（{viewport}）"
    article_id = submitted_post(school, title)
    page = new_page("head", VIEWPORTS[viewport], bypass_csp=True)
    page.goto("/editor/")
    page.click(".pending-notice a")  # 「有 1 篇稿件等待您审核」
    row = page.locator("table tr", has_text=title)
    assert row.is_visible()
    save_screenshot(page, f"review-queue-{viewport}")
    assert violations(page, Axe()) == []
    row.get_by_role("link", name=title).click()

    # The whole text is new; the finding shows the number masked.
    inserted = page.locator("#text-diff ins", has_text="报名请联系")
    inserted.wait_for()  # the click navigates: is_visible() does not wait for it
    assert inserted.is_visible()
    finding = page.locator("#review-findings li").first
    assert "139****5678" in finding.inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"]
    save_screenshot(page, f"review-page-{viewport}")
    assert violations(page, Axe()) == []

    # Approving without confirming the personal data is refused, kindly.
    page.click("#approve-form button[type=submit]")
    assert page.locator(".flash-error, .notice-error").first.is_visible()
    page.check("#review-confirm")
    page.fill("#review-confirm-reason", "家长联系电话，已征得同意")
    page.click("#approve-form button[type=submit]")
    page.wait_for_url("**/editor/review/")
    assert page.locator("#queue-empty").is_visible() or title not in page.content()
    with school.app_context():
        assert db.session.get(Article, article_id).is_public

    # Readers see the 撰稿 / 初审 line under the article.
    page.goto(f"/articles/{article_id}")
    line = page.locator("#review-line").inner_text()
    assert "王老师" in line and "李主任" in line
    page.locator("#review-line").scroll_into_view_if_needed()
    save_screenshot(page, f"review-line-{viewport}", full_page=False)


def test_head_returns_a_post_and_the_author_sees_why(school, new_page):
    article_id = submitted_post(school, "期中考试安排")
    page = new_page("head", VIEWPORTS["phone"])
    page.goto(f"/editor/review/{article_id}")
    page.fill("#return-reason", "考试时间写错了，请核对")
    page.click("#return-form button[type=submit]")
    page.wait_for_url("**/editor/review/")

    author = new_page("teacher", VIEWPORTS["phone"])
    author.goto("/editor/")
    assert "考试时间写错了" in author.locator("table").inner_text()
    author.goto(f"/editor/articles/{article_id}/edit")
    assert "考试时间写错了" in author.locator("#returned-notice").inner_text()


# --- What the reviewer sees, and decisions bound to it ------------------------------

ATTACHMENT = "报名表.pdf"
PARAGRAPHS = ["运动会将于周五举行。", "请各班于周三前报名。", "雨天顺延。"]


def png_bytes(size=(120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 102, 204)).save(out, "PNG")
    return out.getvalue()


def illustrated_post(app, title: str) -> int:
    """A submitted post with three paragraphs, a photo (the cover too), a
    table and 报名表.pdf."""
    with app.app_context(), app.test_request_context():
        teacher = db.session.scalar(sa.select(User).where(User.username == "teacher"))
        article = Article(
            title=title,
            summary="运动会报名安排",
            body_html="",
            author_name="王老师",
            section_id=db.session.scalar(sa.select(Section.id)),
            created_by_id=teacher.id,
        )
        db.session.add(article)
        db.session.flush()
        photo = storage.save_image(
            io.BytesIO(png_bytes()),
            "操场.png",
            user_id=teacher.id,
            article_id=article.id,
        )
        storage.save_upload(
            b"%PDF-1.4\n%%EOF\n",
            kind="attachment",
            ext="pdf",
            content_type="application/pdf",
            original_name=ATTACHMENT,
            user_id=teacher.id,
            article_id=article.id,
        )
        article.body_html = clean_html(
            "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
            + f'<p><img src="{url_for("files.upload", stored_name=photo.stored_name)}"'
            ' alt="操场"></p>'
            "<table><tbody><tr><th>项目</th><th>时间</th></tr>"
            "<tr><td>跳远</td><td>9:00</td></tr></tbody></table>"
        )
        article.cover_id = photo.id
        db.session.flush()
        chain.submit(article, teacher)
        db.session.commit()
        return article.id


def changed_lines(page) -> list[str]:
    return page.locator(
        "#text-diff p.diff-changed, #text-diff p.diff-added, #text-diff p.diff-removed"
    ).all_inner_texts()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_head_sees_the_post_as_readers_will_with_photo_table_and_attachment(
    school, new_page, viewport
):
    article_id = illustrated_post(school, f"运动会报名（{viewport}）")
    page = new_page("head", VIEWPORTS[viewport], bypass_csp=True)
    page.goto(f"/editor/review/{article_id}")

    # Open without a click: title, summary, section, the whole body.
    assert page.locator("#review-title").inner_text() == f"运动会报名（{viewport}）"
    assert "运动会报名安排" in page.locator("#review-summary").inner_text()
    assert "校园新闻" in page.locator("#review-section").inner_text()
    body = page.locator("#review-body")
    for text in PARAGRAPHS:
        assert body.get_by_text(text).is_visible()
    # The photo as a photo, the table as a table.
    photo = body.locator("img")
    photo.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('#review-body img').complete", timeout=5_000
    )
    assert photo.evaluate("img => img.naturalWidth") > 0
    assert photo.is_visible()
    assert body.locator("table th", has_text="项目").is_visible()
    cover = page.locator("#review-cover img")
    cover.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('#review-cover img').complete", timeout=5_000
    )
    assert cover.evaluate("img => img.naturalWidth") > 0
    assert body.locator("table td", has_text="跳远").is_visible()
    # The attachment, with its size, opens through the page's own link.
    item = page.locator("#review-attachments li", has_text=ATTACHMENT)
    assert item.is_visible() and "B)" in item.inner_text()
    href = item.get_by_role("link", name=ATTACHMENT).get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200
    assert response.body().startswith(b"%PDF")
    with page.expect_download() as download:
        item.get_by_role("link", name=ATTACHMENT).click()
    assert download.value.suggested_filename == ATTACHMENT

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[viewport]["width"]
    save_screenshot(page, f"review-reader-view-{viewport}")
    assert violations(page, Axe()) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_after_a_return_the_head_sees_only_the_changed_paragraph(
    school, new_page, viewport
):
    article_id = illustrated_post(school, f"运动会报名修改（{viewport}）")
    head = new_page("head", VIEWPORTS[viewport], bypass_csp=True)
    head.goto(f"/editor/review/{article_id}")
    head.fill("#return-reason", "报名截止时间请写清楚")
    head.click("#return-form button[type=submit]")
    head.wait_for_url("**/editor/review/")

    # The author changes the second paragraph and submits again.
    author = new_page("teacher", VIEWPORTS[viewport])
    author.goto(f"/editor/articles/{article_id}/edit")
    paragraph = author.locator(".jodit-wysiwyg p", has_text=PARAGRAPHS[1])
    paragraph.click()
    author.keyboard.press("End")
    author.keyboard.type("截止时间为周三下午五点。")
    with author.expect_navigation():
        author.click("#article-form button[name=action][value=submit]")
    with school.app_context():
        assert db.session.get(Article, article_id).review_level == 1

    head.goto(f"/editor/review/{article_id}")
    heading = head.locator("#diff-title").inner_text()
    assert "全部内容均为新增" not in heading
    assert heading in ("与您上次审核的版本相比", "与退回的版本相比")
    changed = changed_lines(head)
    assert len(changed) == 1, changed
    assert "截止时间为周三下午五点" in changed[0]
    assert head.locator(
        "#text-diff ins", has_text="截止时间为周三下午五点"
    ).is_visible()
    assert head.locator("#text-diff p.diff-same", has_text=PARAGRAPHS[0]).count() == 1
    save_screenshot(head, f"review-diff-after-return-{viewport}")
    assert violations(head, Axe()) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_approval_of_a_text_changed_since_the_page_was_opened_is_refused(
    school, new_page, viewport
):
    article_id = illustrated_post(school, f"运动会报名过时（{viewport}）")
    head = new_page("head", VIEWPORTS[viewport], bypass_csp=True)
    head.goto(f"/editor/review/{article_id}")
    shown = head.locator("#approve-form input[name=version]").input_value()
    assert shown == head.locator("#return-form input[name=version]").input_value()

    # Meanwhile the author changes the text in another browser.
    author = new_page("teacher", VIEWPORTS[viewport])
    author.goto(f"/editor/articles/{article_id}/edit")
    author.locator(".jodit-wysiwyg p", has_text=PARAGRAPHS[2]).click()
    author.keyboard.press("End")
    author.keyboard.type("改在体育馆举行。")
    with author.expect_navigation():
        author.click("#article-form button[name=action][value=save]")

    head.click("#approve-form button[type=submit]")
    head.wait_for_load_state()
    assert head.get_by_text("稿件已被修改，请重新查看").is_visible()
    with school.app_context():
        article = db.session.get(Article, article_id)
        assert not article.is_public
        assert "体育馆" in article.body_html
    # The page now shows the new text, bound to its own version.
    assert "改在体育馆举行" in head.locator("#review-body").inner_text()
    assert head.locator("#approve-form input[name=version]").input_value() != shown
    save_screenshot(head, f"review-stale-{viewport}")
    assert violations(head, Axe()) == []
