"""A new school's first steps in real Chromium: the setup page, clearing the demo."""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from models import Article, User, db, get_settings, set_setting
from operations import demo, demo_content
from tests.e2e.conftest import PASSWORD
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import WCAG_AA

pytestmark = pytest.mark.e2e

SIZES = {"375": (375, 800), "1280": (1280, 900)}
OWN_PASSWORD = "our own school 2026"
SECURITY_PASSWORD = "Secure sp1rit"
AUDIT_PASSWORD = "Audit the l0g"


@pytest.fixture(scope="module")
def axe():
    return Axe()


def problems(page, axe) -> list[str]:
    results = axe.run(page, options=WCAG_AA)
    return [
        f"{v['id']}: {v['help']} — {v['nodes'][0]['target'][0]}"
        for v in results.response["violations"]
    ]


def fits_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


@pytest.fixture
def new_site(live_app):
    """The demo school, and the admin as init-db leaves it (a setup that
    renamed it, or made the other two administrators, is undone)."""
    with live_app.app_context():
        demo.load_demo()
        admin = db.session.scalar(
            sa.select(User).where(User.role == "admin").order_by(User.id)
        )
        admin.username = "admin"
        admin.needs_setup = True
        admin.security_admin = admin.audit_admin = True
        admin.set_password(PASSWORD)
        db.session.execute(
            sa.delete(User).where(User.username.in_(["anquan", "shenji"]))
        )
        for key, value in {**demo_content.SETTINGS, "psb_number": ""}.items():
            set_setting(key, value)
        set_setting("single_admin", "0")
        db.session.commit()


@pytest.fixture
def sized_page(browser, live_server, request):
    width, height = SIZES[request.param]
    # bypass_csp lets the test inject axe; the site itself never needs it.
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        viewport={"width": width, "height": height},
        bypass_csp=True,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page, request.param
    context.close()


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_first_login_goes_through_setup(live_app, new_site, sized_page, axe):
    page, size = sized_page
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/setup")
    assert page.locator("h1").inner_text() == "欢迎！请完成网站设置"
    # Prefilled from the settings the demo wrote; the user name is not.
    assert page.input_value("#school_name") == demo_content.SETTINGS["school_name"]
    assert page.input_value("#username") == ""
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"setup-{size}", full_page=False)
    save_screenshot(page, f"setup-full-{size}")

    # Nothing else opens before the setup is done.
    page.goto("/admin/users")
    page.wait_for_url("**/admin/setup")

    page.fill("#username", "admin")  # the default name is refused
    page.fill("#new_password", OWN_PASSWORD)
    page.fill("#confirm", "a different one")
    page.check("#mode-1")  # three administrators
    page.fill("#security_username", "anquan")
    page.fill("#security_display_name", "李安全")
    page.fill("#security_password", "weak")
    page.fill("#audit_username", "shenji")
    page.fill("#audit_password", AUDIT_PASSWORD)
    page.fill("#school_name", "红星小学")
    page.fill("#psb_number", "浙公网安备33010602000001号")
    page.click("button:has-text('保存并开始使用')")
    assert page.locator("#confirm-error").inner_text() == "两次输入的密码不一致。"
    for field in ("#username-error", "#security_password-error"):
        assert page.locator(field).is_visible()
    # Nothing typed is lost.
    assert page.input_value("#school_name") == "红星小学"
    assert page.input_value("#security_display_name") == "李安全"
    assert page.input_value("#audit_password") == AUDIT_PASSWORD
    assert page.is_checked("#mode-1")
    assert problems(page, axe) == []
    save_screenshot(page, f"setup-error-{size}")

    page.fill("#username", "wangjun")
    page.fill("#confirm", OWN_PASSWORD)
    if size == "375":
        # 单人模式 hides the other two administrators' fields.
        page.check("#mode-0")
        assert not page.locator("#security_username").is_visible()
    else:
        page.fill("#security_password", SECURITY_PASSWORD)
    page.click("button:has-text('保存并开始使用')")
    page.wait_for_url("**/editor/")
    assert "设置完成" in page.locator("body").inner_text()
    page.goto("/admin/users")
    assert page.url.endswith("/admin/users")
    page.goto("/")
    footer = page.locator(".site-footer")
    assert "红星小学" in footer.inner_text()
    assert footer.locator("a.psb").get_attribute("href").endswith("code=33010602000001")
    with live_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "wangjun"))
        assert not admin.needs_setup and admin.check_password(OWN_PASSWORD)
        others = db.session.scalars(
            sa.select(User.username).where(User.username.in_(["anquan", "shenji"]))
        ).all()
        if size == "375":
            assert admin.duties == ("system", "security", "audit") and not others
        else:
            assert admin.duties == ("system",) and sorted(others) == [
                "anquan",
                "shenji",
            ]


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_admin_clears_the_demo(
    live_app, live_server, new_site, sized_page, login_state, axe
):
    with live_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.needs_setup = False
        db.session.commit()
    page, size = sized_page
    page.context.add_cookies(login_state("admin")["cookies"])
    page.goto("/")
    assert "我校高考成绩再创佳绩" in page.locator("main").inner_text()

    page.goto("/admin/settings")
    page.click("text=清除演示内容…")
    page.wait_for_url("**/admin/demo")
    text = page.locator("main").inner_text()
    assert "将要删除的内容" in text and "保留的内容" in text
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"clear-demo-{size}", full_page=False)
    save_screenshot(page, f"clear-demo-full-{size}")

    page.click("button:has-text('清除演示内容')")
    page.wait_for_url("**/admin/demo")
    assert "演示内容已清除" in page.locator("body").inner_text()
    assert "本站没有演示内容" in page.locator("main").inner_text()
    assert problems(page, axe) == []

    page.goto("/")
    home = page.locator("body").inner_text()
    assert "我校高考成绩再创佳绩" not in home and "阳光实验中学" not in home
    assert "学校要闻" in home or "新闻中心" in home  # the default tree stays
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 0
        assert get_settings()["demo_state"] == "cleared"
