"""Two app servers (two serve.py) on one PostgreSQL database, nginx in front.

Each server has an instance folder of its own, as on two machines: the same
SECRET_KEY, database and UPLOAD_FOLDER (a folder both reach, standing for the
network mount) in each config.py. Runs on PostgreSQL even when the suite runs
on SQLite: it needs the server at 127.0.0.1:5432 (or
SCHOOLNEWS_TEST_POSTGRESQL) and skips, saying so, only when that is not
reachable. nginx is optional: without it only the nginx checks are skipped.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.pool import NullPool

from tests.conftest import PASSWORD, free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
SECOND = "/chengnan"  # the second school's path
SEARCH = "/search?q=" + urllib.parse.quote("运动会")
BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE_ZONE = ZoneInfo("Asia/Shanghai")  # the app's BABEL_DEFAULT_TIMEZONE

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 20m;
    upstream schoolnews {{
        server 127.0.0.1:{port_a};
        server 127.0.0.1:{port_b};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://schoolnews;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # $http_host keeps the test's port in the links the app builds;
            # a site on port 80/443 uses $host (deploy/nginx-two-servers.conf).
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Which server answered: the test checks both get readers.
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Browser:
    """A cookie-keeping client pointed at one server (or nginx)."""

    def __init__(self, base: str, jar=None, ua: str = BROWSER_UA):
        self.base = base
        self.ua = ua
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def at(self, base: str) -> Browser:
        """The same browser (its cookies) talking to another server: cookies
        belong to the host, not the port, as behind a balancer."""
        return Browser(base, self.jar, self.ua)

    def copy(self) -> Browser:
        """Another browser holding a copy of this one's cookies now."""
        jar = http.cookiejar.CookieJar()
        for cookie in self.jar:
            jar.set_cookie(cookie)
        return Browser(self.base, jar, self.ua)

    def open(self, path: str, data=None, headers=None):
        """(status, final URL, body text, headers); errors are answers too."""
        request = urllib.request.Request(
            self.base + path,
            data=data,
            headers={"User-Agent": self.ua, **(headers or {})},
        )
        try:
            with self.opener.open(request, timeout=15) as response:
                body = response.read().decode(errors="replace")
                return response.status, response.geturl(), body, response.headers
        except urllib.error.HTTPError as error:
            with error:
                body = error.read().decode(errors="replace")
            return error.code, error.geturl(), body, error.headers

    def get(self, path: str) -> str:
        status, _url, body, _headers = self.open(path)
        assert status == 200, (status, path, body[:300])
        return body

    def post(self, path: str, fields: dict):
        return self.open(path, urllib.parse.urlencode(fields).encode())


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def log_in(browser: Browser, username: str, password: str = PASSWORD):
    """Post the real login form; its (status, final URL)."""
    token = csrf_token(browser.get("/login"))
    status, url, _body, _headers = browser.post(
        "/login", {"csrf_token": token, "username": username, "password": password}
    )
    return status, url


def logged_in(browser: Browser) -> bool:
    """Whether /editor/ opens for this browser (else it is sent to log in)."""
    _status, url, _body, _headers = browser.open("/editor/")
    return "/login" not in url


def publish(editor: Browser, title: str, body: str, at: datetime | None = None):
    """A new post through the editor's form, published (or scheduled); its id."""
    page = editor.get("/editor/articles/new")
    select = re.search(r'<select[^>]*name="section_id".*?</select>', page, re.S)
    fields = {
        "csrf_token": csrf_token(page),
        "title": title,
        "section_id": re.search(r'value="(\d+)"', select.group(0)).group(1),
        "author_name": "教务处",
        "body_html": f"<p>{body}</p>",
        # The site reviews posts (one level by default): an editor's post
        # goes out at once only as a recorded bypass.
        "action": "publish",
        "bypass_reason": "两台服务器测试",
    }
    if at is not None:
        fields["published_at"] = at.astimezone(SITE_ZONE).strftime("%Y-%m-%dT%H:%M:%S")
    status, url, text, _headers = editor.post("/editor/articles/new", fields)
    found = re.search(r"/articles/(\d+)/(?:published|edit)", url)
    assert status == 200 and found, (status, url, text[:500])
    return int(found.group(1))


@dataclass
class Site:
    a: str
    b: str
    front: str | None  # nginx, None when it is not installed
    engine: sa.Engine
    servers: list[subprocess.Popen] = field(default_factory=list)
    shared: Path | None = None

    @property
    def bases(self) -> list[str]:
        return [self.a, self.b] + ([self.front] if self.front else [])

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def stop_servers(self) -> None:
        """SIGTERM to both servers' process groups (systemd's stop), and wait."""
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
        for server in self.servers:
            try:
                server.wait(timeout=40)  # serve.py kills a stuck worker at 15 s
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _server_url() -> sa.URL:
    server = os.environ.get("SCHOOLNEWS_TEST_POSTGRESQL", "").strip()
    return sa.make_url(server or DEFAULT_SERVER)


def _admin_engine() -> sa.Engine:
    engine = sa.create_engine(
        _server_url().set(database="postgres"),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        engine.dispose()
        url = _server_url()
        pytest.skip(
            f"The two-server test needs a PostgreSQL server at {url.host}:"
            f"{url.port or 5432} (set SCHOOLNEWS_TEST_POSTGRESQL to another); "
            f"it is not reachable: {str(error.orig).strip().splitlines()[0]}"
        )
    return engine


def _write_config(instance: Path, url: str, shared: Path) -> None:
    instance.mkdir(parents=True)
    (instance / "config.py").write_text(
        f"SQLALCHEMY_DATABASE_URI = {url!r}\n"
        "SECRET_KEY = 'the-same-on-every-server'\n"
        f"UPLOAD_FOLDER = {str(shared)!r}\n"
        "TRUSTED_PROXIES = 1\n"
    )


def _prepare(instance: Path) -> None:
    """init-db, the demo and two accounts, through the real commands."""
    from app import create_app
    from models import db

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCHOOLNEWS_INSTANCE", str(instance))
        app = create_app()
        runner = app.test_cli_runner()
        commands = [
            ["init-db"],
            ["demo"],
            ["create-user", "editor", "--role", "editor", "--password", PASSWORD],
            ["create-user", "teacher", "--role", "author", "--password", PASSWORD],
            # A second school under a path (站群), added before the servers
            # start, as its README says, with an editor of its own.
            ["sites", "add", "城南小学", "--prefix", SECOND, "--admin", "cn-admin"],
            [
                "create-user",
                "cn-editor",
                "--role",
                "editor",
                "--site",
                "2",
                "--password",
                PASSWORD,
            ],
        ]
        try:
            for args in commands:
                result = runner.invoke(args=args)
                assert result.exit_code == 0, (args, result.output)
        finally:
            app.extensions["pagecache"].hot.dispose()
            with app.app_context():
                db.engine.dispose()


def _start_server(instance: Path, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        SCHOOLNEWS_INSTANCE=str(instance),
        # Far longer than the test: only the stop at its end writes the
        # batched views, so the last test sees whether a stop loses any.
        FLASK_VIEW_FLUSH_SECONDS="60",
    )
    return subprocess.Popen(
        [sys.executable, "serve.py", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _start_nginx(prefix: Path, port_a: int, port_b: int):
    """nginx on a free port with the two servers as its upstream; (process, base)."""
    if not os.access(NGINX, os.X_OK):
        return None, None
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(prefix=prefix, port=port, port_a=port_a, port_b=port_b)
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base, process, timeout=15)
    return process, base


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    admin = _admin_engine()
    name = f"sn_{os.getpid()}_two_servers"  # dbserver drops it if we die
    url = _server_url().set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("two-servers")
    shared = folder / "network-mount" / "uploads"
    shared.mkdir(parents=True)
    instances = [folder / "server-a", folder / "server-b"]
    for instance in instances:
        _write_config(instance, url, shared)
    engine = sa.create_engine(url, poolclass=NullPool)
    nginx = None
    site = None
    try:
        _prepare(instances[0])
        ports = [free_port(), free_port()]
        servers = [_start_server(i, p) for i, p in zip(instances, ports, strict=True)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        site = Site(bases[0], bases[1], None, engine, servers, shared)
        for base, server in zip(bases, servers, strict=True):
            wait_until_up(base, server, timeout=30)
        nginx, site.front = _start_nginx(folder / "nginx", *ports)
        yield site
    finally:
        if site is not None:
            site.stop_servers()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=20)
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def editor(site):
    browser = Browser(site.a)
    status, url = log_in(browser, "editor")
    assert status == 200 and "/login" not in url, url
    return browser


def requires_nginx(site):
    if site.front is None:
        pytest.skip(f"nginx is not installed ({NGINX}): the nginx checks are skipped")


def test_nginx_sends_readers_to_both_servers(site):
    requires_nginx(site)
    answered = set()
    for _ in range(8):
        status, _url, _body, headers = Browser(site.front).open("/")
        assert status == 200
        answered.add(headers["X-Upstream"])
    ports = {base.rsplit(":", 1)[1] for base in (site.a, site.b)}
    assert {upstream.rsplit(":", 1)[1] for upstream in answered} == ports


def test_an_edit_through_one_server_shows_at_once_on_the_other(site, editor):
    article_id = publish(editor, "运动会通知", "十月十日举行")
    article = f"/articles/{article_id}"
    for base in site.bases:  # every server now holds both pages in its cache
        for _ in range(2):
            assert "运动会通知" in Browser(base).get("/")
            assert "十月十日举行" in Browser(base).get(article)

    on_b = editor.at(site.b)
    page = on_b.get(f"/editor/articles/{article_id}/edit")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    section = site.scalar(
        "SELECT section_id FROM article WHERE id = :id", id=article_id
    )
    status, url, text, _headers = on_b.post(
        f"/editor/articles/{article_id}/edit",
        {
            "csrf_token": csrf_token(page),
            "title": "运动会通知（延期）",
            "section_id": str(section),
            "author_name": "教务处",
            "body_html": "<p>改为十月十七日举行</p>",
            "version": version,
            "action": "publish",
            "bypass_reason": "日期调整",
        },
    )
    assert status == 200 and "/published" in url, (status, url, text[:500])

    for base in [site.a, *site.bases]:  # A first: it did not make the change
        assert "运动会通知（延期）" in Browser(base).get("/")
        page = Browser(base).get(article)
        assert "运动会通知（延期）" in page and "改为十月十七日举行" in page
        assert "十月十日举行" not in page


def test_a_login_holds_on_both_servers_and_a_logout_ends_it_on_both(site):
    # The login form comes from one server and is posted to the other: the
    # CSRF token in the session cookie is signed with the shared SECRET_KEY.
    on_a = Browser(site.a)
    token = csrf_token(on_a.get("/login"))
    status, url, _body, _headers = on_a.at(site.b).post(
        "/login", {"csrf_token": token, "username": "teacher", "password": PASSWORD}
    )
    assert status == 200 and "/login" not in url, url
    assert logged_in(on_a) and logged_in(on_a.at(site.b))
    if site.front:
        assert all(logged_in(on_a.at(site.front)) for _ in range(4))

    # Another tab (or a copied cookie) of the same login, then a logout on A.
    left_behind = on_a.copy()
    page = on_a.get("/editor/")
    status, _url, _body, _headers = on_a.post(
        "/logout", {"csrf_token": csrf_token(page)}
    )
    assert status == 200
    for base in site.bases:
        assert not logged_in(left_behind.at(base)), base


def test_failed_logins_on_one_server_count_on_the_other(site):
    # PER_NAME allows five free failures per name and address; they are made
    # on A, and B refuses the sixth try even with the right password.
    guesser = Browser(site.a)
    for _ in range(5):
        status, url = log_in(guesser, "teacher", "wrong password 1")
        assert status == 200 and "/login" in url
    status, _url = log_in(Browser(site.b), "teacher", PASSWORD)
    assert status == 429
    assert not logged_in(Browser(site.b))
    failures = site.scalar(
        "SELECT count(*) FROM login_attempt WHERE username = 'teacher'"
    )
    assert failures == 5


def _png() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_an_upload_through_one_server_is_served_by_the_other(site, editor):
    on_a = editor.at(site.a)
    token = json.loads(on_a.get("/editor/csrf-token"))["csrf_token"]
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="校徽.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + _png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _url, text, _headers = on_a.open(
        "/editor/uploads/image",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRFToken": token,
            "Accept": "application/json",
        },
    )
    assert status == 200, text
    path = json.loads(text)["url"]
    stored = path.rsplit("/", 1)[1]
    on_disk = (site.shared / stored).read_bytes()
    for base in (site.b, *site.bases):  # B first: it never saw the upload
        status, _url, _text, headers = Browser(base).open(path)
        assert status == 200, (base, path)
        assert headers["Content-Type"].startswith("image/")
    request = urllib.request.Request(site.b + path, headers={"User-Agent": BROWSER_UA})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == on_disk


def test_a_scheduled_post_goes_public_once_on_both_servers(site, editor):
    due = datetime.now(SITE_ZONE).replace(microsecond=0) + timedelta(seconds=5)
    publish(editor.at(site.b), "期中考试安排", "定时发布", at=due)
    version = site.scalar("SELECT version FROM cache_state WHERE id = 1")
    seen = []  # (asked at, answered at, server, shown)
    errors = []
    until = due.timestamp() + 3

    def read(base):
        try:
            while (asked := time.time()) < until:
                shown = "期中考试安排" in Browser(base).get("/")
                seen.append((asked, time.time(), base, shown))
                time.sleep(0.05)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read, args=(b,)) for b in site.bases * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # A busy machine can hold a request between asking and answering, so a
    # page only counts as early when its whole answer came before the time,
    # and as late when it was asked for half a second after.
    early = [(a, b) for a, done, b, shown in seen if shown and done < due.timestamp()]
    late = [
        (a, b) for a, _, b, shown in seen if not shown and a > due.timestamp() + 0.5
    ]
    assert early == [] and late == []
    assert {b for *_, b, shown in seen if shown} == set(site.bases)
    # One server moved the cache version on when the time came; the other's
    # requests found it moved and did not move it again.
    assert site.scalar("SELECT version FROM cache_state WHERE id = 1") == version + 1
    for base in site.bases:
        feed = Browser(base).get("/feed.xml")
        assert feed.count("期中考试安排") == 1, base


def test_two_schools_on_both_servers_stay_apart_and_fresh(site):
    first_before = {base: Browser(base).get("/") for base in site.bases}
    for base in site.bases:  # both schools' home pages cached everywhere
        Browser(base + SECOND).get("/")
    editor = Browser(site.b + SECOND)
    status, url = log_in(editor, "cn-editor")
    assert status == 200 and "/login" not in url, url
    version = site.scalar("SELECT version FROM cache_state WHERE id = 1")
    publish(editor, "城南小学秋季运动会", "城南小学的运动会")
    # A (which did not make the change) and nginx show it on the second
    # school's pages at once, and nowhere on the first school's.
    for base in [site.a, *site.bases]:
        assert "城南小学秋季运动会" in Browser(base + SECOND).get("/")
        first = Browser(base).get("/")
        assert "城南小学秋季运动会" not in first and "城南小学" not in first
        results = Browser(base).get(SEARCH).replace("<mark>", "")
        assert "城南小学秋季" not in results
        results = Browser(base + SECOND).get(SEARCH).replace("<mark>", "")
        assert "城南小学秋季运动会" in results.replace("</mark>", "")
    # The first school's cache was left alone: same pages, same version.
    assert site.scalar("SELECT version FROM cache_state WHERE id = 1") == version
    for base in site.bases:
        assert Browser(base).get("/") == first_before[base]
    # Its editor signs in on its own site only.
    elsewhere = Browser(site.a)
    status, url = log_in(elsewhere, "cn-editor")
    assert "/login" in url


def _totals(site, article_id: int) -> tuple[int, int]:
    views = site.scalar("SELECT views FROM article WHERE id = :id", id=article_id)
    days = site.scalar(
        "SELECT coalesce(sum(views), 0) FROM article_daily_views"
        " WHERE article_id = :id",
        id=article_id,
    )
    return views, days


def test_views_counted_on_both_servers_are_exact_and_survive_a_stop(site, editor):
    """Last: it stops the servers. Each counts in batches written only at the
    stop (FLASK_VIEW_FLUSH_SECONDS=60); the totals must add up exactly."""
    article_id = publish(editor, "家长会通知", "本周五下午")
    article = f"/articles/{article_id}"
    before = _totals(site, article_id)
    readers = []
    for index in range(18):
        browser = Browser(site.bases[index % len(site.bases)])
        if index % 3:
            browser.get("/")  # has its reader cookie: counted in the batch
        else:  # no cookies: counted at once, by address and browser
            browser.ua = f"{BROWSER_UA} Safari/604.{index}"
        readers.append(browser)
    barrier = threading.Barrier(len(readers))
    errors = []

    def read(browser):
        try:
            barrier.wait()
            # The same reader again on each server: the signed seen cookie
            # says it was counted, whichever server counted it.
            for base in (browser.base, *site.bases):
                assert "本周五下午" in browser.at(base).get(article)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read, args=(b,)) for b in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    cookieless = len(readers[::3])
    # Only the cookieless ones are written yet; the rest wait in two batches.
    assert _totals(site, article_id) == (before[0] + cookieless, cookieless)
    site.stop_servers()
    assert _totals(site, article_id) == (before[0] + len(readers), len(readers))
