"""The bureau's page of schools (站群) in real Chromium, on a phone and a
desktop: it fits, axe finds nothing, and a school added there answers at
its own address."""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from core.sites import acting_for
from models import User, db
from tests.e2e.conftest import PASSWORD, VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations
from tests.test_bureau_posts import bureau_post

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bureau(live_app):
    """The bureau's site under /jyj; returns its administrator's password."""
    added = live_app.test_cli_runner().invoke(
        args=[
            "sites",
            "add",
            "区教育局",
            "--prefix",
            "/jyj",
            "--bureau",
            "--admin",
            "jyj",
        ]
    )
    assert added.exit_code == 0, added.output
    with live_app.app_context():
        site_id = int(added.output.split("site ")[1].split(":")[0])
        with acting_for(site_id):
            admin = db.session.scalar(sa.select(User).where(User.username == "jyj"))
            admin.needs_setup = False
            db.session.commit()
    return added.output.split("password:")[1].split()[0]


def sign_in(page, password, size):
    """The bureau's administrator, signed in on its site, at this size."""
    page.set_viewport_size(VIEWPORTS[size])
    page.goto("/jyj/login")
    page.fill("input[name=username]", "jyj")
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/jyj/**")


def fits(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_bureau_adds_a_school_on_a_phone_and_a_desktop(page, bureau, size):
    axe = Axe()
    sign_in(page, bureau, size)
    page.goto("/jyj/admin/sites")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-sites-{size}")

    page.fill("#name", f"城东小学{size}")
    page.fill("#prefix", f"/chengdong-{size}")
    page.fill("#admin_username", f"cd-{size}")
    page.click("#new-site button[type=submit]")
    notice = page.locator("#site-created")
    expect(notice).to_contain_text(f"cd-{size}")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-site-added-{size}")

    page.goto(f"/chengdong-{size}/")
    expect(page).to_have_title(f"城东小学{size}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_schools_side_by_side_fit_a_phone_and_a_desktop(page, bureau, size):
    axe = Axe()
    sign_in(page, bureau, size)
    page.goto("/jyj/admin/sites")
    page.click("#schools-stats-link")
    expect(page.locator("#schools")).to_be_visible()
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-stats-{size}")
    page.click("#school-sections-link")
    expect(page.locator("h1")).to_contain_text("各校栏目更新")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-sections-{size}")


def add_school(live_app, name: str, prefix: str, admin: str) -> str:
    """A school's site under prefix (`flask sites add`); its id."""
    added = live_app.test_cli_runner().invoke(
        args=["sites", "add", name, "--prefix", prefix, "--admin", admin]
    )
    assert added.exit_code == 0, added.output
    return added.output.split("site ")[1].split(":")[0]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_bureau_sends_a_post_to_a_school(page, live_app, bureau, size):
    post_id = bureau_post(
        live_app, f"关于寒假安全的通知{size}", "<p>各校：请做好寒假安全工作。</p>"
    )
    school_id = add_school(
        live_app, f"城西小学{size}", f"/chengxi-{size}", f"cx-{size}"
    )
    axe = Axe()
    sign_in(page, bureau, size)
    page.goto(f"/jyj/editor/articles/{post_id}/published")
    page.click("#send-to-schools")
    page.check(f"#share-form input[name=site][value='{school_id}']")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-send-{size}")
    page.click("#share-form button[type=submit]")
    expect(page.locator("#share-form")).to_contain_text("已收到")
    save_screenshot(page, f"bureau-sent-{size}")
    page.goto(f"/chengxi-{size}/sections/notices")
    expect(page.locator("main")).to_contain_text(f"关于寒假安全的通知{size}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_bureau_withdraws_a_post_from_a_school(page, live_app, bureau, size):
    title = f"关于调整作息时间的通知{size}"
    post_id = bureau_post(live_app, title, "<p>各校：作息时间有调整。</p>")
    school_id = add_school(
        live_app, f"城北小学{size}", f"/chengbei-{size}", f"cb-{size}"
    )
    axe = Axe()
    sign_in(page, bureau, size)
    page.goto(f"/jyj/editor/articles/{post_id}/schools")
    page.check(f"#share-form input[name=site][value='{school_id}']")
    page.click("#share-form button[type=submit]")
    page.goto(f"/chengbei-{size}/sections/notices")
    expect(page.locator("main")).to_contain_text(title)

    page.goto(f"/jyj/editor/articles/{post_id}/schools")
    form = page.locator("#withdraw-form")
    form.locator(f"input[name=site][value='{school_id}']").check()
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-withdraw-{size}")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    # The school is no longer offered for withdrawing, and is marked withdrawn.
    expect(page.locator("#withdraw-form")).to_have_count(0)
    expect(page.locator("#share-form")).to_contain_text(f"城北小学{size}")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-withdrawn-{size}")
    page.goto(f"/chengbei-{size}/sections/notices")
    expect(page.locator("main")).not_to_contain_text(title)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_bureau_lets_a_teacher_work_at_another_school(page, bureau, size):
    """The first school's author (phone) or editor (desktop) becomes an
    author at the bureau's site too, and signs in there with one password."""
    axe = Axe()
    username = {"phone": "author", "desktop": "editor"}[size]
    sign_in(page, bureau, size)
    page.goto("/jyj/admin/sites")
    card = page.locator("#new-member")
    card.locator("input[name=username]").fill(username)
    card.locator("select[name=site_id]").select_option(label="区教育局")
    card.locator("select[name=role]").select_option("author")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-member-{size}")
    card.locator("button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text(username)
    assert fits(page)

    # The bureau's own account page of them: no password of theirs to reset.
    page.goto("/jyj/admin/users")
    page.locator("tr", has_text=username).locator("a.a-button").click()
    expect(page.locator("#login-elsewhere")).to_contain_text("只有该校可以重置")
    assert fits(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"bureau-member-account-{size}")

    page.context.clear_cookies()  # the teacher, on their own phone or computer
    page.goto("/jyj/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/jyj/editor/**")
    expect(page.locator("body")).to_contain_text("区教育局")
