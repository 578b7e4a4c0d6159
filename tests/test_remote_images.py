"""Images from other sites are brought home on save; the fetcher refuses what it must.

A real HTTP server on 127.0.0.1 plays the other site. Fetching from loopback
is allowed only where a test turns REMOTE_IMAGES_ALLOW_LOOPBACK on; the
refusal tests run with the default (off).
"""

import io
import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from models import Article, Upload, db
from newsroom import remote_images
from newsroom.remote_images import FetchError, fetch_image, is_public_address

GPS_IFD = 0x8825
ALLOW_LOOPBACK = pytest.mark.config(REMOTE_IMAGES_ALLOW_LOOPBACK=True)


@contextmanager
def refused(msgid):
    """Expect a FetchError for this reason (compared untranslated)."""
    with pytest.raises(FetchError) as caught:
        yield
    assert caught.value.msgid == msgid, str(caught.value)


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (320, 200), (200, 60, 40))
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 30.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


class Handler(BaseHTTPRequestHandler):
    routes: dict = {}
    seen_headers: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        type(self).seen_headers.append(dict(self.headers))
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = route
        if callable(body):
            body(self)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def remote():
    """A local «other site»: set routes as {path: (status, headers, body)}."""
    Handler.routes = {}
    Handler.seen_headers = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_port}"
    server.routes = Handler.routes
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def post_article(client, section, body, action="save"):
    return client.post(
        "/editor/articles/new",
        data={
            "title": "转载的文章",
            "section_id": str(section),
            "author_name": "德育处",
            "body_html": body,
            "action": action,
        },
    )


def only_article(app):
    with app.app_context():
        article = db.session.scalars(db.select(Article)).one()
        db.session.expunge(article)
        return article


# --- saving localises ------------------------------------------------------------


@ALLOW_LOOPBACK
def test_saved_body_points_to_the_sites_own_copy_without_metadata(
    app, editor_client, section, remote
):
    remote.routes["/mmbiz_jpg/abc/640"] = (
        200,
        {"Content-Type": "image/jpeg"},
        jpeg_with_gps(),
    )
    src = f"{remote.base}/mmbiz_jpg/abc/640?wx_fmt=jpeg&amp;tp=webp"
    response = post_article(
        editor_client, section, f'<p>开学了</p><p><img src="{src}" alt="操场"></p>'
    )
    assert response.status_code == 302
    article = only_article(app)
    assert remote.base not in article.body_html
    match = re.search(
        r'<img src="/uploads/([0-9a-f]+\.jpg)" alt="操场">', article.body_html
    )
    assert match, article.body_html
    with app.app_context():
        upload = db.session.scalar(
            db.select(Upload).where(Upload.stored_name == match.group(1))
        )
        assert upload.article_id == article.id
        stored = Path(app.config["UPLOAD_FOLDER"]) / upload.stored_name
    with Image.open(stored) as saved:
        assert saved.size == (320, 200)
        assert not saved.getexif()
    # WeChat refuses hotlinking when a Referer names another site.
    assert all("Referer" not in headers for headers in Handler.seen_headers)
    # The reader's page serves it.
    served = editor_client.get(f"/uploads/{match.group(1)}")
    assert served.status_code == 200
    served.close()


@ALLOW_LOOPBACK
def test_same_image_twice_is_fetched_once_and_a_caption_stays(
    app, editor_client, section, remote
):
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    src = f"{remote.base}/a.jpg"
    body = (
        f'<figure><img src="{src}" alt="甲"><figcaption>升旗仪式</figcaption></figure>'
        f'<p><img src="{src}" alt="乙"></p>'
    )
    post_article(editor_client, section, body)
    html = only_article(app).body_html
    assert len(Handler.seen_headers) == 1
    urls = re.findall(r'src="(/uploads/[^"]+)"', html)
    assert len(urls) == 2 and urls[0] == urls[1]
    assert "<figcaption>升旗仪式</figcaption>" in html


@ALLOW_LOOPBACK
def test_failed_images_are_named_to_the_teacher_and_the_text_is_saved(
    app, editor_client, section, remote
):
    remote.routes["/ok.jpg"] = (200, {}, jpeg_with_gps())
    remote.routes["/not-a-photo.jpg"] = (200, {}, b"<html>hello</html>")
    body = (
        "<p>正文一定要保存</p>"
        f'<p><img src="{remote.base}/ok.jpg"></p>'
        f'<p><img src="{remote.base}/gone.jpg"></p>'
        f'<figure><img src="{remote.base}/not-a-photo.jpg">'
        "<figcaption>图注</figcaption></figure>"
    )
    response = post_article(editor_client, section, body, action="publish")
    assert response.status_code == 302
    article = only_article(app)
    assert "正文一定要保存" in article.body_html
    assert "<p>图注</p>" in article.body_html
    assert remote.base not in article.body_html
    assert article.body_html.count("/uploads/") == 1
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "127.0.0.1/gone.jpg" in page
    assert "404" in page
    assert "127.0.0.1/not-a-photo.jpg" in page
    assert "127.0.0.1/ok.jpg" not in page
    assert "无法复制到本站" in page  # the notice is in Chinese


@ALLOW_LOOPBACK
def test_autosave_does_not_fetch(app, editor_client, section, remote):
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    src = f"{remote.base}/a.jpg"
    response = editor_client.post(
        "/editor/articles/autosave",
        json={"title": "草稿", "body_html": f'<p><img src="{src}"></p>'},
    )
    assert response.status_code == 201
    assert Handler.seen_headers == []
    assert src in only_article(app).body_html


@ALLOW_LOOPBACK
def test_a_redirect_is_followed_and_too_many_are_refused(app, remote):
    remote.routes["/r1"] = (302, {"Location": "/a.jpg"}, b"")
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    for n in range(5):
        remote.routes[f"/loop{n}"] = (301, {"Location": f"/loop{n + 1}"}, b"")
    with app.app_context():
        assert fetch_image(f"{remote.base}/r1").startswith(b"\xff\xd8")
        with refused(remote_images.MSG_TOO_MANY_REDIRECTS):
            fetch_image(f"{remote.base}/loop0")


@ALLOW_LOOPBACK
@pytest.mark.config(REMOTE_IMAGES_ALLOW_LOOPBACK=True, MAX_CONTENT_LENGTH=50_000)
def test_an_image_over_the_upload_limit_is_refused(app, remote):
    remote.routes["/big.jpg"] = (200, {}, b"x" * 60_000)

    def no_length(handler):
        handler.send_response(200)
        handler.end_headers()
        handler.wfile.write(b"x" * 60_000)

    remote.routes["/big-unannounced.jpg"] = (200, {}, no_length)
    with app.app_context():
        for path in ("/big.jpg", "/big-unannounced.jpg"):
            with refused(remote_images.MSG_TOO_LARGE):
                fetch_image(f"{remote.base}{path}")


@ALLOW_LOOPBACK
def test_a_slow_site_hits_the_deadline(app, remote, monkeypatch):
    def slow(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(30):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)

    remote.routes["/slow.jpg"] = (200, {}, slow)
    monkeypatch.setattr(remote_images, "IMAGE_DEADLINE", 1.0)
    started = time.monotonic()
    with app.app_context(), refused(remote_images.MSG_TIMEOUT):
        fetch_image(f"{remote.base}/slow.jpg")
    assert time.monotonic() - started < 2.5


@ALLOW_LOOPBACK
def test_at_most_twenty_images_are_fetched_per_save(app, remote):
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    body = "".join(f'<img src="{remote.base}/a.jpg?n={n}">' for n in range(22))
    with app.test_request_context():
        result = remote_images.localise_images(body, user_id=1, article_id=None)
        db.session.rollback()
    assert len(Handler.seen_headers) == 20
    assert len(result.failed) == 2
    assert all("20" in reason for _name, reason in result.failed)


# --- refusals (REMOTE_IMAGES_ALLOW_LOOPBACK off) -----------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.jpg",
        "http://127.8.9.10/a.jpg",
        "http://10.1.2.3/a.jpg",
        "http://172.16.0.1/a.jpg",
        "http://192.168.1.1/a.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/a.jpg",
        "http://0.0.0.0/a.jpg",
        "http://224.0.0.1/a.jpg",
        "http://240.0.0.1/a.jpg",
        "http://[::1]/a.jpg",
        "http://[::]/a.jpg",
        "http://[fe80::1]/a.jpg",
        "http://[fc00::1]/a.jpg",
        "http://[ff02::1]/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://[::ffff:10.0.0.1]/a.jpg",
        "http://[2002:7f00:1::]/a.jpg",  # 6to4 around 127.0.0.1
        "http://localhost/a.jpg",
        "http://2130706433/a.jpg",  # 127.0.0.1 as one number
    ],
)
def test_private_and_local_addresses_are_refused(app, url):
    with app.app_context(), refused(remote_images.MSG_PRIVATE):
        fetch_image(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:secret@example.com/a.jpg",
        "http://user@example.com/a.jpg",
        "http:///a.jpg",
        "http://example.com:99999/a.jpg",
    ],
)
def test_other_schemes_and_credentials_are_refused(app, url):
    with app.app_context(), refused(remote_images.MSG_NOT_ALLOWED):
        fetch_image(url)


def test_the_local_server_itself_is_refused_without_the_test_setting(app, remote):
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    with app.app_context(), refused(remote_images.MSG_PRIVATE):
        fetch_image(f"{remote.base}/a.jpg")
    assert Handler.seen_headers == []


@ALLOW_LOOPBACK
def test_a_redirect_to_a_private_address_is_refused(app, remote):
    # Loopback is allowed here, so only the redirect's target is refused.
    remote.routes["/r"] = (302, {"Location": "http://10.0.0.1/secret.jpg"}, b"")
    with app.app_context(), refused(remote_images.MSG_PRIVATE):
        fetch_image(f"{remote.base}/r")


def test_a_redirect_to_loopback_is_refused(app, monkeypatch, remote):
    # A public-looking name answers with a redirect to 127.0.0.1; the public
    # name is pinned to the local server by the resolver seam.
    remote.routes["/r"] = (302, {"Location": f"{remote.base}/a.jpg"}, b"")
    remote.routes["/a.jpg"] = (200, {}, jpeg_with_gps())
    real_resolve = remote_images.resolve
    monkeypatch.setattr(
        remote_images,
        "resolve",
        lambda host, port: (
            ["93.184.216.34"]
            if host == "news.example.com"
            else real_resolve(host, port)
        ),
    )
    monkeypatch.setattr(
        remote_images._PinnedHTTPConnection,
        "connect",
        _connect_to_local(remote.server_port),
    )
    with app.app_context(), refused(remote_images.MSG_PRIVATE):
        fetch_image("http://news.example.com/r")
    assert len(Handler.seen_headers) == 1  # the redirect, never the target


def _connect_to_local(port):
    import socket

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    return connect


@pytest.mark.parametrize(
    "answers",
    [
        ["10.0.0.5"],
        ["93.184.216.34", "127.0.0.1"],  # one bad answer among good ones
        ["2001:db8::1"],
        ["::ffff:192.168.0.1"],
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(app, monkeypatch, answers):
    monkeypatch.setattr(remote_images, "resolve", lambda host, port: answers)
    with app.app_context(), refused(remote_images.MSG_PRIVATE):
        fetch_image("http://intranet.example.com/a.jpg")


def test_the_connection_goes_to_the_checked_address(app, monkeypatch):
    # DNS rebinding: the name is resolved once; the socket is opened to that
    # very address, not to whatever a second lookup would answer.
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(remote_images, "resolve", lambda host, port: next(answers))
    opened = []

    def fake_create_connection(address, timeout=None):
        opened.append(address)
        raise OSError("no network in tests")

    monkeypatch.setattr(
        remote_images.socket, "create_connection", fake_create_connection
    )
    with app.app_context(), refused(remote_images.MSG_UNREACHABLE):
        fetch_image("http://rebind.example.com/a.jpg")
    assert opened == [("93.184.216.34", 80)]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("fd12::1", False),
        ("not an address", False),
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


def test_refused_images_on_save_are_reported_not_fetched(app, editor_client, section):
    response = post_article(
        editor_client,
        section,
        '<p>内网图片</p><p><img src="http://192.168.1.20/x.jpg"></p>',
    )
    article = only_article(app)
    assert "内网图片" in article.body_html
    assert "<img" not in article.body_html
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "192.168.1.20/x.jpg" in page
