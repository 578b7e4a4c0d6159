"""Login and admin pages in real Chromium: they work and fit a phone and a desktop."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from models import Section, User, db, set_setting
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e

SIZES = {"phone": (375, 812), "desktop": (1280, 900)}


@pytest.fixture(scope="module", autouse=True)
def upgraded_admin(live_app):
    """The admin as an upgraded site has it: all three management roles in
    单人模式 (tests/e2e/test_admin_roles.py splits them)."""
    with live_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = True
        set_setting("single_admin", "1")
        db.session.commit()


@pytest.fixture
def sections(live_app):
    with live_app.app_context():
        existing = db.session.scalar(
            sa.select(Section.id).where(Section.slug == "e2e-news")
        )
        if existing:
            return existing
        news = Section(name="新闻中心", slug="e2e-news", position=0)
        teach = Section(name="教学科研", slug="e2e-teaching", position=1)
        db.session.add_all([news, teach])
        db.session.flush()
        db.session.add_all(
            [
                Section(name="校园新闻", slug="e2e-campus", parent_id=news.id),
                Section(name="通知公告", slug="e2e-notices", parent_id=news.id),
                Section(name="教研动态", slug="e2e-research", parent_id=teach.id),
            ]
        )
        db.session.commit()
        return news.id


def fits_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def shoot(page, name):
    save_screenshot(page, name)


@pytest.mark.parametrize("size", [*SIZES, "narrow"])
def test_login_page_fits_and_logs_in(page, size):
    width, height = SIZES.get(size, (320, 640))  # narrow: the smallest phones
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/login?next=/admin/users")
    assert fits_width(page)
    shoot(page, f"login-{size}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong password")
    page.click("main button[type=submit]")
    # The answer comes back to the same address, so wait for the message
    # itself rather than for a new URL.
    expect(page.locator(".a-error")).to_have_count(1)
    shoot(page, f"login-error-{size}")
    page.fill("input[name=password]", "correct horse 42")
    page.check("input[name=remember]")
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/users")


ADMIN_PAGES = [
    ("users", "/admin/users"),
    ("user", "/admin/users/1"),
    ("sections", "/admin/sections"),
    ("section", "/admin/sections/{news}"),
    ("settings", "/admin/settings"),
    ("backups", "/admin/backups"),
    ("audit", "/admin/audit"),
    ("words", "/admin/words"),
    ("security", "/admin/security"),
    ("password", "/account/password"),
]


@pytest.mark.parametrize("size", SIZES)
def test_admin_pages_fit_the_screen(page, login_page, sections, size):
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    login_page(page, "admin")
    too_wide = []
    for name, url in ADMIN_PAGES:
        response = page.goto(url.format(news=sections))
        assert response.status == 200, url
        if not fits_width(page):
            too_wide.append(url)
        shoot(page, f"admin-{name}-{size}")
    assert too_wide == []


def test_admin_creates_a_section_through_the_form(page, login_page, sections):
    login_page(page, "admin")
    page.goto("/admin/sections")
    page.fill("input[name=name]", "学生活动")
    page.fill("input[name=slug]", "e2e-Activities")
    page.select_option("select[name=parent_id]", label="新闻中心")
    page.click("#new-section button[type=submit]")
    expect(page.locator("code", has_text="/sections/e2e-activities")).to_have_count(1)
    channels = page.locator(".a-tree > li > .a-tree-row strong")
    before = channels.all_inner_texts().index("新闻中心")
    page.click(f"#section-{sections} button[value=down]")
    page.wait_for_url(f"**/admin/sections#section-{sections}")
    assert channels.all_inner_texts().index("新闻中心") == before + 1
