"""The review ledger (审核台账) in real Chromium: a month of events at 375 and
1280 px, no sideways scroll, axe clean, and the filter form's error."""

from datetime import timedelta

import pytest

from models import Department, ReviewEvent, db, utcnow
from tests.e2e import test_stats as stats_pages
from tests.e2e.shots import save_screenshot
from tests.e2e.test_first_run import SIZES, fits_width, problems

# The statistics tests' admin at 375 and 1280 px, and axe.
admin_page, axe = stats_pages.admin_page, stats_pages.axe

pytestmark = pytest.mark.e2e

# (post, title, department, author, reviewer, level, decision, reason)
EVENTS = [
    (
        1,
        "关于2026年秋季学期期中考试安排的通知",
        "教务处",
        "王老师",
        "王老师",
        0,
        "submit",
        "",
    ),
    (
        1,
        "关于2026年秋季学期期中考试安排的通知",
        "教务处",
        "王老师",
        "李主任",
        1,
        "approve",
        "",
    ),
    (
        1,
        "关于2026年秋季学期期中考试安排的通知",
        "教务处",
        "王老师",
        "宣传办张老师",
        2,
        "return",
        "考场安排表中的教室编号与教务系统不一致，请核对后重新提交",
    ),
    (2, "秋季运动会", "德育处", "赵老师", "赵老师", 0, "submit", ""),
    (2, "秋季运动会", "德育处", "赵老师", "钱主任", 1, "approve", "可以"),
    (2, "秋季运动会", "德育处", "赵老师", "宣传办张老师", 2, "approve", ""),
    (2, "秋季运动会", "德育处", "赵老师", "孙校长", 3, "approve", ""),
    (
        3,
        "停课紧急通知",
        "",
        "Editor 老师",
        "Editor 老师",
        0,
        "bypass",
        "台风停课，需立即发布",
    ),
]


@pytest.fixture(scope="module")
def ledger_month(live_app):
    start = utcnow() - timedelta(minutes=len(EVENTS))
    with live_app.app_context():
        db.session.add_all([Department(name="教务处"), Department(name="德育处")])
        for n, (
            post,
            title,
            department,
            author,
            user,
            level,
            decision,
            reason,
        ) in enumerate(EVENTS):
            db.session.add(
                ReviewEvent(
                    created_at=start + timedelta(minutes=n),
                    article_id=post,
                    article_title=title,
                    department=department,
                    author=author,
                    user_name=user,
                    level=level,
                    decision=decision,
                    reason=reason,
                    version_hash=f"{n:x}" * 64,
                )
            )
        db.session.commit()


@pytest.mark.parametrize("admin_page", SIZES, indirect=True)
def test_the_ledger_reads_well_on_a_phone_and_a_desktop(ledger_month, admin_page, axe):
    page, size = admin_page
    page.goto("/editor/")
    page.click(".workspace-nav a:has-text('审核台账')")
    assert page.locator("h1").inner_text() == "审核台账"
    rows = page.locator("#ledger tbody tr")
    assert rows.count() == len(EVENTS)
    assert page.locator("#ledger-summary").inner_text() == "8 条记录，涉及 3 篇文章。"
    assert "退回" in rows.nth(2).inner_text()
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"ledger-{size}")

    # One department: the form keeps the choice.
    page.select_option("#department", "德育处")
    page.click(".a-ledger-filters button[type=submit]")
    page.wait_for_url("**department=*")
    assert rows.count() == 4
    assert page.locator("#department").input_value() == "德育处"
    assert fits_width(page)


@pytest.mark.parametrize("admin_page", SIZES, indirect=True)
def test_a_wrong_post_number_is_explained_on_the_page(ledger_month, admin_page, axe):
    page, size = admin_page
    page.goto("/admin/review-ledger")
    page.fill("#article", "abc")
    page.click(".a-ledger-filters button[type=submit]")
    page.wait_for_url("**article=abc")
    assert page.locator("[role=alert]").inner_text() == "«abc» 不是文章编号。"
    assert page.input_value("#article") == "abc"
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"ledger-error-{size}", full_page=False)
