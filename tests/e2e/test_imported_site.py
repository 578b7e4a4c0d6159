"""An old WordPress address, opened in Chromium, lands on the imported post."""

import pytest

from tests.e2e.shots import save_screenshot
from tests.import_data import PERMALINK, wp_uploads, write_wxr

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def imported(live_app, tmp_path_factory):
    folder = tmp_path_factory.mktemp("wordpress")
    export = write_wxr(folder / "export.xml")
    result = live_app.test_cli_runner().invoke(
        args=["import-wordpress", str(export), "--uploads", str(wp_uploads(folder))]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("old", ["/?p=11", PERMALINK, "/index.php?p=11"])
def test_an_old_link_opens_the_imported_post_with_its_photo(
    page, live_server, imported, old
):
    page.set_viewport_size({"width": 375, "height": 800})
    response = page.goto(live_server + old)
    assert response.ok
    assert "/articles/" in page.url
    assert page.locator("h1").inner_text() == "开学典礼隆重举行"
    photo = page.locator("article img[alt=典礼现场], .article-body img[alt=典礼现场]")
    photo.first.scroll_into_view_if_needed()
    # Loaded for real: the browser decoded the re-encoded photo.
    assert photo.first.evaluate("img => img.complete && img.naturalWidth") == 800
    save_screenshot(page, "imported-article-375")
    page.set_viewport_size({"width": 1280, "height": 900})
    save_screenshot(page, "imported-article-1280")
