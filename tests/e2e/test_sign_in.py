"""Sign-in pages in real Chromium at phone and desktop widths, axe clean:
the second factor's enrolment, recovery codes and login step, the sessions
on the account page, the forced password change and the security page."""

import time

import pyotp
import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from models import LoginAttempt, User, db, utcnow
from operations.commands import create_user
from tests.e2e.conftest import PASSWORD, VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def axe():
    return Axe()


def add_user(live_app, username, role="author", **flags):
    with live_app.app_context():
        if db.session.scalar(sa.select(User).where(User.username == username)):
            return
        user = create_user(username, PASSWORD, role, f"{username} 老师")
        for key, value in flags.items():
            setattr(user, key, value)
        db.session.commit()


def fits_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def check_page(page, axe, name):
    save_screenshot(page, name)
    assert fits_width(page), name
    assert violations(page, axe) == [], name


def submit_login(page, username):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_second_factor_enrolment_codes_and_login(new_page, live_app, axe, viewport):
    username = f"totp_{viewport}"
    add_user(live_app, username)
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    submit_login(page, username)
    page.wait_for_url("**/editor/")
    page.goto("/account/password")
    check_page(page, axe, f"account-{viewport}")
    page.click("a[href='/account/password/second-factor']")
    page.click("form[action$='/second-factor/start'] button")
    assert page.locator(".a-qr svg").is_visible()
    check_page(page, axe, f"totp-enrol-{viewport}")
    secret = page.inner_text("code.a-secret").strip()
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("form[action$='/second-factor/confirm'] button")
    page.wait_for_url("**/second-factor/codes")
    assert page.locator(".a-codes li").count() == 10
    check_page(page, axe, f"totp-codes-{viewport}")
    page.click("main a.a-primary")
    page.wait_for_url("**/second-factor")
    check_page(page, axe, f"totp-on-{viewport}")
    # Log out, then in again: the password, then the code.
    page.click("nav.workspace-nav form button")
    submit_login(page, username)
    page.wait_for_url("**/login/code")
    check_page(page, axe, f"login-code-{viewport}")
    page.fill("input[name=code]", "000000")
    page.click("main button[type=submit]")
    expect(page.locator(".a-error")).to_have_count(1)
    check_page(page, axe, f"login-code-error-{viewport}")
    # The next step's code: this step's was used to turn it on.
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("main button[type=submit]")
    page.wait_for_url("**/editor/")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_account_page_ends_another_device(new_page, live_app, axe, viewport):
    username = f"devices_{viewport}"
    add_user(live_app, username)
    phone = new_page(viewport=VIEWPORTS["phone"])
    submit_login(phone, username)
    phone.wait_for_url("**/editor/")
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    submit_login(page, username)
    page.wait_for_url("**/editor/")
    page.goto("/account/password#sessions")
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == 2
    check_page(page, axe, f"sessions-{viewport}")
    page.click("#sessions tbody form button")
    # The click posts a form and loads the page again: wait for that page.
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    phone.goto("/editor/")
    assert "/login" in phone.url
    page.goto("/editor/")
    assert "/login" not in page.url


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_password_set_by_an_admin_is_changed_first(new_page, live_app, axe, viewport):
    username = f"newteacher_{viewport}"
    add_user(live_app, username, must_change_password=True)
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    submit_login(page, username)
    page.wait_for_url("**/account/password/new")
    check_page(page, axe, f"forced-password-{viewport}")
    page.fill("input[name=new_password]", "short")
    page.fill("input[name=confirm]", "short")
    page.click("section.a-card button[type=submit]")
    expect(page.locator(".a-error").first).to_be_visible()
    check_page(page, axe, f"forced-password-error-{viewport}")
    page.fill("input[name=new_password]", "My own secret 7")
    page.fill("input[name=confirm]", "My own secret 7")
    page.click("section.a-card button[type=submit]")
    page.wait_for_url("**/editor/")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_security_page_unlocks_an_account(new_page, live_app, axe, viewport):
    add_user(live_app, "anquan", "author", security_admin=True)
    with live_app.app_context():
        for n in range(12):
            db.session.add(
                LoginAttempt(
                    username=f"locked_{viewport}",
                    ip=f"127.0.0.{n + 2}",
                    created_at=utcnow(),
                )
            )
        db.session.commit()
    page = new_page(viewport=VIEWPORTS[viewport], bypass_csp=True)
    submit_login(page, "anquan")
    page.wait_for_url("**/editor/")
    page.goto("/admin/security")
    row = page.locator("#failures tbody tr", has_text=f"locked_{viewport}")
    assert row.count() == 1
    check_page(page, axe, f"security-{viewport}")
    row.locator("button").click()
    page.wait_for_url("**/admin/security#failures")
    assert (
        page.locator("#failures tbody tr", has_text=f"locked_{viewport}").count() == 0
    )
    page.fill("input[name=audit_retention_days]", "90")
    page.click("form[action='/admin/security'] button[type=submit]")
    assert page.locator("#audit_retention_days-error").is_visible()
    check_page(page, axe, f"security-error-{viewport}")
