"""Every reader page runs a fixed number of SQL statements on a cache miss,
whatever the number of posts, channels and sections."""

import secrets
from datetime import timedelta

import pytest

from models import Article, Section, Status, Upload, db, set_setting, utcnow
from tests.conftest import count_statements

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"

# Statements on a miss with nothing cached in the process: the cache version,
# settings, the section tree and the logo, then the page's own.
BUDGET = {
    # 4 + headlines, channel heads and picture news (one UNION), most read,
    # rows, pictures
    "home": 9,
    "section": 8,  # 4 + count, ids, rows, covers
    "deep": 8,
    # 4 + the article, attachments, cover, 2 neighbours, the count, the day's total
    "article": 11,
    "feed": 5,  # 4 + the newest posts (one UNION of index ranges)
    "channel feed": 5,
    "section feed": 5,
    "sitemap": 7,  # 4 + count, each section's newest date, the streamed ids
    "robots": 4,  # the cache version and the site data
    "search": 8,  # 4 + the count (kept per version), the ranked page, rows, covers
    "search-section": 8,
}


def image_upload(name: str) -> Upload:
    return Upload(
        kind="image",
        stored_name=f"{secrets.token_hex(8)}.{name.rpartition('.')[2]}",
        original_name=name,
        content_type="image/jpeg",
    )


def build_site(app, prefix: str, channels: int, sections: int, posts: int) -> dict:
    """A site with covers, a logo and attachments, so every query runs."""
    with app.app_context():
        logo = image_upload("logo.png")
        db.session.add(logo)
        db.session.flush()
        set_setting("logo_id", str(logo.id))
        leaves = []
        for c in range(channels):
            channel = Section(name=f"频道{c}", slug=f"{prefix}{c}", position=c)
            db.session.add(channel)
            db.session.flush()
            for s in range(sections):
                child = Section(
                    name=f"栏目{c}-{s}", slug=f"{prefix}{c}-s{s}", parent=channel
                )
                db.session.add(child)
                db.session.flush()
                leaves.append(child.id)
        now = utcnow()
        first = None
        for i in range(posts):
            cover = image_upload("cover.jpg")
            db.session.add(cover)
            db.session.flush()
            article = Article(
                title=f"第{i}篇",
                body_html="<p>正文</p>",
                author_name="教务处",
                section_id=leaves[i % len(leaves)],
                status=Status.PUBLISHED,
                published_at=now - timedelta(minutes=i + 1),
                pinned=i % 17 == 0,
                cover_id=cover.id,
            )
            db.session.add(article)
            db.session.flush()
            first = first or article.id
            db.session.add(
                Upload(
                    kind="attachment",
                    stored_name=f"{secrets.token_hex(8)}.pdf",
                    original_name="通知.pdf",
                    content_type="application/pdf",
                    article_id=article.id,
                )
            )
        db.session.commit()
        middle = first + posts // 2
    per_page = app.config["ARTICLES_PER_PAGE"]
    return {
        "home": "/",
        "section": f"/sections/{prefix}0",
        "deep": f"/sections/{prefix}0?page={max(1, posts // channels // per_page)}",
        "article": f"/articles/{middle}",
        "feed": "/feed.xml",
        "channel feed": f"/sections/{prefix}0/feed.xml",
        "section feed": f"/sections/{prefix}0-s0/feed.xml",
        "sitemap": "/sitemap.xml",
        "robots": "/robots.txt",
        # 第 is in every title: the whole site matches, as a common word does.
        "search": "/search?q=第",
        "search-section": f"/search?q=第&section={prefix}0",
    }


def cold_statements(app, path) -> int:
    """Statements for one anonymous request with nothing cached in the process."""
    app.extensions["pagecache"].store.clear()
    app.extensions.pop("sitedata", None)
    # The sites are read once per process (core/sites.py), not per miss.
    app.extensions["sitemap"].try_reload()
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    client.set_cookie("reader", secrets.token_urlsafe(16))
    with count_statements() as seen:
        response = client.get(path)
    assert response.status_code == 200, path
    if path == "/":  # every post has a cover: the picture news runs too
        assert 'class="panel picture-news"' in response.text
    return len(seen)


@pytest.mark.parametrize("page", sorted(BUDGET))
def test_a_miss_runs_a_fixed_number_of_statements(app, page):
    small = build_site(app, "a", channels=2, sections=1, posts=6)
    counts = {"small": cold_statements(app, small[page])}
    big = build_site(app, "b", channels=5, sections=4, posts=300)
    counts["big"] = cold_statements(app, big[page])
    assert counts["small"] == counts["big"] <= BUDGET[page], counts


@pytest.mark.config(SITEMAP_MAX_URLS=50)
def test_a_sitemap_index_and_its_pages_run_a_fixed_number_of_statements(app):
    build_site(app, "a", channels=2, sections=1, posts=60)
    # The index: 4 + the count. A page: 4 + the count, (on page 1) the
    # sections' newest dates, the streamed ids.
    pages = ["/sitemap.xml", "/sitemap-1.xml", "/sitemap-2.xml"]
    counts = {path: [cold_statements(app, path)] for path in pages}
    build_site(app, "b", channels=5, sections=4, posts=300)
    for path in pages:
        counts[path].append(cold_statements(app, path))
    assert counts == {
        "/sitemap.xml": [5, 5],
        "/sitemap-1.xml": [7, 7],
        "/sitemap-2.xml": [6, 6],
    }, counts
