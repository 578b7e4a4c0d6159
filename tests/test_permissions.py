"""The permission matrix: who may open which admin and account routes.

The url_map walks at the end also cover routes added later: every /editor/ and
/admin/ rule must refuse anonymous users, and every /admin/ rule non-admins.
"""

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.routing import AnyConverter

from models import (
    Department,
    Duty,
    ReviewGroup,
    Role,
    Upload,
    User,
    WordRule,
    db,
    set_setting,
)
from tests.conftest import _login, new_user

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

# Rules under /editor/ or /admin/ that anonymous users may reach on purpose.
PUBLIC_RULES: set[str] = set()
# Rules under /admin/ that editors may use too (发稿统计); authors may not.
REVIEWER_RULES = {
    "/admin/stats",
    "/admin/stats.xlsx",
    "/admin/stats.csv",
    "/admin/stats/sections",
    "/admin/stats/sections.xlsx",
}

ANONYMOUS, AUTHOR, EDITOR, ADMIN = "anonymous", "author", "editor", "admin"


@pytest.fixture
def world(app, make_section, make_article):
    """One of everything, so placeholder ids in URLs point at real rows."""
    channel = make_section(name="频道", slug="channel")
    section = make_section(name="栏目", slug="sub", parent_id=channel)
    other = make_section(name="别的", slug="other")
    article = make_article(section_id=section)
    with app.app_context():
        author = db.session.scalar(sa.select(User.id).where(User.username == "author"))
        department = Department(name="教务处", robot_url="json://127.0.0.1:9/hook")
        db.session.add(department)
        db.session.flush()
        department_id = department.id
        upload = Upload(
            kind="image",
            stored_name="0123456789abcdef0123456789abcdef.png",
            original_name="a.png",
            content_type="image/png",
            article_id=article,
        )
        db.session.add(upload)
        rule = WordRule(term="按装", replacement="安装")
        db.session.add(rule)
        group = ReviewGroup(name="宣传办")
        db.session.add(group)
        db.session.commit()
        upload_id = upload.id
        rule_id = rule.id
        group_id = group.id
    backups = Path(app.config["BACKUP_FOLDER"])
    backups.mkdir()
    backup_name = "schoolnews-20260301-023000.tar.gz"
    (backups / backup_name).write_bytes(b"\x1f\x8b")
    return {
        "user_id": author,
        "section_id": section,
        "channel_id": channel,
        "other_id": other,
        "article_id": article,
        "upload_id": upload_id,
        "backup_name": backup_name,
        "department_id": department_id,
        "rule_id": rule_id,
        "group_id": group_id,
    }


def admin_routes(w):
    """(method, url, form data) for every admin page and action, in a safe order."""
    user, section = w["user_id"], w["section_id"]
    department = w["department_id"]
    return [
        ("GET", "/admin/stats", None),
        ("GET", "/admin/stats.xlsx", None),
        ("GET", "/admin/stats.csv?table=authors", None),
        ("GET", "/admin/stats/sections", None),
        ("GET", "/admin/stats/sections.xlsx", None),
        ("GET", "/admin/departments", None),
        ("POST", "/admin/departments", {"name": "德育处", "position": ""}),
        (
            "POST",
            f"/admin/departments/{department}",
            {f"d{department}-name": "教务处", f"d{department}-position": "1"},
        ),
        ("GET", "/admin/users", None),
        ("GET", f"/admin/users/{user}", None),
        ("GET", "/admin/sections", None),
        ("GET", f"/admin/sections/{section}", None),
        ("GET", "/admin/settings", None),
        ("GET", "/admin/audit", None),
        ("GET", "/admin/audit.xlsx", None),
        ("GET", "/admin/audit.csv", None),
        ("POST", "/admin/audit/verify", {}),
        ("GET", "/admin/security", None),
        (
            "POST",
            "/admin/security",
            {
                "password_min_length": "10",
                "password_classes": "3",
                "password_history": "5",
                "password_max_age_days": "0",
                "password_warn_days": "14",
                "totp_required": "none",
                "dormant_days": "180",
                "audit_retention_days": "180",
            },
        ),
        ("POST", "/admin/security/unlock", {"username": "author"}),
        ("POST", f"/admin/security/users/{w['user_id']}/totp/reset", {}),
        ("GET", "/admin/compliance", None),
        # The bureau's pages (站群): on a school's site they are not there.
        ("GET", "/admin/sites", None),
        (
            "POST",
            "/admin/sites",
            {"name": "新校", "host": "x.example", "admin_username": "xa"},
        ),
        ("POST", "/admin/sites/1/disable", {}),
        (
            "POST",
            "/admin/sites/members",
            {"username": "author", "site_id": "1", "role": "admin"},
        ),
        ("GET", "/admin/sites/stats", None),
        ("GET", "/admin/sites/stats.xlsx", None),
        ("GET", "/admin/sites/sections", None),
        ("GET", "/admin/compliance.docx", None),
        ("GET", "/admin/compliance.xlsx", None),
        ("GET", "/admin/notifications", None),
        ("POST", "/admin/notifications/test", {"target": "all"}),
        ("GET", "/admin/review-ledger", None),
        ("GET", "/admin/review-ledger.xlsx", None),
        ("GET", "/admin/backups", None),
        ("GET", "/admin/words", None),
        ("GET", "/admin/review", None),
        ("GET", "/admin/review/groups", None),
        ("GET", f"/admin/review/groups/{w['group_id']}", None),
        ("GET", f"/admin/departments/{department}/heads", None),
        (
            "POST",
            "/admin/review",
            {"levels": "2", "group_2": str(w["group_id"]), "group_3": "0"},
        ),
        ("POST", "/admin/review/channels", {f"channel-{w['channel_id']}": "1"}),
        ("POST", "/admin/review/groups", {"name": "校领导"}),
        ("POST", f"/admin/review/groups/{w['group_id']}", {"name": "宣传处"}),
        (
            "POST",
            f"/admin/review/groups/{w['group_id']}/members",
            {"people": str(user)},
        ),
        ("POST", f"/admin/departments/{department}/heads", {"people": str(user)}),
        ("GET", f"/admin/words/{w['rule_id']}", None),
        (
            "POST",
            "/admin/words",
            {"term": "再接再励", "replacement": "再接再厉", "severity": "hint"},
        ),
        (
            "POST",
            f"/admin/words/{w['rule_id']}",
            {"term": "按装", "replacement": "安装", "severity": "block"},
        ),
        ("GET", f"/admin/backups/{w['backup_name']}", None),
        ("POST", "/admin/backups", {}),
        (
            "POST",
            "/admin/users",
            {
                "username": "new",
                "display_name": "新",
                "role": "author",
                "password": "Long enough 1",
            },
        ),
        (
            "POST",
            f"/admin/users/{user}",
            {"display_name": "改", "role": "author", "department_id": str(department)},
        ),
        ("POST", f"/admin/users/{user}/password", {"generate": "y"}),
        ("POST", f"/admin/users/{user}/deactivate", {}),
        ("POST", f"/admin/users/{user}/reactivate", {}),
        ("POST", f"/admin/users/{user}/sessions/end", {}),
        ("POST", f"/admin/users/{user}/duties", {"duty": "security", "on": "1"}),
        ("POST", f"/admin/users/{user}/duties", {"duty": "security", "on": "0"}),
        ("POST", "/admin/duties/single", {"on": "1"}),
        ("POST", "/admin/users/dormant/deactivate", {}),
        (
            "POST",
            "/admin/sections",
            {"name": "新", "slug": "brand-new", "parent_id": "0", "position": ""},
        ),
        (
            "POST",
            f"/admin/sections/{section}",
            {
                "name": "栏目",
                "slug": "sub",
                "parent_id": str(w["channel_id"]),
                "position": "0",
            },
        ),
        ("POST", f"/admin/sections/{section}/move", {"direction": "up"}),
        (
            "POST",
            "/admin/settings",
            {"school_name": "学校", "phone": "", "address": ""},
        ),
        ("GET", "/admin/setup", None),
        ("POST", "/admin/setup", {"new_password": "x", "confirm": "x"}),
        ("GET", "/admin/demo", None),
        ("POST", "/admin/demo/clear", {}),
        ("POST", f"/admin/words/{w['rule_id']}/delete", {}),
        (
            "POST",
            f"/admin/sections/{section}/delete",
            {"target_id": str(w["other_id"])},
        ),
        # Refused with a message while the user above belongs to it.
        ("POST", f"/admin/departments/{department}/delete", {}),
        # Refused with a message while it is named for level 2 (above).
        ("POST", f"/admin/review/groups/{w['group_id']}/delete", {}),
    ]


# Pages an admin is sent away from once they are done with them.
DONE_REDIRECTS = {"/admin/setup": "/editor/"}
# The bureau's own pages: a school's administrator finds nothing there
# (tests/test_sites.py opens them on the bureau's site).
BUREAU_ONLY = {
    "/admin/sites",
    "/admin/sites/1/disable",
    "/admin/sites/members",
    "/admin/sites/stats",
    "/admin/sites/stats.xlsx",
    "/admin/sites/sections",
}


def client_as(app, role):
    client = app.test_client()
    return client if role == ANONYMOUS else _login(client, role)


def expected_ok(method, status, location):
    if method == "GET":
        return status == 200
    return status == 302 and not location.startswith("/login")


@pytest.mark.parametrize("role", [ANONYMOUS, AUTHOR, EDITOR, ADMIN])
def test_admin_route_matrix(app, world, role):
    client = client_as(app, role)
    wrong = []
    for method, url, data in admin_routes(world):
        response = client.open(url, method=method, data=data)
        response.close()  # a downloaded backup is sent from an open file
        location = response.headers.get("Location", "")
        if role == ANONYMOUS:
            ok = response.status_code == 302 and location.startswith("/login?next=")
        elif role == AUTHOR or (
            role == EDITOR and url.split("?")[0] not in REVIEWER_RULES
        ):
            ok = response.status_code == 403
        elif url in DONE_REDIRECTS:
            ok = response.status_code == 302 and location == DONE_REDIRECTS[url]
        elif url in BUREAU_ONLY:
            ok = response.status_code == 404
        else:
            ok = expected_ok(method, response.status_code, location)
        if not ok:
            wrong.append((method, url, response.status_code, location))
    assert wrong == []


def test_matrix_covers_every_admin_rule(app, world):
    listed = {(m, u.split("?")[0]) for m, u, _d in admin_routes(world)}
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin/"):
                continue
            values = {
                "user_id": world["user_id"],
                "section_id": world["section_id"],
                "name": world["backup_name"],
                "department_id": world["department_id"],
                "rule_id": world["rule_id"],
                "group_id": world["group_id"],
                "site_id": 1,
                "change": "disable",
            }
            url = url_for(rule.endpoint, **values)
            url = url.split("?")[0]
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, url) in listed, (
                    f"add {method} {rule.rule} to the matrix"
                )


def accounts(app):
    """Every account as an admin action would change it."""
    with app.app_context():
        return db.session.execute(
            sa.select(
                User.role, User.active, User.password_hash, User.session_token
            ).order_by(User.id)
        ).all()


def test_refused_actions_change_nothing(app, world):
    client = client_as(app, AUTHOR)
    before = accounts(app)
    for method, url, data in admin_routes(world):
        client.open(url, method=method, data=data)
    after = accounts(app)
    assert len(after) == 3
    assert before == after


# --- account routes --------------------------------------------------------------


@pytest.mark.parametrize("role", [AUTHOR, EDITOR, ADMIN])
def test_every_role_may_change_own_password(app, role):
    client = client_as(app, role)
    assert client.get("/account/password").status_code == 200


def test_anonymous_cannot_change_password(client):
    for method in ("GET", "POST"):
        response = client.open("/account/password", method=method)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_anonymous_logout_goes_to_login(client):
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", [AUTHOR, EDITOR, ADMIN])
def test_logged_in_roles_log_out(app, role):
    client = client_as(app, role)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_page_is_public(client):
    assert client.get("/login").status_code == 200


def test_editor_workspace_is_open_to_every_role(app):
    for role in (AUTHOR, EDITOR, ADMIN):
        assert client_as(app, role).get("/editor/").status_code == 200


# --- walks over the url_map: they also cover routes added later -----------------


def _sample(rule, name, values):
    converter = rule._converters[name]
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return values.get(name, 1)


def protected_requests(app, world, prefixes, skip=()):
    """(rule, method, url) for every rule under the prefixes, with real ids."""
    values = {
        "user_id": world["user_id"],
        "section_id": world["section_id"],
        "article_id": world["article_id"],
        "upload_id": world["upload_id"],
        "revision_id": 1,
        "department_id": world["department_id"],
        "rule_id": world["rule_id"],
        "group_id": world["group_id"],
    }
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if not rule.rule.startswith(prefixes) or rule.rule in PUBLIC_RULES:
                continue
            if skip and rule.rule in skip:
                continue
            # Unknown arguments get 1 (a missing row must still not skip the
            # check), an any(...) part its first choice.
            args = {name: _sample(rule, name, values) for name in rule.arguments}
            url = url_for(rule.endpoint, **args)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.rule, method, url


def test_every_editor_and_admin_route_refuses_anonymous(app, world):
    client = app.test_client()
    wrong = []
    for rule, method, url in protected_requests(app, world, ("/editor/", "/admin/")):
        for accept in ("text/html", "application/json"):
            response = client.open(url, method=method, headers={"Accept": accept})
            location = response.headers.get("Location", "")
            refused = (
                response.status_code == 302 and location.startswith("/login")
            ) or response.status_code == 401
            if not refused:
                wrong.append((method, rule, accept, response.status_code))
    assert wrong == []


@pytest.mark.parametrize("role", [AUTHOR, EDITOR])
def test_every_admin_route_refuses_non_admins(app, world, role):
    client = client_as(app, role)
    wrong = []
    allowed = REVIEWER_RULES if role == EDITOR else ()
    for rule, method, url in protected_requests(app, world, ("/admin/",), allowed):
        response = client.open(url, method=method)
        if response.status_code != 403:
            wrong.append((method, rule, response.status_code))
    assert wrong == []


def test_walk_finds_the_known_routes(app, world):
    # Guards the walk itself: a broken prefix filter would make it pass vacuously.
    rules = {r for r, _m, _u in protected_requests(app, world, ("/editor/", "/admin/"))}
    assert {"/editor/", "/admin/users", "/admin/sections/<int:section_id>"} <= rules


def test_authors_are_refused_the_reviewers_admin_rules_too(app, world):
    # The editors' exceptions above must not open them to authors.
    client = client_as(app, AUTHOR)
    rules = [
        r
        for r in protected_requests(app, world, ("/admin/",))
        if r[0] in REVIEWER_RULES
    ]
    assert {r for r, _m, _u in rules} == REVIEWER_RULES
    for _rule, method, url in rules:
        assert client.open(url, method=method).status_code == 403


# --- the three management roles (三员) ---------------------------------------------


def opens(rule: str, duty: str) -> bool:
    """Whether a holder of only this management role may use the rule."""
    if rule.startswith("/admin/audit"):
        return duty == Duty.AUDIT
    if rule.startswith(("/admin/words", "/admin/security", "/admin/duties")):
        return duty == Duty.SECURITY
    if rule.endswith("/duties"):
        return duty == Duty.SECURITY
    if rule.startswith("/admin/users"):
        return duty in (Duty.SYSTEM, Duty.SECURITY)
    if rule.startswith("/admin/compliance"):
        return True
    if rule in REVIEWER_RULES:
        return duty == Duty.SYSTEM  # the system administrator is a reviewer
    return duty == Duty.SYSTEM


@pytest.fixture
def separated(app):
    """The seeded admin as the system administrator only, and one account
    for each of the other two roles; no 单人模式."""
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = False
        security = new_user("anquan", Role.AUTHOR)
        security.security_admin = True
        auditor = new_user("shenji", Role.AUTHOR)
        auditor.audit_admin = True
        db.session.add_all([security, auditor])
        set_setting("single_admin", "0")
        db.session.commit()
    return {Duty.SYSTEM: "admin", Duty.SECURITY: "anquan", Duty.AUDIT: "shenji"}


@pytest.mark.parametrize("duty", Duty.ALL)
def test_each_management_role_is_refused_the_others_routes(app, world, separated, duty):
    client = client_as(app, separated[duty])
    refused, wrong = 0, []
    for rule, method, url in protected_requests(app, world, ("/admin/",)):
        if opens(rule, duty):
            continue
        response = client.open(url, method=method)
        refused += 1
        if response.status_code != 403:
            wrong.append((method, rule, response.status_code))
    assert refused > 3
    assert wrong == []
