"""The 等保 self-assessment (/admin/compliance) in real Chromium at 375 and
1280 px: every control listed, no sideways scroll, axe clean, both exports
download, and the print layout hides the navigation."""

import pytest
import sqlalchemy as sa

from models import User, db, set_setting
from tests.e2e import test_stats as stats_pages
from tests.e2e.shots import save_screenshot
from tests.e2e.test_first_run import fits_width, problems
from tests.test_selfcheck import CLAUSES

# The statistics tests' admin at 375 and 1280 px, and axe.
admin_page, axe = stats_pages.admin_page, stats_pages.axe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def single_admin(live_app):
    """The admin holds all three management roles in 单人模式, as on an
    upgraded site."""
    with live_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = True
        set_setting("single_admin", "1")
        db.session.commit()


@pytest.mark.parametrize("admin_page", stats_pages.SIZES, indirect=True)
def test_the_self_assessment_reads_well_and_exports(single_admin, admin_page, axe):
    page, size = admin_page
    page.goto("/admin/compliance")
    rows = page.locator(".s-table tbody tr")
    assert rows.count() == len(CLAUSES)
    assert [c.strip() for c in page.locator(".s-clause").all_inner_texts()] == list(
        CLAUSES
    )
    counts = page.locator(".s-number").all_inner_texts()
    assert sum(int(n) for n in counts) == len(CLAUSES)
    # 单人模式 on the seeded site: a deviation, with its reason.
    deviation = page.locator("#c-7-1-4-2d")
    assert deviation.locator(".s-state.s-deviation").count() == 1
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"selfcheck-{size}")

    for link, suffix in (
        (".s-exports a >> nth=0", ".docx"),
        (".s-exports a >> nth=1", ".xlsx"),
    ):
        with page.expect_download() as download:
            page.click(link)
        assert download.value.suggested_filename.endswith(suffix)
        assert download.value.suggested_filename.startswith("dengbao-selfcheck-")

    page.emulate_media(media="print")
    assert page.locator(".workspace-nav").is_hidden()
    assert page.locator(".s-exports").is_hidden()
    assert page.locator(".s-table").is_visible()
    save_screenshot(page, f"selfcheck-print-{size}")


@pytest.mark.parametrize("admin_page", stats_pages.SIZES, indirect=True)
def test_the_plain_http_warning_reads_well(single_admin, admin_page, axe, monkeypatch):
    # The live server is on 127.0.0.1, where the warning stays quiet: here
    # the browser counts as another machine on the school's network.
    from core import security

    monkeypatch.setattr(security, "is_loopback", lambda address: False)
    page, size = admin_page
    page.goto("/editor/")
    warning = page.locator(".http-warning")
    assert "未加密" in warning.inner_text() or "unencrypted" in warning.inner_text()
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"http-warning-{size}", full_page=False)
    warning.locator("a").click()
    page.wait_for_url("**/admin/compliance#c-7-1-4-1c")
    assert page.locator("#c-7-1-4-1c .s-state").inner_text() != ""
