"""Browser-test fixtures: the real app served on 127.0.0.1, and system Chromium.

Generic on purpose, shared by every e2e test module:
- `live_app`: the Flask app behind the server (for seeding and DB checks),
  one per test module with its own database and upload folder,
- `live_server`: its base URL, e.g. "http://127.0.0.1:54321",
- `browser`: one headless Chromium per session, `page`: a fresh context per test,
- `login_page(page, username)`: logs a page in through the real login form,
- `login_state(username)`: the same once per module, as a context storage state,
- `viewport_editor_page`: an editor's page at each of VIEWPORTS in turn,
- `section`: the id of a section where authors publish without review,
  `add_section(live_app, name, slug)`: another one.
"""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from models import Role, Section, db, set_setting
from operations.commands import create_user
from tests import dbserver

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse 42"  # the same as tests/conftest.py
# The phone and desktop widths most browser tests run at.
VIEWPORTS = {
    "phone": {"width": 375, "height": 800},
    "desktop": {"width": 1280, "height": 900},
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    # Never download a browser: without the system Chromium the tests skip.
    if os.path.exists(CHROMIUM) and shutil.which(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


# One app and server per test module: modules seed their own data (sections,
# demo content) and must not see each other's.
@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    url = dbserver.database_url(base, "e2e")
    if dbserver.ON_POSTGRESQL:
        dbserver.create(url)
    with pytest.MonkeyPatch.context() as patch:
        # The instance folder (audit archive, …) is the module's, never the
        # checkout's instance/.
        patch.setenv("SCHOOLNEWS_INSTANCE", str(base / "instance"))
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "e2e",
                "VIEW_FLUSH_SECONDS": 0,  # as in tests/conftest.py
                "SQLALCHEMY_DATABASE_URI": url,
                "UPLOAD_FOLDER": str(base / "uploads"),
                "BACKUP_FOLDER": str(base / "backups"),
            }
        )
    with app.app_context():
        db.create_all()
        for role in Role.WRITERS:
            user = create_user(role, PASSWORD, role, f"{role.title()} 老师")
        # As in tests/conftest.py: the admin holds the three management roles
        # in 单人模式, like an upgraded site's administrator.
        user.security_admin = user.audit_admin = True
        set_setting("single_admin", "1")
        # As in tests/conftest.py: no review chain unless a module sets one.
        set_setting("review_levels", "0")
        db.session.commit()
    yield app
    counter = app.extensions["pagecache"].counter
    if counter.batch is not None:
        counter.batch.stop()
    app.extensions["pagecache"].hot.dispose()
    with app.app_context():
        db.engine.dispose()
    if dbserver.ON_POSTGRESQL:
        dbserver.drop(url)


def closing_responses(wsgi_app):
    """Close each response's iterable as soon as it is sent, or abandoned.

    werkzeug's test server calls close() on the response only after it has
    drained the socket of what the client still sends; when Chromium has
    reset the connection (a page left while its favicon or a photo was being
    sent), that drain raises and close() is skipped, so the served file
    stayed open until the garbage collector found it (issue 19).
    """

    def closing(environ, start_response):
        app_iter = wsgi_app(environ, start_response)
        try:
            yield from app_iter
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()

    return closing


@pytest.fixture(scope="module")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, closing_responses(live_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def new_page(browser, live_server, login_state):
    """`new_page(user=None, viewport=None, **options)`: the page of a fresh
    browser context, logged in as `user` when given, closed after the test.
    Options go to browser.new_context (bypass_csp=True lets a test inject axe).
    """
    contexts = []

    def make(user=None, viewport=None, **options):
        if user is not None:
            options["storage_state"] = login_state(user)
        options.setdefault("locale", "zh-CN")
        context = browser.new_context(
            base_url=live_server, viewport=viewport, **options
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


def _log_in(page, live_server, username):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


@pytest.fixture
def login_page(live_server):
    def login(page, username):
        return _log_in(page, live_server, username)

    return login


@pytest.fixture(scope="module")
def login_state(browser, live_server):
    """`login_state(username)`: cookies of a session opened once per module
    through the real login form, for browser.new_context(storage_state=...);
    saves the slow password check in every test."""
    states = {}

    def state(username):
        if username not in states:
            context = browser.new_context()
            _log_in(context.new_page(), live_server, username)
            states[username] = context.storage_state()
            context.close()
        return states[username]

    return state


@pytest.fixture(params=list(VIEWPORTS))
def viewport_editor_page(request, new_page):
    """A logged-in editor's page, once per viewport (`page.viewport_name`)."""
    page = new_page("editor", VIEWPORTS[request.param])
    page.viewport_name = request.param
    return page


def add_section(live_app, name, slug, *, without_review=False) -> int:
    """Add a section to the module's site; optionally let posts be published
    without review (no review levels), as many schools do."""
    with live_app.app_context():
        section = Section(name=name, slug=slug)
        db.session.add(section)
        if without_review:
            set_setting("review_levels", "0")
        db.session.commit()
        return section.id


@pytest.fixture(scope="module")
def section(live_app):
    return add_section(live_app, "校园动态", "campus", without_review=True)
