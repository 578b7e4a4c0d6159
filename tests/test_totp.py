"""The second factor: enrolment with a QR code, the code step at login,
replays, throttling, recovery codes, the site's requirement and the reset."""

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from admin import throttle, totp
from models import AuditEvent, RecoveryCode, User, db, set_setting, utcnow
from tests.conftest import PASSWORD, _login

TEACHER = "198.51.100.7"


def get_user(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def enrol(app, username="author") -> str:
    """Turn the second factor on for a user directly; its secret."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        secret = totp.begin_enrolment(user)
        user.totp_enabled_at = utcnow()
        db.session.commit()
        return secret


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + offset_steps * 30)


def actions(app):
    with app.app_context():
        return db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.target, AuditEvent.detail).order_by(
                AuditEvent.id
            )
        ).all()


def password_step(client, username="author", password=PASSWORD, **extra):
    return client.post(
        "/login?lang=en",
        data={"username": username, "password": password, **extra},
        environ_base={"REMOTE_ADDR": TEACHER},
    )


def code_step(client, code):
    return client.post(
        "/login/code?lang=en",
        data={"code": code},
        environ_base={"REMOTE_ADDR": TEACHER},
    )


def set_policy(app, value):
    with app.app_context():
        set_setting("totp_required", value)
        db.session.commit()


# --- enrolment -----------------------------------------------------------------------


def test_enrolment_shows_qr_and_secret_then_a_code_turns_it_on(app, author_client):
    page = author_client.get("/account/password/second-factor?lang=en").text
    assert "Set up the second factor" in page
    assert (
        author_client.post("/account/password/second-factor/start").status_code == 302
    )
    page = author_client.get("/account/password/second-factor?lang=en")
    assert page.headers["Cache-Control"] == "no-store"
    secret = get_user(app, "author").totp_secret
    assert re.search(r'<div class="a-qr"><svg [^>]*viewBox', page.text)
    assert f'<code class="a-secret">{secret}</code>' in page.text
    assert not get_user(app, "author").has_totp  # not before a code
    response = author_client.post(
        "/account/password/second-factor/confirm?lang=en", data={"code": "000000"}
    )
    assert response.status_code == 422
    assert "This code is not right" in response.text
    response = author_client.post(
        "/account/password/second-factor/confirm", data={"code": code_at(secret)}
    )
    assert response.headers["Location"].endswith("/second-factor/codes")
    assert get_user(app, "author").has_totp
    assert ("totp_enabled", "author", "") in actions(app)


def test_recovery_codes_are_shown_once_and_stored_hashed(app, author_client):
    author_client.post("/account/password/second-factor/start")
    secret = get_user(app, "author").totp_secret
    author_client.post(
        "/account/password/second-factor/confirm", data={"code": code_at(secret)}
    )
    page = author_client.get("/account/password/second-factor/codes")
    assert page.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", page.text)
    assert len(codes) == totp.RECOVERY_CODES == len(set(codes))
    again = author_client.get("/account/password/second-factor/codes")
    assert again.status_code == 302  # shown only once
    with app.app_context():
        stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert not any(code.replace("-", "") in h for h in stored for code in codes)


def test_qr_code_encodes_the_provisioning_uri(app):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        totp.begin_enrolment(user)
        uri = totp.provisioning_uri(user, "实验中学")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={user.totp_secret}" in uri and "author" in uri


# --- the code step at login ----------------------------------------------------------


def test_login_asks_for_the_code_after_the_password(app, client):
    secret = enrol(app)
    response = password_step(client)
    assert response.headers["Location"] == "/login/code"
    assert client.get("/editor/").status_code == 302  # not logged in yet
    page = client.get("/login/code?lang=en").text
    assert 'autocomplete="one-time-code"' in page
    response = code_step(client, code_at(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/editor/"
    assert client.get("/editor/").status_code == 200


def test_wrong_password_never_reaches_the_code_step(app, client):
    enrol(app)
    assert password_step(client, password="wrong password").status_code == 200
    assert client.get("/login/code").status_code == 302


def test_code_of_the_next_or_last_step_counts_two_steps_away_does_not(app):
    secret = pyotp.random_base32()
    now = time.time()
    step = int(now // 30)
    for offset in (-1, 0, 1):
        code = pyotp.TOTP(secret).at(now + offset * 30)
        assert totp.matching_step(secret, code, now) == step + offset
    far = pyotp.TOTP(secret).at(now - 60)
    assert totp.matching_step(secret, far, now) is None


def test_a_code_cannot_be_used_twice(app, client):
    secret = enrol(app)
    code = code_at(secret)
    password_step(client)
    assert code_step(client, code).status_code == 302
    client.post("/logout")
    password_step(client)
    response = code_step(client, code)
    assert response.status_code == 200
    assert "already used" in response.text
    assert client.get("/editor/").status_code == 302


def test_an_older_code_after_a_newer_one_is_refused(app, client):
    secret = enrol(app)
    password_step(client)
    assert code_step(client, code_at(secret, +1)).status_code == 302
    client.post("/logout")
    password_step(client)
    assert code_step(client, code_at(secret)).status_code == 200


def test_wrong_codes_count_in_the_throttle_and_are_audited(app, client):
    secret = enrol(app)
    password_step(client)
    for _ in range(throttle.PER_NAME.free):
        assert code_step(client, "123456").status_code == 200
    response = code_step(client, code_at(secret))
    assert response.status_code == 429
    failures = [a for a in actions(app) if a[0] == "login_failed"]
    assert failures.count(("login_failed", "author", "second_factor")) == 5
    assert failures[-1] == ("login_failed", "author", "throttled")


def test_pending_login_expires_after_five_minutes(app, client):
    secret = enrol(app)
    password_step(client)
    with client.session_transaction() as session:
        pending = session["pending_login"]
        pending["at"] -= 5 * 60 + 1
        session["pending_login"] = pending
    response = code_step(client, code_at(secret))
    assert response.headers["Location"] == "/login"
    assert client.get("/editor/").status_code == 302


def test_pending_login_ends_when_the_password_changes_meanwhile(app, client):
    secret = enrol(app)
    password_step(client)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        user.session_token = "changed"
        db.session.commit()
    assert code_step(client, code_at(secret)).headers["Location"] == "/login"


def test_recovery_code_logs_in_once_and_is_audited(app, client):
    enrol(app)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        codes = totp.make_recovery_codes(user)
        db.session.commit()
    password_step(client)
    assert code_step(client, codes[3].upper()).status_code == 302
    assert ("recovery_code_used", "author", "") in actions(app)
    client.post("/logout")
    password_step(client)
    assert code_step(client, codes[3]).status_code == 200
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        assert totp.recovery_codes_left(user) == 9


def test_remember_me_survives_the_code_step(app, client):
    secret = enrol(app)
    password_step(client, remember="y")
    code_step(client, code_at(secret))
    client.delete_cookie("session")
    assert client.get("/editor/").status_code == 200


# --- required by the site ------------------------------------------------------------


def test_required_for_management_roles_sends_admin_to_enrolment_first(app):
    set_policy(app, "admins")
    admin = _login(app.test_client(), "admin")
    response = admin.get("/admin/users")
    assert response.headers["Location"] == "/account/password/second-factor"
    response = admin.get("/admin/users", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["location"] == "/account/password/second-factor"
    assert admin.get("/account/password/second-factor").status_code == 200
    # Teachers without a management role are not asked.
    editor = _login(app.test_client(), "editor")
    assert editor.get("/editor/").status_code == 200


def test_required_for_everyone_then_enrolment_opens_the_pages(app):
    set_policy(app, "all")
    author = _login(app.test_client(), "author")
    assert author.get("/editor/").status_code == 302
    author.post("/account/password/second-factor/start")
    secret = get_user(app, "author").totp_secret
    author.post(
        "/account/password/second-factor/confirm", data={"code": code_at(secret)}
    )
    assert author.get("/editor/").status_code == 200


def test_cannot_turn_off_when_required(app, author_client):
    enrol(app)
    set_policy(app, "all")
    response = author_client.post(
        "/account/password/second-factor/off", data={"off-password": PASSWORD}
    )
    assert response.status_code == 302
    assert get_user(app, "author").has_totp


def test_turning_off_asks_for_the_password_and_is_audited(app, author_client):
    enrol(app)
    response = author_client.post(
        "/account/password/second-factor/off?lang=en",
        data={"off-password": "wrong password"},
    )
    assert response.status_code == 422 and "The password is wrong." in response.text
    assert get_user(app, "author").has_totp
    author_client.post(
        "/account/password/second-factor/off", data={"off-password": PASSWORD}
    )
    assert not get_user(app, "author").has_totp
    assert ("totp_disabled", "author", "") in actions(app)
    author_client.post("/logout")
    assert password_step(author_client).headers["Location"] == "/editor/"


def test_new_recovery_codes_replace_the_old_ones(app, author_client):
    enrol(app)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        old = totp.make_recovery_codes(user)
        db.session.commit()
        author_id = user.id
    response = author_client.post(
        "/account/password/second-factor/codes/new", data={"codes-password": PASSWORD}
    )
    assert response.headers["Location"].endswith("/second-factor/codes")
    assert ("recovery_codes_made", "author", "") in actions(app)
    with app.app_context():
        user = db.session.get(User, author_id)
        assert not totp.use_recovery_code(user, old[0])
        assert totp.recovery_codes_left(user) == 10


# --- the security administrator's reset ----------------------------------------------


def test_security_admin_resets_a_lost_second_factor(app, client):
    enrol(app)
    author = get_user(app, "author")
    admin = _login(app.test_client(), "admin")
    assert "author" in admin.get("/admin/security").text
    response = admin.post(f"/admin/security/users/{author.id}/totp/reset")
    assert response.status_code == 302
    assert get_user(app, "author").totp_secret is None
    assert ("totp_reset", "author", "") in actions(app)
    assert password_step(client).headers["Location"] == "/editor/"


@pytest.mark.parametrize("username", ["editor", "admin"])
def test_only_security_admins_reset_a_second_factor(app, username):
    enrol(app)
    with app.app_context():
        # A system administrator without the security duty (三员 separated).
        db.session.execute(
            sa.update(User).where(User.username == "admin").values(security_admin=False)
        )
        db.session.commit()
    author = get_user(app, "author")
    other = _login(app.test_client(), username)
    assert other.get("/admin/security").status_code == 403
    response = other.post(f"/admin/security/users/{author.id}/totp/reset")
    assert response.status_code == 403
    assert get_user(app, "author").has_totp
