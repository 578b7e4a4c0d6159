"""Revisions of published posts, and the trash."""

import re
from pathlib import Path

import pytest

from models import AuditEvent, Revision, Status, Upload, User, db, utcnow
from tests.conftest import form_data, get_article

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def revisions_of(app, article_id):
    with app.app_context():
        return db.session.scalars(
            db.select(Revision)
            .where(Revision.article_id == article_id)
            .order_by(Revision.id)
        ).all()


def post_forms(html: str) -> dict[str, str]:
    """Each POST form of a page: its action -> its markup."""
    forms = re.findall(
        r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S
    )
    return dict(forms)


def needs_ticking(form: str) -> bool:
    return bool(
        re.search(r'<input type="checkbox" name="confirm" value="yes" required>', form)
    )


def audit_actions(app):
    with app.app_context():
        return db.session.scalars(db.select(AuditEvent.action)).all()


def save(client, article_id, section_id, version, **fields):
    # The title of the posts make_article creates: only the body changes.
    fields = {"title": "测试文章", "version": str(version), **fields}
    data = form_data(section_id, **fields)
    return client.post(f"/editor/articles/{article_id}/edit", data=data)


@pytest.fixture
def published(app, make_article):
    article_id = make_article(body_html="<p>第一版</p>")
    return article_id, get_article(app, article_id).section_id


# --- Revisions ----------------------------------------------------------------------


def test_saving_published_post_keeps_previous_version(app, editor_client, published):
    article_id, section_id = published
    response = save(editor_client, article_id, section_id, 1, body_html="<p>第二版</p>")
    assert response.status_code == 302
    revisions = revisions_of(app, article_id)
    assert [r.body_html for r in revisions] == ["<p>第一版</p>"]
    assert revisions[0].created_by_id is not None
    assert get_article(app, article_id).body_html == "<p>第二版</p>"


def test_saving_a_draft_keeps_no_revision(app, editor_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    section_id = get_article(app, article_id).section_id
    save(editor_client, article_id, section_id, 1, body_html="<p>改</p>")
    assert revisions_of(app, article_id) == []


def test_unchanged_save_keeps_no_revision(app, editor_client, published):
    article_id, section_id = published
    save(editor_client, article_id, section_id, 1, body_html="<p>第一版</p>")
    assert revisions_of(app, article_id) == []


def test_editor_lists_views_and_restores_a_revision(app, editor_client, published):
    article_id, section_id = published
    save(editor_client, article_id, section_id, 1, body_html="<p>第二版</p>")
    revision = revisions_of(app, article_id)[0]
    listing = editor_client.get(f"/editor/articles/{article_id}/revisions")
    assert listing.status_code == 200
    assert f"/revisions/{revision.id}" in listing.get_data(as_text=True)
    shown = editor_client.get(f"/editor/articles/{article_id}/revisions/{revision.id}")
    assert "第一版" in shown.get_data(as_text=True)

    response = editor_client.post(
        f"/editor/articles/{article_id}/revisions/{revision.id}/restore"
    )
    assert response.status_code == 302
    article = get_article(app, article_id)
    assert article.body_html == "<p>第一版</p>"
    assert article.version == 3
    # The text that was replaced is itself kept.
    bodies = [r.body_html for r in revisions_of(app, article_id)]
    assert bodies == ["<p>第一版</p>", "<p>第二版</p>"]
    assert "article.restore_revision" in audit_actions(app)


def test_author_cannot_see_or_restore_revisions(app, client, login, make_article):
    with app.app_context():
        author_id = db.session.scalar(
            db.select(User.id).where(User.username == "author")
        )
    article_id = make_article(created_by_id=author_id)
    with app.app_context():
        db.session.add(Revision(article_id=article_id, title="旧", body_html="旧"))
        db.session.commit()
    login("author")
    assert client.get(f"/editor/articles/{article_id}/revisions").status_code == 403
    response = client.post(f"/editor/articles/{article_id}/revisions/1/restore")
    assert response.status_code == 403
    assert get_article(app, article_id).title == "测试文章"


def test_revision_of_another_post_is_404(app, editor_client, make_article):
    first = make_article()
    second = make_article()
    with app.app_context():
        db.session.add(Revision(article_id=first, title="旧", body_html="旧"))
        db.session.commit()
    assert (
        editor_client.get(f"/editor/articles/{second}/revisions/1").status_code == 404
    )


# --- Trash ------------------------------------------------------------------------


def test_deleted_post_is_hidden_from_readers_and_restorable(
    app, editor_client, client, published
):
    article_id, _section = published
    response = editor_client.post(f"/editor/articles/{article_id}/delete")
    assert response.status_code == 302
    assert get_article(app, article_id).deleted_at is not None
    assert client.get(f"/articles/{article_id}").status_code == 404
    assert editor_client.get(f"/editor/articles/{article_id}/edit").status_code == 404
    trash = editor_client.get("/editor/trash").get_data(as_text=True)
    assert "测试文章" in trash

    response = editor_client.post(f"/editor/articles/{article_id}/restore")
    assert response.status_code == 302
    assert get_article(app, article_id).deleted_at is None
    assert client.get(f"/articles/{article_id}").status_code == 200
    assert {"article.delete", "article.restore"} <= set(audit_actions(app))


def test_author_deletes_own_draft_but_not_published_or_others(
    app, author_client, make_article
):
    with app.app_context():
        author_id = db.session.scalar(
            db.select(User.id).where(User.username == "author")
        )
    own_draft = make_article(
        status=Status.DRAFT, published_at=None, created_by_id=author_id
    )
    own_published = make_article(created_by_id=author_id)
    other = make_article(status=Status.DRAFT, published_at=None)
    assert author_client.post(f"/editor/articles/{own_draft}/delete").status_code == 302
    assert get_article(app, own_draft).deleted_at is not None
    for article_id in (own_published, other):
        response = author_client.post(f"/editor/articles/{article_id}/delete")
        assert response.status_code == 403
        assert get_article(app, article_id).deleted_at is None


def test_author_cannot_restore_or_purge(app, author_client, make_article):
    article_id = make_article(deleted_at=utcnow())
    assert author_client.get("/editor/trash").status_code == 403
    assert (
        author_client.post(f"/editor/articles/{article_id}/restore").status_code == 403
    )
    response = author_client.post(
        f"/editor/articles/{article_id}/purge", data={"confirm": "yes"}
    )
    assert response.status_code == 403
    assert get_article(app, article_id) is not None


def test_purge_needs_confirmation(app, editor_client, published):
    article_id, _section = published
    editor_client.post(f"/editor/articles/{article_id}/delete")
    editor_client.post(f"/editor/articles/{article_id}/purge")
    assert get_article(app, article_id) is not None
    editor_client.post(f"/editor/articles/{article_id}/purge", data={"confirm": "yes"})
    assert get_article(app, article_id) is None
    assert "article.purge" in audit_actions(app)


def test_purge_of_post_not_in_trash_is_404(app, editor_client, published):
    article_id, _section = published
    response = editor_client.post(
        f"/editor/articles/{article_id}/purge", data={"confirm": "yes"}
    )
    assert response.status_code == 404
    assert get_article(app, article_id) is not None


def add_photo(app, stored_name, article_id):
    """An image row for a file already written to the upload folder."""
    with app.app_context():
        db.session.add(
            Upload(
                kind="image",
                stored_name=stored_name,
                original_name="照片.jpg",
                content_type="image/jpeg",
                size=5,
                article_id=article_id,
            )
        )
        db.session.commit()


def test_empty_trash_deletes_posts_revisions_and_files(
    app, editor_client, make_article, published
):
    article_id, section_id = published
    keep_id = make_article(title="留着的")
    save(editor_client, article_id, section_id, 1, body_html="<p>第二版</p>")
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    stored = "0123456789abcdef0123456789abcdef.jpg"
    (folder / stored).write_bytes(b"photo")
    add_photo(app, stored, article_id)
    editor_client.post(f"/editor/articles/{article_id}/delete")
    editor_client.post("/editor/trash/empty")  # not confirmed: nothing happens
    assert get_article(app, article_id) is not None

    response = editor_client.post("/editor/trash/empty", data={"confirm": "yes"})
    assert response.status_code == 302
    assert get_article(app, article_id) is None
    assert get_article(app, keep_id) is not None
    assert revisions_of(app, article_id) == []
    assert not (folder / stored).exists()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 0


def test_empty_trash_keeps_an_image_another_post_still_shows(
    app, editor_client, make_article, published
):
    article_id, _section_id = published
    folder = Path(app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    shared, own = "a" * 32 + ".jpg", "b" * 32 + ".jpg"
    for name in (shared, own):
        (folder / name).write_bytes(b"photo")
    # The teacher copied the first photo into another post.
    other_id = make_article(
        title="转载", body_html=f'<p><img src="/uploads/{shared}" alt=""></p>'
    )
    for name in (shared, own):
        add_photo(app, name, article_id)
    editor_client.post(f"/editor/articles/{article_id}/delete")
    editor_client.post("/editor/trash/empty", data={"confirm": "yes"})

    assert get_article(app, article_id) is None
    assert (folder / shared).exists() and not (folder / own).exists()
    response = editor_client.get(f"/uploads/{shared}")
    response.close()
    assert response.status_code == 200
    assert get_article(app, other_id) is not None


def test_trash_and_revisions_offer_each_action_as_a_protected_form(
    app, editor_client, published
):
    article_id, section_id = published
    save(editor_client, article_id, section_id, 1, body_html="<p>第二版</p>")
    revision = revisions_of(app, article_id)[0]
    page = editor_client.get(f"/editor/articles/{article_id}/revisions")
    forms = post_forms(page.get_data(as_text=True))
    restore = forms[f"/editor/articles/{article_id}/revisions/{revision.id}/restore"]
    assert 'name="csrf_token"' in restore and not needs_ticking(restore)
    assert len(re.findall(r'<th scope="col">', page.get_data(as_text=True))) == 4

    editor_client.post(f"/editor/articles/{article_id}/delete")
    html = editor_client.get("/editor/trash").get_data(as_text=True)
    forms = post_forms(html)
    actions = {
        f"/editor/articles/{article_id}/restore": False,
        f"/editor/articles/{article_id}/purge": True,
        "/editor/trash/empty": True,
    }
    for action, ticked in actions.items():
        assert 'name="csrf_token"' in forms[action]
        assert needs_ticking(forms[action]) is ticked, action
    assert len(re.findall(r'<th scope="col">', html)) == 5
