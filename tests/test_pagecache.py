"""The page cache: readers get stored pages, live counts, and never a stale one."""

import gzip
import io
import re
import secrets
from datetime import timedelta

import pytest
from PIL import Image

import models
from models import Article, Section, Status, db, utcnow
from reader import cachestate
from tests.conftest import PASSWORD, count_statements, form_data

BROWSER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI"
)


def reader(app, **environ):
    """A returning reader's browser: a real User-Agent and its own cookie."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=BROWSER_UA, **environ)
    client.set_cookie("reader", secrets.token_urlsafe(16))
    return client


def staff(app, username="editor"):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def shown_views(response) -> int:
    match = re.search(r'class="article-views">(\d+)<', response.get_data(as_text=True))
    return int(match.group(1))


def cache(app):
    return app.extensions["pagecache"].store


@pytest.fixture
def article_id(make_article):
    return make_article(title="开学通知", views=5)


# --- Serving from the cache ------------------------------------------------------


def test_a_cached_article_shows_the_live_count_with_three_statements(app, article_id):
    first = reader(app).get(f"/articles/{article_id}")
    assert shown_views(first) == 6
    with count_statements() as seen:
        second = reader(app).get(f"/articles/{article_id}")
    assert second.status_code == 200
    assert shown_views(second) == 7
    # The cache version, the counting UPDATE and the day's total: no page
    # query, no render.
    assert len(seen) == 3, seen
    assert "article_daily_views" in seen[2]
    assert re.sub(r"\d+</span>", "", first.text) == re.sub(
        r"\d+</span>", "", second.text
    )


def test_a_repeat_view_of_a_cached_article_is_not_counted(app, article_id):
    client = reader(app)
    client.get(f"/articles/{article_id}")
    with count_statements() as seen:
        again = client.get(f"/articles/{article_id}")
    assert shown_views(again) == 6
    assert len(seen) == 2, seen  # the version and a SELECT of the count


@pytest.mark.parametrize("path", ["/", "/sections/news", "/sections/news?page=1"])
def test_cached_lists_run_one_statement(app, article_id, path):
    reader(app).get(path)
    with count_statements() as seen:
        response = reader(app).get(path)
    assert response.status_code == 200
    assert "开学通知" in response.text
    assert len(seen) == 1, seen


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "Mozilla/5.0 (compatible; Baiduspider/2.0)"},
        {"User-Agent": "curl/8.5.0"},
        {"Sec-Purpose": "prefetch"},
    ],
)
def test_bots_and_prefetches_of_cached_pages_are_not_counted(app, article_id, headers):
    reader(app).get(f"/articles/{article_id}")
    response = reader(app).get(f"/articles/{article_id}", headers=headers)
    assert shown_views(response) == 6
    assert db_views(app, article_id) == 6


def test_head_is_not_counted_and_does_not_store_an_empty_page(app, article_id):
    head = reader(app).head(f"/articles/{article_id}")
    assert head.status_code == 200 and head.data == b""
    response = reader(app).get(f"/articles/{article_id}")
    assert "开学通知" in response.text
    assert shown_views(response) == 6


def test_cookieless_readers_of_a_cached_page_are_counted_once(app, article_id):
    reader(app).get(f"/articles/{article_id}")  # fills the cache
    for _ in range(2):
        client = app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        client.get(f"/articles/{article_id}")
    assert db_views(app, article_id) == 7


def test_a_cookieless_repeat_sees_the_live_count(app, article_id):
    def cookieless():
        client = app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        return client

    assert shown_views(cookieless().get(f"/articles/{article_id}")) == 6
    assert shown_views(reader(app).get(f"/articles/{article_id}")) == 7
    # The same address and browser again: not counted, but the page shows the
    # count as it is now, not as it was when the page was rendered.
    assert shown_views(cookieless().get(f"/articles/{article_id}")) == 7
    assert db_views(app, article_id) == 7


def test_gzip_answers_decompress_to_the_page_with_the_live_count(app, article_id):
    plain = reader(app).get(f"/articles/{article_id}")
    for expected in (7, 8):  # a miss already happened: both are cache hits
        response = reader(app).get(
            f"/articles/{article_id}", headers={"Accept-Encoding": "gzip, br"}
        )
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        body = gzip.decompress(response.data).decode()
        assert f'class="article-views">{expected}<' in body
        assert body.replace(f">{expected}<", ">6<") == plain.text
        assert int(response.headers["Content-Length"]) == len(response.data)


def test_reader_pages_may_not_be_kept_by_browsers_or_proxies(app, article_id):
    for path in ("/", f"/articles/{article_id}", "/sections/news"):
        for _ in range(2):
            response = reader(app).get(path)
            assert response.headers["Cache-Control"] == "no-cache"
            assert "X-SchoolNews-Page" not in response.headers
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_forged_host_header_does_not_reach_other_readers(app, article_id):
    reader(app).get(f"/articles/{article_id}", headers={"Host": "evil.example"})
    response = reader(app).get(f"/articles/{article_id}")
    assert "evil.example" not in response.text
    assert "http://localhost/articles/" in response.text


def test_unknown_query_arguments_are_served_but_not_stored(app, article_id):
    for n in range(5):
        response = reader(app).get(f"/?utm_source=wechat{n}")
        assert response.status_code == 200
    assert len(cache(app)) == 0
    reader(app).get("/")
    assert len(cache(app)) == 1


def test_each_language_gets_its_own_page(app, article_id):
    english = reader(app).get("/?lang=en")
    assert "Latest news" in english.text
    chinese = reader(app).get("/")
    assert "Latest news" not in chinese.text
    assert 'lang="zh-CN"' in chinese.text
    again = reader(app).get("/?lang=en")
    assert "lang=en" in again.headers.get("Set-Cookie", "")  # the choice is kept


def test_the_cache_never_holds_more_than_its_limit(app, make_article):
    app.extensions["pagecache"].store.max_bytes = 60_000
    ids = [
        make_article(title=f"第{i}篇", body_html="<p>" + "字" * 3000 + "</p>")
        for i in range(12)
    ]
    for article_id in ids:
        reader(app).get(f"/articles/{article_id}")
        assert cache(app).size <= 60_000
    assert 0 < len(cache(app)) < len(ids)
    # The most recent pages stay; the oldest made room.
    with count_statements() as seen:
        reader(app).get(f"/articles/{ids[-1]}")
    assert len(seen) == 3  # served from the cache: version, count, day


# --- Staff see fresh pages ------------------------------------------------------


def test_logged_in_staff_neither_get_nor_fill_cached_pages(app, article_id):
    editor = staff(app)
    with count_statements() as seen:
        editor.get("/")
    assert len(seen) > 1
    assert len(cache(app)) == 0
    reader(app).get("/")
    with count_statements() as seen:
        editor.get("/")
    assert len(seen) > 1, "staff must not be served the cached page"


def test_staff_views_are_counted_and_shown_live(app, article_id):
    editor = staff(app)
    editor.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    response = editor.get(f"/articles/{article_id}")
    assert shown_views(response) == 6


# --- Invalidation ---------------------------------------------------------------


def db_views(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).views


def form(section_id, **fields):
    # The post the fixture makes, loaded at version 1.
    return form_data(section_id, **{"title": "开学通知", "version": "1", **fields})


def section_id_of(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).section_id


def warm(app, *paths):
    for path in paths:
        reader(app).get(path)


def test_editing_a_published_post_shows_at_once(app, article_id):
    warm(app, "/", f"/articles/{article_id}", "/sections/news")
    response = staff(app).post(
        f"/editor/articles/{article_id}/edit",
        data=form(section_id_of(app, article_id), title="开学通知（更正）"),
    )
    assert response.status_code == 302
    for path in ("/", f"/articles/{article_id}", "/sections/news"):
        assert "开学通知（更正）" in reader(app).get(path).text, path


def test_publishing_a_draft_shows_it_on_every_list(app, article_id, make_article):
    draft_id = make_article(title="运动会报名", status=Status.DRAFT)
    warm(app, "/", "/sections/news")
    assert "运动会报名" not in reader(app).get("/").text
    staff(app).post(
        f"/editor/articles/{draft_id}/edit",
        data=form(section_id_of(app, draft_id), title="运动会报名", action="publish"),
    )
    for path in ("/", "/sections/news", f"/articles/{draft_id}"):
        assert "运动会报名" in reader(app).get(path).text, path


def test_unpublishing_removes_the_post_everywhere(app, article_id):
    warm(app, "/", f"/articles/{article_id}")
    staff(app).post(
        f"/editor/articles/{article_id}/edit",
        data=form(section_id_of(app, article_id), action="unpublish"),
    )
    assert reader(app).get(f"/articles/{article_id}").status_code == 404
    assert "开学通知" not in reader(app).get("/").text


def test_trash_and_restore_show_at_once(app, article_id):
    warm(app, "/", f"/articles/{article_id}")
    editor = staff(app)
    editor.post(f"/editor/articles/{article_id}/delete")
    assert reader(app).get(f"/articles/{article_id}").status_code == 404
    assert "开学通知" not in reader(app).get("/").text
    editor.post(f"/editor/articles/{article_id}/restore")
    assert reader(app).get(f"/articles/{article_id}").status_code == 200
    assert "开学通知" in reader(app).get("/").text


def test_autosaving_a_draft_leaves_the_cache_alone(app, article_id, make_article):
    draft_id = make_article(title="草稿", status=Status.DRAFT)
    warm(app, "/")
    hot = app.extensions["pagecache"].hot
    before = cachestate.current_version(hot)
    response = staff(app).post(
        f"/editor/articles/{draft_id}/autosave",
        json={"title": "草稿二", "body_html": "<p>还在写</p>", "version": 1},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert cachestate.current_version(hot) == before
    with count_statements() as seen:
        reader(app).get("/")
    assert len(seen) == 1


def test_a_view_does_not_invalidate_the_cache(app, article_id):
    warm(app, "/", f"/articles/{article_id}")
    reader(app).get(f"/articles/{article_id}")  # counted
    with count_statements() as seen:
        reader(app).get("/")
    assert len(seen) == 1


def test_reordering_sections_changes_the_navigation(app, make_section, article_id):
    first = make_section(name="学校概况", slug="about", position=0)
    make_section(name="党建工作", slug="party", position=1)
    warm(app, "/")
    page = reader(app).get("/").text
    assert page.index("学校概况") < page.index("党建工作")
    response = staff(app, "admin").post(
        f"/admin/sections/{first}/move", data={"direction": "down"}
    )
    assert response.status_code == 302
    page = reader(app).get("/").text
    assert page.index("党建工作") < page.index("学校概况")


def test_moving_a_section_to_another_channel_moves_its_posts(
    app, make_section, make_article
):
    campus = make_section(name="校园", slug="campus")
    other = make_section(name="教学", slug="teaching")
    child = make_section(name="活动", slug="events", parent_id=campus)
    make_article(title="秋游", section_id=child)
    warm(app, "/sections/campus", "/sections/teaching")
    assert "秋游" in reader(app).get("/sections/campus").text
    response = staff(app, "admin").post(
        f"/admin/sections/{child}",
        data={"name": "活动", "slug": "events", "parent_id": str(other)},
    )
    assert response.status_code == 302, response.text
    assert "秋游" not in reader(app).get("/sections/campus").text
    assert "秋游" in reader(app).get("/sections/teaching").text


def test_settings_and_logo_show_at_once(app, article_id):
    warm(app, "/", f"/articles/{article_id}")
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(png, "PNG")
    png.seek(0)
    response = staff(app, "admin").post(
        "/admin/settings",
        data={
            "school_name": "实验中学",
            "phone": "010-12345678",
            "address": "",
            "footer_text": "",
            "icp_number": "京ICP备12345678号",
            "logo": (png, "校徽.png"),
        },
    )
    assert response.status_code == 302
    for path in ("/", f"/articles/{article_id}"):
        page = reader(app).get(path).text
        assert "实验中学" in page and "京ICP备12345678号" in page
        assert 'class="brand-logo"' in page


def test_a_scheduled_post_appears_at_its_time_without_any_action(
    app, article_id, make_article, monkeypatch
):
    due = utcnow() + timedelta(hours=2)
    scheduled = make_article(title="期末考试安排", published_at=due)
    warm(app, "/", "/sections/news")
    assert "期末考试安排" not in reader(app).get("/").text
    assert reader(app).get(f"/articles/{scheduled}").status_code == 404
    later = due + timedelta(minutes=1)
    monkeypatch.setattr(models, "utcnow", lambda: later)
    monkeypatch.setattr(cachestate, "utcnow", lambda: later)
    for path in ("/", "/sections/news", f"/articles/{scheduled}"):
        response = reader(app).get(path)
        assert response.status_code == 200 and "期末考试安排" in response.text, path


def test_a_change_committed_outside_the_web_app_shows_at_once(app, article_id):
    # A command-line script, another process: only the database is shared.
    warm(app, "/", f"/articles/{article_id}")
    with app.app_context():
        db.session.get(Section, section_id_of(app, article_id)).name = "校园新闻"
        db.session.commit()
    assert "校园新闻" in reader(app).get(f"/articles/{article_id}").text
    assert "校园新闻" in reader(app).get("/").text


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_cached_pages_see_the_reader(app, article_id):
    reader(app).get(f"/articles/{article_id}")  # fills the cache
    for address in ("203.0.113.7", "198.51.100.9"):  # two schools' first visits
        client = app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
        response = client.get(
            f"/articles/{article_id}",
            headers={"X-Forwarded-For": address, "X-Forwarded-Proto": "https"},
        )
        assert "Secure" in response.headers["Set-Cookie"]
    assert db_views(app, article_id) == 8
