"""The users page with its dormant accounts and management roles (三员), and the
admin menu on a phone, in real Chromium at 375 and 1280 px, axe clean."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from models import Role, User, db, set_setting, utcnow
from operations.commands import create_user
from tests.e2e.conftest import PASSWORD, VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.fixture(scope="module", autouse=True)
def roles(live_app):
    """The admin holds all three roles (单人模式, as on an upgraded site);
    shenji is an audit administrator only."""
    with live_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = True
        set_setting("single_admin", "1")
        auditor = create_user("shenji", PASSWORD, Role.AUTHOR, "审计员")
        auditor.audit_admin = True
        db.session.commit()


def add_dormant(live_app, *names):
    """Accounts of staff who left: created and last used over a year ago."""
    long_ago = utcnow() - timedelta(days=400)
    with live_app.app_context():
        for name in names:
            user = create_user(name, PASSWORD, Role.AUTHOR, f"{name} 老师")
            user.created_at = user.last_login_at = long_ago
        db.session.commit()


def is_active(live_app, name) -> bool:
    with live_app.app_context():
        return db.session.scalar(sa.select(User.active).where(User.username == name))


def fits_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def visible_hrefs(page, selector) -> list[str]:
    return [
        link.get_attribute("href").split("?")[0]
        for link in page.locator(selector).all()
        if link.is_visible()
    ]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_users_page_with_dormant_accounts_and_roles(live_app, new_page, axe, size):
    add_dormant(live_app, f"lihua-{size}", f"zhao-{size}")
    page = new_page("admin", VIEWPORTS[size], bypass_csp=True)
    page.goto("/admin/users")
    dormant = page.locator("#dormant")
    assert f"lihua-{size}" in dormant.inner_text()
    assert page.locator("#duties").is_visible()
    assert page.locator("#new-user select[name=department_id]").is_visible()
    assert fits_width(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"roles-users-{size}")

    # «全部停用»: asked once more, then done in one step.
    confirm = dormant.locator("details.a-confirm")
    confirm.locator("summary").click()
    assert violations(page, axe) == []
    save_screenshot(page, f"roles-dormant-confirm-{size}", full_page=False)
    confirm.locator("button[type=submit]").click()
    page.wait_for_url("**/admin/users#dormant")
    assert not is_active(live_app, f"lihua-{size}")
    assert not is_active(live_app, f"zhao-{size}")
    assert f"lihua-{size}" not in page.locator("#dormant").inner_text()


@pytest.mark.parametrize("size", VIEWPORTS)
def test_user_page_grants_a_role_and_names_the_button_with_a_space(
    live_app, new_page, axe, size
):
    with live_app.app_context():
        user = create_user(f"lihua{size}", PASSWORD, Role.AUTHOR, "李华")
        user_id = user.id
    page = new_page("admin", VIEWPORTS[size], bypass_csp=True)
    page.goto(f"/admin/users/{user_id}")
    # The account's name stands apart from the verb («停用 lihua»).
    deactivate = page.locator("section[aria-labelledby=access] button").inner_text()
    assert re.search(rf"\s{re.escape(f'lihua{size}')}$", deactivate), deactivate
    assert fits_width(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"roles-user-{size}")
    page.locator("#duties form:has(input[value=audit]) button").click()
    page.wait_for_url(f"**/admin/users/{user_id}#duties")
    with live_app.app_context():
        assert db.session.get(User, user_id).audit_admin
    assert violations(page, axe) == []


@pytest.mark.parametrize("size", VIEWPORTS)
def test_one_admin_menu_on_a_phone_and_tabs_on_a_desktop(new_page, axe, size):
    page = new_page("admin", VIEWPORTS[size], bypass_csp=True)
    page.goto("/admin/sections")
    folded = page.locator("details.a-tabs-menu")
    tabs = page.locator("nav.a-tabs")
    if size == "phone":
        assert folded.is_visible() and not tabs.is_visible()
        # The first screen: no admin page linked twice, and the heading shows.
        shown = visible_hrefs(page, "main a")
        admin_links = [h for h in shown if h.startswith("/admin/")]
        assert len(admin_links) == len(set(admin_links)), admin_links
        assert page.locator("h1").bounding_box()["y"] < 800
        save_screenshot(page, "roles-menu-phone", full_page=False)
        folded.locator("summary").click()
        links = visible_hrefs(page, "details.a-tabs-menu a")
        assert "/admin/users" in links and "/admin/audit" in links
        assert violations(page, axe) == []
        save_screenshot(page, "roles-menu-open-phone", full_page=False)
    else:
        assert tabs.is_visible() and not folded.is_visible()
        assert "/admin/words" in visible_hrefs(page, "nav.a-tabs a")
        assert violations(page, axe) == []
        save_screenshot(page, "roles-menu-desktop", full_page=False)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_audit_admin_lands_on_the_log_and_sees_only_its_pages(
    browser, live_server, axe, size
):
    context = browser.new_context(
        base_url=live_server, viewport=VIEWPORTS[size], bypass_csp=True
    )
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "shenji")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/audit")
    menu = "details.a-tabs-menu a" if size == "phone" else "nav.a-tabs a"
    if size == "phone":
        page.locator("details.a-tabs-menu summary").click()
    assert visible_hrefs(page, menu) == ["/admin/audit", "/admin/compliance"]
    assert page.goto("/admin/users").status == 403
    page.goto("/admin/audit")
    assert violations(page, axe) == []
    save_screenshot(page, f"roles-audit-{size}", full_page=False)
    context.close()


def test_the_footer_greets_staff_by_name(new_page):
    page = new_page("admin", VIEWPORTS["phone"])
    page.goto("/")
    footer = page.locator(".site-footer").inner_text()
    assert "Admin 老师" in footer and "教职工登录" not in footer
    page.locator(".site-footer a[href='/editor/']").click()
    page.wait_for_url("**/editor/")
