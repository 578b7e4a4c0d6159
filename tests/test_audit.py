"""The audit log: the audit administrator's page (filters, paging, exports,
the tamper check), and every event the 等保 issue lists, recorded with time,
user, source address, event type and outcome when the real routes run."""

import csv
import io
import re
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from app import create_app
from core import audit
from models import (
    AuditChain,
    AuditEvent,
    Role,
    Status,
    User,
    db,
    set_setting,
    utcnow,
)
from tests.conftest import (
    PASSWORD,
    _close,
    _config,
    drop_audit_triggers,
    form_data,
    get_article,
    new_user,
    shown_version,
    user_id,
)

ADDRESS = "10.20.30.40"  # the clients' address in these tests


@pytest.fixture
def app(tmp_path, request, monkeypatch, empty_site):
    """The test site, with an instance folder of its own: its backups must
    not write into (or clean) the checkout's instance/audit-archive."""
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    empty_site.copy_to(tmp_path)
    app = create_app(_config(tmp_path, request))
    yield app
    _close(app)


def client_from(app, address=ADDRESS):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(app, username, address=ADDRESS):
    client = client_from(app, address)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def add_user(app, username, role=Role.AUTHOR, **duties):
    with app.app_context():
        user = new_user(username, role)
        for duty, held in duties.items():
            setattr(user, duty, held)
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def auditor(app):
    """A client logged in as an audit administrator who holds nothing else."""
    add_user(app, "shenji", Role.AUTHOR, audit_admin=True)
    return log_in(app, "shenji")


def events(app, action=None, since=0):
    with app.app_context():
        query = sa.select(AuditEvent).where(AuditEvent.id > since)
        if action:
            query = query.where(AuditEvent.action == action)
        found = db.session.scalars(query.order_by(AuditEvent.id)).all()
        for event in found:
            event.username = event.user.username if event.user else None
            db.session.expunge(event)
        return found


def last_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def record_at(app, action, *, days_ago=0, user=None, ip="", outcome="success", **kw):
    """An event as if recorded days_ago (for the filters)."""
    with app.app_context():
        who = (
            db.session.scalar(sa.select(User).where(User.username == user))
            if user
            else None
        )
        event = audit.record(action, kw.get("target", ""), who, outcome=outcome)
        event.ip = ip
        event.detail = kw.get("detail", "")
        event.created_at = utcnow() - timedelta(days=days_ago)
        db.session.commit()
        return event.id


# --- who may read it -------------------------------------------------------------


def test_the_audit_page_is_for_the_audit_administrator_only(app, client):
    add_user(app, "xitong", Role.ADMIN)  # system administrator, no audit duty
    add_user(app, "anquan", Role.AUTHOR, security_admin=True)
    add_user(app, "shenji", Role.AUTHOR, audit_admin=True)
    assert client.get("/admin/audit").status_code == 302  # to the login
    for name in ("xitong", "anquan", "editor"):
        other = log_in(app, name)
        for url in ("/admin/audit", "/admin/audit.csv", "/admin/audit.xlsx"):
            assert other.get(url).status_code == 403, (name, url)
        assert other.post("/admin/audit/verify").status_code == 403
    assert events(app, "audit_exported") == []
    assert log_in(app, "shenji").get("/admin/audit").status_code == 200


def test_the_audit_administrator_cannot_change_settings(app, auditor):
    assert auditor.get("/admin/settings").status_code == 403
    assert auditor.post("/admin/settings", data={"school_name": "x"}).status_code == 403
    assert auditor.post("/admin/backups").status_code == 403


# --- the page --------------------------------------------------------------------


def test_the_page_shows_time_user_address_event_outcome_and_details(app, auditor):
    record_at(
        app,
        "login_failed",
        user="editor",
        ip="192.0.2.7",
        outcome="failure",
        target="editor",
        detail="wrong_password",
    )
    page = auditor.get("/admin/audit?lang=en").get_data(as_text=True)
    row = re.search(r'<tr id="event-\d+">(.*?)</tr>', page, re.S)[1]
    assert "editor" in row and "192.0.2.7" in row
    assert "Failed to log in" in row and "Failure" in row
    assert "wrong password" in row
    chinese = auditor.get("/admin/audit?lang=zh_Hans_CN").get_data(as_text=True)
    assert "登录" in chinese


@pytest.mark.parametrize(
    "query, expected",
    [
        ("user={editor}", {"T-OLD", "T-NEW"}),
        ("user=none", {"T-CLI"}),
        ("event=backup_created", {"T-CLI"}),
        ("outcome=failure", {"T-NEW"}),
        ("address=192.0.2", {"T-OLD", "T-NEW"}),
        ("address=%25", set()),  # a literal %, not a wildcard
        ("from={week_ago}", {"T-NEW", "T-CLI"}),
        ("to={week_ago}", {"T-OLD"}),
        ("from={week_ago}&to={today}&user={editor}", {"T-NEW"}),
    ],
)
def test_filters_narrow_the_list(app, auditor, query, expected):
    from core import periods

    with app.test_request_context():
        today = periods.today()
    record_at(app, "login", days_ago=30, user="editor", ip="192.0.2.1", target="T-OLD")
    record_at(
        app,
        "login_failed",
        days_ago=1,
        user="editor",
        ip="192.0.2.2",
        outcome="failure",
        target="T-NEW",
    )
    record_at(app, "backup_created", target="T-CLI")
    query = query.format(
        editor=user_id(app, "editor"),
        week_ago=(today - timedelta(days=7)).isoformat(),
        today=today.isoformat(),
    )
    page = auditor.get(f"/admin/audit?{query}").get_data(as_text=True)
    shown = set(re.findall(r"(T-OLD|T-NEW|T-CLI)", page))
    assert shown == expected


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-13-01", "is not a date"),
        ("from=2026-05-01&to=2026-04-01", "end date comes before"),
        ("event=rm -rf", "Choose one of the events offered"),
        ("outcome=maybe", "Choose one of the outcomes offered"),
        ("user=abc", "Choose one of the users offered"),
    ],
)
def test_a_bad_filter_is_explained_and_kept(auditor, query, message):
    response = auditor.get(f"/admin/audit?lang=en&{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    first_value = query.split("&")[0].split("=", 1)[1]
    if "-" in first_value and " " not in first_value:
        assert f'value="{first_value}"' in page
    assert auditor.get(f"/admin/audit.csv?{query}").status_code == 400


def test_the_event_select_names_every_event_of_the_issue(app, auditor):
    from admin import auditlog

    issue_events = (
        "login login_failed logout session_ended sessions_ended password_changed "
        "password_reset password_expired_changed totp_enabled totp_disabled "
        "totp_reset recovery_code_used recovery_codes_made account_unlocked "
        "user_created user_updated role_changed duty_changed user_deactivated "
        "user_reactivated dormant_disabled department_assigned settings_changed "
        "policy_changed single_admin_changed setup_completed backup_created "
        "backup_downloaded backup_copied restore restore_drill audit_exported "
        "audit_verified audit_archived stats_exported ledger_exported "
        "selfcheck_exported article.publish article.unpublish article.delete"
    ).split()
    assert set(issue_events) <= set(auditlog.LABELS)
    page = auditor.get("/admin/audit").get_data(as_text=True)
    for name in issue_events:
        assert f'<option value="{name}"' in page


def test_paging_keeps_the_filter(app, auditor):
    for n in range(60):
        record_at(app, "backup_created", target=f"第{n}次")
    record_at(app, "logout", user="editor", target="不在过滤里")
    first = auditor.get("/admin/audit?event=backup_created").get_data(as_text=True)
    assert first.count('<tr id="event-') == 50
    older = re.search(r'rel="next" href="([^"]+)"', first)[1].replace("&amp;", "&")
    assert "event=backup_created" in older and "page=2" in older
    second = auditor.get(older).get_data(as_text=True)
    assert second.count('<tr id="event-') == 10
    assert "第0次" in second and "第59次" in first  # newest first
    assert "不在过滤里" not in first + second


# --- exports -------------------------------------------------------------------


def test_the_csv_export_is_excel_friendly_and_recorded(app, auditor):
    record_at(
        app,
        "login_failed",
        user="editor",
        ip="192.0.2.7",
        outcome="failure",
        target="=HYPERLINK(1)",
        detail="wrong_password",
    )
    response = auditor.get("/admin/audit.csv?outcome=failure&lang=zh_Hans_CN")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in response.headers["Cache-Control"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads Chinese
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(table) == 2  # the headers and the one failure
    row = table[1]
    assert "editor" in row and "192.0.2.7" in row and "login_failed" in row
    assert "'=HYPERLINK(1)" in row  # never a formula
    (exported,) = events(app, "audit_exported")
    assert exported.username == "shenji" and exported.ip == ADDRESS
    assert exported.target == "csv" and exported.detail == "outcome=failure"


def test_the_workbook_export_holds_the_filtered_events(app, auditor):
    record_at(app, "backup_created", target="schoolnews-1.tar.gz")
    record_at(app, "login", user="editor", ip="192.0.2.3")
    editor_id = user_id(app, "editor")
    response = auditor.get(f"/admin/audit.xlsx?user={editor_id}&lang=zh_Hans_CN")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [
        [cell for cell in row] for row in sheet.iter_rows(min_row=4, values_only=True)
    ]
    assert len(rows) == 1
    assert rows[0][2] == "editor" and rows[0][3] == "192.0.2.3"
    assert rows[0][5] == "login" and rows[0][4] != "login"  # a Chinese label too
    headers = [cell.value for cell in sheet[3]]
    assert headers[1] == "时间"
    (exported,) = events(app, "audit_exported")
    assert exported.detail == "user=editor"


# --- the tamper check --------------------------------------------------------------


def test_verify_now_records_the_check_and_shows_it(app, auditor):
    record_at(app, "login", user="editor")
    response = auditor.post("/admin/audit/verify")
    assert response.status_code == 302
    page = auditor.get("/admin/audit").get_data(as_text=True)
    assert "审计链完整：已校验" in page
    assert "chain-broken" not in page
    (verified,) = events(app, "audit_verified")
    assert verified.outcome == "success" and verified.username == "shenji"


def test_a_broken_chain_is_shown_in_red_naming_the_event(app, auditor):
    ids = [record_at(app, "login", user="editor", target=str(n)) for n in range(3)]
    with app.app_context(), db.engine.begin() as connection:
        drop_audit_triggers(connection)
        connection.execute(
            sa.text(f"UPDATE audit_event SET target = 'x' WHERE id = {ids[1]}")
        )
    auditor.post("/admin/audit/verify")
    page = auditor.get("/admin/audit?lang=en").get_data(as_text=True)
    warning = re.search(r'<p class="a-alert" id="chain-broken".*?</p>', page, re.S)[0]
    assert f"Event number {ids[1]} does not fit" in warning
    (verified,) = events(app, "audit_verified")
    assert verified.outcome == "failure"
    with app.app_context():
        assert db.session.get(AuditChain, 1).verified_ok is False


@pytest.mark.csrf
def test_verify_now_needs_the_csrf_token(app):
    add_user(app, "shenji", Role.AUTHOR, audit_admin=True)
    client = client_from(app)
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"',
        client.get("/login").get_data(as_text=True),
    )[1]
    client.post(
        "/login", data={"username": "shenji", "password": PASSWORD, "csrf_token": token}
    )
    assert client.post("/admin/audit/verify").status_code == 400
    assert events(app, "audit_verified") == []
    page = client.get("/admin/audit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    response = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert response.status_code == 302
    assert len(events(app, "audit_verified")) == 1


# --- the source address ------------------------------------------------------------


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_the_clients_address_is_recorded(app):
    client = client_from(app, "127.0.0.1")
    client.post(
        "/login",
        data={"username": "editor", "password": "wrong"},
        headers={"X-Forwarded-For": "198.51.100.23"},
    )
    (failed,) = events(app, "login_failed")
    assert failed.ip == "198.51.100.23"


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(app):
    client = client_from(app)
    client.post(
        "/login",
        data={"username": "editor", "password": "wrong"},
        headers={"X-Forwarded-For": "198.51.100.23"},
    )
    (failed,) = events(app, "login_failed")
    assert failed.ip == ADDRESS


# --- every event of the issue, through the real routes ---------------------------
#
# Each check drives the routes a person would use, then finds the event with
# its user, address and outcome. Events whose code has not landed yet skip
# with a message naming them (the lead removes the skip when it lands).

NOT_YET: dict[str, str] = {}


def expect(app, action, since, *, user, outcome="success", ip=ADDRESS, detail=None):
    found = [e for e in events(app, action, since)]
    if not found and action in NOT_YET:
        pytest.skip(f"audit event {action!r} is not recorded yet: {NOT_YET[action]}")
    assert found, f"no {action!r} event was recorded"
    event = found[-1]
    assert event.username == user, (action, event.username)
    assert event.outcome == outcome, (action, event.outcome)
    assert event.ip == ip, (action, event.ip)
    assert abs(utcnow() - event.created_at) < timedelta(minutes=5)
    if detail is not None:
        assert detail in event.detail, (action, event.detail)
    return event


def test_login_and_logout_are_recorded(app):
    since = last_id(app)
    client = log_in(app, "editor")
    expect(app, "login", since, user="editor")
    client.post("/logout")
    expect(app, "logout", since, user="editor")


@pytest.mark.parametrize(
    "username, password, reason",
    [
        ("editor", "wrong password", "wrong_password"),
        ("nobody", PASSWORD, "unknown_user"),
    ],
)
def test_failed_logins_are_recorded_with_the_reason(app, username, password, reason):
    since = last_id(app)
    client_from(app).post("/login", data={"username": username, "password": password})
    event = expect(
        app,
        "login_failed",
        since,
        user="editor" if username == "editor" else None,
        outcome="failure",
        detail=reason,
    )
    assert username in event.target


def test_a_deactivated_accounts_login_is_recorded(app):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "author"))
        user.active = False
        db.session.commit()
    since = last_id(app)
    client_from(app).post("/login", data={"username": "author", "password": PASSWORD})
    expect(
        app,
        "login_failed",
        since,
        user="author",
        outcome="failure",
        detail="deactivated",
    )


def test_throttled_logins_are_recorded(app):
    since = last_id(app)
    client = client_from(app)
    for _ in range(8):
        client.post("/login", data={"username": "editor", "password": "wrong"})
    found = {e.detail for e in events(app, "login_failed", since)}
    if "throttled" not in found:
        pytest.skip("login_failed with detail 'throttled' is not recorded yet")
    assert "wrong_password" in found


def test_password_change_is_recorded(app):
    client = log_in(app, "editor")
    since = last_id(app)
    new = "a new Password 2026!"
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code in (200, 302)
    expect(app, "password_changed", since, user="editor")


def test_account_administration_is_recorded(app):
    admin = log_in(app, "admin")
    since = last_id(app)
    new = "Initial Password 2026!"
    response = admin.post(
        "/admin/users",
        data={
            "username": "lihua",
            "display_name": "李华",
            "role": "author",
            "department_id": "0",
            "email": "",
            "byline": "",
            "password": new,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    expect(app, "user_created", since, user="admin")
    lihua = user_id(app, "lihua")
    admin.post(
        f"/admin/users/{lihua}",
        data={
            "display_name": "李华",
            "role": "editor",
            "department_id": "0",
            "email": "",
        },
    )
    expect(app, "role_changed", since, user="admin")
    admin.post(f"/admin/users/{lihua}/password", data={"generate": "1"})
    expect(app, "password_reset", since, user="admin")
    admin.post(f"/admin/users/{lihua}/sessions/end")
    expect(app, "sessions_ended", since, user="admin")
    admin.post(f"/admin/users/{lihua}/deactivate")
    expect(app, "user_deactivated", since, user="admin")
    admin.post(f"/admin/users/{lihua}/reactivate")
    expect(app, "user_reactivated", since, user="admin")


def test_settings_changes_are_recorded(app):
    admin = log_in(app, "admin")
    since = last_id(app)
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert page
    admin.post(
        "/admin/settings",
        data={"school_name": "第二中学", "smtp_tls": "starttls", "smtp_port": ""},
    )
    expect(app, "settings_changed", since, user="admin")


@pytest.mark.parametrize(
    "url, action",
    [
        ("/admin/stats.xlsx?period=month", "stats_exported"),
        ("/admin/stats.csv?period=month&table=posts", "stats_exported"),
        ("/admin/review-ledger.xlsx?month={month}", "ledger_exported"),
        ("/admin/audit.csv", "audit_exported"),
        ("/admin/audit.xlsx", "audit_exported"),
        ("/admin/compliance.xlsx", "selfcheck_exported"),
        ("/admin/compliance.docx", "selfcheck_exported"),
    ],
)
def test_every_export_is_recorded(app, url, action):
    from core import periods

    with app.test_request_context():
        month = periods.today().strftime("%Y-%m")
    admin = log_in(app, "admin")
    since = last_id(app)
    response = admin.get(url.format(month=month))
    if response.status_code == 404 and action in NOT_YET:
        pytest.skip(f"{url} is not there yet")
    assert response.status_code == 200, url
    expect(app, action, since, user="admin")


def article_version(app, article_id):
    return str(get_article(app, article_id).version)


def test_publish_unpublish_and_delete_are_recorded(app, make_article, section):
    article_id = make_article(
        status=Status.DRAFT, published_at=None, section_id=section
    )
    editor = log_in(app, "editor")
    since = last_id(app)
    edit = f"/editor/articles/{article_id}/edit"
    for action in ("publish", "unpublish"):
        version = article_version(app, article_id)
        editor.post(edit, data=form_data(section, action=action, version=version))
        expect(app, f"article.{action}", since, user="editor")
    editor.post(f"/editor/articles/{article_id}/delete")
    expect(app, "article.delete", since, user="editor")


def test_publishing_by_the_last_approval_is_recorded(app, make_article, section):
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    article_id = make_article(
        status=Status.DRAFT,
        published_at=None,
        section_id=section,
        created_by_id=user_id(app, "author"),
    )
    author = log_in(app, "author")
    author.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(
            section, action="submit", version=article_version(app, article_id)
        ),
    )
    assert get_article(app, article_id).status == Status.PENDING
    editor = log_in(app, "editor")
    since = last_id(app)
    response = editor.post(
        f"/editor/review/{article_id}/approve",
        data={"version": shown_version(app, article_id), "note": ""},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert get_article(app, article_id).status == Status.PUBLISHED
    event = expect(app, "article.publish", since, user="editor")
    assert event.detail == "approved"


def test_web_backup_and_download_are_recorded(app):
    admin = log_in(app, "admin")
    since = last_id(app)
    assert admin.post("/admin/backups").status_code == 302
    made = expect(app, "backup_created", since, user="admin")
    response = admin.get(f"/admin/backups/{made.target}")
    assert response.status_code == 200
    response.close()
    expect(app, "backup_downloaded", since, user="admin")


def test_command_line_backup_is_recorded_without_user_or_address(app, runner):
    since = last_id(app)
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    expect(app, "backup_created", since, user=None, ip="")


def test_the_audit_chain_verifies_after_all_of_this(app, runner):
    admin = log_in(app, "admin")
    admin.get("/admin/stats.xlsx?period=month")
    client_from(app).post("/login", data={"username": "editor", "password": "x"})
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 0, result.output


# --- the sign-in helper's, roles helper's and first run's events ---------------


def set_user(app, username, **values):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


def settings(app, **values):
    with app.app_context():
        for key, value in values.items():
            set_setting(key, value)
        db.session.commit()


def test_ending_sessions_is_recorded(app):
    from models import UserSession

    phone = log_in(app, "editor", "192.0.2.50")
    desktop = log_in(app, "editor")
    assert phone.get("/editor/").status_code == 200
    with app.app_context():
        keys = db.session.scalars(
            sa.select(UserSession.id).where(
                UserSession.user_id == user_id(app, "editor"),
                UserSession.ended_at.is_(None),
                UserSession.ip == "192.0.2.50",
            )
        ).all()
    since = last_id(app)
    desktop.post(f"/account/password/sessions/{keys[-1]}/end")
    expect(app, "session_ended", since, user="editor")
    desktop.post("/account/password/sessions/end")
    expect(app, "sessions_ended", since, user="editor")


def totp_now(app, username):
    import pyotp

    from admin import totp

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        return pyotp.TOTP(totp.secret_of(user)).now()


def test_the_second_factor_is_recorded(app):
    editor = log_in(app, "editor")
    since = last_id(app)
    editor.post("/account/password/second-factor/start")
    editor.post(
        "/account/password/second-factor/confirm",
        data={"code": totp_now(app, "editor")},
    )
    expect(app, "totp_enabled", since, user="editor")
    with editor.session_transaction() as session:
        codes = session.get("recovery_codes") or []
    editor.post(
        "/account/password/second-factor/codes/new", data={"codes-password": PASSWORD}
    )
    expect(app, "recovery_codes_made", since, user="editor")
    with editor.session_transaction() as session:
        codes = session.get("recovery_codes") or codes
    # A wrong code at login, then a recovery code.
    phone = client_from(app)
    phone.post("/login", data={"username": "editor", "password": PASSWORD})
    phone.post("/login/code", data={"code": "000000"})
    expect(
        app,
        "login_failed",
        since,
        user="editor",
        outcome="failure",
        detail="second_factor",
    )
    phone.post("/login/code", data={"code": codes[0]})
    expect(app, "recovery_code_used", since, user="editor")
    editor.post("/account/password/second-factor/off", data={"off-password": PASSWORD})
    expect(app, "totp_disabled", since, user="editor")


def test_the_security_administrators_actions_are_recorded(app):
    admin = log_in(app, "admin")  # holds all three roles (单人模式)
    since = last_id(app)
    page = admin.get("/admin/security")
    assert page.status_code == 200
    admin.post(
        "/admin/security",
        data={
            "password_min_length": "10",
            "password_classes": "3",
            "password_history": "5",
            "password_max_age_days": "0",
            "password_warn_days": "14",
            "totp_required": "none",
            "dormant_days": "180",
            "audit_retention_days": "365",
        },
    )
    expect(app, "policy_changed", since, user="admin")
    admin.post("/admin/security/unlock", data={"username": "editor"})
    expect(app, "account_unlocked", since, user="admin")
    # The editor set up a second factor and lost the phone.
    editor = log_in(app, "editor")
    editor.post("/account/password/second-factor/start")
    editor.post(
        "/account/password/second-factor/confirm",
        data={"code": totp_now(app, "editor")},
    )
    admin.post(f"/admin/security/users/{user_id(app, 'editor')}/totp/reset")
    expect(app, "totp_reset", since, user="admin")


def test_management_roles_and_single_admin_mode_are_recorded(app):
    admin = log_in(app, "admin")
    add_user(app, "shenji")
    since = last_id(app)
    admin.post(
        f"/admin/users/{user_id(app, 'shenji')}/duties",
        data={"duty": "audit", "on": "1"},
    )
    expect(app, "duty_changed", since, user="admin")
    settings(app, single_admin="0")
    admin.post("/admin/duties/single", data={"on": "1"})
    expect(app, "single_admin_changed", since, user="admin")


def test_dormant_accounts_disabled_are_recorded(app):
    set_user(app, "author", last_login_at=utcnow() - timedelta(days=400))
    admin = log_in(app, "admin")
    since = last_id(app)
    admin.post("/admin/users/dormant/deactivate")
    expect(app, "dormant_disabled", since, user="admin")


def test_a_dormant_accounts_login_is_recorded(app):
    settings(app, dormant_auto_disable="1")
    set_user(app, "author", last_login_at=utcnow() - timedelta(days=400))
    since = last_id(app)
    client_from(app).post("/login", data={"username": "author", "password": PASSWORD})
    expect(
        app, "login_failed", since, user="author", outcome="failure", detail="dormant"
    )


def test_a_department_assignment_is_recorded(app):
    from models import Department

    with app.app_context():
        department = Department(name="教务处")
        db.session.add(department)
        db.session.commit()
        department_id = department.id
    admin = log_in(app, "admin")
    since = last_id(app)
    admin.post(
        f"/admin/users/{user_id(app, 'author')}",
        data={
            "display_name": "Author 老师",
            "role": "author",
            "department_id": str(department_id),
            "email": "",
        },
    )
    expect(app, "department_assigned", since, user="admin")


def test_changing_an_expired_password_is_recorded(app):
    settings(app, password_max_age_days="30")
    set_user(app, "editor", password_changed_at=utcnow() - timedelta(days=100))
    editor = log_in(app, "editor")
    since = last_id(app)
    new = "Brand new Password 77!"
    editor.post("/account/password/new", data={"new_password": new, "confirm": new})
    expect(app, "password_expired_changed", since, user="editor")


def test_the_first_run_setup_is_recorded(app, generated_admin):
    admin = log_in(app, "admin")
    new = "Setup Password 2026!"
    since = last_id(app)
    admin.post(
        "/admin/setup",
        data={
            "username": "wangli",
            "mode": "single",
            "new_password": new,
            "confirm": new,
            "school_name": "第一中学",
        },
    )
    expect(app, "setup_completed", since, user="wangli")
