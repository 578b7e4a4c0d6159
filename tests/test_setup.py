"""The first-run setup: the generated admin's first login ends here, nowhere else."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from models import Upload, User, db, get_settings, set_setting
from tests.conftest import PASSWORD

NEW_PASSWORD = "our own school 2026"


@pytest.fixture
def setup_client(client, generated_admin, login):
    return login("admin")


def setup_data(**fields):
    data = {
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


def staff_urls(app):
    """Every editor and admin address, with 1 for each id, and its method."""
    urls = []
    for rule in app.url_map.iter_rules():
        staff = rule.rule.startswith(("/editor", "/admin", "/account"))
        if not staff or rule.endpoint == "firstrun.setup":
            continue
        url = rule.build({arg: 1 for arg in rule.arguments}, append_unknown=False)[1]
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
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
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
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert not admin.needs_setup
