"""Pictures: a post's picture (chosen cover, else first body photo), thumbnails
made at upload, the picture-news block, list thumbnails, share previews and
the favicon."""

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from models import Article, Status, Upload, db, set_setting
from newsroom import storage
from tests.conftest import count_statements, form_data

JSON = {"Accept": "application/json"}
BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


def jpeg_with_gps(size=(1200, 900)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 5.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def upload(client, data=None, name="活动.jpg", **fields) -> dict:
    response = client.post(
        "/editor/uploads/image",
        data={"file": (io.BytesIO(data or jpeg_with_gps()), name), **fields},
        headers=JSON,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    return response.get_json()


def img(photo: dict) -> str:
    return f'<img src="{photo["url"]}" alt="照片">'


def get(client, path):
    """client.get(path), read and closed (files are streamed from disk)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def picture_of(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).picture_id


def thumbs_folder(app) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / "thumbs"


def stem(photo: dict) -> str:
    return photo["url"].rsplit("/", 1)[1].partition(".")[0]


@pytest.fixture
def section(make_section):
    return make_section(name="校园动态", slug="campus")


def create(client, section, **overrides) -> int:
    response = client.post("/editor/articles/new", data=form_data(section, **overrides))
    assert response.status_code == 302, response.text
    return int(re.search(r"/articles/(\d+)/edit", response.headers["Location"])[1])


def edit(client, app, article_id, section, **overrides):
    with app.app_context():
        version = db.session.get(Article, article_id).version
    data = form_data(section, version=str(version), **overrides)
    response = client.post(f"/editor/articles/{article_id}/edit", data=data)
    assert response.status_code == 302, response.text


# --- The picture of a post ------------------------------------------------------


def test_first_own_body_image_is_the_picture_on_create(app, editor_client, section):
    first, second = upload(editor_client), upload(editor_client)
    body = (
        '<p>开幕式</p><p><img src="https://example.com/a.jpg" alt="外链"></p>'
        f"<p>{img(first)}</p><p>{img(second)}</p>"
    )
    article_id = create(editor_client, section, body_html=body)
    # The image from elsewhere has no thumbnail: skipped.
    assert picture_of(app, article_id) == first["id"]


def test_editing_the_body_moves_the_picture_and_removing_it_clears_it(
    app, editor_client, section
):
    first, second = upload(editor_client), upload(editor_client)
    article_id = create(editor_client, section, body_html=f"<p>{img(first)}</p>")
    edit(editor_client, app, article_id, section, body_html=f"<p>{img(second)}</p>")
    assert picture_of(app, article_id) == second["id"]
    edit(editor_client, app, article_id, section, body_html="<p>没有照片了</p>")
    assert picture_of(app, article_id) is None


def test_autosave_of_a_draft_keeps_the_picture(app, editor_client, section):
    photo = upload(editor_client)
    article_id = create(editor_client, section)
    with app.app_context():
        version = db.session.get(Article, article_id).version
    response = editor_client.post(
        f"/editor/articles/{article_id}/autosave",
        json={"body_html": f"<p>{img(photo)}</p>", "version": version},
        headers=JSON,
    )
    assert response.status_code == 200, response.text
    assert picture_of(app, article_id) == photo["id"]


def test_chosen_cover_wins_over_the_body_image(app, editor_client, section):
    cover, in_body = upload(editor_client), upload(editor_client)
    article_id = create(
        editor_client, section, body_html=f"<p>{img(in_body)}</p>", cover_id=cover["id"]
    )
    assert picture_of(app, article_id) == cover["id"]
    # Removing the cover falls back to the body's photo.
    edit(editor_client, app, article_id, section, body_html=f"<p>{img(in_body)}</p>")
    assert picture_of(app, article_id) == in_body["id"]


def test_orm_changes_keep_the_picture(app, editor_client, make_article):
    photo = upload(editor_client)
    article_id = make_article(body_html=f"<p>{img(photo)}</p>")
    assert picture_of(app, article_id) == photo["id"]
    with app.app_context():
        db.session.get(Article, article_id).body_html = "<p>无图</p>"
        db.session.commit()
    assert picture_of(app, article_id) is None


def test_deleting_the_picture_falls_back_to_the_body_image(
    app, editor_client, make_article
):
    cover, in_body = upload(editor_client), upload(editor_client)
    article_id = make_article(cover_id=cover["id"], body_html=f"<p>{img(in_body)}</p>")
    with app.app_context():
        storage.delete_upload(db.session.get(Upload, cover["id"]))
    assert picture_of(app, article_id) == in_body["id"]


# --- Thumbnails -----------------------------------------------------------------


def test_upload_makes_thumbnails_at_page_sizes_without_metadata(app, editor_client):
    photo = upload(editor_client)
    for variant, size in (
        ("240", (240, 160)),
        ("480", (480, 320)),
        ("960", (960, 640)),
    ):
        path = thumbs_folder(app) / f"{stem(photo)}-{variant}.jpg"
        with Image.open(path) as thumb:
            assert thumb.format == "JPEG" and thumb.size == size
            assert not thumb.getexif(), "EXIF must not reach a thumbnail"
            assert "exif" not in thumb.info and "icc_profile" not in thumb.info


def test_thumbnail_is_served_cacheable(app, client, editor_client):
    photo = upload(editor_client)
    with count_statements() as seen:
        response = get(client, f"/uploads/thumbs/{stem(photo)}-480.jpg")
    assert response.status_code == 200
    assert seen == []  # a file on disk: served like a static file
    assert response.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(response.data)).size == (480, 320)
    cache = response.cache_control
    assert cache.max_age >= 365 * 24 * 3600 and cache.immutable and cache.public
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_missing_thumbnail_of_an_old_upload_is_made_on_first_request(
    app, client, editor_client
):
    photo = upload(editor_client)
    for path in thumbs_folder(app).iterdir():
        path.unlink()  # as on a site upgraded from before thumbnails
    response = get(client, f"/uploads/thumbs/{stem(photo)}-240.jpg")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.data)).size == (240, 160)
    assert (thumbs_folder(app) / f"{stem(photo)}-240.jpg").is_file()


def test_thumbnail_of_a_lost_or_damaged_original_redirects_to_it(
    app, client, editor_client
):
    lost, damaged = upload(editor_client), upload(editor_client)
    for path in thumbs_folder(app).iterdir():
        path.unlink()
    storage_folder = Path(app.config["UPLOAD_FOLDER"])
    (storage_folder / lost["url"].rsplit("/", 1)[1]).unlink()
    (storage_folder / damaged["url"].rsplit("/", 1)[1]).write_bytes(b"\xff\xd8\xffjunk")
    for photo in (lost, damaged):
        response = get(client, f"/uploads/thumbs/{stem(photo)}-240.jpg")
        assert response.status_code == 302
        assert response.headers["Location"] == photo["url"]


@pytest.mark.parametrize(
    "name",
    [
        "0123456789abcdef0123456789abcdef-240.jpg",  # no such upload
        "0123456789abcdef0123456789abcdef-240.png",  # wrong extension
        "0123456789abcdef0123456789abcdef-999.jpg",  # no such size
        "..-240.jpg",
        "secret_key",
    ],
)
def test_unknown_thumbnail_names_are_404(client, name):
    assert get(client, f"/uploads/thumbs/{name}").status_code == 404


def test_deleting_an_upload_removes_its_thumbnails(app, editor_client):
    photo = upload(editor_client)
    assert list(thumbs_folder(app).glob(f"{stem(photo)}-*"))
    response = editor_client.post(f"/editor/uploads/{photo['id']}/delete", headers=JSON)
    assert response.status_code == 200
    assert list(thumbs_folder(app).glob(f"{stem(photo)}-*")) == []


def test_purging_a_post_removes_its_photos_thumbnails(app, editor_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    photo = upload(editor_client, article_id=str(article_id))
    editor_client.post(f"/editor/articles/{article_id}/delete")
    response = editor_client.post(
        f"/editor/articles/{article_id}/purge", data={"confirm": "yes"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Upload, photo["id"]) is None
    assert list(thumbs_folder(app).glob(f"{stem(photo)}-*")) == []


# --- Reader pages ---------------------------------------------------------------


def photo_post(app, editor_client, make_article, title, **fields) -> tuple[int, dict]:
    photo = upload(editor_client)
    article_id = make_article(
        title=title, body_html=f"<p>正文</p><p>{img(photo)}</p>", **fields
    )
    return article_id, photo


def picture_block(html: str) -> str:
    match = re.search(r'<section class="panel picture-news".*?</section>', html, re.S)
    return match[0] if match else ""


def test_home_picture_news_lists_only_visible_posts_with_pictures(
    app, client, editor_client, make_article
):
    shown, photo = photo_post(app, editor_client, make_article, "春季运动会")
    photo_post(
        app,
        editor_client,
        make_article,
        "草稿里的照片",
        status=Status.DRAFT,
        published_at=None,
    )
    make_article(title="没有照片的通知")
    block = picture_block(client.get("/").text)
    assert "春季运动会" in block
    assert "草稿里的照片" not in block and "没有照片的通知" not in block
    assert f"/uploads/thumbs/{stem(photo)}-480.jpg" in block
    assert f'href="/articles/{shown}"' in block


def test_home_without_pictures_has_no_empty_block(client, make_article):
    make_article(title="没有照片的通知")
    assert picture_block(client.get("/").text) == ""


def test_picture_news_images_have_size_alt_and_lazy_loading(
    app, client, editor_client, make_article
):
    for n in range(5):
        photo_post(app, editor_client, make_article, f"图片新闻{n}")
    images = re.findall(r"<img[^>]*>", picture_block(client.get("/").text))
    assert len(images) == 5
    for tag in images:
        assert 'width="' in tag and 'height="' in tag and 'alt=""' in tag, tag
    # The first, big picture is above the fold: not lazy.
    assert "loading=" not in images[0]
    assert all('loading="lazy"' in tag for tag in images[1:])


def test_section_list_shows_thumbnails_with_size_and_lazy_loading(
    app, client, editor_client, make_article
):
    for n in range(3):
        photo_post(app, editor_client, make_article, f"有图{n}")
    make_article(title="无图")
    html = client.get("/sections/news").text
    cards = re.findall(r'<li class="article-card.*?</li>', html, re.S)
    assert len(cards) == 4
    with_images = [card for card in cards if "<img" in card]
    assert len(with_images) == 3 and "无图" not in "".join(with_images)
    for card in with_images:
        tag = re.search(r"<img[^>]*>", card)[0]
        assert 'width="240" height="160"' in tag
        assert re.search(r'src="/uploads/thumbs/[0-9a-f]+-240\.jpg"', tag)
        assert "-480.jpg 480w" in tag
        assert 'alt=""' in tag  # the title beside it names the post
    assert 'loading="lazy"' in with_images[-1]


def test_share_image_is_the_absolute_picture_with_its_size(
    app, client, editor_client, make_article
):
    article_id, photo = photo_post(app, editor_client, make_article, "开学典礼")
    html = client.get(f"/articles/{article_id}").text
    url = f"http://localhost/uploads/thumbs/{stem(photo)}-960.jpg"
    assert f'<meta property="og:image" content="{url}">' in html
    assert '<meta property="og:image:width" content="960">' in html
    assert '<meta property="og:image:height" content="640">' in html
    assert f'<meta itemprop="image" content="{url}">' in html
    assert '<meta property="og:title" content="开学典礼">' in html
    assert (
        f'<meta property="og:url" content="http://localhost/articles/{article_id}">'
        in html
    )
    # WeChat's fallback: the first <img> of the page is the post's picture.
    first_img = re.search(r"<img[^>]*>", html)[0]
    assert f"{stem(photo)}-480.jpg" in first_img and "hidden" in first_img
    assert get(client, url.removeprefix("http://localhost")).status_code == 200


def test_post_without_picture_shares_the_logo(app, client, admin_client, make_article):
    article_id = make_article(title="通知")
    assert "og:image" not in client.get(f"/articles/{article_id}").text
    logo = upload(admin_client, data=png(300, 200), name="logo.png")
    with app.app_context():
        set_setting("logo_id", str(logo["id"]))
        db.session.commit()
    html = client.get(f"/articles/{article_id}").text
    assert f'<meta property="og:image" content="http://localhost{logo["url"]}">' in html
    assert '<meta property="og:image:width" content="300">' in html
    assert '<meta property="og:image:height" content="200">' in html


# --- Favicon --------------------------------------------------------------------


def png(width=64, height=64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (11, 74, 139, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def test_without_a_logo_the_default_icon_is_served(client):
    html = client.get("/").text
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]+\.svg"', html)
    response = get(client, "/favicon.ico")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.data)).format == "ICO"
    assert response.cache_control.max_age >= 3600 and response.cache_control.public


def test_the_logo_is_the_favicon(app, client, admin_client):
    response = admin_client.post(
        "/admin/settings",
        data={
            "school_name": "阳光实验中学",
            "logo": (io.BytesIO(png(400, 200)), "校徽.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    with app.app_context():
        logo = db.session.scalar(sa.select(Upload).where(Upload.kind == "image"))
    logo_stem = logo.stored_name.partition(".")[0]
    html = app.test_client().get("/").text
    icon = f"/uploads/thumbs/{logo_stem}-icon32.png"
    assert f'<link rel="icon" href="{icon}" sizes="32x32"' in html
    assert (
        f'<link rel="apple-touch-icon" href="/uploads/thumbs/{logo_stem}-icon180.png">'
        in html
    )
    with Image.open(io.BytesIO(get(client, icon).data)) as image:
        assert image.size == (32, 32)  # fitted whole into a square
    response = get(client, "/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/x-icon"
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.format == "ICO"
    # Not the default icon.
    default = Path(app.static_folder, "favicon.ico").read_bytes()
    assert response.data != default


def test_favicon_reads_no_more_than_the_cache_version(app, client):
    get(client, "/favicon.ico")  # settings loaded once for this version
    with count_statements() as seen:
        assert get(client, "/favicon.ico").status_code == 200
    assert len(seen) <= 1, seen


def test_thumbnails_command_makes_the_missing_ones(app, runner, editor_client):
    photos = [upload(editor_client), upload(editor_client)]
    for path in thumbs_folder(app).iterdir():
        path.unlink()
    lost = Path(app.config["UPLOAD_FOLDER"]) / photos[1]["url"].rsplit("/", 1)[1]
    lost.unlink()
    result = runner.invoke(args=["thumbnails"])
    assert result.exit_code == 0, result.output
    assert "Photos given thumbnails: 1. Unreadable originals: 1." in result.output
    assert sorted(p.name for p in thumbs_folder(app).iterdir()) == [
        f"{stem(photos[0])}-{size}.jpg" for size in ("240", "480", "960")
    ]
    again = runner.invoke(args=["thumbnails"])
    assert "Photos given thumbnails: 0. Unreadable originals: 1." in again.output
