"""The password policy wherever a user sets their own password: length,
classes, common passwords, no reuse, expiry with a warning, and the
password an administrator set, which must be changed before anything else."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from admin import passwords
from models import AuditEvent, PasswordHistory, User, db, set_setting, utcnow
from tests.conftest import PASSWORD, _login


def policy(app, **values):
    with app.app_context():
        for key, value in values.items():
            set_setting(f"password_{key}", str(value))
        db.session.commit()


def problems(app, password, username="", user=None):
    with app.test_request_context("/?lang=en"):
        return passwords.check(password, user, username)


def get_user(app, username="author"):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def update_author(app, **values):
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "author").values(**values)
        )
        db.session.commit()


def actions(app):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent.action)).all()


# --- the rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "settings", "expected"),
    [
        ("Short1!", {}, ["Use at least 8 characters."]),
        ("Long enough 9", {"min_length": 14}, ["Use at least 14 characters."]),
        ("Long enough 9", {"min_length": 13}, []),
        ("onlylowercase", {}, ["Use at least 3 of these"]),
        ("onlylowercase", {"classes": 1}, []),
        ("lower and 42", {"classes": 4}, ["Use at least 4 of these"]),
        ("Lower and 42", {"classes": 4}, []),
        ("校园新闻发布2024", {"classes": 2}, []),  # 汉字 count as "other"
        ("P@ssw0rd!", {}, ["too common"]),
        ("Admin@2024", {}, ["too common"]),
        ("Woaini520!", {}, ["too common"]),
        ("Qwerty123!", {}, ["too common"]),
        ("aaaaaaaaaaaa", {"classes": 1}, ["too common"]),
        ("Correct Horse 42", {}, []),
    ],
)
def test_policy_rules(app, password, settings, expected):
    policy(app, **settings)
    found = problems(app, password)
    assert len(found) == len(expected), found
    for want, got in zip(expected, found, strict=True):
        assert want in got


def test_password_close_to_the_user_name_is_refused(app):
    assert "too common" in problems(app, "Lihua2024!", username="lihua")[0]
    assert problems(app, "Lihua2024!", username="wangfang") == []


def test_common_password_list_is_read():
    assert "123456" in passwords.common_passwords()
    assert passwords.is_common("iloveyou")


def test_describe_says_the_current_rules(app):
    policy(app, min_length=12, classes=4)
    with app.test_request_context("/?lang=en"):
        text = passwords.describe()
    assert "At least 12 characters" in text and "using 4 of" in text


# --- no reuse of the last N ----------------------------------------------------------


def test_change_keeps_history_and_refuses_the_last_n(app):
    policy(app, history=3)
    with app.test_request_context("/?lang=en"):
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        for n in range(1, 5):
            passwords.change(user, f"Secret number {n}")
            db.session.commit()
        # Now "Secret number 4"; history holds 3, 2, 1 (and the original).
        assert passwords.check("Secret number 4", user)  # the current one
        assert passwords.check("Secret number 3", user)
        assert passwords.check("Secret number 2", user)
        assert passwords.check("Secret number 1", user) == []  # 4 changes ago
        kept = db.session.scalar(
            sa.select(sa.func.count(PasswordHistory.id)).where(
                PasswordHistory.user_id == user.id
            )
        )
        assert kept == 3


def test_history_zero_allows_reuse_of_earlier_passwords(app):
    policy(app, history=0)
    with app.test_request_context("/?lang=en"):
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        passwords.change(user, "Secret number 1")
        db.session.commit()
        assert passwords.check(PASSWORD, user) == []


# --- own change on the account page ---------------------------------------------------


def change(client, new, current=PASSWORD):
    return client.post(
        "/account/password?lang=en",
        data={"current_password": current, "new_password": new, "confirm": new},
    )


def test_account_page_applies_the_policy(app, author_client):
    policy(app, classes=4)
    response = change(author_client, "a new secret 9")
    assert response.status_code == 200
    assert "Use at least 4 of these" in response.text
    assert get_user(app).check_password(PASSWORD)
    assert change(author_client, "A new secret 9").status_code == 302
    assert "password_changed" in actions(app)


def test_account_page_refuses_a_recent_password(app, author_client):
    assert change(author_client, "A new secret 9").status_code == 302
    response = change(author_client, PASSWORD, current="A new secret 9")
    assert "Do not reuse any of your last 5 passwords." in response.text


def test_account_page_hint_shows_the_rules(app, author_client):
    policy(app, min_length=10)
    html = author_client.get("/account/password?lang=en").text
    assert "At least 10 characters, using 3 of" in html


# --- a password set by an administrator ---------------------------------------------


def test_must_change_password_comes_before_anything_else(app, client):
    update_author(app, must_change_password=True)
    _login(client, "author")
    for url in ("/editor/", "/admin/users", "/account/password"):
        response = client.get(url)
        assert response.headers["Location"] == "/account/password/new", url
    response = client.get("/editor/", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["location"] == "/account/password/new"
    page = client.get("/account/password/new?lang=en")
    assert page.status_code == 200 and "set by an administrator" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/").status_code == 200  # readers' pages stay open


def test_forced_change_applies_the_policy_then_opens_the_pages(app, client):
    update_author(app, must_change_password=True)
    _login(client, "author")
    other = _login(app.test_client(), "author")
    response = client.post(
        "/account/password/new?lang=en",
        data={"new_password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 422 and "must differ" in response.text
    response = client.post(
        "/account/password/new?lang=en",
        data={"new_password": "password1", "confirm": "password1"},
    )
    assert "too common" in response.text
    response = client.post(
        "/account/password/new",
        data={"new_password": "My own secret 7", "confirm": "My own secret 7"},
    )
    assert response.headers["Location"] == "/editor/"
    assert client.get("/editor/").status_code == 200
    assert other.get("/editor/").status_code == 302  # other sessions ended
    user = get_user(app)
    assert not user.must_change_password and user.check_password("My own secret 7")
    assert "password_changed" in actions(app)


def test_forced_change_page_without_a_reason_goes_to_the_dashboard(author_client):
    assert author_client.get("/account/password/new").headers["Location"] == "/editor/"


# --- expiry ---------------------------------------------------------------------------


def test_expired_password_forces_a_change_at_login(app, client):
    policy(app, max_age_days=90)
    update_author(app, password_changed_at=utcnow() - timedelta(days=91))
    _login(client, "author")
    assert client.get("/editor/").headers["Location"] == "/account/password/new"
    assert "has expired" in client.get("/account/password/new?lang=en").text
    client.post(
        "/account/password/new",
        data={"new_password": "My own secret 7", "confirm": "My own secret 7"},
    )
    assert client.get("/editor/").status_code == 200
    assert "password_expired_changed" in actions(app)


def test_password_expiring_soon_is_warned_once_per_session(app, client):
    policy(app, max_age_days=90, warn_days=14)
    update_author(app, password_changed_at=utcnow() - timedelta(days=80))
    _login(client, "author")
    html = client.get("/editor/?lang=en").text
    assert "Your password expires in 9 days." in html or (
        "Your password expires in 10 days." in html
    )
    assert "Your password expires" not in client.get("/editor/?lang=en").text


def test_no_warning_outside_the_warning_period(app, client):
    policy(app, max_age_days=90, warn_days=14)
    update_author(app, password_changed_at=utcnow() - timedelta(days=30))
    _login(client, "author")
    assert "Your password expires" not in client.get("/editor/?lang=en").text


def test_without_expiry_old_passwords_stay_valid(app, client):
    update_author(app, password_changed_at=utcnow() - timedelta(days=3000))
    _login(client, "author")
    assert client.get("/editor/").status_code == 200
