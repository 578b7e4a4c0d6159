"""Working copies: autosave of a published post is kept on the server, per user,
and readers see nothing of it until a real save."""

import re

import pytest

from models import Article, ArticleDraft, Status, User, db, set_setting, utcnow
from tests.conftest import PASSWORD, form_data, get_article, user_id

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def add_working_copy(app, article_id, username, body_html):
    """A working copy saved directly, as autosave would have stored it."""
    with app.app_context():
        db.session.add(
            ArticleDraft(
                article_id=article_id,
                user_id=user_id(app, username),
                title="t",
                body_html=body_html,
                base_version=1,
            )
        )
        db.session.commit()


def working_copies(app, article_id):
    """{username: (title, body_html, base_version)} of the post's working copies."""
    with app.app_context():
        rows = db.session.execute(
            db.select(User.username, ArticleDraft)
            .join(User, User.id == ArticleDraft.user_id)
            .where(ArticleDraft.article_id == article_id)
        ).all()
        return {
            name: (draft.title, draft.body_html, draft.base_version)
            for name, draft in rows
        }


def form_at_version_1(section, **overrides):
    """The form of an edit page loaded at version 1 (the published fixture's)."""
    return form_data(section, **{"version": "1", **overrides})


def autosave(client, article_id, version=1, lang="", **data):
    return client.post(
        f"/editor/articles/{article_id}/autosave{lang}",
        json={"version": version, **data},
        headers={"Accept": "application/json"},
    )


def edit_page(client, article_id, query=""):
    response = client.get(f"/editor/articles/{article_id}/edit?lang=en{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def form_value(html, name):
    """The value of a text input, or the content of a textarea, by name."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    if match:
        return match.group(1)
    match = re.search(
        rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', html, re.S
    )
    return match.group(1) if match else None


@pytest.fixture
def published(app, make_article):
    """A published post, created by the editor; returns (article_id, section_id)."""
    article_id = make_article(
        body_html="<p>读者看到的</p>", created_by_id=user_id(app, "editor")
    )
    return article_id, get_article(app, article_id).section_id


@pytest.fixture
def other_client(app):
    """A second browser, logged in as the admin."""
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    return client


# --- Autosave -------------------------------------------------------------------


def test_autosave_of_published_post_keeps_one_working_copy_updated_in_place(
    app, editor_client, client, published
):
    article_id, _ = published
    for n in range(3):
        response = autosave(
            editor_client, article_id, title="改了一半", body_html=f"<p>第{n}稿</p>"
        )
        assert response.status_code == 200
        assert response.get_json()["saved"] is True
    assert working_copies(app, article_id) == {
        "editor": ("改了一半", "<p>第2稿</p>", 1)
    }
    article = get_article(app, article_id)
    assert (article.title, article.body_html, article.version) == (
        "测试文章",
        "<p>读者看到的</p>",
        1,
    )
    page = app.test_client().get(f"/articles/{article_id}").get_data(as_text=True)
    assert "读者看到的" in page and "第2稿" not in page and "改了一半" not in page


def test_each_user_has_their_own_working_copy(
    app, editor_client, other_client, published
):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>编辑的</p>")
    autosave(other_client, article_id, body_html="<p>管理员的</p>")
    autosave(editor_client, article_id, body_html="<p>编辑的第二稿</p>")
    copies = working_copies(app, article_id)
    assert copies["editor"][1] == "<p>编辑的第二稿</p>"
    assert copies["admin"][1] == "<p>管理员的</p>"
    assert len(copies) == 2


def test_working_copy_body_is_sanitized(app, editor_client, published):
    article_id, _ = published
    autosave(
        editor_client,
        article_id,
        body_html='<p onclick="x()">好</p><script>alert(1)</script>',
    )
    body = working_copies(app, article_id)["editor"][1]
    assert body == "<p>好</p>"


def test_autosave_of_published_post_answers_saved_at_and_the_loaded_version(
    app, editor_client, other_client, published
):
    article_id, section_id = published
    other_client.post(
        f"/editor/articles/{article_id}/edit", data=form_at_version_1(section_id)
    )
    assert get_article(app, article_id).version == 2
    # The page was loaded at version 1: the answer must not hand out version 2,
    # or the next real save would silently overwrite the admin's edit.
    data = autosave(editor_client, article_id, lang="?lang=en", title="旧页面").json
    assert re.match(r"Saved at \d\d:\d\d", data["message"])
    assert data["version"] == 1 and data["saved"] is True
    assert working_copies(app, article_id)["editor"][2] == 1


def test_autosave_of_a_draft_still_updates_the_post_itself(
    app, editor_client, make_article
):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    assert autosave(editor_client, article_id, title="草稿新标题").status_code == 200
    assert get_article(app, article_id).title == "草稿新标题"
    assert working_copies(app, article_id) == {}


# --- Permissions ----------------------------------------------------------------


def test_author_cannot_autosave_someone_elses_published_post(
    app, author_client, published
):
    article_id, _ = published
    response = autosave(author_client, article_id, body_html="<p>别人的</p>")
    assert response.status_code == 403
    assert working_copies(app, article_id) == {}


def test_an_author_under_review_autosaves_own_published_post_aside(
    app, author_client, make_article
):
    # Their change will wait for review; meanwhile it is kept, never shown.
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    article_id = make_article(created_by_id=user_id(app, "author"))
    response = autosave(author_client, article_id, body_html="<p>改</p>")
    assert response.status_code == 200
    assert working_copies(app, article_id)["author"][1] == "<p>改</p>"
    assert "<p>改</p>" not in author_client.get(f"/articles/{article_id}").get_data(
        as_text=True
    )


def test_an_author_cannot_autosave_someone_elses_published_post(
    app, author_client, make_article
):
    article_id = make_article(created_by_id=user_id(app, "editor"))
    response = autosave(author_client, article_id, body_html="<p>改</p>")
    assert response.status_code == 403
    assert response.json["error"]
    assert working_copies(app, article_id) == {}


def test_author_who_may_publish_gets_a_working_copy_of_own_post(
    app, author_client, make_article
):
    with app.app_context():
        set_setting("review_levels", "0")
        db.session.commit()
    article_id = make_article(created_by_id=user_id(app, "author"))
    assert autosave(author_client, article_id, body_html="<p>改</p>").status_code == 200
    assert working_copies(app, article_id)["author"][1] == "<p>改</p>"


def test_anonymous_cannot_autosave_or_discard(app, client, editor_client, published):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>留着</p>")
    anonymous = app.test_client()
    assert autosave(anonymous, article_id, body_html="<p>x</p>").status_code == 401
    url = f"/editor/articles/{article_id}/working-copy/discard"
    response = anonymous.post(url)
    # A form post: to the login page and back here afterwards.
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={url}"
    assert working_copies(app, article_id)["editor"][1] == "<p>留着</p>"


@pytest.mark.csrf
def test_discard_needs_the_csrf_token(app, client, published):
    article_id, _ = published
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    data = {"username": "editor", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302
    add_working_copy(app, article_id, "editor", "<p>留着</p>")
    url = f"/editor/articles/{article_id}/working-copy/discard"
    assert client.post(url).status_code == 400
    assert "editor" in working_copies(app, article_id)
    html = edit_page(client, article_id)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    assert client.post(url, data={"csrf_token": token}).status_code == 302
    assert working_copies(app, article_id) == {}


# --- The edit page: banner, restore, discard -------------------------------------


def test_edit_page_offers_unsaved_changes_and_restore_fills_the_form(
    editor_client, published
):
    article_id, _ = published
    autosave(editor_client, article_id, title="新标题", body_html="<p>没按更新</p>")
    html = edit_page(editor_client, article_id)
    assert 'id="working-copy-banner"' in html
    assert "You have unsaved changes from" in html
    assert "someone" not in html.lower() and "working-copy-stale" not in html
    assert form_value(html, "title") == "测试文章"  # not restored yet
    assert f"/editor/articles/{article_id}/edit?restore=1" in html

    restored = edit_page(editor_client, article_id, "&restore=1")
    assert 'id="working-copy-restored"' in restored
    assert 'id="working-copy-banner"' not in restored
    assert form_value(restored, "title") == "新标题"
    assert "没按更新" in form_value(restored, "body_html")
    assert form_value(restored, "version") == "1"


def test_no_banner_without_a_working_copy_or_when_it_matches_the_post(
    editor_client, published
):
    article_id, _ = published
    assert 'id="working-copy-banner"' not in edit_page(editor_client, article_id)
    autosave(
        editor_client,
        article_id,
        title="测试文章",
        body_html="<p>读者看到的</p>",
        author_name="教务处",
    )
    assert 'id="working-copy-banner"' not in edit_page(editor_client, article_id)


def test_banner_works_without_javascript_and_names_the_time(editor_client, published):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>改</p>")
    html = edit_page(editor_client, article_id)
    banner = html.split('id="working-copy-banner"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", banner)
    # Restore is a plain link, Discard a plain POST form with a CSRF token.
    assert 'href="/editor/articles/' in banner
    assert f'action="/editor/articles/{article_id}/working-copy/discard"' in banner
    assert 'name="csrf_token"' in banner


def test_discard_deletes_only_the_users_own_working_copy(
    app, editor_client, other_client, published
):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>编辑的</p>")
    autosave(other_client, article_id, body_html="<p>管理员的</p>")
    response = editor_client.post(f"/editor/articles/{article_id}/working-copy/discard")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/editor/articles/{article_id}/edit")
    assert set(working_copies(app, article_id)) == {"admin"}
    assert 'id="working-copy-banner"' not in edit_page(editor_client, article_id)
    assert get_article(app, article_id).body_html == "<p>读者看到的</p>"


def test_discard_is_post_only(app, editor_client, published):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>编辑的</p>")
    url = f"/editor/articles/{article_id}/working-copy/discard"
    assert editor_client.get(url).status_code == 405
    assert "editor" in working_copies(app, article_id)


def test_another_users_working_copy_is_neither_shown_nor_restored(
    app, editor_client, other_client, published
):
    article_id, _ = published
    autosave(other_client, article_id, title="管理员标题", body_html="<p>管理员的</p>")
    html = edit_page(editor_client, article_id)
    assert 'id="working-copy-banner"' not in html and "管理员的" not in html
    restored = edit_page(editor_client, article_id, "&restore=1")
    assert form_value(restored, "title") == "测试文章"
    assert "管理员的" not in restored


def test_author_cannot_discard_a_working_copy_of_someone_elses_post(
    app, author_client, make_article
):
    article_id = make_article(created_by_id=user_id(app, "editor"))
    add_working_copy(app, article_id, "editor", "<p>编辑的</p>")
    url = f"/editor/articles/{article_id}/working-copy/discard"
    assert author_client.post(url).status_code == 403
    assert "editor" in working_copies(app, article_id)


def test_banner_says_when_someone_else_saved_in_between(
    app, editor_client, other_client, published
):
    article_id, section_id = published
    autosave(editor_client, article_id, body_html="<p>我的修改</p>")
    response = other_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_at_version_1(section_id, body_html="<p>管理员改了</p>"),
    )
    assert response.status_code == 302
    html = edit_page(editor_client, article_id)
    assert 'id="working-copy-banner"' in html
    stale = html.split('class="working-copy-stale"', 1)[1].split("</p>", 1)[0]
    assert "Admin 老师 saved this post at" in stale
    assert f"/editor/articles/{article_id}/preview" in stale

    restored = edit_page(editor_client, article_id, "&restore=1")
    assert "我的修改" in form_value(restored, "body_html")
    assert 'class="working-copy-stale"' in restored
    # The page warned; saving the restored text is then a deliberate choice.
    assert form_value(restored, "version") == "2"


# --- Real saves, trash and purge ----------------------------------------------------


@pytest.mark.parametrize("action", ["save", "unpublish"])
def test_a_real_save_deletes_only_the_savers_working_copy(
    app, editor_client, other_client, published, action
):
    article_id, section_id = published
    autosave(editor_client, article_id, body_html="<p>编辑的</p>")
    autosave(other_client, article_id, body_html="<p>管理员的</p>")
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_at_version_1(section_id, body_html="<p>编辑的</p>", action=action),
    )
    assert response.status_code == 302
    assert set(working_copies(app, article_id)) == {"admin"}
    assert get_article(app, article_id).body_html == "<p>编辑的</p>"


def test_publishing_a_draft_deletes_the_working_copy(app, editor_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    add_working_copy(app, article_id, "editor", "<p>旧的工作副本</p>")
    section_id = get_article(app, article_id).section_id
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_at_version_1(section_id, action="publish"),
    )
    assert response.status_code == 302
    assert working_copies(app, article_id) == {}


def test_a_conflicting_save_keeps_the_working_copy(
    app, editor_client, other_client, published
):
    article_id, section_id = published
    autosave(editor_client, article_id, body_html="<p>我的修改</p>")
    other_client.post(
        f"/editor/articles/{article_id}/edit", data=form_at_version_1(section_id)
    )
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_at_version_1(section_id, body_html="<p>我的修改</p>", version="1"),
    )
    assert response.status_code == 409
    assert working_copies(app, article_id)["editor"][1] == "<p>我的修改</p>"


def test_trash_deletes_every_working_copy_and_purge_leaves_none(
    app, editor_client, other_client, published
):
    article_id, _ = published
    autosave(editor_client, article_id, body_html="<p>编辑的</p>")
    autosave(other_client, article_id, body_html="<p>管理员的</p>")
    editor_client.post(f"/editor/articles/{article_id}/delete")
    assert working_copies(app, article_id) == {}

    # A copy left over somehow still goes with the post (ON DELETE CASCADE).
    with app.app_context():
        db.session.add(
            ArticleDraft(
                article_id=article_id,
                user_id=user_id(app, "editor"),
                title="t",
                body_html="",
                base_version=1,
                saved_at=utcnow(),
            )
        )
        db.session.commit()
    response = editor_client.post(
        f"/editor/articles/{article_id}/purge", data={"confirm": "yes"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Article, article_id) is None
        assert db.session.scalar(db.select(db.func.count(ArticleDraft.id))) == 0
