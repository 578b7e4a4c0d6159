"""The audit administrator's page in real Chromium, on a phone and a desktop:
filters, the export, the tamper check and its red warning, axe clean."""

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe

from core import audit
from models import AuditEvent, User, db
from operations.commands import create_user
from tests.conftest import drop_audit_triggers
from tests.e2e.conftest import VIEWPORTS
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e

VERIFY = "form[action$='/admin/audit/verify'] button"


@pytest.fixture(scope="module")
def auditor(live_app):
    """An audit administrator (审计管理员) holding nothing else, and a log."""
    with live_app.app_context():
        user = create_user("shenji", "correct horse 42", "author", "审计员")
        user.audit_admin = True
        editor = db.session.scalar(sa.select(User).where(User.username == "editor"))
        for n in range(60):
            event = audit.record("login", "editor", editor, detail="")
            event.ip = f"192.0.2.{n % 7}"
        failed = audit.record(
            "login_failed",
            "editor",
            editor,
            outcome=audit.FAILURE,
            detail="wrong_password",
        )
        failed.ip = "198.51.100.9"
        audit.record("backup_created", "schoolnews-20260901-023000.tar.gz")
        db.session.commit()
    return "shenji"


@pytest.fixture(scope="module")
def axe():
    return Axe()


def verifications(live_app) -> int:
    with live_app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "audit_verified")
        )


def fits_width(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_audit_page_filters_exports_and_verifies(
    new_page, live_app, auditor, axe, size
):
    page = new_page(auditor, VIEWPORTS[size], bypass_csp=True)
    page.goto("/admin/audit")
    assert page.locator("#audit-events tbody tr").count() == 50
    assert fits_width(page)
    assert violations(page, axe) == []
    save_screenshot(page, f"audit-{size}")

    page.select_option("#outcome", "failure")
    page.click("form.a-audit-filters button[type=submit]")
    page.wait_for_url("**outcome=failure**")
    rows = page.locator("#audit-events tbody tr")
    assert rows.count() == 1
    assert "198.51.100.9" in rows.first.inner_text()
    assert violations(page, axe) == []
    save_screenshot(page, f"audit-filtered-{size}")

    with page.expect_download() as download:
        page.click("a[href*='/admin/audit.csv']")
    assert download.value.suggested_filename.endswith(".csv")

    before = verifications(live_app)
    page.click(VERIFY)
    page.wait_for_url("**/admin/audit")
    assert verifications(live_app) == before + 1
    assert page.locator("#chain-verified").inner_text() != "Never"
    assert page.locator("#chain-broken").count() == 0
    assert fits_width(page)


def test_an_altered_log_shows_a_red_warning(new_page, live_app, auditor, axe):
    with live_app.app_context(), db.engine.begin() as connection:
        event_id = connection.execute(
            sa.select(sa.func.min(AuditEvent.id)).where(AuditEvent.action == "login")
        ).scalar()
        drop_audit_triggers(connection)
        connection.execute(
            sa.text("UPDATE audit_event SET ip = '10.0.0.1' WHERE id = :id"),
            {"id": event_id},
        )
    for size in VIEWPORTS:
        page = new_page(auditor, VIEWPORTS[size], bypass_csp=True)
        page.goto("/admin/audit")
        page.click(VERIFY)
        warning = page.locator("#chain-broken")
        warning.wait_for()
        assert str(event_id) in warning.inner_text()
        color = warning.evaluate("e => getComputedStyle(e).borderLeftColor")
        assert color != "rgba(0, 0, 0, 0)"
        assert fits_width(page)
        assert violations(page, axe) == []
        save_screenshot(page, f"audit-broken-{size}")
