"""站群: one person working for several schools, with a role at each and one
password (operations/members.py)."""

import pytest
import sqlalchemy as sa

from admin import totp
from core.sites import acting_for
from models import AuditEvent, User, db
from tests.conftest import PASSWORD, new_user
from tests.test_sites import (
    SECOND_HOST,
    THIRD_PREFIX,
    reader,
    signed_in_bureau,
    sites_cli,
    three_schools,  # noqa: F401  (a fixture)
)

NEW_PASSWORD = "Another long password 7"


@pytest.fixture
def district(three_schools):  # noqa: F811
    """teacher1, an editor of the first school, is also the second school's
    administrator; the second school has an administrator of its own."""
    app = three_schools
    with app.app_context(), acting_for(2):
        admin2 = new_user("admin2", "admin")
        admin2.security_admin = True  # resets second factors
        db.session.add(admin2)
        db.session.commit()
    added = sites_cli(app, "add-member", "2", "Teacher1", "--role", "admin")
    assert added.exit_code == 0, added.output
    return app


def signed_in(app, username, password=PASSWORD, host="news.school.cn", prefix=""):
    browser = reader(app, host)
    answer = browser.post(
        f"{prefix}/login", data={"username": username, "password": password}
    )
    return browser, answer.status_code == 302


def row(app, site_id, username="teacher1"):
    with app.app_context(), acting_for(site_id):
        return db.session.scalar(sa.select(User).where(User.username == username))


def test_one_password_opens_each_school_with_its_own_role(district):
    app = district
    first, ok = signed_in(app, "teacher1")
    assert ok
    second, ok = signed_in(app, "teacher1", host=SECOND_HOST)
    assert ok
    # An editor at the first school, the administrator at the second.
    assert first.get("/admin/users").status_code == 403
    page = second.get("/admin/users")
    assert page.status_code == 200 and "admin2" in page.get_data(as_text=True)
    assert "teacher1" in page.get_data(as_text=True)  # one of the school's accounts
    # Not at a school that did not add them.
    _third, ok = signed_in(app, "teacher1", prefix=THIRD_PREFIX)
    assert not ok
    # The second school's row holds no password of its own.
    member = row(app, 2)
    assert member.login_id == row(app, 1).id and member.password_hash == ""
    with app.app_context():
        logged = db.session.scalar(
            sa.select(AuditEvent.target)
            .where(AuditEvent.action == "member_added", AuditEvent.site_id == 2)
            .execution_options(all_sites=True)
        )
    assert logged == "teacher1 (admin)"


def test_a_password_changed_at_one_school_is_the_password_at_every_school(district):
    app = district
    first, _ok = signed_in(app, "teacher1")
    second, _ok = signed_in(app, "teacher1", host=SECOND_HOST)
    page = second.get("/account/password")
    changed = second.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert page.status_code == 200 and changed.status_code == 302, changed.get_data(
        as_text=True
    )
    # The other school's session ended with the old password.
    assert first.get("/editor/").status_code == 302
    assert not signed_in(app, "teacher1")[1]
    assert signed_in(app, "teacher1", NEW_PASSWORD)[1]
    assert signed_in(app, "teacher1", NEW_PASSWORD, host=SECOND_HOST)[1]
    # The one place the password lives is the home row.
    assert row(app, 1).check_password(NEW_PASSWORD)


def test_the_other_school_cannot_reset_the_password_or_second_factor(district):
    app = district
    admin2, _ok = signed_in(app, "admin2", host=SECOND_HOST)
    member = row(app, 2)
    page = admin2.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert 'id="login-elsewhere"' in page and "第一中学" in page
    assert 'name="new_password"' not in page
    answer = admin2.post(f"/admin/users/{member.id}/password", data={"generate": "1"})
    assert answer.status_code == 302
    assert "只有该校可以重置" in admin2.get(answer.headers["Location"]).get_data(
        as_text=True
    )
    assert signed_in(app, "teacher1")[1]  # the password is unchanged
    with app.app_context():
        home = row(app, 1)
        with acting_for(1):
            home = db.session.get(User, home.id)
            totp.begin_enrolment(home)
            home.totp_enabled_at = home.password_changed_at or home.created_at
            db.session.commit()
    answer = admin2.post(f"/admin/security/users/{member.id}/totp/reset")
    assert answer.status_code == 302
    assert "只有该校可以重置" in admin2.get(answer.headers["Location"]).get_data(
        as_text=True
    )
    home = row(app, 1)
    assert home.totp_secret is not None and home.totp_enabled_at is not None


def test_the_second_school_deactivates_its_row_only(district):
    app = district
    admin2, _ok = signed_in(app, "admin2", host=SECOND_HOST)
    first, _ok = signed_in(app, "teacher1")
    second, _ok = signed_in(app, "teacher1", host=SECOND_HOST)
    member = row(app, 2)
    assert admin2.post(f"/admin/users/{member.id}/deactivate").status_code == 302
    assert second.get("/editor/").status_code == 302  # logged out there
    assert not signed_in(app, "teacher1", host=SECOND_HOST)[1]
    assert first.get("/editor/").status_code == 200  # still in at home
    assert signed_in(app, "teacher1")[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["2", "nobody"], "没有账号 nobody"),
        (["2", "teacher1"], "已有账号"),
        (["1", "teacher1"], "已属于"),
        (["9", "teacher1"], "没有编号为 9 的网站"),
    ],
)
def test_a_member_that_cannot_be_added_is_refused_and_nothing_is_written(
    district, args, message
):
    app = district
    with app.app_context():
        before = db.session.scalar(
            sa.select(sa.func.count(User.id)).execution_options(all_sites=True)
        )
    refused = sites_cli(app, "add-member", *args)
    assert refused.exit_code != 0 and message in refused.output, refused.output
    with app.app_context():
        assert before == db.session.scalar(
            sa.select(sa.func.count(User.id)).execution_options(all_sites=True)
        )


def test_a_home_name_stays_one_per_installation(district):
    app = district
    admin2, _ok = signed_in(app, "admin2", host=SECOND_HOST)
    answer = admin2.post(
        "/admin/users",
        data={
            "username": "teacher3",
            "display_name": "重名",
            "role": "author",
            "password": "a long enough password 1",
        },
    )
    assert "此用户名已被占用" in answer.get_data(as_text=True)


def test_the_bureau_lets_a_person_work_at_another_school(three_schools):  # noqa: F811
    app = three_schools
    bureau = signed_in_bureau(app)
    page = bureau.get("/jyj/admin/sites").get_data(as_text=True)
    assert 'id="new-member"' in page and "第二中学" in page
    refused = bureau.post(
        "/jyj/admin/sites/members",
        data={"username": "nobody", "site_id": "2", "role": "editor"},
    )
    assert refused.status_code == 400
    assert "没有账号 nobody" in refused.get_data(as_text=True)
    assert 'value="nobody"' in refused.get_data(as_text=True)  # kept as typed
    answer = bureau.post(
        "/jyj/admin/sites/members",
        data={"username": "teacher3", "site_id": "2", "role": "editor"},
    )
    assert answer.status_code == 302
    assert row(app, 2, "teacher3").role == "editor"
    assert signed_in(app, "teacher3", host=SECOND_HOST)[1]
    # A school's administrator has no such page.
    school_admin, _ok = signed_in(app, "teacher1")
    assert school_admin.post(
        "/admin/sites/members",
        data={"username": "teacher3", "site_id": "1", "role": "admin"},
    ).status_code in (403, 404)


def test_schools_under_paths_of_one_host_keep_their_own_sign_in(district):
    app = district
    assert sites_cli(app, "add-member", "3", "teacher1").exit_code == 0
    browser = reader(app)
    for prefix in ("", THIRD_PREFIX):
        answer = browser.post(
            f"{prefix}/login", data={"username": "teacher1", "password": PASSWORD}
        )
        assert answer.status_code == 302
        if prefix:
            cookies = answer.headers.getlist("Set-Cookie")
            assert cookies and all(f"Path={THIRD_PREFIX}" in c for c in cookies)
    # Signing in at the third school did not replace the first school's session.
    assert browser.get("/editor/").status_code == 200

    def cookie(path):
        return browser.client.get_cookie("session", "news.school.cn", path).value

    # At the third school's paths a browser sends both, the longer path first
    # (RFC 6265, 5.4); werkzeug's test client does not order them.
    both = f"session={cookie(THIRD_PREFIX)}; session={cookie('/')}"
    sender = reader(app)
    sender.client = app.test_client(use_cookies=False)  # sends the header as is
    sender.client.environ_base.update(browser.client.environ_base)
    third = sender.get(f"{THIRD_PREFIX}/editor/", headers={"Cookie": both})
    assert third.status_code == 200
