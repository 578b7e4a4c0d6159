"""The first-run setup: the generated admin's first login ends here, nowhere else."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.routing import AnyConverter

from models import AuditEvent, Duty, Upload, User, db, get_settings, set_setting
from tests.conftest import PASSWORD

NEW_PASSWORD = "our own school 2026"


@pytest.fixture
def setup_client(client, generated_admin, login):
    return login("admin")


def setup_data(**fields):
    data = {
        "username": "wangjun",
        "mode": "single",
        "new_password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "school_name": "红星小学",
        "phone": "0571-8888 0000",
        "address": "杭州市西湖区红星路 1 号",
        "icp_number": "浙ICP备00000001号",
        "psb_number": "浙公网安备33010602000001号",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _sample(rule, arg):
    """1 for an id; the first choice of an any(...) part."""
    converter = rule._converters[arg]
    return sorted(converter.items)[0] if isinstance(converter, AnyConverter) else 1


def staff_urls(app):
    """Every editor and admin address, with 1 for each id, and its method."""
    urls = []
    for rule in app.url_map.iter_rules():
        staff = rule.rule.startswith(("/editor", "/admin", "/account"))
        if not staff or rule.endpoint == "firstrun.setup":
            continue
        values = {arg: _sample(rule, arg) for arg in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        method = "GET" if "GET" in rule.methods else "POST"
        urls.append((method, url))
    return urls


def test_every_staff_page_sends_the_generated_admin_to_setup(app, setup_client):
    urls = staff_urls(app)
    # The gate must cover the pages a new admin would try first.
    assert ("GET", "/editor/") in urls and ("GET", "/admin/settings") in urls
    assert ("POST", "/admin/demo/clear") in urls
    for method, url in urls:
        response = setup_client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.location.endswith("/admin/setup"), (method, url)


def test_fetch_calls_get_json_telling_to_finish_setup(setup_client):
    response = setup_client.post(
        "/editor/uploads/image", headers={"Accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.get_json()["location"] == "/admin/setup"


def test_login_with_the_generated_password_lands_on_setup(client, generated_admin):
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    response = client.get(response.location)
    assert response.location.endswith("/admin/setup")
    page = client.get("/admin/setup").get_data(as_text=True)
    assert "设置" in page and 'name="new_password"' in page
    # The user name starts empty: the generated one is not offered again.
    assert re.search(r'<input[^>]*name="username"[^>]*value="[^"]', page) is None


def test_reader_pages_and_logout_stay_open_during_setup(setup_client, make_article):
    article_id = make_article(title="运动会")
    assert setup_client.get("/").status_code == 200
    assert setup_client.get(f"/articles/{article_id}").status_code == 200
    response = setup_client.post("/logout")
    assert response.status_code == 302
    assert setup_client.get("/editor/").location.startswith("/login")


def test_other_users_are_not_sent_to_setup(app, generated_admin, login):
    client = login("editor")
    assert client.get("/editor/").status_code == 200
    assert client.get("/admin/setup").status_code == 403


def test_setup_is_not_offered_again_once_done(app, admin_client):
    assert admin_client.get("/admin/setup").location.endswith("/editor/")
    assert admin_client.get("/admin/settings").status_code == 200


def test_setup_form_is_prefilled_from_the_settings(app, setup_client):
    with app.app_context():
        set_setting("phone", "010-1234 5678")
        db.session.commit()
    page = setup_client.get("/admin/setup").get_data(as_text=True)
    assert 'value="010-1234 5678"' in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"new_password": "", "confirm": ""}, "必填"),
        ({"new_password": "short", "confirm": "short"}, "至少 8 个字符"),
        ({"confirm": "something else 1"}, "两次输入的密码不一致"),
        ({"new_password": PASSWORD, "confirm": PASSWORD}, "新密码不能与当前密码相同"),
        ({"phone": "1" * 51}, "不能超过 50 个字符"),
    ],
)
def test_setup_refuses_bad_input_and_keeps_what_was_typed(
    app, setup_client, fields, message
):
    data = setup_data(address="西湖区红星路 1 号", **fields)
    response = setup_client.post("/admin/setup", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert 'value="西湖区红星路 1 号"' in page
    assert f'value="{data["confirm"]}"' in page or not data["confirm"]
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.needs_setup and admin.check_password(PASSWORD)
        assert get_settings()["address"] == ""


def test_setup_saves_password_and_school_and_opens_the_site(app, setup_client):
    response = setup_client.post(
        "/admin/setup",
        data=setup_data(logo=(io.BytesIO(png_bytes()), "校徽.png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and response.location.endswith("/editor/")
    # This browser stays logged in and can reach everything now.
    assert setup_client.get("/editor/").status_code == 200
    assert setup_client.get("/admin/settings").status_code == 200
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "wangjun"))
        assert not admin.needs_setup and admin.check_password(NEW_PASSWORD)
        settings = get_settings()
        logo = db.session.get(Upload, int(settings["logo_id"]))
    assert settings["school_name"] == "红星小学"
    assert settings["psb_number"] == "浙公网安备33010602000001号"
    assert logo.original_name == "校徽.png"
    home = setup_client.get("/").get_data(as_text=True)
    assert "红星小学" in home and f"/uploads/{logo.stored_name}" in home


def test_psb_number_is_in_the_footer_linking_to_its_record(app, setup_client, client):
    setup_client.post("/admin/setup", data=setup_data())
    setup_client.post("/logout")
    footer = client.get("/").get_data(as_text=True).split('class="site-footer"')[1]
    assert "浙ICP备00000001号" in footer
    link = re.search(r'<a class="psb" href="([^"]+)"[^>]*>([^<]+)</a>', footer)
    assert link.group(2) == "浙公网安备33010602000001号"
    assert link.group(1) == (
        "https://beian.mps.gov.cn/#/query/webSearch?code=33010602000001"
    )


def test_fields_left_empty_are_left_for_later(app, setup_client):
    with app.app_context():
        before = get_settings()["school_name"]
    data = setup_data(school_name="", phone="", psb_number="")
    assert setup_client.post("/admin/setup", data=data).status_code == 302
    with app.app_context():
        settings = get_settings()
    assert settings["school_name"] == before
    assert settings["phone"] == "" and settings["psb_number"] == ""


def test_a_bad_logo_is_refused_and_nothing_is_saved(app, setup_client):
    response = setup_client.post(
        "/admin/setup",
        data=setup_data(logo=(io.BytesIO(b"<svg onload=alert(1)>"), "logo.svg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="红星小学"' in page
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.needs_setup and admin.check_password(PASSWORD)
        assert get_settings()["school_name"] != "红星小学"


def test_settings_page_saves_the_psb_number(app, admin_client):
    response = admin_client.post(
        "/admin/settings",
        data={"school_name": "红星小学", "psb_number": "京公网安备11010502030143号"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert get_settings()["psb_number"] == "京公网安备11010502030143号"
    page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert 'value="京公网安备11010502030143号"' in page


@pytest.mark.csrf
def test_setup_with_a_stale_token_keeps_the_typed_values(app, client, generated_admin):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    login = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    response = client.post("/admin/setup", data=setup_data(csrf_token="stale"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="杭州市西湖区红星路 1 号"' in page
    assert "页面已过期，未能保存" in page
    # A fresh token comes with it, so saving again works.
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/admin/setup", data=setup_data(csrf_token=token))
    assert response.status_code == 302
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "wangjun"))
        assert not admin.needs_setup


@pytest.fixture
def english(setup_client):
    """The setup in English: these messages are checked before translation."""
    setup_client.set_cookie("lang", "en")
    return setup_client


def admin_named(name):
    return db.session.scalar(sa.select(User).where(User.username == name))


def actions():
    return db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.target, AuditEvent.detail).order_by(
            AuditEvent.id
        )
    ).all()


def test_single_mode_renames_the_admin_who_keeps_all_three_roles(app, setup_client):
    response = setup_client.post("/admin/setup", data=setup_data())
    assert response.status_code == 302
    # Still logged in under the new name: the session follows the account.
    assert setup_client.get("/admin/audit").status_code == 200
    assert setup_client.post("/logout").status_code == 302
    refused = setup_client.post(
        "/login", data={"username": "admin", "password": NEW_PASSWORD}
    )
    assert refused.status_code == 200  # the old name is gone
    login = {"username": "wangjun", "password": NEW_PASSWORD}
    assert setup_client.post("/login", data=login).status_code == 302
    with app.app_context():
        assert admin_named("admin") is None
        admin = admin_named("wangjun")
        assert admin.duties == (Duty.SYSTEM, Duty.SECURITY, Duty.AUDIT)
        assert not admin.must_change_password
        assert get_settings()["single_admin"] == "1"
        done = actions()
    assert ("user_updated", "admin → wangjun", "") in done
    assert ("single_admin_changed", "on", "") in done
    assert done[-1][:2] in {("setup_completed", "wangjun"), ("login", "wangjun")}


SEPARATE = {
    "mode": "separate",
    "security_username": "anquan",
    "security_display_name": "李安全",
    "security_password": "Secure sp1rit",
    "audit_username": "shenji",
    "audit_display_name": "",
    "audit_password": "Audit the l0g",
}


def test_separate_mode_creates_the_security_and_audit_administrators(app, setup_client):
    response = setup_client.post("/admin/setup", data=setup_data(**SEPARATE))
    assert response.status_code == 302
    assert setup_client.get("/admin/settings").status_code == 200
    # The system administrator no longer reads the audit log.
    assert setup_client.get("/admin/audit").status_code == 403
    with app.app_context():
        admin = admin_named("wangjun")
        security, auditor = admin_named("anquan"), admin_named("shenji")
        assert admin.duties == (Duty.SYSTEM,)
        assert security.duties == (Duty.SECURITY,)
        assert auditor.duties == (Duty.AUDIT,)
        assert (security.display_name, auditor.display_name) == ("李安全", "shenji")
        assert security.role == auditor.role == "manager"
        # Chosen for them: they choose their own at the first login.
        assert security.must_change_password and auditor.must_change_password
        assert security.check_password("Secure sp1rit")
        assert not admin.must_change_password
        assert get_settings()["single_admin"] == "0"
        done = actions()
    assert ("duty_changed", "anquan", "+security") in done
    assert ("duty_changed", "shenji", "+audit") in done
    assert ("single_admin_changed", "off", "") in done


@pytest.mark.parametrize("name", ["admin", "Administrator", "root"])
def test_default_names_are_refused_and_nothing_typed_is_lost(
    app, setup_client, english, name
):
    data = setup_data(username=name, **SEPARATE)
    response = setup_client.post("/admin/setup", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "the first name guessers try" in page
    assert f'value="{name}"' in page
    assert 'value="Secure sp1rit"' in page and 'value="李安全"' in page
    assert 'value="separate" checked' in page or re.search(
        r'<input checked[^>]*value="separate"', page
    )
    with app.app_context():
        assert admin_named("admin").needs_setup
        assert admin_named("anquan") is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"new_password": "password123", "confirm": "password123"},
            "new_password",
            "too common",
        ),
        (
            {"new_password": "wangjun2026!", "confirm": "wangjun2026!"},
            "new_password",
            "too common",
        ),
        (
            {"security_password": "abcdefgh"},
            "security_password",
            "Use at least 3 of these",
        ),
        ({"audit_password": ""}, "audit_password", "This field is required."),
        ({"audit_username": ""}, "audit_username", "This field is required."),
        ({"audit_username": "anquan"}, "audit_username", "of their own"),
        ({"security_username": "WangJun"}, "security_username", "of their own"),
        ({"audit_username": "editor"}, "audit_username", "already taken"),
        ({"mode": ""}, "mode", "Choose one."),
    ],
)
def test_weak_passwords_and_clashing_names_are_refused_with_the_typed_values(
    app, setup_client, english, fields, field, message
):
    data = setup_data(**{**SEPARATE, **fields})
    response = setup_client.post("/admin/setup", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="a-error" id="{field}-error">([^<]*)</p>', page)
    assert error and message in error.group(1), error and error.group(1)
    assert 'value="杭州市西湖区红星路 1 号"' in page
    for key in ("new_password", "security_password", "audit_username"):
        if data.get(key):
            assert f'value="{data[key]}"' in page
    with app.app_context():
        assert admin_named("admin").needs_setup
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 3


def test_single_mode_ignores_the_other_administrators_fields(app, setup_client):
    data = setup_data(security_username="anquan", security_password="x")
    assert setup_client.post("/admin/setup", data=data).status_code == 302
    with app.app_context():
        assert admin_named("anquan") is None


def test_the_setup_page_says_the_password_policy(app, setup_client, english):
    with app.app_context():
        set_setting("password_min_length", "12")
        db.session.commit()
    page = setup_client.get("/admin/setup").get_data(as_text=True)
    assert "At least 12 characters." in page
    data = setup_data(new_password="Short pw 12", confirm="Short pw 12")
    response = setup_client.post("/admin/setup", data=data)
    assert response.status_code == 400
    assert "Use at least 12 characters." in response.get_data(as_text=True)
