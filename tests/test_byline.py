"""Each user has a default byline (署名) that new posts start with."""

from flask_migrate import downgrade, upgrade

from models import Article, Section, User, db
from tests.conftest import columns, rows, school_at


def set_byline(app, username, byline):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        user.byline = byline
        db.session.commit()


def byline_of(app, username):
    with app.app_context():
        return db.session.scalar(
            db.select(User.byline).where(User.username == username)
        )


def test_new_post_form_starts_with_the_byline(app, author_client):
    set_byline(app, "author", "德育处")
    page = author_client.get("/editor/articles/new").text
    assert 'name="author_name" type="text" value="德育处"' in page


def test_without_a_byline_the_display_name_is_used(author_client):
    page = author_client.get("/editor/articles/new").text
    assert 'value="Author 老师"' in page


def test_autosaved_new_post_without_author_takes_the_byline(app, author_client):
    set_byline(app, "author", "教务处")
    with app.app_context():
        db.session.add(Section(name="新闻", slug="news"))
        db.session.commit()
    response = author_client.post(
        "/editor/articles/autosave", json={"title": "草稿", "author_name": ""}
    )
    assert response.status_code == 201
    with app.app_context():
        article = db.session.get(Article, response.json["id"])
        assert article.author_name == "教务处"


def test_user_sets_their_own_byline_on_the_account_page(app, author_client):
    page = author_client.get("/account/password").text
    assert "署名" in page
    response = author_client.post(
        "/account/password/byline", data={"byline": " 德育处 "}
    )
    assert response.status_code == 302
    assert byline_of(app, "author") == "德育处"
    assert "署名已保存" in author_client.get("/account/password").text


def test_a_too_long_byline_is_refused_with_a_message(app, author_client):
    response = author_client.post(
        "/account/password/byline", data={"byline": "长" * 101}
    )
    assert response.status_code == 422
    assert byline_of(app, "author") == ""


def test_admin_sets_a_users_byline(app, admin_client):
    with app.app_context():
        author_id = db.session.scalar(
            db.select(User.id).where(User.username == "author")
        )
    page = admin_client.get(f"/admin/users/{author_id}").text
    assert 'name="byline"' in page
    response = admin_client.post(
        f"/admin/users/{author_id}",
        data={"display_name": "王老师", "byline": "年级组", "role": "author"},
    )
    assert response.status_code == 302
    assert byline_of(app, "author") == "年级组"


def test_admin_creates_a_user_with_a_byline(app, admin_client):
    response = admin_client.post(
        "/admin/users",
        data={
            "username": "li",
            "display_name": "李老师",
            "byline": "教务处",
            "role": "author",
            "password": "a long password 1",
        },
    )
    assert response.status_code == 302
    assert byline_of(app, "li") == "教务处"


def test_0006_adds_an_empty_byline_to_existing_users(tmp_path):
    app = school_at(
        tmp_path,
        "0005",
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at) VALUES"
        " (1, 'wang', '王老师', 'x', 'author', 1, 't', '2026-03-01 08:00:00')",
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT username, display_name, byline FROM user") == [
            ("wang", "王老师", "")
        ]
        user = db.session.get(User, 1)
        assert user.default_byline == "王老师"
        db.session.remove()
        # And back, keeping the users.
        downgrade(revision="0005")
        assert "byline" not in columns("user")
        assert rows("SELECT username FROM user") == [("wang",)]
        db.engine.dispose()
