"""Photo, attachment and .docx uploads through /editor/uploads, and serving them."""

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from core.i18n import display_size
from models import Article, Status, Upload, db, set_setting
from newsroom import storage
from operations.commands import create_user
from tests import test_review as review_flow
from tests.conftest import get_article, user_id

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

JSON = {"Accept": "application/json"}
# For users made here; importing conftest is ambiguous next to tests/e2e/.
OTHER_PASSWORD = "another horse 43"
# The review tests' school: 教务处's head reviews level 1, 宣传办 level 2.
school = review_flow.school


# --- test files ----------------------------------------------------------------


def jpeg_with_gps(size=(200, 100), orientation=None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 5.0)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 7.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # sanity
    return data


def image_bytes(fmt: str, size=(40, 30)) -> bytes:
    mode = "P" if fmt == "GIF" else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be width x height: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_bytes(body_xml: str = "", image: bytes | None = None) -> bytes:
    """A minimal but real .docx (what Word writes, stripped to the bone)."""
    image_xml = ""
    rels = ""
    if image is not None:
        rels = (
            f'<Relationship Id="rIdImg" Type="{_R}/image" Target="media/image1.jpeg"/>'
        )
        image_xml = (
            "<w:p><w:r><w:drawing>"
            '<wp:inline xmlns:wp="http://schemas.openxmlformats.org/'
            'drawingml/2006/wordprocessingDrawing">'
            '<wp:extent cx="1905000" cy="952500"/>'
            '<wp:docPr id="1" name="Picture 1" descr="运动会"/>'
            '<a:graphic xmlns:a="http://schemas.openxmlformats.org/'
            'drawingml/2006/main">'
            '<a:graphicData uri="http://schemas.openxmlformats.org/'
            'drawingml/2006/picture">'
            '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/'
            'drawingml/2006/picture">'
            '<pic:nvPicPr><pic:cNvPr id="0" name="image1.jpeg"/><pic:cNvPicPr/>'
            "</pic:nvPicPr>"
            f'<pic:blipFill><a:blip xmlns:r="{_R}" r:embed="rIdImg"/>'
            "</pic:blipFill>"
            "<pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline>"
            "</w:drawing></w:r></w:p>"
        )
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>'
        f"{body_xml}{image_xml}</w:body></w:document>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    package_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" '
        f'Type="{_R}/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    document_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships">{rels}</Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", package_rels)
        archive.writestr("word/document.xml", document)
        archive.writestr("word/_rels/document.xml.rels", document_rels)
        if image is not None:
            archive.writestr("word/media/image1.jpeg", image)
    return buffer.getvalue()


NOTICE_XML = (
    '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr>'
    "<w:r><w:t>运动会通知</w:t></w:r></w:p>"
    "<w:p><w:r><w:rPr><w:b/></w:rPr><w:t>时间：</w:t></w:r>"
    "<w:r><w:t>四月十日</w:t></w:r></w:p>"
)


# --- helpers -------------------------------------------------------------------


def post_file(client, url, data: bytes, filename: str, headers=JSON, **fields):
    form = {"file": (io.BytesIO(data), filename), **fields}
    return client.post(
        url, data=form, headers=headers, content_type="multipart/form-data"
    )


def upload_image(client, data, filename="photo.jpg", **fields):
    return post_file(client, "/editor/uploads/image", data, filename, **fields)


def upload_attachment(client, data, filename, article_id):
    return post_file(
        client,
        "/editor/uploads/attachment",
        data,
        filename,
        article_id=str(article_id),
    )


def stored_file(app, url: str) -> Path:
    return Path(app.config["UPLOAD_FOLDER"]) / url.rsplit("/", 1)[1]


def fetch(client, url):
    """GET url and close the response (send_file keeps the file open until then)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def open_image(path: Path) -> Image.Image:
    # Read the bytes first: Image.open(path) would leave the file open.
    return Image.open(io.BytesIO(path.read_bytes()))


@pytest.fixture
def second_author(app):
    """Make a client logged in as another author, "author2"."""

    def make():
        with app.app_context():
            create_user("author2", OTHER_PASSWORD, "author", "王老师")
        other = app.test_client()
        response = other.post(
            "/login", data={"username": "author2", "password": OTHER_PASSWORD}
        )
        assert response.status_code == 302
        return other

    return make


@pytest.fixture
def own_article(app, make_article):
    """A draft owned by the seeded author."""
    return make_article(status=Status.DRAFT, created_by_id=user_id(app, "author"))


@pytest.fixture
def others_article(app, make_article):
    """A draft owned by the editor, which the author may not touch."""
    return make_article(status=Status.DRAFT, created_by_id=user_id(app, "editor"))


# --- images --------------------------------------------------------------------


def test_uploaded_photo_is_stored_without_exif_or_gps(app, author_client):
    response = upload_image(author_client, jpeg_with_gps())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert re.fullmatch(r"/uploads/[0-9a-f]+\.jpg", body["url"])
    assert (body["width"], body["height"]) == (200, 100)

    path = stored_file(app, body["url"])
    assert path.is_file()
    stored = open_image(path)
    assert stored.format == "JPEG"
    exif = stored.getexif()
    assert not exif.get_ifd(0x8825)
    assert 0x010F not in exif and 0x0110 not in exif
    assert b"PhoneMaker" not in path.read_bytes()

    with app.app_context():
        upload = db.session.get(Upload, body["id"])
        assert upload.kind == "image"
        assert upload.uploaded_by_id == user_id(app, "author")
        assert upload.article_id is None


def test_photo_is_served_inline_with_nosniff_and_long_cache(author_client, client):
    url = upload_image(author_client, jpeg_with_gps()).get_json()["url"]
    response = fetch(client, url)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert response.cache_control.max_age >= 30 * 24 * 3600
    assert response.cache_control.immutable
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert Image.open(io.BytesIO(response.data)).size == (200, 100)


def test_exif_orientation_is_applied_before_stripping(app, author_client):
    # Orientation 6: the camera was turned; the stored photo must be upright.
    body = upload_image(author_client, jpeg_with_gps(orientation=6)).get_json()
    assert (body["width"], body["height"]) == (100, 200)
    stored = open_image(stored_file(app, body["url"]))
    assert stored.size == (100, 200)
    assert stored.getexif().get(0x0112) in (None, 1)


def test_large_photo_is_scaled_to_1600_px(app, author_client):
    body = upload_image(
        author_client, image_bytes("JPEG", size=(3200, 1000)), "big.jpg"
    ).get_json()
    assert (body["width"], body["height"]) == (1600, 500)
    assert open_image(stored_file(app, body["url"])).size == (1600, 500)


@pytest.mark.parametrize(
    ("fmt", "filename", "mimetype"),
    [
        ("PNG", "图表.png", "image/png"),
        ("WEBP", "x.webp", "image/webp"),
        ("GIF", "anim.gif", "image/png"),  # stored as PNG (first frame)
    ],
)
def test_png_webp_and_gif_are_accepted(author_client, fmt, filename, mimetype):
    response = upload_image(author_client, image_bytes(fmt), filename)
    assert response.status_code == 200, response.get_json()
    served = fetch(author_client, response.get_json()["url"])
    assert served.status_code == 200
    assert served.mimetype == mimetype


@pytest.mark.parametrize(
    ("data", "filename", "named"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            "SVG",
        ),
        (b"<html><script>alert(document.cookie)</script></html>", "a.jpg", "HTML"),
        (b"<?php system($_GET['c']); ?>", "shell.php", ".php"),
        (b"MZ\x90\x00\x03" + b"\x00" * 200, "setup.exe", ".exe"),
    ],
)
def test_non_images_are_refused_naming_their_type(
    app, author_client, data, filename, named
):
    response = post_file(author_client, "/editor/uploads/image?lang=en", data, filename)
    assert response.status_code == 400
    assert response.is_json
    assert named in response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 0
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []


def test_empty_file_is_refused(author_client):
    response = upload_image(author_client, b"", "empty.jpg")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_decompression_bomb_is_refused(app, author_client):
    response = upload_image(author_client, png_header_only(40_000, 40_000), "x.png")
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []


def test_too_large_photo_is_refused_in_chinese_with_how_to_shrink_it(author_client):
    # 8000 x 6400: 51 megapixels, just over what a phone camera makes.
    response = upload_image(author_client, png_header_only(8000, 6400), "海报.png")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "50 百万像素" in error and "画图" in error and "4000 像素" in error


def test_missing_file_is_a_friendly_400(author_client):
    response = author_client.post("/editor/uploads/image", data={}, headers=JSON)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_file_over_the_limit_is_a_413_naming_the_limit(app, author_client, own_article):
    # Kept under 500 KB: bigger test bodies are spooled to a temporary file
    # that the test client never closes.
    limit = 200 * 1024
    app.config["MAX_CONTENT_LENGTH"] = limit
    big = image_bytes("PNG") + b"\0" * (limit + 10)
    response = upload_image(author_client, big, "big.png", headers={})
    assert response.status_code == 413
    assert response.is_json
    assert display_size(limit) in response.get_json()["error"]

    response = post_file(
        author_client,
        "/editor/uploads/attachment",
        big,
        "big.pdf",
        article_id=str(own_article),
    )
    assert response.status_code == 413
    assert display_size(limit) in response.get_json()["error"]
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []


def test_413_is_worded_alike_for_uploads_and_other_forms(app, author_client):
    app.config["MAX_CONTENT_LENGTH"] = 200 * 1024
    big = b"\0" * (200 * 1024 + 10)
    upload = post_file(author_client, "/editor/uploads/image?lang=en", big, "a.png")
    form = post_file(author_client, "/editor/articles/new?lang=en", big, "a.png")
    assert upload.status_code == form.status_code == 413
    expected = "The file is too large. The limit is 200 KB."
    assert upload.get_json()["error"] == form.get_json()["error"] == expected


def test_anonymous_upload_is_401_json(client, app):
    response = upload_image(client, image_bytes("PNG"), "x.png")
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []


def test_image_is_linked_to_an_article_the_user_may_edit(
    app, author_client, own_article
):
    body = upload_image(
        author_client, image_bytes("PNG"), "x.png", article_id=str(own_article)
    ).get_json()
    with app.app_context():
        assert db.session.get(Upload, body["id"]).article_id == own_article


def test_author_cannot_upload_an_image_into_anothers_article(
    app, author_client, others_article
):
    response = upload_image(
        author_client, image_bytes("PNG"), "x.png", article_id=str(others_article)
    )
    assert response.status_code == 403
    assert response.get_json()["error"]


def test_editor_may_upload_into_anyones_article(editor_client, own_article):
    response = upload_image(
        editor_client, image_bytes("PNG"), "x.png", article_id=str(own_article)
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("article_id", "status"), [("abc", 400), ("99999", 404), ("-1", 400)]
)
def test_bad_article_id_is_refused(author_client, article_id, status):
    response = upload_image(
        author_client, image_bytes("PNG"), "x.png", article_id=article_id
    )
    assert response.status_code == status
    assert response.get_json()["error"]


# --- serving -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/../test.sqlite3",
        "/uploads/..%2ftest.sqlite3",
        "/uploads/%2e%2e/test.sqlite3",
        "/uploads/..",
        "/uploads/abc%5c..%5ctest.sqlite3",
        "/uploads/0123456789abcdef0123456789abcdef.jpg",  # no such upload
        "/uploads/",
    ],
)
def test_unknown_names_and_path_tricks_are_404(client, path):
    assert fetch(client, path).status_code == 404


def test_file_in_upload_folder_without_a_row_is_not_served(app, client):
    name = "0123456789abcdef0123456789abcdef.jpg"
    (Path(app.config["UPLOAD_FOLDER"]) / name).write_bytes(image_bytes("JPEG"))
    assert fetch(client, f"/uploads/{name}").status_code == 404


def test_attachment_is_not_served_as_an_image(app, author_client, own_article):
    body = upload_attachment(author_client, PDF, "a.pdf", own_article).get_json()
    with app.app_context():
        stored_name = db.session.get(Upload, body["id"]).stored_name
    assert fetch(author_client, f"/uploads/{stored_name}").status_code == 404


def test_served_type_comes_from_the_database_row(app, author_client, client):
    url = upload_image(author_client, image_bytes("PNG"), "x.png").get_json()["url"]
    with app.app_context():
        upload = db.session.scalar(db.select(Upload))
        upload.content_type = "text/html"  # never trust anything but images
        db.session.commit()
    response = fetch(client, url)
    assert response.mimetype == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- attachments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "mimetype"),
    [
        (PDF, "2024年春季运动会通知.pdf", "application/pdf"),
        (
            docx_bytes(NOTICE_XML),
            "家长会 安排（初二）.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_attachment_keeps_its_chinese_name_for_download(
    app, author_client, client, make_article, data, filename, mimetype
):
    article_id = make_article(created_by_id=user_id(app, "author"))  # published
    response = upload_attachment(author_client, data, filename, article_id)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == filename
    assert body["size"] == display_size(len(data))
    assert body["url"] == f"/attachments/{body['id']}"
    # The article page shows the size exactly as the upload answer did.
    page = author_client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert f"({body['size']})" in page

    with app.app_context():
        upload = db.session.get(Upload, body["id"])
        assert upload.kind == "attachment"
        assert upload.original_name == filename
        assert filename not in upload.stored_name
        assert Path(app.config["UPLOAD_FOLDER"], upload.stored_name).read_bytes() == (
            data
        )
        article = db.session.get(Article, article_id)
        assert [a.id for a in article.attachments] == [body["id"]]

    download = fetch(app.test_client(), body["url"])  # an anonymous reader
    assert download.status_code == 200
    assert download.data == data
    assert download.mimetype == mimetype
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"filename*=UTF-8''{quote(filename)}" in disposition


def test_attachment_is_listed_under_the_published_article(
    app, author_client, make_article
):
    article_id = make_article(created_by_id=user_id(app, "author"))
    body = upload_attachment(
        author_client, PDF, "2024年春季运动会通知.pdf", article_id
    ).get_json()
    page = fetch(app.test_client(), f"/articles/{article_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="/attachments/{body["id"]}"' in html
    assert "2024年春季运动会通知.pdf" in html


def test_attachment_of_a_draft_is_hidden_from_readers_but_not_its_author(
    app, client, login, own_article
):
    author = login("author")
    body = upload_attachment(author, PDF, "草稿.pdf", own_article).get_json()
    assert fetch(author, body["url"]).status_code == 200

    reader = app.test_client()
    assert fetch(reader, body["url"]).status_code == 404


def test_attachment_of_a_draft_is_hidden_from_other_authors(
    author_client, own_article, second_author
):
    body = upload_attachment(author_client, PDF, "草稿.pdf", own_article).get_json()
    assert fetch(second_author(), body["url"]).status_code == 404


def test_attachment_of_a_trashed_article_is_hidden_from_readers(
    app, author_client, client, make_article
):
    article_id = make_article(created_by_id=user_id(app, "author"))
    body = upload_attachment(author_client, PDF, "a.pdf", article_id).get_json()
    with app.app_context():
        db.session.get(Article, article_id).deleted_at = db.func.now()
        db.session.commit()
    assert fetch(app.test_client(), body["url"]).status_code == 404


def test_a_file_added_to_a_live_post_is_not_served_to_readers_before_review(
    app, client, school
):
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    review_flow.as_user(client, "teacher")
    article_id = review_flow.write_post(client, school["section"])
    review_flow.as_user(client, "head")
    assert review_flow.approve(client, article_id).status_code == 302
    assert get_article(app, article_id).is_public
    review_flow.as_user(client, "teacher")
    body = upload_attachment(client, PDF, "新名单.pdf", article_id).get_json()
    with app.app_context():
        assert db.session.get(Upload, body["id"]).held
    assert fetch(app.test_client(), body["url"]).status_code == 404
    assert fetch(client, body["url"]).status_code == 200  # its author's
    # The teacher is told, and finds the file on the edit page, marked.
    assert "新名单.pdf" in body["note"] and "审核" in body["note"]
    page = client.get(f"/editor/articles/{article_id}/edit").text
    assert re.search(
        r"新名单\.pdf</span>\s*<span[^>]*>\(.*?\)</span>\s*<span[^>]*>待审核", page
    )
    # Submitted and approved, readers get it.
    form = review_flow.form_data(school["section"], action="submit")
    form["version"] = str(get_article(app, article_id).version)
    client.post(f"/editor/articles/{article_id}/edit", data=form)
    review_flow.as_user(client, "head")
    assert review_flow.approve(client, article_id).status_code == 302
    assert fetch(app.test_client(), body["url"]).status_code == 200


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("head", 200),  # reviews level 1, where the post waits
        ("editor", 200),  # editors and admins may review any post
        ("office", 404),  # reviews level 2 only: not yet
        ("author", 404),  # another teacher
    ],
)
def test_reviewers_open_the_attachments_of_a_post_waiting_for_them(
    app, client, school, username, status
):
    review_flow.as_user(client, "teacher")
    article_id = review_flow.write_post(client, school["section"])
    body = upload_attachment(client, PDF, "报名表.pdf", article_id).get_json()
    assert get_article(app, article_id).review_level == 1
    review_flow.as_user(client, username)
    assert fetch(client, body["url"]).status_code == status


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<html><script>alert(1)</script></html>", "notice.html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg"),
        (b"<?php echo 1; ?>", "shell.php"),
        (b"MZ\x90\x00" + b"\0" * 100, "setup.exe"),
        (b"<html><script>alert(1)</script></html>", "fake.pdf"),
    ],
)
def test_dangerous_attachments_are_refused(
    app, author_client, own_article, data, filename
):
    response = upload_attachment(author_client, data, filename, own_article)
    assert response.status_code == 400
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 0


def test_refused_type_is_named_in_the_message(author_client, own_article):
    author_client.set_cookie("lang", "en")
    response = post_file(
        author_client,
        "/editor/uploads/attachment?lang=en",
        b"<?php echo 1; ?>",
        "shell.php",
        article_id=str(own_article),
    )
    assert response.status_code == 400
    assert "php" in response.get_json()["error"].lower()


def test_attachment_needs_an_article(author_client):
    response = post_file(author_client, "/editor/uploads/attachment", PDF, "a.pdf")
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_author_cannot_attach_to_anothers_article(app, author_client, others_article):
    response = upload_attachment(author_client, PDF, "a.pdf", others_article)
    assert response.status_code == 403
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 0


# --- deleting ------------------------------------------------------------------


def test_author_deletes_an_attachment_of_own_article(app, author_client, own_article):
    body = upload_attachment(author_client, PDF, "a.pdf", own_article).get_json()
    with app.app_context():
        path = storage.file_path(db.session.get(Upload, body["id"]))
    assert path.is_file()

    response = author_client.post(f"/editor/uploads/{body['id']}/delete", headers=JSON)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert not path.exists()
    with app.app_context():
        assert db.session.get(Upload, body["id"]) is None
    assert fetch(author_client, body["url"]).status_code == 404


def test_another_author_cannot_delete(app, login, own_article, second_author):
    author = login("author")
    body = upload_attachment(author, PDF, "a.pdf", own_article).get_json()
    response = second_author().post(
        f"/editor/uploads/{body['id']}/delete", headers=JSON
    )
    assert response.status_code == 403
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.get(Upload, body["id"]) is not None


def test_author_cannot_delete_an_unattached_image_of_someone_else(app, login):
    editor = login("editor")
    body = upload_image(editor, image_bytes("PNG"), "x.png").get_json()
    editor.post("/logout")
    author = login("author")
    response = author.post(f"/editor/uploads/{body['id']}/delete", headers=JSON)
    assert response.status_code == 403
    assert stored_file(app, body["url"]).is_file()


def test_uploader_deletes_own_unattached_image(app, author_client):
    body = upload_image(author_client, image_bytes("PNG"), "x.png").get_json()
    response = author_client.post(f"/editor/uploads/{body['id']}/delete", headers=JSON)
    assert response.status_code == 200
    assert not stored_file(app, body["url"]).exists()
    assert fetch(author_client, body["url"]).status_code == 404


def test_deleting_a_missing_upload_is_404_json(author_client):
    response = author_client.post("/editor/uploads/999/delete", headers=JSON)
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_deleting_an_articles_files_removes_rows_and_files(
    app, author_client, own_article
):
    image = upload_image(
        author_client, image_bytes("PNG"), "x.png", article_id=str(own_article)
    ).get_json()
    upload_attachment(author_client, PDF, "a.pdf", own_article)
    other = upload_image(author_client, image_bytes("PNG"), "y.png").get_json()
    with app.app_context():
        article = db.session.get(Article, own_article)
        article.cover_id = image["id"]
        db.session.commit()
        assert storage.delete_article_files(own_article) == 2
        assert db.session.get(Article, own_article).cover_id is None
        assert db.session.scalar(db.select(db.func.count(Upload.id))) == 1
    assert not stored_file(app, image["url"]).exists()
    assert stored_file(app, other["url"]).exists()
    folder = Path(app.config["UPLOAD_FOLDER"])
    other_name = other["url"].rsplit("/", 1)[1]
    assert [p.name for p in folder.iterdir() if p.is_file()] == [other_name]
    # The deleted photo's thumbnails went with it; the other's stay.
    other_stem = other_name.partition(".")[0]
    assert sorted(p.name for p in (folder / "thumbs").iterdir()) == [
        f"{other_stem}-{size}.jpg" for size in ("240", "480", "960")
    ]


def test_claim_uploads_links_only_own_unattached_images(
    app, login, own_article, others_article
):
    editor = login("editor")
    editors = upload_image(editor, image_bytes("PNG"), "e.png").get_json()
    editor.post("/logout")
    author = login("author")
    mine = upload_image(author, image_bytes("PNG"), "m.png").get_json()
    html = f'<p><img src="{mine["url"]}"><img src="{editors["url"]}"></p>'
    with app.app_context():
        article = db.session.get(Article, own_article)
        assert storage.claim_uploads(article, html, user_id(app, "author")) == 1
        db.session.commit()
        assert db.session.get(Upload, mine["id"]).article_id == own_article
        assert db.session.get(Upload, editors["id"]).article_id is None


# --- .docx import --------------------------------------------------------------


def test_docx_import_returns_clean_html_with_served_images(app, author_client):
    document = docx_bytes(NOTICE_XML, image=jpeg_with_gps())
    response = post_file(
        author_client, "/editor/uploads/docx", document, "运动会通知.docx"
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    html = body["html"]
    assert isinstance(body["messages"], list)
    assert "运动会通知" in html
    assert "<strong>时间：</strong>" in html
    assert "<h1" not in html  # the sanitizer ran: the title is the page's h1

    urls = re.findall(r'<img[^>]* src="(/uploads/[0-9a-f]+\.[a-z]+)"', html)
    assert len(urls) == 1
    served = fetch(app.test_client(), urls[0])
    assert served.status_code == 200
    assert served.mimetype.startswith("image/")
    stored = Image.open(io.BytesIO(served.data))
    assert not stored.getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in served.data
    with app.app_context():
        upload = db.session.scalar(db.select(Upload))
        assert upload.kind == "image"
        assert upload.uploaded_by_id == user_id(app, "author")


def test_docx_import_sanitizes_links(author_client):
    link = (
        f'<w:p><w:hyperlink xmlns:r="{_R}" r:id="rIdJs">'
        "<w:r><w:t>点击</w:t></w:r></w:hyperlink></w:p>"
    )
    document = docx_bytes(link)
    # Rewrite the package so the hyperlink points at javascript:.
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(document)) as source,
        zipfile.ZipFile(buffer, "w") as target,
    ):
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "word/_rels/document.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdJs" Type="' + _R.encode() + b'/hyperlink"'
                    b' Target="javascript:alert(1)" TargetMode="External"/>'
                    b"</Relationships>",
                )
            target.writestr(item, content)
    response = post_file(
        author_client, "/editor/uploads/docx", buffer.getvalue(), "a.docx"
    )
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "点击" in html
    assert "javascript" not in html


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"not a zip at all", "notice.docx"),
        (PDF, "notice.pdf"),
        (b"PK\x03\x04garbage", "broken.docx"),
    ],
)
def test_docx_import_refuses_other_files(app, author_client, data, filename):
    response = post_file(author_client, "/editor/uploads/docx", data, filename)
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []


def test_docx_import_needs_login(client):
    response = post_file(
        client, "/editor/uploads/docx", docx_bytes(NOTICE_XML), "a.docx"
    )
    assert response.status_code == 401


# --- CSRF ----------------------------------------------------------------------


def _csrf_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, "the login page has no CSRF token"
    return match.group(1)


@pytest.mark.csrf
def test_upload_without_csrf_token_is_refused_as_json(app, client):
    with app.app_context():
        create_user("teacher", OTHER_PASSWORD, "author", "李老师")
    token = _csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "teacher", "password": OTHER_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302

    refused = upload_image(client, image_bytes("PNG"), "x.png")
    assert refused.status_code == 400
    assert refused.is_json
    assert refused.get_json()["error"]
    assert refused.get_json()["csrf"] is True  # editor.js offers a new login
    assert list(Path(app.config["UPLOAD_FOLDER"]).iterdir()) == []

    without_accept = upload_image(client, image_bytes("PNG"), "x.png", headers={})
    assert without_accept.status_code == 400
    assert without_accept.is_json

    accepted = upload_image(
        client, image_bytes("PNG"), "x.png", headers={**JSON, "X-CSRFToken": token}
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["url"].startswith("/uploads/")


@pytest.mark.parametrize(
    ("text", "encoding", "content_type"),
    [
        ("运动会通知：四月十日。", "utf-8", "text/plain; charset=utf-8"),
        ("运动会通知：四月十日。", "gb18030", "text/plain; charset=gb18030"),
    ],
)
def test_text_attachment_names_its_charset_once(
    app, author_client, make_article, text, encoding, content_type
):
    article_id = make_article(created_by_id=user_id(app, "author"))  # published
    data = text.encode(encoding)
    body = upload_attachment(author_client, data, "通知.txt", article_id).get_json()
    download = fetch(app.test_client(), body["url"])
    assert download.status_code == 200
    assert download.headers["Content-Type"] == content_type
    assert download.data.decode(download.mimetype_params["charset"]) == text
