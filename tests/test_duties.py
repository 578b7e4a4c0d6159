"""The separated management roles (三员): the system, security and audit
administrators each open their own pages only, and none can take over the
others' (admin/duties.py)."""

import re

import pytest
import sqlalchemy as sa

from models import (
    Article,
    AuditEvent,
    Duty,
    Role,
    User,
    WordRule,
    db,
    get_settings,
    set_setting,
)
from tests.conftest import PASSWORD, _login, form_data, new_user

SYSTEM_PAGES = [
    "/admin/users",
    "/admin/departments",
    "/admin/sections",
    "/admin/settings",
    "/admin/review",
    "/admin/backups",
    "/admin/notifications",
    "/admin/review-ledger",
]


@pytest.fixture
def three(app):
    """The seeded admin as the system administrator only, a security
    administrator (anquan) and an audit administrator (shenji); no 单人模式."""
    with app.app_context():
        admin = user("admin")
        admin.security_admin = admin.audit_admin = False
        security = new_user("anquan", Role.MANAGER, "安全员")
        security.security_admin = True
        auditor = new_user("shenji", Role.MANAGER, "审计员")
        auditor.audit_admin = True
        db.session.add_all([security, auditor])
        set_setting("single_admin", "0")
        db.session.commit()
    return {name: user_id(app, name) for name in ("admin", "anquan", "shenji")}


def user(name) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == name))


def user_id(app, name) -> int:
    with app.app_context():
        return user(name).id


def state(app, name):
    with app.app_context():
        u = user(name)
        return (u.duties, u.role, u.active, u.display_name, u.password_hash)


def client_for(app, name):
    return _login(app.test_client(), name)


def flashes(response) -> list[str]:
    return re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', response.text)


def duty_events(app):
    with app.app_context():
        return db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.target, AuditEvent.detail)
            .where(AuditEvent.action.in_(["duty_changed", "single_admin_changed"]))
            .order_by(AuditEvent.id)
        ).all()


def grant(client, target_id, duty, on=True):
    return client.post(
        f"/admin/users/{target_id}/duties?lang=en",
        data={"duty": duty, "on": "1" if on else "0"},
        follow_redirects=True,
    )


# --- the audit administrator ----------------------------------------------------


def test_audit_admin_reads_the_audit_log_and_opens_nothing_else(app, three):
    client = client_for(app, "shenji")
    assert client.get("/admin/audit").status_code == 200
    assert client.get("/admin/audit.csv").status_code == 200
    for url in [*SYSTEM_PAGES, "/admin/words", "/admin/security"]:
        assert client.get(url).status_code == 403, url
    before = get_settings_in(app)
    response = client.post("/admin/settings", data={"school_name": "被改了"})
    assert response.status_code == 403
    assert get_settings_in(app) == before
    assert client.post(f"/admin/users/{three['shenji']}/password").status_code == 403


def get_settings_in(app):
    with app.app_context():
        return get_settings()


def test_audit_admin_lands_on_the_audit_log_after_logging_in(app, three):
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "shenji", "password": "correct horse 42"}
    )
    assert response.status_code == 302 and response.location == "/admin/audit"
    # A teacher still lands on the dashboard.
    other = app.test_client().post(
        "/login", data={"username": "author", "password": "correct horse 42"}
    )
    assert other.location == "/editor/"


def test_audit_admins_menu_shows_only_the_audit_pages(app, three):
    page = client_for(app, "shenji").get("/admin/audit?lang=en").text
    tabs = re.search(r'<nav class="a-tabs"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', tabs) == ["/admin/audit", "/admin/compliance"]
    workspace = page.split('class="workspace-nav"')[1].split("</nav>")[0]
    assert 'href="/admin/audit">Administration' in workspace
    assert "/admin/users" not in page and "/admin/settings" not in page


# --- the system administrator ---------------------------------------------------


def test_system_admin_can_neither_read_nor_erase_the_audit_log(app, three):
    client = client_for(app, "admin")
    audit_rules = [
        rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("audit.")
    ]
    assert {r.rule for r in audit_rules} >= {"/admin/audit", "/admin/audit/verify"}
    for rule in audit_rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(rule.rule, method=method)
            assert response.status_code == 403, (method, rule.rule)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert count >= 1  # the logins are still there
    page = client.get("/admin/users?lang=en").text
    assert "/admin/audit" not in page


def test_system_admin_cannot_grant_or_remove_the_security_and_audit_roles(app, three):
    client = client_for(app, "admin")
    author = user_id(app, "author")
    assert grant(client, author, Duty.AUDIT).status_code == 403
    assert grant(client, author, Duty.SECURITY).status_code == 403
    assert grant(client, three["shenji"], Duty.AUDIT, on=False).status_code == 403
    assert client.post("/admin/duties/single", data={"on": "1"}).status_code == 403
    assert state(app, "author")[0] == ()
    assert state(app, "shenji")[0] == (Duty.AUDIT,)
    assert duty_events(app) == []


@pytest.mark.parametrize("target", ["anquan", "shenji"])
def test_system_admin_cannot_touch_the_security_and_audit_accounts(app, three, target):
    client = client_for(app, "admin")
    before = state(app, target)
    target_id = three[target]
    page = client.get(f"/admin/users/{target_id}?lang=en")
    assert page.status_code == 200
    assert "only the security administrator manages it" in page.text
    assert f'action="/admin/users/{target_id}/password"' not in page.text
    actions = [
        (f"/admin/users/{target_id}", {"display_name": "改", "role": "admin"}),
        (f"/admin/users/{target_id}/password", {"generate": "y"}),
        (f"/admin/users/{target_id}/deactivate", {}),
        (f"/admin/users/{target_id}/reactivate", {}),
        (f"/admin/users/{target_id}/sessions/end", {}),
    ]
    for url, data in actions:
        assert client.post(url, data=data).status_code == 403, url
    assert state(app, target) == before
    # Their sessions go on.
    assert client_for(app, target).get("/account/password").status_code == 200


def test_system_admin_manages_every_other_account(app, three):
    client = client_for(app, "admin")
    author = user_id(app, "author")
    response = client.post(
        f"/admin/users/{author}/password",
        data={"new_password": "Reset by admin 7", "set_password": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert user("author").must_change_password
    response = client.post(
        f"/admin/users/{author}", data={"display_name": "李老师", "role": "editor"}
    )
    assert response.status_code == 302
    assert state(app, "author")[1:4] == ("editor", True, "李老师")


def test_system_admin_cannot_make_the_audit_administrator_an_admin(app, three):
    # Even were it their account to edit, the combination is refused.
    client = client_for(app, "anquan")
    response = client.post(
        f"/admin/users/{three['shenji']}?lang=en",
        data={"display_name": "审计员", "role": "admin"},
        follow_redirects=True,
    )
    assert "Only the system administrator changes roles." in flashes(response)
    assert state(app, "shenji")[1] == "manager"


# --- the security administrator -------------------------------------------------


def test_security_admin_opens_policy_word_list_and_accounts_not_settings(app, three):
    client = client_for(app, "anquan")
    for url in ("/admin/security", "/admin/words", "/admin/users"):
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/admin/words", data={"term": "再接再励", "replacement": "再接再厉"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(WordRule.term)) == "再接再励"
    for url in [u for u in SYSTEM_PAGES if u != "/admin/users"] + ["/admin/audit"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/admin/settings", data={"school_name": "x"}).status_code == 403
    # No «Add user» for them: accounts are the system administrator's to make.
    page = client.get("/admin/users").text
    assert 'action="/admin/users"' not in page
    assert client.post("/admin/users", data={"username": "x"}).status_code == 403


def test_only_the_security_admin_opens_the_word_list(app, three):
    assert client_for(app, "admin").get("/admin/words").status_code == 403
    assert client_for(app, "editor").get("/admin/words").status_code == 403


def test_security_admin_resets_the_audit_admins_password_but_not_a_teachers(app, three):
    client = client_for(app, "anquan")
    response = client.post(
        f"/admin/users/{three['shenji']}/password",
        data={"new_password": "Audit reset 2026", "set_password": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert user("shenji").check_password("Audit reset 2026")
        assert user("shenji").must_change_password
    author = user_id(app, "author")
    refused = client.post(f"/admin/users/{author}/password", data={"generate": "y"})
    assert refused.status_code == 403
    assert client.post(f"/admin/users/{author}/deactivate").status_code == 403


def test_security_admin_grants_and_removes_roles_and_it_is_audited(app, three):
    client = client_for(app, "anquan")
    editor = user_id(app, "editor")
    response = grant(client, editor, Duty.SECURITY)
    assert "editor is now Security administrator." in flashes(response)
    assert state(app, "editor")[0] == (Duty.SECURITY,)
    # Now the system administrator may no longer touch the editor's account.
    admin = client_for(app, "admin")
    assert admin.post(f"/admin/users/{editor}/deactivate").status_code == 403
    response = grant(client, editor, Duty.SECURITY, on=False)
    assert "editor is no longer Security administrator." in flashes(response)
    assert state(app, "editor")[0] == ()
    assert duty_events(app) == [
        ("duty_changed", "editor", "+security"),
        ("duty_changed", "editor", "-security"),
    ]


# --- combinations and 单人模式 ----------------------------------------------------


@pytest.mark.parametrize(
    ("target", "duty"),
    [
        ("anquan", Duty.AUDIT),  # security + audit
        ("shenji", Duty.SECURITY),  # audit + security
        ("admin", Duty.AUDIT),  # system + audit
    ],
)
def test_audit_goes_with_no_other_role_without_single_mode(app, three, target, duty):
    before = state(app, target)
    response = grant(client_for(app, "anquan"), three[target], duty)
    assert any("unless the site runs in" in m for m in flashes(response))
    assert state(app, target) == before
    assert duty_events(app) == []


def test_system_and_security_may_go_together(app, three):
    grant(client_for(app, "anquan"), three["admin"], Duty.SECURITY)
    assert state(app, "admin")[0] == (Duty.SYSTEM, Duty.SECURITY)


def test_single_mode_lets_one_account_hold_all_three(app, three):
    client = client_for(app, "anquan")
    grant(client, three["admin"], Duty.SECURITY)
    response = client.post(
        "/admin/duties/single?lang=en", data={"on": "1"}, follow_redirects=True
    )
    assert "Single administrator mode is on." in flashes(response)
    grant(client, three["admin"], Duty.AUDIT)
    assert state(app, "admin")[0] == (Duty.SYSTEM, Duty.SECURITY, Duty.AUDIT)
    assert client_for(app, "admin").get("/admin/audit").status_code == 200

    # Off is refused while the admin holds all three; the message names them.
    response = client.post(
        "/admin/duties/single?lang=en", data={"on": "0"}, follow_redirects=True
    )
    assert any("stays on: admin still hold" in m for m in flashes(response))
    with app.app_context():
        assert get_settings()["single_admin"] == "1"
    grant(client, three["admin"], Duty.AUDIT, on=False)
    response = client.post(
        "/admin/duties/single?lang=en", data={"on": "0"}, follow_redirects=True
    )
    assert "Single administrator mode is off." in flashes(response)
    assert duty_events(app) == [
        ("duty_changed", "admin", "+security"),
        ("single_admin_changed", "on", ""),
        ("duty_changed", "admin", "+audit"),
        ("duty_changed", "admin", "-audit"),
        ("single_admin_changed", "off", ""),
    ]


def test_the_users_page_shows_the_roles_and_the_switch_to_the_security_admin(
    app, three
):
    page = client_for(app, "anquan").get("/admin/users?lang=en").text
    roles = page.split('id="duties"')[1].split("</section>")[0]
    assert "<dd>admin</dd>" in roles and "<dd>anquan</dd>" in roles
    assert "<dd>shenji</dd>" in roles
    assert 'action="/admin/duties/single"' in roles
    assert 'id="duties"' not in client_for(app, "admin").get("/admin/users").text


# --- the last holder of each role -----------------------------------------------


def test_the_last_holder_of_a_role_keeps_it_and_stays_active(app, three):
    client = client_for(app, "anquan")
    for target, duty in (("shenji", Duty.AUDIT), ("anquan", Duty.SECURITY)):
        response = grant(client, three[target], duty, on=False)
        assert any("is the only active" in m for m in flashes(response)), target
    response = client.post(
        f"/admin/users/{three['shenji']}/deactivate?lang=en", follow_redirects=True
    )
    assert any("shenji is the only active Audit" in m for m in flashes(response))
    assert state(app, "shenji")[:3] == ((Duty.AUDIT,), "manager", True)
    assert state(app, "anquan")[:3] == ((Duty.SECURITY,), "manager", True)
    # With a second holder, the first may go.
    grant(client, three["admin"], Duty.SECURITY)
    grant(client, three["anquan"], Duty.SECURITY, on=False)
    assert state(app, "anquan")[0] == ()


def test_the_last_system_admin_cannot_be_demoted_by_anyone(app, three):
    # A second admin demotes the first, then cannot be demoted in turn.
    client = client_for(app, "admin")
    client.post(
        f"/admin/users/{user_id(app, 'editor')}",
        data={"display_name": "Editor 老师", "role": "admin"},
    )
    editor = client_for(app, "editor")
    editor.post(
        f"/admin/users/{three['admin']}", data={"display_name": "x", "role": "author"}
    )
    assert state(app, "admin")[1] == "author"
    response = editor.post(
        f"/admin/users/{user_id(app, 'editor')}?lang=en",
        data={"display_name": "x", "role": "author"},
        follow_redirects=True,
    )
    assert "You cannot remove your own administrator role." in flashes(response)
    with app.app_context():
        roles = (
            db.session.execute(
                sa.select(AuditEvent.target).where(AuditEvent.action == "role_changed")
            )
            .scalars()
            .all()
        )
    assert roles == ["editor: editor → admin", "admin: admin → author"]


# --- management-only accounts (最小权限) ------------------------------------------


@pytest.mark.parametrize(
    ("name", "home"), [("anquan", "/admin/users"), ("shenji", "/admin/audit")]
)
def test_management_only_accounts_write_no_posts(app, three, name, home, section):
    client = client_for(app, name)
    for path in ("/editor/", "/editor/articles/new", "/editor/review/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location == home, path
    assert (
        client.post("/editor/articles/new", data=form_data(section)).status_code == 403
    )
    upload = client.post(
        "/editor/uploads/image", headers={"Accept": "application/json"}
    )
    assert upload.status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 0
    menu = client.get(home).text
    assert 'href="/editor/articles/new"' not in menu
    # Their own pages still open.
    assert client.get(home).status_code == 200


def test_logging_in_takes_a_management_only_account_to_its_page(app, three):
    client = app.test_client()
    response = client.post("/login", data={"username": "anquan", "password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/admin/users"


def test_a_teacher_still_writes(app, three, section):
    client = client_for(app, "author")
    assert client.get("/editor/").status_code == 200
    response = client.post("/editor/articles/new", data=form_data(section))
    assert response.status_code == 302
