"""Atom feeds, sitemaps and robots.txt: well-formed, public posts only, fresh."""

import re
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from models import Article, Status, User, db, utcnow
from newsroom import articles
from newsroom.sanitize import absolute_urls, clean_html
from tests.conftest import count_statements

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
RFC3339 = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", re.ASCII
)
HIDDEN = {
    "draft": {"status": Status.DRAFT, "published_at": None},
    "pending": {"status": Status.PENDING, "published_at": None},
    "scheduled": {"published_at": timedelta(days=1)},
    "trashed": {"deleted_at": True},
}


def hidden_fields(kind: str) -> dict:
    fields = dict(HIDDEN[kind])
    if isinstance(fields.get("published_at"), timedelta):
        fields["published_at"] = utcnow() + fields["published_at"]
    if fields.get("deleted_at"):
        fields["deleted_at"] = utcnow()
    return fields


def reader(app):
    """An anonymous reader: served from the page cache like any feed reader."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    return client


def assert_rfc3339(text: str) -> datetime:
    assert RFC3339.match(text), text
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, text
    return value


def parse_atom(response) -> ElementTree.Element:
    """The feed, checked against what RFC 4287 requires of a feed and entries."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = ElementTree.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1, name
    assert_rfc3339(feed.findtext(f"{ATOM}updated"))
    links = {link.get("rel"): link.get("href") for link in feed.iter(f"{ATOM}link")}
    assert links["self"].startswith("http://localhost/")
    assert links["alternate"].startswith("http://localhost/")
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "published", "summary", "content"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.find(f"{ATOM}author/{ATOM}name").text
        published = assert_rfc3339(entry.findtext(f"{ATOM}published"))
        assert assert_rfc3339(entry.findtext(f"{ATOM}updated")) >= published
        link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
        assert re.fullmatch(r"http://localhost/articles/\d+", link)
        assert entry.findtext(f"{ATOM}id") == link
        assert entry.find(f"{ATOM}content").get("type") == "html"
    return feed


def entry_titles(feed) -> list[str]:
    return [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]


def sitemap_locs(response) -> dict[str, str | None]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    urlset = ElementTree.fromstring(response.data)
    assert urlset.tag == f"{SITEMAP}urlset"
    return {
        url.findtext(f"{SITEMAP}loc"): url.findtext(f"{SITEMAP}lastmod")
        for url in urlset.findall(f"{SITEMAP}url")
    }


@pytest.fixture
def tree(make_section):
    """A channel with two sub-sections, and a second channel."""
    news = make_section(name="新闻中心", slug="news")
    return {
        "news": news,
        "campus": make_section(name="校园动态", slug="campus", parent_id=news),
        "notices": make_section(name="通知公告", slug="notices", parent_id=news),
        "teaching": make_section(name="教学科研", slug="teaching"),
    }


# --- Atom feeds -------------------------------------------------------------------


def test_site_feed_is_valid_atom_with_absolute_urls(client, make_article):
    article_id = make_article(
        title="运动会通知",
        summary="秋季运动会 <报名> 开始",
        author_name="体育组",
        body_html=clean_html(
            '<p>见<a href="/articles/1">上一篇</a>和 <a href="#list">名单</a></p>'
            '<img src="/uploads/photo.jpg" alt="合影">'
        ),
    )
    feed = parse_atom(client.get("/feed.xml"))
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "运动会通知"
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "体育组"
    # Plain text in an html summary: escaped once, shown as typed.
    assert entry.findtext(f"{ATOM}summary") == "秋季运动会 &lt;报名&gt; 开始"
    content = entry.findtext(f"{ATOM}content")
    assert '<img src="http://localhost/uploads/photo.jpg" alt="合影">' in content
    assert 'href="http://localhost/articles/1"' in content
    assert f'href="http://localhost/articles/{article_id}#list"' in content
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == (
        "http://localhost/feed.xml"
    )
    assert feed.find(f"{ATOM}link[@rel='alternate']").get("href") == (
        "http://localhost/"
    )


def test_feed_dates_are_utc_with_zone(client, make_article):
    published = datetime(2026, 3, 1, 8, 30, 15)
    make_article(published_at=published)
    entry = parse_atom(client.get("/feed.xml")).find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published") == "2026-03-01T08:30:15+00:00"


def test_feed_holds_the_latest_posts_newest_first(app, client, make_article):
    for day in range(25):
        make_article(title=f"第{day}天", published_at=utcnow() - timedelta(days=day))
    # A pinned old post competes by its date, not by being pinned.
    make_article(
        title="置顶旧文", pinned=True, published_at=utcnow() - timedelta(days=90)
    )
    make_article(
        title="置顶新文", pinned=True, published_at=utcnow() - timedelta(hours=1)
    )
    titles = entry_titles(parse_atom(client.get("/feed.xml")))
    assert len(titles) == app.config["FEED_ENTRIES"] == 20
    assert titles[:3] == ["第0天", "置顶新文", "第1天"]
    assert titles[-1] == "第18天"
    assert "置顶旧文" not in titles


@pytest.mark.parametrize("kind", HIDDEN)
def test_feed_lists_only_public_posts(client, make_article, kind):
    make_article(title="公开的文章")
    make_article(title="看不见的文章", **hidden_fields(kind))
    for path in ("/feed.xml", "/sections/news/feed.xml"):
        assert entry_titles(parse_atom(client.get(path))) == ["公开的文章"]


def test_publishing_and_unpublishing_show_in_a_cached_feed_at_once(app, make_article):
    make_article(title="旧闻")
    draft_id = make_article(title="新闻稿", status=Status.DRAFT, published_at=None)
    assert entry_titles(parse_atom(reader(app).get("/feed.xml"))) == ["旧闻"]
    with count_statements() as seen:
        reader(app).get("/feed.xml")
    assert len(seen) == 1, seen  # served from the page cache: the version only

    def act(action):
        with app.app_context():
            editor = db.session.scalar(sa.select(User).filter_by(username="editor"))
            articles.apply_action(db.session.get(Article, draft_id), action, editor)
            db.session.commit()

    act(articles.Action.PUBLISH)
    assert entry_titles(parse_atom(reader(app).get("/feed.xml"))) == ["新闻稿", "旧闻"]
    act(articles.Action.UNPUBLISH)
    assert entry_titles(parse_atom(reader(app).get("/feed.xml"))) == ["旧闻"]


def test_a_scheduled_post_enters_the_cached_feed_when_due(app, make_article):
    make_article(title="旧闻")
    soon = make_article(title="定时发布", published_at=utcnow() + timedelta(hours=1))
    assert entry_titles(parse_atom(reader(app).get("/feed.xml"))) == ["旧闻"]
    with app.app_context():
        # Make it due without a commit that would bump the version itself.
        db.session.execute(
            sa.update(Article)
            .where(Article.id == soon)
            .values(published_at=utcnow() - timedelta(seconds=1))
            .execution_options(readers_unaffected=True)
        )
        db.session.execute(
            sa.text("UPDATE cache_state SET next_change_at = :now"),
            {"now": utcnow() - timedelta(seconds=1)},
        )
        db.session.commit()
    assert entry_titles(parse_atom(reader(app).get("/feed.xml"))) == [
        "定时发布",
        "旧闻",
    ]


def test_channel_feed_has_its_sub_sections_and_a_section_feed_only_itself(
    client, tree, make_article
):
    make_article(title="频道本身", section_id=tree["news"])
    make_article(title="校园新闻", section_id=tree["campus"])
    make_article(title="一则通知", section_id=tree["notices"])
    make_article(title="教研活动", section_id=tree["teaching"])
    channel = parse_atom(client.get("/sections/news/feed.xml"))
    assert sorted(entry_titles(channel)) == sorted(["频道本身", "校园新闻", "一则通知"])
    assert channel.findtext(f"{ATOM}title") == "新闻中心 - SchoolNews"
    assert channel.find(f"{ATOM}link[@rel='alternate']").get("href") == (
        "http://localhost/sections/news"
    )
    assert channel.find(f"{ATOM}link[@rel='self']").get("href") == (
        "http://localhost/sections/news/feed.xml"
    )
    section = parse_atom(client.get("/sections/campus/feed.xml"))
    assert entry_titles(section) == ["校园新闻"]
    assert entry_titles(parse_atom(client.get("/sections/teaching/feed.xml"))) == [
        "教研活动"
    ]


def test_empty_feed_is_still_valid(client, tree):
    feed = parse_atom(client.get("/sections/teaching/feed.xml"))
    assert entry_titles(feed) == []


def test_unknown_section_feed_is_404(client):
    response = client.get("/sections/no-such-section/feed.xml")
    assert response.status_code == 404
    assert "text/html" in response.headers["Content-Type"]


HOSTILE_TITLES = [
    "<script>alert(1)</script> & 家长会",
    "]]> CDATA 结束 ]]>",
    "控制\x00字符\x01\x08\x0b\x0c\x1b\x7f",
    "非字符\ufffe\uffff结束",
    "换行\r\n制表\t保留",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_xml_hostile_titles_still_give_well_formed_feeds(client, make_article, title):
    make_article(
        title=title,
        author_name=f"作者{title}",
        summary=f"摘要{title}",
        body_html=f"<p>{title.replace('<', '&lt;').replace('&', '&amp;')}</p>",
    )
    expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", title)
    expected = expected.replace("\r\n", "\n")  # what every XML parser reads
    for path in ("/feed.xml", "/sections/news/feed.xml"):
        feed = parse_atom(client.get(path))
        entry = feed.find(f"{ATOM}entry")
        assert entry.findtext(f"{ATOM}title") == expected
        assert entry.findtext(f"{ATOM}author/{ATOM}name") == f"作者{expected}"
    assert sitemap_locs(client.get("/sitemap.xml"))


def test_a_forged_host_never_reaches_other_readers(app, make_article):
    make_article()
    forged = reader(app).get("/feed.xml", headers={"Host": "evil.example"})
    assert b"http://evil.example/" in forged.data
    for path in ("/feed.xml", "/sitemap.xml", "/robots.txt"):
        honest = reader(app).get(path)
        assert b"evil.example" not in honest.data, path
        assert b"http://localhost/" in honest.data, path


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_behind_a_proxy_feeds_use_the_forwarded_scheme(app, make_article):
    make_article()
    response = reader(app).get(
        "/feed.xml",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    feed = parse_atom_https(response)
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == (
        "https://localhost/feed.xml"
    )


def parse_atom_https(response):
    assert response.status_code == 200
    feed = ElementTree.fromstring(response.data)
    for link in feed.iter(f"{ATOM}link"):
        assert link.get("href").startswith("https://localhost/")
    return feed


# --- Links from the pages -----------------------------------------------------------


def alternate_feeds(response) -> list[str]:
    html = response.get_data(as_text=True)
    return re.findall(
        r'<link rel="alternate" type="application/atom\+xml" href="([^"]+)"', html
    )


def test_pages_link_the_site_feed_and_their_sections_feed(client, tree, make_article):
    article_id = make_article(section_id=tree["campus"])
    assert alternate_feeds(client.get("/")) == ["/feed.xml"]
    assert alternate_feeds(client.get("/sections/news")) == [
        "/feed.xml",
        "/sections/news/feed.xml",
    ]
    assert alternate_feeds(client.get(f"/articles/{article_id}")) == [
        "/feed.xml",
        "/sections/campus/feed.xml",
    ]
    assert alternate_feeds(client.get("/login")) == ["/feed.xml"]


# --- Sitemaps ---------------------------------------------------------------------


def test_sitemap_lists_home_sections_and_public_articles(client, tree, make_article):
    published = datetime(2026, 5, 4, 3, 2, 1)
    public_id = make_article(section_id=tree["campus"], published_at=published)
    hidden = [
        make_article(section_id=tree["campus"], **hidden_fields(kind))
        for kind in HIDDEN
    ]
    locs = sitemap_locs(client.get("/sitemap.xml"))
    base = "http://localhost"
    assert list(locs)[:5] == [
        f"{base}/",
        f"{base}/sections/news",
        f"{base}/sections/campus",
        f"{base}/sections/notices",
        f"{base}/sections/teaching",
    ]
    assert f"{base}/articles/{public_id}" in locs
    for article_id in hidden:
        assert f"{base}/articles/{article_id}" not in locs
    assert len(locs) == 6
    # The list pages changed when their newest post came out; the article
    # when it was last saved (here: created, after its publication date).
    assert locs[f"{base}/sections/campus"] == "2026-05-04T03:02:01+00:00"
    assert locs[f"{base}/sections/news"] == "2026-05-04T03:02:01+00:00"
    assert locs[f"{base}/"] == "2026-05-04T03:02:01+00:00"
    assert locs[f"{base}/sections/teaching"] is None
    assert assert_rfc3339(locs[f"{base}/articles/{public_id}"]) > published.replace(
        tzinfo=assert_rfc3339(locs[f"{base}/"]).tzinfo
    )


@pytest.mark.config(SITEMAP_MAX_URLS=3)
def test_over_the_limit_the_sitemap_is_an_index_of_pages(client, tree, make_article):
    ids = [make_article(section_id=tree["campus"]) for _ in range(6)]
    make_article(section_id=tree["campus"], status=Status.DRAFT, published_at=None)
    index = client.get("/sitemap.xml")
    assert index.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = ElementTree.fromstring(index.data)
    assert root.tag == f"{SITEMAP}sitemapindex"
    pages = [loc.text for loc in root.iter(f"{SITEMAP}loc")]
    # 1 home + 4 sections + 6 articles = 11 URLs, 3 per file.
    assert pages == [f"http://localhost/sitemap-{n}.xml" for n in range(1, 5)]
    seen = []
    for page in pages:
        locs = sitemap_locs(client.get(page.removeprefix("http://localhost")))
        assert 1 <= len(locs) <= 3
        seen.extend(locs)
    articles_seen = [loc for loc in seen if "/articles/" in loc]
    assert articles_seen == [f"http://localhost/articles/{i}" for i in ids]
    assert len(seen) == len(set(seen)) == 11
    for missing in ("/sitemap-0.xml", "/sitemap-5.xml"):
        assert client.get(missing).status_code == 404


def test_robots_txt_keeps_crawlers_out_of_staff_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = {
        line.split(": ", 1)[1] for line in lines if line.startswith("Disallow")
    }
    assert disallowed == {
        "/editor",
        "/admin",
        "/login",
        "/logout",
        "/account/password",
        "/articles/*/qr.svg",
    }
    assert "Sitemap: http://localhost/sitemap.xml" in lines
    # Every staff route and QR code is kept out; the rest (pages, photos and
    # attachments) stays open. "*" matches one path segment here.
    patterns = [re.escape(path).replace(r"\*", "[^/]+") for path in disallowed]
    for route in client.application.url_map.iter_rules():
        path = route.rule.replace("<", "").replace(">", "")
        kept_out = route.endpoint.split(".")[0] in {"editor", "admin", "auth"}
        staff_path = path.startswith(("/editor/", "/admin/"))
        kept_out = kept_out or staff_path or path.endswith("/qr.svg")
        assert any(re.match(p, path) for p in patterns) == kept_out, path


@pytest.mark.parametrize(
    "path", ["/feed.xml", "/sections/news/feed.xml", "/sitemap.xml", "/robots.txt"]
)
def test_feeds_are_cached_pages(app, tree, make_article, path):
    make_article(section_id=tree["campus"])
    first = reader(app).get(path)
    with count_statements() as seen:
        again = reader(app).get(path)
    assert len(seen) == 1, seen
    assert again.data == first.data
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


# --- Absolute URLs in bodies -------------------------------------------------------

BASE = "https://school.example/articles/7"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '<img src="/uploads/a.jpg">',
            '<img src="https://school.example/uploads/a.jpg">',
        ),
        ('<a href="/articles/2?a=1&amp;b=2">x</a>', "/articles/2?a=1&amp;b=2"),
        ('<a href="#top">x</a>', 'href="https://school.example/articles/7#top"'),
        ('<a href="https://other.example/p">x</a>', 'href="https://other.example/p"'),
        ('<a href="mailto:office@school.example">x</a>', 'href="mailto:office@'),
        ('<a href="tel:010-1234">x</a>', 'href="tel:010-1234"'),
        # Text that looks like a tag is text: left alone.
        ('<p>&lt;a href="/x"&gt;</p>', '&lt;a href="/x"&gt;'),
        ('<a title="a > b href=&quot;/y&quot;" href="/z">x</a>', "&quot;/y&quot;"),
    ],
)
def test_absolute_urls_rewrites_only_links_and_images(body, expected):
    result = absolute_urls(clean_html(body), BASE)
    assert expected in result
    if 'href="/z"' in body:
        assert 'href="https://school.example/z"' in result


@pytest.mark.config(TRUSTED_HOSTS=["localhost"])
def test_with_trusted_hosts_a_forged_host_is_refused(app, make_article):
    make_article()
    forged = reader(app).get("/feed.xml", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert b"evil.example" not in forged.data
    assert reader(app).get("/feed.xml").status_code == 200
