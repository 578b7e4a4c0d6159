"""The compliance check in the real editor, phone and desktop. Real Chromium."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from models import Article, Section, Status, WordRule, db
from tests.e2e.conftest import VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e

ID_NUMBER = "440304200802295614"
NEW_TERMS = {"phone": ("迫不急待", "迫不及待"), "desktop": ("谈笑风声", "谈笑风生")}


@pytest.fixture(scope="module")
def section_id(live_app):
    with live_app.app_context():
        section = Section(name="校园新闻", slug="campus-news")
        db.session.add(section)
        db.session.add_all(
            [
                WordRule(term="一股作气", replacement="一鼓作气", severity="block"),
                WordRule(term="再接再励", replacement="再接再厉", severity="hint"),
                WordRule(term="按装", replacement="安装", exceptions="按装订"),
            ]
        )
        db.session.commit()
        return section.id


@pytest.fixture
def editor_page(new_page, section_id):
    def open_page(viewport, title):
        page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)  # for axe
        page.goto("/editor/articles/new")
        page.wait_for_selector(".jodit-wysiwyg")
        page.fill("#title", title)
        page.select_option("#section_id", str(section_id))
        page.locator(".jodit-wysiwyg").click()
        return page

    return open_page


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_check_lists_masked_findings_and_jumps_to_them(editor_page, viewport):
    page = editor_page(viewport, "期中表彰")
    page.keyboard.type(f"获奖学生身份证号{ID_NUMBER}，请按装订线剪下。")
    page.keyboard.press("Enter")
    page.keyboard.type("希望同学们再接再励。")
    page.click("#compliance-run")
    findings = page.locator("#compliance-findings .finding-go")
    findings.first.wait_for()
    texts = findings.all_inner_texts()
    assert len(texts) == 2, texts  # 按装订 is a correct word: not reported
    assert "440304********5614" in texts[0] and "需说明理由" in texts[0]
    assert "再接再励" in texts[1] and "再接再厉" in texts[1]
    panel = page.locator("#compliance-panel")
    assert ID_NUMBER not in panel.inner_text()
    assert page.locator("#compliance-confirm").is_visible()

    findings.nth(1).click()
    selected = page.evaluate("window.getSelection().toString()")
    assert selected == "再接再励"
    findings.nth(0).click()
    assert page.evaluate("window.getSelection().toString()") == ID_NUMBER
    panel.scroll_into_view_if_needed()
    save_screenshot(page, f"compliance-panel-{viewport}")

    if problems := violations(page, Axe()):
        pytest.fail(f"axe: {problems}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_publishing_a_blocked_term_is_refused_with_the_text_intact(
    editor_page, live_app, viewport
):
    title = f"运动会-{viewport}"
    page = editor_page(viewport, title)
    page.keyboard.type("接力赛上同学们一股作气冲向终点。")
    page.wait_for_timeout(300)  # let Jodit sync the textarea
    page.click("button[name=action][value=publish]")
    page.wait_for_url("**/edit?check=1")
    alert = page.locator(".flash, .notice-error, [role=alert]").filter(
        has_text="一股作气"
    )
    assert "未发布" in alert.first.inner_text()
    assert "一股作气冲向终点" in page.locator(".jodit-wysiwyg").inner_text()
    assert "一鼓作气" in page.locator("#compliance-findings").inner_text()
    with live_app.app_context():
        article = db.session.scalar(db.select(Article).filter_by(title=title))
        assert article.status == Status.DRAFT
        assert "一股作气冲向终点" in article.body_html
    save_screenshot(page, f"compliance-refused-{viewport}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_word_list_page(new_page, section_id, viewport):
    page = new_page("admin", VIEWPORTS[viewport], bypass_csp=True)
    wrong, right = NEW_TERMS[viewport]
    page.goto("/admin/words")
    assert "一股作气" in page.locator("#word-table").inner_text()
    assert wrong not in page.locator("#word-table").inner_text()
    page.fill("#term", wrong)
    page.fill("#replacement", right)
    page.click("#new-word button[type=submit]")
    page.wait_for_url("**/admin/words")
    assert f"已将「{wrong}」加入词库" in page.locator("body").inner_text()
    assert wrong in page.locator("#word-table").inner_text()
    save_screenshot(page, f"compliance-words-{viewport}")
    assert violations(page, Axe()) == []


# --- Attachments' text ------------------------------------------------------------


def attach_file(live_app, article_id, name, data):
    """Store an attachment of the post as the upload endpoint does."""
    from newsroom import storage
    from newsroom.uploads import ATTACHMENT_TYPES

    ext = name.rsplit(".", 1)[1]
    with live_app.app_context():
        storage.save_upload(
            data,
            kind="attachment",
            ext=ext,
            content_type=ATTACHMENT_TYPES[ext][1],
            original_name=name,
            user_id=None,
            article_id=article_id,
        )
        db.session.commit()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_id_number_in_an_attached_sheet_is_listed_with_its_cell(
    new_page, live_app, section_id, viewport
):
    from tests.documents import ID_MASKED, ID_NUMBER, class_list_xlsx

    with live_app.app_context():
        article = Article(
            title=f"奖学金公示-{viewport}",
            body_html="<p>名单见附件。</p>",
            section_id=section_id,
            status=Status.DRAFT,
        )
        db.session.add(article)
        db.session.commit()
        article_id = article.id
    attach_file(live_app, article_id, "奖学金名单.xlsx", class_list_xlsx())

    page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)
    page.goto(f"/editor/articles/{article_id}/edit")
    page.wait_for_selector(".jodit-wysiwyg")
    page.click("#compliance-run")
    finding = page.locator("#compliance-findings .finding-go").first
    finding.wait_for()
    text = finding.inner_text()
    assert "奖学金名单.xlsx" in text and "名单" in text and "C2" in text, text
    assert ID_MASKED in text and ID_NUMBER not in page.content()
    assert page.locator("#compliance-confirm").is_visible()
    finding.click()  # goes to the file in the attachment list
    assert "finding-target" in page.locator("#attachment-list li").first.get_attribute(
        "class"
    )
    page.locator("#compliance-panel").scroll_into_view_if_needed()
    save_screenshot(page, f"compliance-attachment-{viewport}", full_page=False)
    if problems := violations(page, Axe()):
        pytest.fail(f"axe: {problems}")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_reviewer_sees_the_attachments_finding(
    new_page, live_app, section_id, viewport
):
    from models import User, set_setting
    from review import chain
    from tests.documents import ID_MASKED, class_list_xlsx

    with live_app.app_context():
        set_setting("review_levels", "1")
        author_id = db.session.scalar(db.select(User.id).filter_by(username="author"))
        article = Article(
            title=f"奖学金名单公示-{viewport}",
            body_html="<p>名单见附件。</p>",
            section_id=section_id,
            status=Status.DRAFT,
            created_by_id=author_id,
        )
        db.session.add(article)
        db.session.commit()
        article_id = article.id
    attach_file(live_app, article_id, "奖学金名单.xlsx", class_list_xlsx())
    try:
        with live_app.test_request_context():
            article = db.session.get(Article, article_id)
            chain.submit(article, db.session.get(User, author_id))
            db.session.commit()
        page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)
        page.goto(f"/editor/review/{article_id}")
        finding = page.locator("#review-findings .finding-confirm").first
        text = finding.inner_text()
        assert "奖学金名单.xlsx" in text and "C2" in text and ID_MASKED in text, text
        assert page.locator("input[name=compliance_confirm]").count() == 1
        finding.scroll_into_view_if_needed()
        save_screenshot(page, f"review-attachment-{viewport}", full_page=False)
        if problems := violations(page, Axe()):
            pytest.fail(f"axe: {problems}")
    finally:
        with live_app.app_context():
            set_setting("review_levels", "0")
            db.session.commit()
