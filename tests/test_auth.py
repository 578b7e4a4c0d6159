"""Login, remember me, `next`, idle timeout and own password.

Throttling is in test_login_throttle.py, ending sessions in test_sessions.py.
"""

import time
from datetime import timedelta

import itsdangerous
import pytest
import sqlalchemy as sa

from admin.views.auth import is_safe_next
from models import User, db, utcnow
from tests.conftest import PASSWORD


def post_login(client, username="author", password=PASSWORD, **extra):
    """The login form posted with any credentials (the `login` fixture logs in
    a seeded user and asserts it worked)."""
    data = {"username": username, "password": password, **extra}
    return client.post("/login?lang=en", data=data)


def get_user(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


@pytest.fixture
def clock(monkeypatch):
    """Move the session cookie's clock forward: clock.advance(minutes)."""

    class Clock:
        offset = 0

        def advance(self, minutes):
            self.offset += int(minutes * 60)

    clock = Clock()
    monkeypatch.setattr(
        itsdangerous.TimestampSigner,
        "get_timestamp",
        lambda self: int(time.time()) + clock.offset,
    )
    return clock


# --- the login page ------------------------------------------------------------


def test_login_page_shows_school_name_and_form(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert "SchoolNews" in html
    assert 'name="username"' in html and 'name="password"' in html
    assert 'name="remember"' in html
    assert 'autocomplete="current-password"' in html


def test_login_with_right_password_reaches_dashboard(client, app):
    response = post_login(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/editor/"
    assert client.get("/editor/").status_code == 200
    assert get_user(app, "author").last_login_at is not None


def test_wrong_password_is_refused_with_friendly_message(client):
    response = post_login(client, password="wrong password")
    assert response.status_code == 200
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/editor/").status_code == 302


def test_unknown_username_gets_same_message_as_wrong_password(client):
    response = post_login(client, username="nobody", password="whatever1")
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_empty_fields_are_refused_without_error_page(client):
    response = client.post("/login?lang=en", data={"username": "", "password": ""})
    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)


def test_deactivated_user_cannot_log_in(client, app):
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "author").values(active=False)
        )
        db.session.commit()
    response = post_login(client)
    assert response.status_code == 200
    assert "deactivated" in response.get_data(as_text=True)
    assert client.get("/editor/").status_code == 302


def test_logged_in_user_visiting_login_goes_to_dashboard(author_client):
    response = author_client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/editor/"


def test_logout_is_post_only_and_ends_session(author_client):
    assert author_client.get("/logout").status_code == 405
    assert author_client.get("/editor/").status_code == 200
    assert author_client.post("/logout").status_code == 302
    assert author_client.get("/editor/").status_code == 302


# --- remember me ---------------------------------------------------------------


def test_remember_me_sets_a_two_week_cookie(client):
    response = post_login(client, remember="y")
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if "remember_token" in c
    )
    assert "HttpOnly" in cookie
    remember = client.get_cookie("remember_token")
    lifetime = remember.expires.replace(tzinfo=None) - utcnow()
    assert timedelta(days=13) < lifetime <= timedelta(days=14)


def test_without_remember_me_no_remember_cookie(client):
    post_login(client)
    assert client.get_cookie("remember_token") is None


def test_remember_cookie_logs_back_in_after_session_is_gone(client):
    post_login(client, remember="y")
    client.delete_cookie("session")
    assert client.get("/editor/").status_code == 200


def test_without_remember_losing_session_means_logged_out(client):
    post_login(client)
    client.delete_cookie("session")
    assert client.get("/editor/").status_code == 302


# --- idle timeout --------------------------------------------------------------


def test_session_cookie_is_permanent_with_idle_lifetime(client, app):
    assert app.permanent_session_lifetime == timedelta(minutes=120)
    response = post_login(client)
    session_cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")
    )
    assert "Expires=" in session_cookie


def test_session_ends_after_idle_timeout(client, clock):
    post_login(client)
    clock.advance(121)
    response = client.get("/editor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_session_within_idle_timeout_stays(client, clock):
    post_login(client)
    clock.advance(119)
    assert client.get("/editor/").status_code == 200


def test_activity_keeps_session_alive_past_the_idle_limit(client, clock):
    post_login(client)
    for _ in range(3):  # 300 minutes in all, never 120 idle
        clock.advance(100)
        assert client.get("/editor/").status_code == 200


def test_remember_me_outlives_idle_timeout(client, clock):
    post_login(client, remember="y")
    clock.advance(121)
    assert client.get("/editor/").status_code == 200


def test_expired_session_on_fetch_gets_401_json(client, clock):
    post_login(client)
    clock.advance(121)
    response = client.get("/editor/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["login_url"].startswith("/login?next=")


def test_idle_minutes_setting_controls_lifetime(tmp_path):
    from app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "SESSION_IDLE_MINUTES": 5,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "UPLOAD_FOLDER": str(tmp_path / "u"),
        }
    )
    assert app.permanent_session_lifetime == timedelta(minutes=5)
    with app.app_context():
        db.engine.dispose()


# --- next ----------------------------------------------------------------------

SAFE_NEXT = [
    "/",
    "/editor/",
    "/editor/articles/3/edit",
    "/search?q=%E6%A0%A1%E5%9B%AD",
    "/%2F%2Fevil.example",  # a path on this site, not a host
    "/sections/news#top",
    "/editor/?status=pending&page=2",
]

UNSAFE_NEXT = [
    None,
    "",
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "editor/",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " /editor/",
    "/ /evil.example",
    "/\u3000/evil.example",
    "/\x00/evil.example",
    "/\u200b/evil.example",
    "/editor/\x7f",
    "mailto:a@example.com",
]


@pytest.mark.parametrize("target", SAFE_NEXT)
def test_next_to_a_local_path_is_followed(target):
    assert is_safe_next(target)


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_next_elsewhere_is_refused(target):
    assert not is_safe_next(target)


def test_login_with_unsafe_next_goes_to_dashboard(client):
    # One app for the whole table: a login per target, logged out in between.
    wrong = {}
    for target in [t for t in UNSAFE_NEXT if t]:
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"username": "author", "password": PASSWORD},
        )
        if response.headers.get("Location") != "/editor/":
            wrong[target] = response.headers.get("Location")
        client.post("/logout")
    assert wrong == {}


def test_login_with_local_next_goes_back_there(client):
    response = client.post(
        "/login",
        query_string={"next": "/editor/trash?x=1"},
        data={"username": "author", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/editor/trash?x=1"


def test_protected_page_sends_anonymous_user_to_login_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/users"


# --- own password --------------------------------------------------------------


def change(client, current=PASSWORD, new="a new secret 9", confirm=None):
    return client.post(
        "/account/password?lang=en",
        data={
            "current_password": current,
            "new_password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_change_password_page_renders(author_client):
    html = author_client.get("/account/password").get_data(as_text=True)
    assert 'name="current_password"' in html and 'name="confirm"' in html


def test_change_password_requires_login(client):
    assert client.get("/account/password").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not my password", "a new secret 9", None, "The current password is wrong."),
        (PASSWORD, "short", None, "Use at least 8 characters."),
        (PASSWORD, "a new secret 9", "another one 9", "do not match"),
        (PASSWORD, PASSWORD, None, "must differ"),
        ("", "a new secret 9", None, "This field is required."),
    ],
)
def test_change_password_refuses_bad_input(
    author_client, app, current, new, confirm, message
):
    response = change(author_client, current, new, confirm)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert get_user(app, "author").check_password(PASSWORD)


def test_change_password_keeps_this_session_and_ends_others(app, client):
    other = app.test_client()
    post_login(other, remember="y")
    post_login(client)
    response = change(client)
    assert response.status_code == 302
    assert get_user(app, "author").check_password("a new secret 9")
    assert client.get("/editor/").status_code == 200
    assert other.get("/editor/").status_code == 302
    other.delete_cookie("session")  # the remember cookie is dead too
    assert other.get("/editor/").status_code == 302


def test_change_password_keeps_remember_me_working(client):
    post_login(client, remember="y")
    change(client)
    client.delete_cookie("session")
    assert client.get("/editor/").status_code == 200


def test_new_password_works_for_next_login(app, client):
    post_login(client)
    change(client)
    client.post("/logout")
    assert post_login(client, password=PASSWORD).status_code == 200
    assert post_login(client, password="a new secret 9").status_code == 302


def test_tampered_session_token_is_logged_out(app, author_client):
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "author").values(session_token="")
        )
        db.session.commit()
    assert author_client.get("/editor/").status_code == 302


@pytest.mark.csrf
def test_change_password_without_csrf_token_is_refused(app, client):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login", data={"username": "author", "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/editor/").status_code == 200
    assert change(client).status_code == 400
    assert get_user(app, "author").check_password(PASSWORD)


# --- dormant accounts ------------------------------------------------------------


def test_dormant_account_is_disabled_at_its_next_login_when_the_site_says_so(
    app, client
):
    from models import AuditEvent, set_setting

    with app.app_context():
        set_setting("dormant_auto_disable", "1")
        db.session.execute(
            sa.update(User)
            .where(User.username == "author")
            .values(last_login_at=utcnow() - timedelta(days=200))
        )
        db.session.commit()
    response = post_login(client)
    assert response.status_code == 200
    assert "not used for a long time" in response.text
    assert client.get("/editor/").status_code == 302
    assert not get_user(app, "author").active
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.detail, AuditEvent.outcome)
        ).all()
    assert ("login_failed", "dormant", "failure") in events
    assert ("dormant_disabled", "automatic", "success") in events


def test_dormant_account_still_logs_in_without_automatic_disabling(app, client):
    with app.app_context():
        db.session.execute(
            sa.update(User)
            .where(User.username == "author")
            .values(last_login_at=utcnow() - timedelta(days=200))
        )
        db.session.commit()
    assert post_login(client).status_code == 302
