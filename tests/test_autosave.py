"""No lost work: autosave, session expiry and stale CSRF tokens."""

import html
import re

import pytest

from forms import ArticleForm
from models import Article, Status, User, db
from tests.conftest import form_data, get_article

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def count_articles(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Article.id)))


def autosave(client, article_id=None, **data):
    url = (
        f"/editor/articles/{article_id}/autosave"
        if article_id
        else "/editor/articles/autosave"
    )
    return client.post(url, json=data, headers={"Accept": "application/json"})


def test_first_autosave_creates_one_draft_and_later_ones_update_it(
    app, author_client, section
):
    first = autosave(author_client, title="草稿", body_html="<p>一</p>")
    assert first.status_code == 201
    data = first.get_json()
    article_id, version = data["id"], data["version"]
    assert data["edit_url"] == f"/editor/articles/{article_id}/edit"
    for n in range(3):
        response = autosave(
            author_client,
            article_id,
            title="草稿",
            body_html=f"<p>第{n}次</p>",
            version=version,
        )
        assert response.status_code == 200
        version = response.get_json()["version"]
    assert count_articles(app) == 1
    article = get_article(app, article_id)
    assert article.body_html == "<p>第2次</p>"
    assert article.status == Status.DRAFT
    assert article.version == version


def test_autosave_answers_saved_at_message(author_client, section):
    response = author_client.post(
        "/editor/articles/autosave?lang=en",
        json={"title": "草稿"},
        headers={"Accept": "application/json"},
    )
    assert re.fullmatch(r"Saved at \d\d:\d\d", response.json["message"])


def test_autosave_sanitizes_the_body(app, author_client, section):
    data = autosave(
        author_client, title="t", body_html="<p>好</p><script>alert(1)</script>"
    ).get_json()
    assert "<script" not in get_article(app, data["id"]).body_html


def test_autosave_uses_chosen_section(app, author_client, make_section):
    make_section(slug="first")
    second = make_section(slug="second")
    data = autosave(author_client, title="t", section_id=str(second)).get_json()
    assert get_article(app, data["id"]).section_id == second


def test_autosave_without_sections_is_a_friendly_error(app, author_client):
    response = autosave(author_client, title="草稿")
    assert response.status_code == 422
    assert response.get_json()["error"]
    assert count_articles(app) == 0


def test_autosave_of_published_post_does_not_change_public_page(
    app, editor_client, make_article
):
    article_id = make_article(body_html="<p>读者看到的</p>")
    response = autosave(
        editor_client,
        article_id,
        title="改了一半",
        body_html="<p>半成品</p>",
        version=1,
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["saved"] is True and data["version"] == 1
    page = editor_client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "读者看到的" in page and "半成品" not in page
    article = get_article(app, article_id)
    assert article.version == 1 and article.title == "测试文章"
    assert article.body_html == "<p>读者看到的</p>"


def test_autosave_with_stale_version_is_409(app, editor_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    assert autosave(editor_client, article_id, title="新", version=1).status_code == 200
    response = autosave(editor_client, article_id, title="旧页面", version=1)
    assert response.status_code == 409
    assert response.get_json()["error"]
    assert get_article(app, article_id).title == "新"


def test_autosave_when_logged_out_is_401_json(app, client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    response = autosave(client, article_id, title="x", version=1)
    assert response.status_code == 401
    assert response.get_json()["login_url"].startswith("/login")
    assert autosave(client, title="x").status_code == 401
    assert count_articles(app) == 1


def test_autosave_of_another_authors_post_is_refused(app, author_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    response = autosave(author_client, article_id, title="别人的", version=1)
    assert response.status_code == 403
    assert get_article(app, article_id).title == "测试文章"


def test_autosave_rejects_non_json(author_client, section):
    response = author_client.post(
        "/editor/articles/autosave",
        data="not json",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400


def test_csrf_token_endpoint(author_client, client):
    assert author_client.get("/editor/csrf-token").get_json()["csrf_token"]


def test_csrf_token_endpoint_logged_out_is_401(client):
    response = client.get("/editor/csrf-token", headers={"Accept": "application/json"})
    assert response.status_code == 401


# --- Session expiry without JavaScript ------------------------------------------


def test_expired_session_post_keeps_the_text_and_saves_nothing(app, client, section):
    response = client.post(
        "/editor/articles/new?lang=en",
        data={
            "title": "没保存的标题",
            "section_id": str(section),
            "body_html": "<p>写了一个小时的正文</p>",
            "action": "save",
        },
    )
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert 'id="session-lost"' in page
    assert "没保存的标题" in page and "写了一个小时的正文" in page
    assert "/login" in page
    assert count_articles(app) == 0


def test_expired_session_on_edit_keeps_the_text(app, client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    response = client.post(
        f"/editor/articles/{article_id}/edit",
        data={"title": "新标题", "body_html": "<p>新正文</p>", "version": "1"},
    )
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "新正文" in page
    # The form posts back to the same edit URL, not to "new".
    assert f'action="/editor/articles/{article_id}/edit"' in page
    assert get_article(app, article_id).title == "测试文章"


def test_deactivated_users_session_ends_but_text_is_kept(app, author_client, section):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "author"))
        user.session_token = "changed"
        db.session.commit()
    response = author_client.post(
        "/editor/articles/new",
        data={"title": "标题", "section_id": str(section), "body_html": "<p>正文</p>"},
    )
    assert response.status_code == 401
    assert "&lt;p&gt;正文&lt;/p&gt;" in response.get_data(as_text=True)


@pytest.mark.csrf
def test_stale_csrf_token_rerenders_the_form_with_the_text(
    app, client, section, password
):
    _login_with_csrf(client, "author", password)
    response = client.post(
        "/editor/articles/new?lang=en",
        data={
            "csrf_token": "stale",
            "title": "标题保留",
            "section_id": str(section),
            "body_html": "<p>正文保留</p>",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="session-lost"' in page
    assert "标题保留" in page and "正文保留" in page
    assert count_articles(app) == 0
    # The page carries a fresh token: pressing save again now works.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = client.post(
        "/editor/articles/new",
        data={
            "csrf_token": token,
            "title": "标题保留",
            "section_id": str(section),
            "body_html": "<p>正文保留</p>",
        },
    )
    assert response.status_code == 302
    assert count_articles(app) == 1


@pytest.mark.csrf
def test_missing_csrf_token_refuses_json_autosave(app, client, section, password):
    _login_with_csrf(client, "author", password)
    response = client.post(
        "/editor/articles/autosave",
        json={"title": "x"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["csrf"] is True
    assert count_articles(app) == 0


@pytest.mark.csrf
def test_valid_csrf_token_from_endpoint_is_accepted(app, client, section, password):
    _login_with_csrf(client, "author", password)
    token = client.get("/editor/csrf-token").get_json()["csrf_token"]
    response = client.post(
        "/editor/articles/autosave",
        json={"title": "x"},
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 201


@pytest.mark.csrf
@pytest.mark.parametrize(
    "path",
    ["/editor/articles/1/delete", "/editor/trash/empty", "/editor/articles/1/restore"],
)
def test_state_changes_need_csrf_token(app, client, make_article, path, password):
    article_id = make_article()
    _login_with_csrf(client, "editor", password)
    assert client.post(path, data={"confirm": "yes"}).status_code == 400
    assert get_article(app, article_id).deleted_at is None


@pytest.fixture
def password(editor):
    """The seeded users' password, from tests/conftest.py's login data."""
    return editor["password"]


def _login_with_csrf(client, username, password):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token[1]},
    )
    assert response.status_code == 302
    return client


def form_limit(app, key):
    """The longest text ArticleForm itself accepts for the field."""
    with app.test_request_context():
        return ArticleForm(meta={"csrf": False})[key].flags.maxlength


@pytest.mark.parametrize("key", ["title", "author_name", "source", "summary"])
def test_autosave_refuses_what_the_form_refuses_with_its_message(
    app, author_client, section, key
):
    too_long = "长" * (form_limit(app, key) + 1)
    page = author_client.post(
        "/editor/articles/new", data=form_data(section, **{key: too_long})
    ).get_data(as_text=True)
    form_error = html.unescape(re.search(rf'id="{key}-error">([^<]+)<', page).group(1))

    response = autosave(author_client, **{"title": "草稿", key: too_long})
    assert response.status_code == 422
    assert response.get_json()["error"].endswith(form_error)
    assert count_articles(app) == 0


@pytest.mark.parametrize("key", ["title", "author_name", "source", "summary"])
def test_autosave_keeps_text_at_the_forms_limit_whole(app, author_client, section, key):
    longest = "长" * form_limit(app, key)
    response = autosave(author_client, **{"title": "草稿", key: longest})
    assert response.status_code == 201
    assert getattr(get_article(app, response.get_json()["id"]), key) == longest
