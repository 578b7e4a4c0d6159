"""After 发布 the teacher sees a confirmation with the live article's address."""

from datetime import timedelta

import pytest

from models import Article, db, set_setting, utcnow
from tests.conftest import PASSWORD

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def publish(client, section, **extra):
    data = {
        "title": "运动会通知",
        "section_id": str(section),
        "author_name": "体育组",
        "body_html": "<p>周五举行</p>",
        "action": "publish",
    }
    data.update(extra)
    return client.post("/editor/articles/new", data=data)


def test_publishing_shows_the_live_link(app, editor_client, section):
    response = publish(editor_client, section)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/published")
    page = editor_client.get(response.headers["Location"])
    assert page.status_code == 200
    with app.app_context():
        article_id = db.session.scalar(db.select(Article.id))
    live = f"http://localhost/articles/{article_id}"
    assert f'href="{live}"' in page.text
    assert "运动会通知" in page.text
    assert "已发布：读者现在可以看到这篇文章" in page.text
    # And the QR code of that address, for a teacher's phone.
    qr = f"/articles/{article_id}/qr.svg"
    assert f'src="{qr}"' in page.text
    assert editor_client.get(qr).mimetype == "image/svg+xml"
    # The link works for a reader.
    assert app.test_client().get(f"/articles/{article_id}").status_code == 200


def test_a_scheduled_post_goes_back_to_the_editor(editor_client, section):
    later = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = publish(editor_client, section, published_at=later)
    assert response.headers["Location"].endswith("/edit")


def test_saving_a_draft_stays_in_the_editor(editor_client, section):
    response = publish(editor_client, section, action="save")
    assert response.headers["Location"].endswith("/edit")


def test_an_author_who_may_publish_gets_the_confirmation(app, author_client, section):
    with app.app_context():
        set_setting("review_levels", "0")
        db.session.commit()
    response = publish(author_client, section)
    assert response.headers["Location"].endswith("/published")


def test_confirmation_of_a_draft_redirects_and_others_posts_are_refused(
    app, editor_client, section
):
    response = publish(editor_client, section, action="save")
    edit_url = response.headers["Location"]
    published_url = edit_url.removesuffix("/edit") + "/published"
    assert editor_client.get(published_url).headers["Location"].endswith("/edit")
    response = publish(editor_client, section)
    other = app.test_client()
    other.post("/login", data={"username": "author", "password": PASSWORD})
    assert other.get(response.headers["Location"]).status_code == 403
