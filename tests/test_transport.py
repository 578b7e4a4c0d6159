"""Over HTTPS (through the trusted proxy) every cookie is Secure and HSTS is
sent; not over plain HTTP, nor when an untrusted client claims HTTPS. Staff
on plain HTTP from another machine are warned."""

import pytest
import sqlalchemy as sa

from core import security
from models import Setting, db, utcnow
from tests.conftest import PASSWORD, count_statements

HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.168.1.20"}
HTTP = {"X-Forwarded-Proto": "http", "X-Forwarded-For": "192.168.1.20"}
WARNING = "未加密的 HTTP 连接"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


def cookies_of(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def log_in(client, headers, username="admin"):
    data = {"username": username, "password": PASSWORD, "remember": "y"}
    response = client.post("/login", data=data, headers=headers)
    assert response.status_code == 302, response.status_code
    return response


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_every_cookie_is_secure_and_hsts_sent_over_https(client):
    response = log_in(client, HTTPS)
    names = {c.split("=", 1)[0] for c in cookies_of(response)}
    assert {"session", "remember_token", "known_device"} <= names
    assert all(c.endswith("; Secure") or "; Secure;" in c for c in cookies_of(response))
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    page = client.get("/editor/", headers=HTTPS)
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    for cookie in cookies_of(page):
        assert "; Secure" in cookie, cookie


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_readers_cookies_from_the_page_cache_are_secure_too(client, make_article):
    article_id = make_article(title="运动会")
    client.environ_base["HTTP_USER_AGENT"] = BROWSER
    for _ in range(2):  # rendered, then served from the cache
        response = client.get(f"/articles/{article_id}", headers=HTTPS)
        assert response.status_code == 200
        cookies = cookies_of(response)
        assert cookies, "a counted view sets the reader's cookies"
        assert all("; Secure" in c for c in cookies), cookies
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        client._cookies.clear()


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_cached_page_served_over_http_after_https_has_no_hsts(client, make_article):
    article_id = make_article(title="运动会")
    client.environ_base["HTTP_USER_AGENT"] = BROWSER
    assert "Strict-Transport-Security" in client.get("/", headers=HTTPS).headers
    client._cookies.clear()
    response = client.get("/", headers=HTTP)
    assert "Strict-Transport-Security" not in response.headers
    assert all("Secure" not in c for c in cookies_of(response))
    assert article_id


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_plain_http_through_the_proxy_gets_neither(client):
    response = log_in(client, HTTP)
    assert cookies_of(response)
    assert all("Secure" not in c for c in cookies_of(response))
    assert "Strict-Transport-Security" not in response.headers


def test_https_claimed_by_an_untrusted_client_gets_neither(client):
    # TRUSTED_PROXIES = 0: anyone can send X-Forwarded-Proto.
    response = log_in(client, HTTPS)
    assert cookies_of(response)
    assert all("Secure" not in c for c in cookies_of(response))
    assert "Strict-Transport-Security" not in response.headers
    assert "Strict-Transport-Security" not in client.get("/editor/").headers


def test_tls_straight_to_the_app_counts_as_https(client):
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD},
        base_url="https://localhost",
    )
    assert response.status_code == 302
    assert all("; Secure" in c for c in cookies_of(response))
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a=1; Path=/", "a=1; Path=/; Secure"),
        ("a=1; Secure; HttpOnly", "a=1; Secure; HttpOnly"),
        ("a=1; HttpOnly; secure", "a=1; HttpOnly; secure"),
        ("secure=1; Path=/", "secure=1; Path=/; Secure"),  # a cookie named secure
        ("a=Secure", "a=Secure; Secure"),
    ],
)
def test_secure_cookie(value, expected):
    assert security.secure_cookie(value) == expected


# --- https_seen_at ------------------------------------------------------------


def https_seen(app):
    with app.app_context():
        row = db.session.get(Setting, (1, "https_seen_at"))
        return row.value if row else None


def forget_https_seen(app):
    with app.app_context():
        db.session.execute(sa.delete(Setting).where(Setting.key == "https_seen_at"))
        db.session.commit()


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_staff_over_https_are_remembered_once_a_day(app, client):
    log_in(client, HTTPS).close()
    seen = https_seen(app)
    assert seen is not None
    assert seen[:10] == utcnow().date().isoformat()
    forget_https_seen(app)
    client.get("/editor/", headers=HTTPS).close()
    assert https_seen(app) is None  # this process noted it today already


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_readers_over_https_are_not_what_https_seen_counts(app, client, make_article):
    make_article(title="运动会")
    client.environ_base["HTTP_USER_AGENT"] = BROWSER
    client.get("/", headers=HTTPS).close()
    client.get("/search?q=运动会", headers=HTTPS).close()
    assert https_seen(app) is None


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_https_adds_no_sql_to_a_readers_page(app, client, make_article):
    article_id = make_article(title="运动会")
    client.environ_base["HTTP_USER_AGENT"] = BROWSER
    app.config["PAGE_CACHE_MAX_BYTES"] = 0
    counts = []
    for headers in (HTTP, HTTPS):
        client._cookies.clear()
        client.get(f"/articles/{article_id}", headers=headers)  # warm
        client._cookies.clear()
        with count_statements() as seen:
            client.get(f"/articles/{article_id}", headers=headers).close()
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_plain_http_staff_are_not_remembered_as_https(app, client):
    log_in(client, {}).close()
    client.get("/editor/").close()
    assert https_seen(app) is None


# --- the warning on plain HTTP ---------------------------------------------------


def from_address(client, address):
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.mark.parametrize("path", ["/editor/", "/admin/users", "/admin/compliance"])
def test_staff_on_plain_http_from_another_machine_are_warned(client, path):
    from_address(client, "192.168.1.20")
    log_in(client, {})
    text = client.get(path).text
    assert WARNING in text
    assert 'href="/admin/compliance#c-7-1-4-1c"' in text


def test_the_warning_links_to_the_https_row(client):
    from_address(client, "192.168.1.20")
    log_in(client, {})
    text = client.get("/admin/compliance").text
    assert 'id="c-7-1-4-1c"' in text


def test_staff_without_a_management_role_are_told_whom_to_ask(client):
    from_address(client, "192.168.1.20")
    log_in(client, {}, "author")
    text = client.get("/editor/").text
    assert WARNING in text
    assert "请联系网站管理员配置 HTTPS。" in text
    assert "/admin/compliance" not in text


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_no_warning_from_the_machine_itself(client, address):
    from_address(client, address)
    log_in(client, {})
    assert WARNING not in client.get("/editor/").text


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_no_warning_over_https_through_the_proxy(client):
    log_in(client, HTTPS)
    assert WARNING not in client.get("/editor/", headers=HTTPS).text
    assert WARNING in client.get("/editor/", headers=HTTP).text


def test_no_warning_before_login(client):
    from_address(client, "192.168.1.20")
    assert WARNING not in client.get("/login").text
