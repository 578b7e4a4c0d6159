"""Old sites' addresses: one spelling each, looked up only off the reader's path."""

from datetime import timedelta

import pytest

from models import Article, LegacyUrl, Status, db, utcnow
from reader import legacyurls
from tests.conftest import count_statements

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


@pytest.mark.parametrize(
    ("path", "args", "stored"),
    [
        ("/", {"p": "12"}, "/?p=12"),
        ("/index.php", {"p": "12", "utm_source": "wechat"}, "/?p=12"),
        ("/news/index.php", {"p": "12"}, "/news?p=12"),
        ("/plus/view.php", {"aid": "5"}, "/plus/view.php?aid=5"),
        ("/Plus/View.php", {"aid": "5", "mid": "1"}, "/plus/view.php?aid=5"),
        ("/a/news//20240328/5.html", {}, "/a/news/20240328/5.html"),
        ("/2024/03/%E5%BC%80%E5%AD%A6/", {}, "/2024/03/开学"),
        ("/2024/03/开学/", {}, "/2024/03/开学"),
        ("archives/12.html", [("p", " 12 ")], "/archives/12.html?p=12"),
        (
            "/category/news/",
            {"cat": "3", "page_id": "7"},
            "/category/news?cat=3&page_id=7",
        ),
    ],
)
def test_addresses_are_stored_in_one_spelling(path, args, stored):
    assert legacyurls.normalise(path, args) == stored


def test_normalise_url_drops_the_host():
    assert legacyurls.normalise_url("http://www.school.cn/?p=3") == "/?p=3"


def _add(app, path, article_id):
    with app.app_context():
        db.session.add(
            LegacyUrl(
                path=path, target_type="article", target_id=article_id, source="t"
            )
        )
        db.session.commit()


def test_reader_pages_never_look_up_old_addresses(app, client, make_article):
    article_id = make_article()
    _add(app, "/?p=12", article_id)
    for url in ("/", "/sections/news", f"/articles/{article_id}", "/?page=1"):
        with count_statements() as seen:
            assert client.get(url).status_code == 200
        assert not [s for s in seen if "legacy_url" in s], url
    with count_statements() as seen:
        response = client.get("/?p=12")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/articles/{article_id}"
    assert len([s for s in seen if "legacy_url" in s]) == 1


@pytest.mark.parametrize(
    "path", ["/a/news/20240328/404.html", "/a/news/" + "x" * 600 + ".html"]
)
def test_an_unknown_address_is_still_a_friendly_404(app, client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


# Each state in which readers may not see a post, as make_article's fields.
HIDDEN_POSTS = {
    "draft": {"status": Status.DRAFT, "published_at": None},
    "scheduled": {"published_at": utcnow() + timedelta(days=3)},
    "pending": {"status": Status.PENDING, "published_at": None},
    "trashed": {"deleted_at": utcnow()},
    "deleted": {"status": Status.DRAFT, "published_at": None},
}


def _hidden_post(app, make_article, state):
    article_id = make_article(**HIDDEN_POSTS[state])
    if state == "deleted":
        with app.app_context():
            db.session.delete(db.session.get(Article, article_id))
            db.session.commit()
    return article_id


@pytest.mark.parametrize("state", list(HIDDEN_POSTS))
def test_an_old_address_of_a_hidden_post_is_an_unknown_address(
    app, client, make_article, state
):
    """No 301 would tell anyone probing old links that the post exists."""
    article_id = _hidden_post(app, make_article, state)
    _add(app, "/a/news/20240328/5.html", article_id)
    unknown = client.get("/a/news/20240328/6.html")
    for method in (client.get, client.head):
        response = method("/a/news/20240328/5.html")
        assert response.status_code == 404, (state, method)
        assert "Location" not in response.headers
    response = client.get("/a/news/20240328/5.html")
    # The page links to its own address in other languages; all else is equal.
    body = response.get_data(as_text=True).replace("/5.html", "/6.html")
    assert body == unknown.get_data(as_text=True)
    assert response.headers["Content-Type"] == unknown.headers["Content-Type"]


@pytest.mark.parametrize("state", list(HIDDEN_POSTS))
def test_an_old_home_argument_of_a_hidden_post_is_an_unknown_argument(
    app, client, make_article, state
):
    article_id = _hidden_post(app, make_article, state)
    _add(app, "/?p=12", article_id)
    unknown = client.get("/?p=13")
    response = client.get("/?p=12")
    assert "Location" not in response.headers
    assert response.status_code == unknown.status_code
    body = response.get_data(as_text=True).replace("p=12", "p=13")
    assert body == unknown.get_data(as_text=True)


def test_an_old_address_of_a_published_post_still_moves(app, client, make_article):
    article_id = make_article()
    _add(app, "/a/news/20240328/5.html", article_id)
    response = client.get("/a/news/20240328/5.html")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/articles/{article_id}"


def test_another_import_cannot_take_an_address_over(app, make_article):
    first, second = make_article(), make_article()
    with app.app_context():
        assert legacyurls.remember("/?p=1", "article", first, "wordpress a.cn")
        assert not legacyurls.remember("/?p=1", "article", second, "wordpress b.cn")
        assert legacyurls.remember("/?p=1", "article", second, "wordpress a.cn")
        db.session.commit()
        assert legacyurls.find("/?p=1").target_id == second


def test_an_address_too_long_to_store_is_not_remembered(app, make_article):
    article_id = make_article()
    too_long = "/" + "x" * legacyurls.MAX_LENGTH
    with app.app_context():
        assert not legacyurls.remember(too_long, "article", article_id, "dedecms")
        assert legacyurls.find(too_long) is None
        with pytest.raises(ValueError):
            legacyurls.remember("/?p=1", "comment", article_id, "dedecms")
        assert db.session.scalar(db.select(db.func.count(LegacyUrl.path))) == 0
