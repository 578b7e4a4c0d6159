"""Dormant accounts (staff who left): listed on the users page, disabled in
one step, or automatically when dormant_auto_disable is on (admin/dormant.py)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from admin import dormant
from models import AuditEvent, Role, User, db, set_setting, utcnow
from tests.conftest import PASSWORD, new_user


def make_user(name, days_unused, *, logged_in=True, role=Role.AUTHOR, **fields):
    when = utcnow() - timedelta(days=days_unused)
    user = new_user(name, role, f"{name} 老师")
    user.created_at = when - timedelta(days=1 if logged_in else 0)
    user.last_login_at = when if logged_in else None
    for key, value in fields.items():
        setattr(user, key, value)
    db.session.add(user)
    return user


@pytest.fixture
def staff(app):
    """lihua and zhao unused for a year (zhao never logged in), wu for a month."""
    with app.app_context():
        make_user("lihua", 365)
        make_user("zhao", 400, logged_in=False)
        make_user("wu", 30)
        db.session.commit()


def active(app, name) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(User.active).where(User.username == name))


def disabled_events(app):
    with app.app_context():
        return db.session.execute(
            sa.select(AuditEvent.target, AuditEvent.detail)
            .where(AuditEvent.action == "dormant_disabled")
            .order_by(AuditEvent.id)
        ).all()


def dormant_names(html):
    section = html.split('id="dormant"')[1].split("</section>")[0]
    return re.findall(r'<th scope="row"[^>]*>([^<]+)</th>', section)


def test_users_page_lists_accounts_unused_for_the_set_days(app, staff, admin_client):
    html = admin_client.get("/admin/users?lang=en").text
    # Longest unused first; author and editor were created just now.
    assert dormant_names(html) == ["zhao", "lihua"]
    assert "never (created" in html
    assert "Deactivate 2 accounts" in html
    with app.app_context():
        set_setting("dormant_days", "20")
        db.session.commit()
    html = admin_client.get("/admin/users?lang=en").text
    assert dormant_names(html) == ["zhao", "lihua", "wu"]


def test_deactivate_all_disables_each_dormant_account_and_audits_it(
    app, staff, admin_client
):
    response = admin_client.post(
        "/admin/users/dormant/deactivate?lang=en", follow_redirects=True
    )
    assert "Deactivated 2 dormant accounts." in response.text
    assert not active(app, "lihua") and not active(app, "zhao")
    assert active(app, "wu")
    assert disabled_events(app) == [("zhao", ""), ("lihua", "")]
    assert "No active account has gone unused" in response.text
    # Their sessions are over and they cannot log in.
    refused = app.test_client().post(
        "/login", data={"username": "lihua", "password": PASSWORD}
    )
    assert refused.status_code == 200


def test_one_dormant_account_is_deactivated_from_its_row(app, staff, admin_client):
    with app.app_context():
        lihua = db.session.scalar(sa.select(User.id).where(User.username == "lihua"))
    response = admin_client.post(
        f"/admin/users/{lihua}/deactivate", data={"back": "users"}
    )
    assert response.location == "/admin/users#dormant"
    assert not active(app, "lihua") and active(app, "zhao")


def test_deactivate_all_keeps_the_accounts_the_admin_may_not_touch(app, admin_client):
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = False
        set_setting("single_admin", "0")
        # The only audit administrator, and a security administrator: both
        # the security administrator's to manage, not the system one's.
        make_user("shenji", 365, audit_admin=True)
        make_user("anquan", 365, security_admin=True)
        make_user("lihua", 365)
        db.session.commit()
    html = admin_client.get("/admin/users?lang=en").text
    assert dormant_names(html) == ["shenji", "anquan", "lihua"]
    assert "only the security administrator manages" in html.lower()
    admin_client.post("/admin/users/dormant/deactivate")
    assert [name for name, _d in disabled_events(app)] == ["lihua"]
    assert active(app, "shenji") and active(app, "anquan")


def test_the_last_holder_of_a_role_is_never_disabled_automatically(app):
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.audit_admin = False
        auditor = make_user("shenji", 365, audit_admin=True)
        set_setting("dormant_auto_disable", "1")
        db.session.commit()
        assert dormant.is_dormant(auditor)
        assert not dormant.disable_if_dormant(auditor)
        assert auditor.active
        second = make_user("shenji2", 1, audit_admin=True)
        db.session.flush()
        assert dormant.disable_if_dormant(auditor) and not auditor.active
        assert second.active


def test_with_auto_disable_opening_the_users_page_disables_them(
    app, staff, admin_client
):
    html = admin_client.get("/admin/users").text
    assert dormant_names(html) == ["zhao", "lihua"]  # off: only listed
    with app.app_context():
        set_setting("dormant_auto_disable", "1")
        db.session.commit()
    html = admin_client.get("/admin/users?lang=en").text
    assert 'id="dormant"' in html and dormant_names(html) == []
    assert not active(app, "lihua") and not active(app, "zhao")
    assert disabled_events(app) == [("zhao", "automatic"), ("lihua", "automatic")]


def test_with_auto_disable_a_dormant_account_is_disabled_at_login(app, staff):
    with app.app_context():
        set_setting("dormant_auto_disable", "1")
        db.session.commit()
    response = app.test_client().post(
        "/login", data={"username": "lihua", "password": PASSWORD}
    )
    assert response.status_code == 200  # refused
    assert not active(app, "lihua")
    assert disabled_events(app) == [("lihua", "automatic")]
    # A recent account logs in as ever.
    ok = app.test_client().post("/login", data={"username": "wu", "password": PASSWORD})
    assert ok.status_code == 302


def test_deactivate_all_needs_a_valid_form(app, staff, client, login):
    assert login("editor").post("/admin/users/dormant/deactivate").status_code == 403
    assert active(app, "lihua")


def test_the_security_admin_sees_dormant_teachers_but_leaves_them_alone(app, staff):
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.security_admin = admin.audit_admin = False
        security = new_user("anquan", Role.AUTHOR)
        security.security_admin = True
        db.session.add(security)
        set_setting("single_admin", "0")
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "anquan", "password": PASSWORD})
    html = client.get("/admin/users?lang=en").text
    assert dormant_names(html) == ["zhao", "lihua"]
    assert "Only the system administrator manages this account." in html
    assert "Deactivate all" not in html
    client.post("/admin/users/dormant/deactivate")
    assert active(app, "lihua") and active(app, "zhao")
    assert disabled_events(app) == []
