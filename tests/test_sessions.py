"""Sessions per device: logout ends this one; «end all», a password change and
the admin's «end sessions» end every one, remember-me cookies included.

Each test copies a teacher's cookies before the action (as someone at a shared
staff-room computer could) and replays them afterwards in a fresh browser.
"""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from admin import sessions
from models import AuditEvent, User, UserSession, db, utcnow
from tests.conftest import PASSWORD, _login, count_statements


def get_user(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def csrf_token(client):
    """The login form's CSRF token, when the test runs with CSRF on."""
    page = client.get("/login").text
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return {"csrf_token": found[1]} if found else {}


def log_in(app, username="author", remember=True):
    client = app.test_client()
    data = {"username": username, "password": PASSWORD, **csrf_token(client)}
    if remember:
        data["remember"] = "y"
    assert client.post("/login", data=data).status_code == 302
    return client


def copy_cookies(client):
    """The session and remember-me cookies as a thief would copy them."""
    cookies = {
        name: client.get_cookie(name).value for name in ("session", "remember_token")
    }
    assert all(cookies.values()), cookies
    return cookies


def replay(app, name, value):
    """Status of /editor/ in a fresh browser holding only the copied cookie."""
    browser = app.test_client()
    browser.set_cookie(name, value)
    return browser.get("/editor/").status_code


def assert_replays(app, cookies, expected):
    assert {name: replay(app, name, value) for name, value in cookies.items()} == {
        name: expected for name in cookies
    }


def admin_post(app, url, **data):
    admin = _login(app.test_client(), "admin")
    response = admin.post(url, data=data)
    assert response.status_code == 302, response.text
    return admin


def audit_events(app):
    with app.app_context():
        return db.session.execute(sa.select(AuditEvent.action, AuditEvent.target)).all()


@pytest.fixture
def stolen(app):
    """The author's cookies copied from a logged-in browser; they work now."""
    teacher = log_in(app)
    cookies = copy_cookies(teacher)
    assert_replays(app, cookies, 200)
    return teacher, cookies


# --- each way a session ends ------------------------------------------------------


def test_logout_ends_copied_session_and_remember_cookies(app, stolen):
    teacher, cookies = stolen
    assert teacher.post("/logout").status_code == 302
    assert teacher.get("/editor/").status_code == 302
    assert_replays(app, cookies, 302)


def test_logging_in_again_does_not_revive_cookies_from_before_logout(app, stolen):
    teacher, cookies = stolen
    teacher.post("/logout")
    log_in(app)
    assert_replays(app, cookies, 302)


def test_logout_leaves_the_users_other_devices_logged_in(app, stolen):
    teacher, _cookies = stolen
    phone = log_in(app)
    phone_cookies = copy_cookies(phone)
    teacher.post("/logout")
    assert phone.get("/editor/").status_code == 200
    assert_replays(app, phone_cookies, 200)


def test_logout_message_says_this_device_only(client, stolen):
    teacher, _cookies = stolen
    html = teacher.post("/logout?lang=en", follow_redirects=True).text
    assert "You have been logged out." in html
    assert "every device" not in html


def test_password_change_ends_copied_cookies(app, stolen):
    teacher, cookies = stolen
    response = teacher.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new secret 9",
            "confirm": "a new secret 9",
        },
    )
    assert response.status_code == 302
    assert teacher.get("/editor/").status_code == 200  # this browser stays in
    assert_replays(app, cookies, 302)


def test_admin_deactivation_ends_copied_cookies(app, stolen):
    _teacher, cookies = stolen
    author = get_user(app, "author")
    admin_post(app, f"/admin/users/{author.id}/deactivate")
    assert_replays(app, cookies, 302)


def test_admin_password_reset_ends_copied_cookies(app, stolen):
    _teacher, cookies = stolen
    author = get_user(app, "author")
    admin_post(
        app,
        f"/admin/users/{author.id}/password",
        new_password="Reset by admin 7",
        set_password="y",
    )
    assert_replays(app, cookies, 302)


def test_admin_end_sessions_ends_copied_cookies_and_is_audited(app, stolen):
    teacher, cookies = stolen
    author = get_user(app, "author")
    admin_post(app, f"/admin/users/{author.id}/sessions/end")
    assert teacher.get("/editor/").status_code == 302
    assert_replays(app, cookies, 302)
    assert ("sessions_ended", "author") in audit_events(app)
    # The account itself is untouched: the teacher simply logs in again.
    assert get_user(app, "author").active
    log_in(app)


def test_ending_sessions_leaves_other_users_logged_in(app, stolen):
    editor = log_in(app, "editor")
    editor_cookies = copy_cookies(editor)
    author = get_user(app, "author")
    admin_post(app, f"/admin/users/{author.id}/sessions/end")
    assert editor.get("/editor/").status_code == 200
    assert_replays(app, editor_cookies, 200)


# --- the admin's page and button -----------------------------------------------


def test_user_page_shows_last_login_and_end_sessions_button(app, stolen):
    admin = _login(app.test_client(), "admin")
    author = get_user(app, "author")
    html = admin.get(f"/admin/users/{author.id}?lang=en").text
    assert re.search(r"Last login:\s*\d{4}-\d{2}-\d{2}", html), html
    form = re.search(
        rf'<form method="post" action="/admin/users/{author.id}/sessions/end">'
        r"(.*?)</form>",
        html,
        re.S,
    )
    assert form and 'name="csrf_token"' in form[1]
    assert "End all sessions of author" in form[1]


def test_users_list_shows_last_login(app, stolen):
    admin = _login(app.test_client(), "admin")
    html = admin.get("/admin/users?lang=en").text
    row = re.search(r"<tr[^>]*>\s*<th[^>]*>author</th>(.*?)</tr>", html, re.S)[1]
    assert re.search(r'data-label="Last login">\d{4}-\d{2}-\d{2}', row), row


def test_admin_ending_own_sessions_keeps_this_browser(app):
    here = log_in(app, "admin")
    elsewhere = log_in(app, "admin")
    cookies = copy_cookies(elsewhere)
    me = get_user(app, "admin")
    response = here.post(f"/admin/users/{me.id}/sessions/end?lang=en")
    assert "other devices have been ended" in here.get(response.location).text
    assert here.get("/admin/users").status_code == 200
    here.delete_cookie("session")  # its remember-me cookie got the new token
    assert here.get("/admin/users").status_code == 200
    assert_replays(app, cookies, 302)


def test_audit_log_names_the_end_of_sessions(app, stolen):
    author = get_user(app, "author")
    admin = admin_post(app, f"/admin/users/{author.id}/sessions/end")
    assert "Ended a user's sessions" in admin.get("/admin/audit?lang=en").text


def test_only_admins_can_end_sessions(app, stolen):
    _teacher, cookies = stolen
    editor = _login(app.test_client(), "editor")
    author = get_user(app, "author")
    assert editor.post(f"/admin/users/{author.id}/sessions/end").status_code == 403
    assert_replays(app, cookies, 200)


@pytest.mark.csrf
def test_end_sessions_without_csrf_token_changes_nothing(app, stolen):
    _teacher, cookies = stolen
    admin = log_in(app, "admin")
    assert admin.get("/admin/users").status_code == 200
    author = get_user(app, "author")
    assert admin.post(f"/admin/users/{author.id}/sessions/end").status_code == 400
    assert_replays(app, cookies, 200)


# --- one row per device ------------------------------------------------------------


def session_rows(app, username="author"):
    with app.app_context():
        uid = db.session.scalar(sa.select(User.id).where(User.username == username))
        return db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == uid)
            .order_by(UserSession.id)
        ).all()


def test_login_records_the_device(app):
    browser = app.test_client()
    browser.post(
        "/login",
        data={"username": "author", "password": PASSWORD},
        headers={
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 " + "x" * 300
        },
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    [row] = session_rows(app)
    assert row.ip == "198.51.100.7" and row.ended_at is None
    assert len(row.user_agent) == 200 and row.user_agent.startswith("Mozilla/5.0")
    assert len(row.key) > 32


def test_logout_ends_only_this_devices_row(app, stolen):
    teacher, _cookies = stolen
    log_in(app)
    teacher.post("/logout")
    first, second = session_rows(app)
    assert (first.end_reason, second.ended_at) == ("logout", None)
    assert ("logout", "author") in audit_events(app)


def test_cookie_from_before_the_upgrade_is_asked_to_log_in(app):
    browser = app.test_client()
    author = get_user(app, "author")
    with browser.session_transaction() as session:
        session["_user_id"] = f"{author.id}:{author.session_token}"
        session["_fresh"] = True
    response = browser.get("/editor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_cookie_naming_another_users_device_is_refused(app):
    editor = log_in(app, "editor")
    [row] = session_rows(app, "editor")
    author = get_user(app, "author")
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = f"{author.id}:{author.session_token}:{row.key}"
    assert browser.get("/editor/").status_code == 302
    assert editor.get("/editor/").status_code == 200


def account_page(client):
    return client.get("/account/password?lang=en").text


def test_account_page_lists_my_sessions_and_marks_this_one(app):
    desk = log_in(app)
    phone = app.test_client()
    phone.post(
        "/login",
        data={"username": "author", "password": PASSWORD},
        headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    log_in(app, "editor")  # someone else's session is not listed
    html = account_page(desk)
    rows = re.findall(r"<tr>\s*<th scope=\"row\".*?</tr>", html, re.S)
    assert len(rows) == 2
    phone_row = next(r for r in rows if "10.1.2.3" in r)
    assert "Safari · iPhone" in phone_row and "this device" not in phone_row
    this_row = next(r for r in rows if "10.1.2.3" not in r)
    assert "this device" in this_row and "<form" not in this_row
    assert "End all other sessions" in html


def test_ending_one_other_session_logs_that_device_out(app):
    desk = log_in(app)
    phone = log_in(app)
    phone_cookies = copy_cookies(phone)
    laptop = log_in(app)
    _desk_row, phone_row, _laptop_row = session_rows(app)
    response = desk.post(f"/account/password/sessions/{phone_row.id}/end")
    assert response.status_code == 302
    assert phone.get("/editor/").status_code == 302
    assert_replays(app, phone_cookies, 302)
    assert laptop.get("/editor/").status_code == 200
    assert desk.get("/editor/").status_code == 200
    assert session_rows(app)[1].end_reason == "ended"
    assert ("session_ended", "author") in audit_events(app)


def test_the_end_button_does_not_end_this_session(app):
    desk = log_in(app)
    [row] = session_rows(app)
    desk.post(f"/account/password/sessions/{row.id}/end")
    assert desk.get("/editor/").status_code == 200


def test_nobody_ends_another_users_session(app):
    editor = log_in(app, "editor")
    [row] = session_rows(app, "editor")
    author = log_in(app)
    author.post(f"/account/password/sessions/{row.id}/end")
    assert editor.get("/editor/").status_code == 200
    assert session_rows(app, "editor")[0].ended_at is None


def test_end_all_other_sessions_keeps_this_one(app):
    desk = log_in(app)
    others = [log_in(app) for _ in range(2)]
    cookies = [copy_cookies(other) for other in others]
    response = desk.post("/account/password/sessions/end?lang=en")
    assert "other devices have been ended" in desk.get(response.location).text
    assert desk.get("/editor/").status_code == 200
    desk.delete_cookie("session")  # its remember-me cookie still works
    assert desk.get("/editor/").status_code == 200
    for other, copied in zip(others, cookies, strict=True):
        assert other.get("/editor/").status_code == 302
        assert_replays(app, copied, 302)
    assert ("sessions_ended", "author") in audit_events(app)


def test_password_change_ends_other_rows_and_keeps_this_one(app):
    desk, phone = log_in(app), log_in(app)
    desk.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new secret 9",
            "confirm": "a new secret 9",
        },
    )
    desk_row, phone_row = session_rows(app)
    assert desk_row.ended_at is None
    assert phone_row.end_reason == "password"
    assert phone.get("/editor/").status_code == 302
    assert [r.id for r in _live(app)] == [desk_row.id]


def _live(app):
    with app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        return sessions.live(user)


def test_last_seen_is_written_at_most_once_a_minute(app, monkeypatch):
    desk = log_in(app)
    [row] = session_rows(app)
    start = row.last_seen_at
    later = start + timedelta(seconds=30)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    with count_statements() as seen:
        desk.get("/editor/")
    assert session_rows(app)[0].last_seen_at == start
    assert not [s for s in seen if s.startswith("UPDATE user_session")]
    later = start + timedelta(seconds=61)
    desk.get("/editor/")
    assert session_rows(app)[0].last_seen_at == later


def test_idle_session_is_not_listed_and_is_marked_at_the_next_login(app, monkeypatch):
    log_in(app, remember=False)
    remembered = log_in(app, remember=True)
    later = utcnow() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 2)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    assert len(_live(app)) == 1  # the remembered device lives on
    assert remembered.get("/editor/").status_code == 200
    log_in(app)
    idle, kept, _new = session_rows(app)
    assert idle.end_reason == "idle" and kept.ended_at is None


def test_admin_end_sessions_ends_every_row(app, stolen):
    log_in(app)
    author = get_user(app, "author")
    admin_post(app, f"/admin/users/{author.id}/sessions/end")
    assert all(row.ended_at is not None for row in session_rows(app))
