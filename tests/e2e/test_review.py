"""The reviewer's queue and decision page in real Chromium, phone and desktop."""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

import review
from commands import create_user
from models import Article, Department, Role, Section, User, db, set_setting
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
        review.submit(article, teacher)
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
    assert page.locator("#text-diff ins", has_text="报名请联系").is_visible()
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
