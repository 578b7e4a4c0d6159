"""The review chain's admin pages in real Chromium: 375 and 1280 px, axe clean."""

import pytest
import sqlalchemy as sa

from models import Department, ReviewGroup, Section, User, db, get_settings
from tests.e2e.shots import save_screenshot
from tests.e2e.test_first_run import SIZES, fits_width, problems

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def school(live_app):
    with live_app.app_context():
        department = Department(name="教务处")
        db.session.add(department)
        db.session.add_all(
            [
                Section(name="新闻中心", slug="news", position=0),
                Section(name="通知公告", slug="notices", position=1, review_levels=0),
            ]
        )
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        users["author"].department = department
        office = ReviewGroup(name="宣传办", members=[users["editor"]])
        db.session.add_all([office, ReviewGroup(name="校领导")])
        db.session.commit()
        return {"office": office.id, "department": department.id}


@pytest.fixture
def admin_page(new_page, request):
    width, height = SIZES[request.param]
    # bypass_csp lets the test inject axe.
    viewport = {"width": width, "height": height}
    return new_page("admin", viewport, bypass_csp=True), request.param


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.mark.parametrize("admin_page", SIZES, indirect=True)
def test_the_review_settings_page(live_app, school, admin_page, axe):
    page, size = admin_page
    page.goto("/admin/review")
    assert page.locator("h1").inner_text() == "审核流程"
    assert page.locator(".a-tabs [aria-current=page]").inner_text() == "审核流程"
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"review-settings-{size}")
    # A wrong value for a channel is shown next to it.
    page.locator("#channels select").first.evaluate(
        "s => { s.options[1].value = '7'; s.selectedIndex = 1; }"
    )
    page.click("#channels button[type=submit]")
    assert page.locator("#channels .a-error").inner_text() == (
        "请选择网站默认，或 0 至 3 级。"
    )
    assert problems(page, axe) == []
    # Naming 宣传办 for the second review, with two or three levels.
    levels = "2" if size == "375" else "3"
    page.goto("/admin/review")
    page.select_option("#levels", levels)
    page.select_option("#group_2", label="宣传办")
    page.click("main form button.a-primary >> nth=0")
    assert page.locator(".flash").first.inner_text() == "审核设置已保存。"
    assert page.locator("#group_2").input_value() == str(school["office"])
    with live_app.app_context():
        values = get_settings()
        assert (values["review_levels"], values["review_group_2"]) == (
            levels,
            str(school["office"]),
        )


@pytest.mark.parametrize("admin_page", SIZES, indirect=True)
def test_the_review_groups_pages(school, admin_page, axe):
    page, size = admin_page
    page.goto("/admin/review/groups")
    assert page.locator("h1").inner_text() == "审核小组"
    assert page.locator("tbody tr").count() == 2
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"review-groups-{size}")
    page.goto(f"/admin/review/groups/{school['office']}")
    assert page.locator(".a-people input[type=checkbox]").count() == 3
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"review-group-{size}")
    page.goto(f"/admin/departments/{school['department']}/heads")
    # The department's member comes first.
    assert page.locator(".a-people li").first.inner_text().startswith("Author 老师")
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"department-heads-{size}")
