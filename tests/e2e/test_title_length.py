"""The title's character count in real Chromium, phone and desktop: live as
the teacher types, marked past the limit, and a long title refused by the
server with the typed text kept."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from forms import ArticleForm
from tests.e2e.conftest import VIEWPORTS, add_section
from tests.e2e.shots import save_screenshot
from tests.e2e.test_accessibility import violations

pytestmark = pytest.mark.e2e

MAX = 200  # forms.ArticleForm.title's Length(max=...)


@pytest.fixture(scope="module")
def section_id(live_app):
    return add_section(live_app, "校园新闻", "title-news", without_review=True)


def test_the_limit_is_the_forms():
    lengths = [
        v.max for v in ArticleForm.title.kwargs["validators"] if hasattr(v, "max")
    ]
    assert lengths == [MAX]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_title_counter_counts_live_and_marks_a_title_too_long(
    new_page, section_id, viewport
):
    page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)
    page.goto("/editor/articles/new")
    title, counter = page.locator("#title"), page.locator("#title-count")
    assert title.get_attribute("maxlength") is None  # nothing is cut silently
    assert "0/200" in counter.inner_text()
    assert "title-count" in title.get_attribute("aria-describedby")

    title.fill("秋季运动会 🏃")  # a character outside the BMP counts once
    assert "7/200" in counter.inner_text()
    assert title.get_attribute("aria-invalid") is None

    # Pasting a long title keeps all of it; the count says how many too many.
    title.fill("运" * (MAX + 3))
    assert "203/200" in counter.inner_text()
    over_text = counter.inner_text()
    assert "3" in over_text.replace("203/200", "")
    assert title.input_value() == "运" * (MAX + 3)
    assert title.get_attribute("aria-invalid") == "true"
    assert "is-over" in counter.get_attribute("class")
    assert page.locator(".field.has-error #title").count() == 1
    save_screenshot(page, f"title-counter-over-{viewport}", full_page=False)
    assert violations(page, Axe()) == []

    # Back at the limit: fine again.
    title.press("End")
    for _ in range(3):
        title.press("Backspace")
    assert "200/200" in counter.inner_text()
    assert title.get_attribute("aria-invalid") is None
    assert "is-over" not in counter.get_attribute("class")
    assert page.locator(".field.has-error #title").count() == 0


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_title_past_the_limit_is_refused_and_kept(new_page, section_id, viewport):
    page = new_page("editor", VIEWPORTS[viewport], bypass_csp=True)
    page.goto("/editor/articles/new")
    long_title = "期" * (MAX + 1)
    page.fill("#title", long_title)
    page.select_option("#section_id", str(section_id))
    page.click("#article-form button[name=action][value=save]")
    page.wait_for_load_state()
    error = page.locator("#title-error")
    assert "200" in error.inner_text()
    # The typed text is kept, counted and marked.
    assert page.input_value("#title") == long_title
    assert "201/200" in page.locator("#title-count").inner_text()
    assert page.get_attribute("#title", "aria-invalid") == "true"
    save_screenshot(page, f"title-refused-{viewport}", full_page=False)
    assert violations(page, Axe()) == []

    # Shortened, the server's message goes and the post saves.
    page.press("#title", "End")
    page.press("#title", "Backspace")
    assert page.locator("#title-error").count() == 0
    assert page.get_attribute("#title", "aria-invalid") is None
    page.click("#article-form button[name=action][value=save]")
    page.wait_for_url("**/edit")
    assert page.input_value("#title") == "期" * MAX
