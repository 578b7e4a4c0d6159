"""The cover image on the editor page (its browser flow: tests/e2e)."""

import io

import pytest
from PIL import Image

from models import Article, Status, Upload, User, db
from tests.conftest import PASSWORD

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def upload_png(client):
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 102, 204)).save(data, "PNG")
    data.seek(0)
    response = client.post(
        "/editor/uploads/image",
        data={"file": (data, "封面.png")},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    return response.get_json()


def test_edit_page_of_a_post_with_a_cover_shows_the_cover(editor_client, make_article):
    cover = upload_png(editor_client)
    article_id = make_article(cover_id=cover["id"])
    response = editor_client.get(f"/editor/articles/{article_id}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<img src="{cover["url"]}"' in html
    assert 'id="cover-remove" hidden' not in html


def test_edit_page_without_a_cover_hides_the_remove_button(editor_client, make_article):
    response = editor_client.get(f"/editor/articles/{make_article()}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="cover-remove" hidden' in html
    preview = html.split('id="cover-preview"', 1)[1].split("</div>", 1)[0]
    assert "<img" not in preview


# --- Whose photos may be a cover ------------------------------------------------


def client_for(app, username):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def cover_of(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).cover_id


def draft_of(app, make_article, username):
    with app.app_context():
        uid = db.session.scalar(db.select(User.id).where(User.username == username))
    return make_article(status=Status.DRAFT, published_at=None, created_by_id=uid)


def save_with_cover(client, app, article_id, cover_id):
    with app.app_context():
        article = db.session.get(Article, article_id)
        data = {
            "title": article.title,
            "section_id": str(article.section_id),
            "author_name": "教务处",
            "body_html": "<p>正文</p>",
            "action": "save",
            "version": str(article.version),
            "cover_id": str(cover_id),
        }
    response = client.post(f"/editor/articles/{article_id}/edit", data=data)
    assert response.status_code == 302, response.text
    return cover_of(app, article_id)


def test_author_cannot_take_another_users_unattached_photo_as_cover(app, make_article):
    editors_photo = upload_png(client_for(app, "editor"))
    author = client_for(app, "author")
    article_id = draft_of(app, make_article, "author")
    assert save_with_cover(author, app, article_id, editors_photo["id"]) is None
    response = author.post(
        f"/editor/articles/{article_id}/autosave",
        json={"cover_id": editors_photo["id"], "version": 2},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert cover_of(app, article_id) is None
    html = author.get(f"/editor/articles/{article_id}/edit").text
    assert editors_photo["url"] not in html


def test_author_may_use_own_photo_and_the_posts_photos_as_cover(app, make_article):
    editors_photo = upload_png(client_for(app, "editor"))
    author = client_for(app, "author")
    article_id = draft_of(app, make_article, "author")
    own_photo = upload_png(author)
    assert save_with_cover(author, app, article_id, own_photo["id"]) == own_photo["id"]
    with app.app_context():
        db.session.get(Upload, editors_photo["id"]).article_id = article_id
        db.session.commit()
    chosen = save_with_cover(author, app, article_id, editors_photo["id"])
    assert chosen == editors_photo["id"]


def test_author_keeps_the_cover_an_editor_chose(app, make_article):
    editors_photo = upload_png(client_for(app, "editor"))
    article_id = draft_of(app, make_article, "author")
    with app.app_context():
        db.session.get(Article, article_id).cover_id = editors_photo["id"]
        db.session.commit()
    author = client_for(app, "author")
    chosen = save_with_cover(author, app, article_id, editors_photo["id"])
    assert chosen == editors_photo["id"]


def test_editor_may_use_any_photo_as_cover(app, make_article):
    authors_photo = upload_png(client_for(app, "author"))
    editor = client_for(app, "editor")
    article_id = draft_of(app, make_article, "editor")
    chosen = save_with_cover(editor, app, article_id, authors_photo["id"])
    assert chosen == authors_photo["id"]
