"""Editing a published post in real Chromium: the unsaved text is kept on the
server (not only in one browser) and readers never see it half-done."""

from datetime import timedelta

import pytest

from models import Article, ArticleDraft, Section, Status, User, db, utcnow
from tests.e2e.shots import save_screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def section_id(live_app):
    with live_app.app_context():
        section = Section(name="校园新闻", slug="working-copy")
        db.session.add(section)
        db.session.commit()
        return section.id


@pytest.fixture
def published(live_app, section_id):
    return make_published(live_app, section_id, "<p>读者看到的正文。</p>")


def make_published(live_app, section_id, body_html):
    with live_app.app_context():
        editor = db.session.scalar(db.select(User).where(User.username == "editor"))
        article = Article(
            title="运动会通知",
            body_html=body_html,
            author_name="教务处",
            section_id=section_id,
            status=Status.PUBLISHED,
            published_at=utcnow() - timedelta(hours=1),
            created_by_id=editor.id,
        )
        db.session.add(article)
        db.session.commit()
        return article.id


def new_computer(new_page, width=1280, height=900):
    """A browser context with nothing in localStorage, logged in as the editor."""
    return new_page("editor", {"width": width, "height": height})


def shot(page, name):
    save_screenshot(page, name)


def test_unsaved_edit_of_published_post_can_be_restored_on_another_computer(
    new_page, live_app, published
):
    school_pc = new_computer(new_page)
    school_pc.goto(f"/editor/articles/{published}/edit")
    body = school_pc.locator(".jodit-wysiwyg")
    body.wait_for()
    body.click()
    school_pc.keyboard.press("End")
    school_pc.keyboard.type("补充：下午三点开始。")
    school_pc.wait_for_selector("#autosave-status.is-ok", timeout=15_000)
    school_pc.context.close()  # the PC crashes; its localStorage is gone too

    reader = new_page()
    reader.goto(f"/articles/{published}")
    assert "读者看到的正文。" in reader.inner_text(".article-body")
    assert "下午三点" not in reader.content()
    reader.context.close()

    for width, height in ((375, 812), (1280, 900)):
        home_pc = new_computer(new_page, width, height)
        home_pc.goto(f"/editor/articles/{published}/edit")
        banner = home_pc.locator("#working-copy-banner")
        banner.wait_for()
        assert "下午三点" not in home_pc.locator(".jodit-wysiwyg").inner_text()
        shot(home_pc, f"working-copy-banner-{width}")
        home_pc.click("#working-copy-restore")
        home_pc.locator("#working-copy-restored").wait_for()
        restored = home_pc.locator(".jodit-wysiwyg")
        restored.wait_for()
        assert "补充：下午三点开始。" in restored.inner_text()
        shot(home_pc, f"working-copy-restored-{width}")
        if width == 375:
            home_pc.context.close()

    home_pc.click("button[name=action][value=save]")
    home_pc.wait_for_url(f"**/editor/articles/{published}/edit")
    assert home_pc.locator("#working-copy-banner").count() == 0
    home_pc.context.close()
    with live_app.app_context():
        article = db.session.get(Article, published)
        assert "下午三点开始" in article.body_html
        assert db.session.scalar(db.select(db.func.count(ArticleDraft.id))) == 0


def test_discarding_unsaved_changes_keeps_the_published_text(
    new_page, live_app, published
):
    page = new_computer(new_page)
    page.goto(f"/editor/articles/{published}/edit")
    page.locator(".jodit-wysiwyg").click()
    page.keyboard.type("不要了")
    page.wait_for_selector("#autosave-status.is-ok", timeout=15_000)
    page.goto(f"/editor/articles/{published}/edit")
    page.locator("#working-copy-banner button[type=submit]").click()
    page.locator(".flash, .notice").first.wait_for()
    assert page.locator("#working-copy-banner").count() == 0
    assert page.locator("#restore-banner").is_hidden()  # local copy dropped too
    assert "不要了" not in page.locator(".jodit-wysiwyg").inner_text()
    page.context.close()
    with live_app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(ArticleDraft.id)).where(
                    ArticleDraft.article_id == published
                )
            )
            == 0
        )


def test_editor_messages_stay_above_the_action_bar_on_a_phone(
    new_page, live_app, section_id
):
    # A long post, edited near its top: the bottom of the editor box, where
    # Jodit puts its messages, is far below the screen.
    long_post = make_published(
        live_app,
        section_id,
        "".join(f"<p>第{n}段：本学期的教学安排如下。</p>" for n in range(40)),
    )
    page = new_computer(new_page, 375, 812)
    page.goto(f"/editor/articles/{long_post}/edit")
    page.locator(".jodit-wysiwyg p").first.click()
    # A Word picture cannot be copied: Jodit shows a message about it.
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.setData('text/html',
            '<p>图</p><p><img src="file:///C:/Temp/clip_image002.png"></p>');
          data.setData('text/plain', '图');
          document.querySelector('.jodit-wysiwyg').dispatchEvent(
            new ClipboardEvent('paste',
              {clipboardData: data, bubbles: true, cancelable: true}));
        }"""
    )
    message = page.locator(".jodit-ui-message").first
    message.wait_for()
    page.wait_for_timeout(400)  # Jodit fades and slides it in
    box = message.bounding_box()
    bar = page.locator("#ed-actions").bounding_box()
    assert box["y"] + box["height"] <= bar["y"]
    assert box["y"] >= 0 and box["x"] >= 0 and box["x"] + box["width"] <= 375
    # Nothing covers the message where it is shown.
    centre = page.evaluate(
        """([x, y]) => document.elementFromPoint(x, y)
              .closest('.jodit-ui-message') !== null""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert centre
    save_screenshot(page, "jodit-message-375", full_page=False)
    page.context.close()
