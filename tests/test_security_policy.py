"""/admin/security: the security administrator's policy page, unlocking
accounts, and who has a second factor."""

import re

import pytest
import sqlalchemy as sa

from admin import throttle
from models import (
    AuditEvent,
    LoginAttempt,
    User,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from tests.conftest import PASSWORD, _login

POLICY = {
    "password_min_length": "10",
    "password_classes": "4",
    "password_history": "8",
    "password_max_age_days": "180",
    "password_warn_days": "10",
    "totp_required": "admins",
    "dormant_days": "120",
    "dormant_auto_disable": "y",
    "audit_retention_days": "365",
}


def settings(app):
    with app.app_context():
        return get_settings()


def events(app, action):
    with app.app_context():
        return db.session.execute(
            sa.select(AuditEvent.target, AuditEvent.detail, AuditEvent.user_id).where(
                AuditEvent.action == action
            )
        ).all()


def save(client, **changes):
    data = {**POLICY, **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post("/admin/security?lang=en", data=data)


def without_security_duty(app):
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "admin").values(security_admin=False)
        )
        db.session.commit()


# --- who may -------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    assert client.get("/admin/security").headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["author", "editor"])
def test_staff_without_the_security_duty_get_403(app, username):
    client = _login(app.test_client(), username)
    assert client.get("/admin/security").status_code == 403
    assert save(client).status_code == 403
    assert settings(app)["password_min_length"] == "8"


def test_system_admin_without_the_security_duty_gets_403(app):
    without_security_duty(app)
    client = _login(app.test_client(), "admin")
    assert client.get("/admin/security").status_code == 403
    assert (
        client.post("/admin/security/unlock", data={"username": "x"}).status_code == 403
    )


# --- the policy ----------------------------------------------------------------------


def test_page_shows_the_current_policy(admin_client):
    html = admin_client.get("/admin/security?lang=en").text
    assert re.search(r'name="password_min_length"[^>]*value="8"', html)
    assert re.search(r'<option selected value="3">3</option>', html)
    assert re.search(r'name="audit_retention_days"[^>]*value="180"', html)


def test_saving_changes_the_settings_and_audits_what_changed(app, admin_client):
    response = save(admin_client)
    assert response.status_code == 302
    now = settings(app)
    for key, value in POLICY.items():
        expected = "1" if key == "dormant_auto_disable" else value
        assert now[key] == expected, key
    [(target, detail, user_id)] = events(app, "policy_changed")
    assert "password_min_length: 8 → 10" in detail
    assert "totp_required: none → admins" in detail
    assert "dormant_auto_disable: 0 → 1" in detail
    assert user_id is not None


def test_saving_without_changes_records_nothing(app, admin_client):
    save(admin_client)
    save(admin_client)
    assert len(events(app, "policy_changed")) == 1


def test_retention_under_six_months_is_refused_citing_the_law(app, admin_client):
    response = save(admin_client, audit_retention_days="179")
    assert response.status_code == 422
    assert "網絡安全法" in response.text or "网络安全法" in response.text
    assert "article 21" in response.text and "six months" in response.text
    assert settings(app)["audit_retention_days"] == "180"
    assert settings(app)["password_min_length"] == "8"  # nothing saved
    assert 'value="179"' in response.text  # what was typed is kept


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password_min_length", "7"),
        ("password_min_length", "65"),
        ("password_classes", "5"),
        ("password_history", "25"),
        ("password_max_age_days", "-1"),
        ("totp_required", "root"),
        ("password_history", "many"),
    ],
)
def test_out_of_range_values_are_refused(app, admin_client, field, value):
    response = save(admin_client, **{field: value})
    assert response.status_code == 422
    assert 'class="a-error"' in response.text
    assert settings(app)["password_min_length"] == "8"


def test_saved_policy_applies_to_the_next_password(app, admin_client):
    save(admin_client, password_min_length="16", totp_required="none")
    response = admin_client.post(
        "/account/password?lang=en",
        data={
            "current_password": PASSWORD,
            "new_password": "Tiny 4 Cl",
            "confirm": "Tiny 4 Cl",
        },
    )
    assert "Use at least 16 characters." in response.text
    assert get_user_password_ok(app, "admin", PASSWORD)


def get_user_password_ok(app, username, password):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        return user.check_password(password)


# --- unlocking -----------------------------------------------------------------------


def lock_out(app, username="author", address="203.0.113.9"):
    with app.app_context():
        for _ in range(throttle.PER_NAME.block):
            db.session.add(
                LoginAttempt(username=username, ip=address, created_at=utcnow())
            )
        db.session.commit()


def test_throttled_accounts_are_listed(app, admin_client):
    lock_out(app, "author")
    lock_out(app, "author", "203.0.113.10")
    html = admin_client.get("/admin/security?lang=en").text
    row = re.search(r"<th scope=\"row\"[^>]*>author.*?</tr>", html, re.S)[0]
    assert "slowed down" in row
    assert 'data-label="Failures">20<' in row and 'data-label="Addresses">2<' in row


def test_unlock_lets_the_user_in_again_and_is_audited(app, admin_client):
    lock_out(app)
    teacher = app.test_client()
    login = {"username": "author", "password": PASSWORD}
    blocked = teacher.post(
        "/login", data=login, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert blocked.status_code == 429
    response = admin_client.post("/admin/security/unlock", data={"username": "Author"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 0
    [(target, detail, _uid)] = events(app, "account_unlocked")
    assert (target, detail) == ("author", str(throttle.PER_NAME.block))
    again = teacher.post(
        "/login", data=login, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert again.status_code == 302


def test_no_failures_says_none(admin_client):
    assert "None." in admin_client.get("/admin/security?lang=en").text


@pytest.mark.csrf
def test_unlock_without_csrf_token_changes_nothing(app):
    lock_out(app)
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/admin/security").status_code == 200
    assert (
        client.post("/admin/security/unlock", data={"username": "author"}).status_code
        == 400
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 10


# --- second factor lists -------------------------------------------------------------


def test_accounts_with_and_without_second_factor_are_listed(app, admin_client):
    with app.app_context():
        for name in ("author", "admin"):
            user = db.session.scalar(sa.select(User).where(User.username == name))
            user.totp_secret, user.totp_enabled_at = "JBSWY3DPEHPK3PXP", utcnow()
        set_setting("totp_required", "all")
        db.session.commit()
    html = admin_client.get("/admin/security?lang=en").text
    with_part, without_part = html.split("1 account without")
    assert "2 accounts with a second factor" in with_part
    assert "admin (" in with_part and "author (" in with_part
    assert "editor (" in without_part and "admin (" not in without_part
    assert "required: set up at next login" in without_part
