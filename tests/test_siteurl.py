"""The site's address: absolute links come from it, never from a forged Host,
and requests for other hosts are refused (siteurl.py)."""

import re
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from app import create_app
from core import notify, siteurl
from models import Article, Notification, User, db, get_settings, set_setting
from review import chain
from tests.conftest import PASSWORD, count_statements
from tests.test_feeds import ATOM, SITEMAP
from tests.test_page_tools import decode, svg_modules
from tests.test_pagecache import cache, reader

SITE = "https://news.school.cn"
FORGED = "evil.example"
# What the page cache keeps per host: every reader page and machine page.
READER_PATHS = ("/", "/feed.xml", "/sitemap.xml", "/robots.txt")


def store_site_url(app, value: str) -> None:
    with app.app_context():
        set_setting("site_url", value)
        db.session.commit()


@pytest.fixture
def stored_site(app):
    store_site_url(app, SITE)


@pytest.fixture
def article_id(make_article):
    return make_article(title="运动会通知")


def at(host: str) -> dict:
    """Request options for a browser that asked for this host over http."""
    return {"base_url": f"http://{host}"}


def login_at(client, host: str, username: str):
    """Log in through the real form at this host (cookies are per host)."""
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, **at(host)
    )
    assert response.status_code == 302, response.text
    return client


def links_in(text: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"'<>]+", text))


# --- normalising an address -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("", ""),
        ("  ", ""),
        ("https://news.school.cn", SITE),
        ("https://News.School.CN/", SITE),
        ("  https://news.school.cn/  ", SITE),
        ("HTTPS://news.school.cn", SITE),
        ("https://news.school.cn:443", SITE),
        ("http://news.school.cn:80/", "http://news.school.cn"),
        ("http://news.school.cn:8080", "http://news.school.cn:8080"),
        ("http://192.168.1.10:5000", "http://192.168.1.10:5000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://学校.cn", "https://xn--48s290a.cn"),
    ],
)
def test_an_address_is_stored_as_scheme_and_host(typed, stored):
    assert siteurl.normalise(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "news.school.cn",
        "//news.school.cn",
        "ftp://news.school.cn",
        "javascript:alert(1)",
        "https:news.school.cn",
        "https://",
        "https://news.school.cn/news",
        "https://news.school.cn/news/",
        "https://news.school.cn/?a=1",
        "https://news.school.cn#top",
        "https://news.school.cn?",
        "https://admin@news.school.cn",
        "https://news.school.cn:99999",
        "https://news school.cn",
        "https://news_school.cn",
    ],
)
def test_anything_else_is_not_an_address(typed):
    with pytest.raises(siteurl.InvalidSiteUrl):
        siteurl.normalise(typed)


@pytest.mark.parametrize(
    ("value", "message"),
    [("https://news.school.cn/news", "without a path"), ("ftp://x.cn", "http://")],
)
def test_a_bad_site_url_in_the_config_stops_the_start(tmp_path, value, message):
    with pytest.raises(ValueError, match=f"SITE_URL.*{message}"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "t",
                "SITE_URL": value,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                "UPLOAD_FOLDER": str(tmp_path / "u"),
            }
        )


@pytest.mark.config(SITE_URL="https://News.School.cn/")
def test_the_configured_address_is_normalised(app):
    assert app.config["SITE_URL"] == SITE


# --- links come from the address --------------------------------------------------


@pytest.mark.config(SITE_URL=SITE)
def test_feeds_and_sitemaps_use_the_configured_address_over_http(app, article_id):
    # The request came over plain http to the machine's own name: the links
    # still carry the site's scheme and host.
    feed = reader(app).get("/feed.xml")
    assert feed.status_code == 200
    root = ElementTree.fromstring(feed.data)
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == f"{SITE}/feed.xml"
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}link").get("href") == f"{SITE}/articles/{article_id}"
    assert links_in(feed.text) and all(
        link.startswith(f"{SITE}/") or "w3.org" in link for link in links_in(feed.text)
    )
    sitemap = ElementTree.fromstring(reader(app).get("/sitemap.xml").data)
    locations = [loc.text for loc in sitemap.iter(f"{SITEMAP}loc")]
    assert f"{SITE}/" in locations and f"{SITE}/articles/{article_id}" in locations
    assert all(loc.startswith(f"{SITE}/") for loc in locations)
    robots = reader(app).get("/robots.txt").text
    assert f"Sitemap: {SITE}/sitemap.xml" in robots


@pytest.mark.config(SITE_URL=SITE)
def test_a_section_feed_names_itself_with_the_address(app, make_section, make_article):
    section = make_section(name="校园新闻", slug="campus")
    make_article(section_id=section)
    root = ElementTree.fromstring(reader(app).get("/sections/campus/feed.xml").data)
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == (
        f"{SITE}/sections/campus/feed.xml"
    )
    assert root.find(f"{ATOM}link[@rel='alternate']").get("href") == (
        f"{SITE}/sections/campus"
    )


@pytest.mark.config(SITE_URL=SITE)
def test_a_relative_image_in_a_feed_gets_the_address(app, make_article):
    make_article(body_html='<p><img src="/uploads/a.jpg" alt=""></p>')
    assert f'src="{SITE}/uploads/a.jpg"' in reader(app).get("/feed.xml").text


@pytest.mark.config(SITE_URL=SITE)
def test_canonical_share_and_qr_links_use_the_configured_address(app, article_id):
    page = reader(app).get(f"/articles/{article_id}").text
    assert f'<link rel="canonical" href="{SITE}/articles/{article_id}">' in page
    assert f'content="{SITE}/articles/{article_id}"' in page  # og:url
    home = reader(app).get("/").text
    assert f'<link rel="canonical" href="{SITE}/">' in home
    section = reader(app).get("/sections/news").text
    assert f'<link rel="canonical" href="{SITE}/sections/news">' in section
    qr = reader(app).get(f"/articles/{article_id}/qr.svg")
    assert decode(*svg_modules(qr.data)) == [f"{SITE}/articles/{article_id}"]


def test_the_stored_address_is_used_like_the_configured_one(
    app, stored_site, article_id
):
    assert f"{SITE}/articles/{article_id}" in reader(app).get("/feed.xml").text
    assert f'href="{SITE}/articles/{article_id}"' in (
        reader(app).get(f"/articles/{article_id}").text
    )
    qr = reader(app).get(f"/articles/{article_id}/qr.svg")
    assert decode(*svg_modules(qr.data)) == [f"{SITE}/articles/{article_id}"]


@pytest.mark.config(SITE_URL="http://news.school.cn", TRUSTED_PROXIES=1)
def test_the_configured_address_wins_over_a_forwarded_scheme(app, article_id):
    feed = reader(app).get("/feed.xml", headers={"X-Forwarded-Proto": "https"})
    assert "http://news.school.cn/feed.xml" in feed.text
    assert all(
        link.startswith("http://news.school.cn/") or "w3.org" in link
        for link in links_in(feed.text)
    )


def test_the_editors_links_use_the_address(app, stored_site, article_id):
    client = login_at(app.test_client(), "localhost", "editor")
    published = client.get(f"/editor/articles/{article_id}/published").text
    assert f"{SITE}/articles/{article_id}" in published
    preview = client.get(f"/editor/articles/{article_id}/preview").text
    assert f"{SITE}/articles/{article_id} · " in preview  # the printed address


@pytest.mark.config(NOTIFY_URLS=["json://127.0.0.1:9/hook"])
def test_notification_links_are_absolute_without_a_request(
    app, stored_site, article_id
):
    # A move made by a command or a background job: no request to ask.
    with app.app_context():
        article = db.session.get(Article, article_id)
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        chain.notify_move(article, chain.Decision.BYPASS, admin, "急稿")
        bodies = db.session.scalars(sa.select(Notification.body)).all()
        db.session.rollback()
    assert bodies and all(
        body.endswith(f"\n{SITE}/articles/{article_id}") for body in bodies
    )


def test_without_an_address_links_follow_the_request_as_before(app, article_id):
    forged = reader(app).get("/feed.xml", headers={"Host": "other.example"})
    assert f"http://other.example/articles/{article_id}" in forged.text
    with app.app_context():
        assert get_settings()["site_url"] == ""
        # No request and no address: a path is all a message can carry.
        assert notify.link("public.article", article_id=7) == "/articles/7"


# --- other hosts are refused ------------------------------------------------------


@pytest.mark.config(SITE_URL=SITE)
@pytest.mark.parametrize(
    "path", [*READER_PATHS, "/articles/{id}", "/articles/{id}/qr.svg", "/login"]
)
def test_a_forged_host_is_refused_and_never_echoed(app, article_id, path):
    path = path.format(id=article_id)
    response = reader(app).get(path, headers={"Host": FORGED})
    assert response.status_code == 400
    assert FORGED.encode() not in response.data
    assert response.text == "本站不通过这个地址提供访问。"


def test_a_forged_host_is_refused_with_a_stored_address(app, stored_site, article_id):
    for path in (*READER_PATHS, f"/articles/{article_id}"):
        response = reader(app).get(path, headers={"Host": FORGED})
        assert response.status_code == 400, path
        assert FORGED.encode() not in response.data


@pytest.mark.parametrize(
    "host", ["news.school.cn", "NEWS.school.cn:8080", "localhost", "127.0.0.1:5000"]
)
@pytest.mark.parametrize("where", ["config", "setting"])
def test_the_sites_host_and_the_machine_itself_are_let_in(app, host, where):
    if where == "config":
        app.config["SITE_URL"] = SITE
    else:
        store_site_url(app, SITE)
    response = reader(app).get("/robots.txt", headers={"Host": host})
    assert response.status_code == 200
    assert f"Sitemap: {SITE}/sitemap.xml" in response.text


def test_ipv6_loopback_is_let_in(app, stored_site):
    response = reader(app).get("/robots.txt", headers={"Host": "[::1]:5000"})
    assert response.status_code == 200


def test_a_refused_host_never_gets_a_page_the_site_host_cached(
    app, stored_site, article_id
):
    paths = (*READER_PATHS, f"/articles/{article_id}")
    for path in paths:
        for _again in range(2):  # the second one comes from the page cache
            honest = reader(app).get(path, headers={"Host": "news.school.cn"})
            assert honest.status_code == 200, path
    assert len(cache(app)) >= len(paths)
    for path in paths:
        for _again in range(2):
            forged = reader(app).get(path, headers={"Host": FORGED})
            assert forged.status_code == 400, path


def test_a_page_cached_for_a_host_is_refused_once_an_address_is_set(app, article_id):
    # Before any address, every host gets (and caches) its own copy...
    for _again in range(2):
        assert reader(app).get("/", headers={"Host": FORGED}).status_code == 200
    # ...until an address is saved: like any setting, it moves the version on.
    store_site_url(app, SITE)
    assert reader(app).get("/", headers={"Host": FORGED}).status_code == 400


@pytest.mark.config(SITE_URL=SITE, TRUSTED_HOSTS=["school-lan.example"])
def test_configured_trusted_hosts_replace_the_derived_ones(app, article_id):
    lan = reader(app).get("/feed.xml", headers={"Host": "school-lan.example"})
    assert lan.status_code == 200
    assert f"{SITE}/articles/{article_id}" in lan.text
    assert reader(app).get("/feed.xml", headers={"Host": FORGED}).status_code == 400


@pytest.mark.config(SITE_URL=SITE)
def test_pictures_are_refused_at_other_hosts_too(app):
    response = reader(app).get("/static/favicon.ico", headers={"Host": FORGED})
    assert response.status_code == 400


@pytest.mark.config(SITE_URL=SITE)
def test_monitors_reach_the_health_check_by_the_machines_address(app):
    response = app.test_client().get("/healthz", headers={"Host": "10.0.0.5:8000"})
    assert response.status_code == 200


def test_a_stored_address_costs_static_files_no_statement(app, stored_site):
    # Checked on pages, not on files: those are the same bytes at any host,
    # and reading the stored address would cost every picture a query.
    app.extensions["sitemap"].try_reload()  # once per process (core/sites.py)
    with count_statements() as seen:
        response = reader(app).get("/static/favicon.ico", headers={"Host": FORGED})
        response.close()
    assert response.status_code == 200
    assert seen == []


# --- the setup and settings forms -------------------------------------------------


def setup_data(**fields):
    password = "our own school 2026"
    return {
        "username": "wangjun",
        "mode": "single",
        "new_password": password,
        "confirm": password,
        **fields,
    }


def test_setup_offers_the_address_in_use(app, client, generated_admin):
    login_at(client, "news.school.cn", "admin")
    page = client.get("/admin/setup", **at("news.school.cn")).text
    assert 'name="site_url"' in page
    assert 'value="http://news.school.cn"' in page
    assert "读者访问本站所用的地址" in page


def test_setup_does_not_offer_a_loopback_address(app, client, generated_admin):
    login_at(client, "localhost", "admin")
    page = client.get("/admin/setup").text
    assert 'name="site_url"' in page and 'value="http://localhost"' not in page


def test_setup_saves_the_address(app, client, generated_admin):
    login_at(client, "news.school.cn", "admin")
    response = client.post(
        "/admin/setup",
        data=setup_data(site_url="HTTPS://news.school.cn/"),
        **at("news.school.cn"),
    )
    assert response.status_code == 302
    assert get_site_url(app) == SITE


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("news.school.cn", "必须以 http:// 或 https:// 开头"),
        ("ftp://news.school.cn", "必须以 http:// 或 https:// 开头"),
        ("https://news.school.cn/news", "不能带路径"),
        ("https://", "有效的域名或 IP 地址"),
    ],
)
def test_setup_refuses_a_bad_address_in_chinese(
    app, client, generated_admin, typed, message
):
    login_at(client, "localhost", "admin")
    response = client.post("/admin/setup", data=setup_data(site_url=typed))
    assert response.status_code == 400
    assert message in response.text
    assert get_site_url(app) == ""


def test_setup_refuses_an_address_that_would_lock_the_admin_out(
    app, client, generated_admin
):
    login_at(client, "school-lan.example", "admin")
    response = client.post(
        "/admin/setup", data=setup_data(site_url=SITE), **at("school-lan.example")
    )
    assert response.status_code == 400
    assert "会把您自己挡在门外" in response.text
    assert get_site_url(app) == ""


def settings_data(**fields):
    return {"school_name": "实验中学", **fields}


def get_site_url(app) -> str:
    with app.app_context():
        return get_settings()["site_url"]


def test_settings_show_and_save_the_address(app, client):
    login_at(client, "localhost", "admin")
    page = client.get("/admin/settings").text
    # Not the address in use: saving other settings must not set it.
    assert 'name="site_url"' in page and 'value="http://localhost"' not in page
    response = client.post(
        "/admin/settings", data=settings_data(site_url="https://news.school.cn:443/")
    )
    assert response.status_code == 302
    assert get_site_url(app) == SITE
    assert f'value="{SITE}"' in client.get("/admin/settings").text
    # And back to none: links follow the request again.
    client.post("/admin/settings", data=settings_data(site_url=""))
    assert get_site_url(app) == ""


def test_saving_the_address_moves_the_cache_version_on(app, client, article_id):
    login_at(client, "localhost", "admin")
    before = reader(app).get("/feed.xml")
    assert "http://localhost/" in before.text
    client.post("/admin/settings", data=settings_data(site_url=SITE))
    after = reader(app).get("/feed.xml")
    assert f"{SITE}/articles/{article_id}" in after.text
    assert "http://localhost/" not in after.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ftp://news.school.cn", "必须以 http:// 或 https:// 开头"),
        ("https://news.school.cn/school/news", "不能带路径"),
        ("https://news.school.cn?", "不能以 ? 或 # 结尾"),
    ],
)
def test_settings_refuse_a_bad_address_in_chinese(app, client, typed, message):
    login_at(client, "localhost", "admin")
    response = client.post("/admin/settings", data=settings_data(site_url=typed))
    assert response.status_code == 200
    assert message in response.text
    assert get_site_url(app) == ""


def test_settings_refuse_an_address_that_would_lock_the_admin_out(app, client):
    login_at(client, "school-lan.example", "admin")
    response = client.post(
        "/admin/settings",
        data=settings_data(site_url=SITE),
        **at("school-lan.example"),
    )
    assert response.status_code == 200
    assert "会把您自己挡在门外" in response.text
    assert "news.school.cn" in response.text
    assert get_site_url(app) == ""
    # At the site's own host it is saved.
    login_at(client, "news.school.cn", "admin")
    client.post(
        "/admin/settings", data=settings_data(site_url=SITE), **at("news.school.cn")
    )
    assert get_site_url(app) == SITE


@pytest.mark.config(SITE_URL=SITE)
def test_an_address_in_the_config_is_shown_not_edited(app, client):
    login_at(client, "localhost", "admin")
    page = client.get("/admin/settings").text
    assert 'name="site_url"' not in page and SITE in page
    response = client.post(
        "/admin/settings", data=settings_data(site_url="https://other.example")
    )
    assert response.status_code == 302
    assert get_site_url(app) == ""


@pytest.mark.config(SITE_URL=SITE)
def test_links_to_the_site_address_are_checked_as_the_sites_own(author_client):
    # Edited through the intranet address, pasted from the public one.
    response = author_client.post(
        "/editor/check",
        json={"body_html": f'<a href="{SITE}/articles/999">旧文</a>'},
        headers={"Host": "localhost"},
    )
    findings = response.get_json()["findings"]
    assert [(f["kind"], f["value"], f["suggestion"]) for f in findings] == [
        ("link", f"{SITE}/articles/999", "页面不存在")
    ]
