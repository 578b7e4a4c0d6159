"""Application factory: config, extensions, blueprints, CLI and Jinja set-up."""

from core import depcheck

# Before any package that an upgrade may have added: `flask --app app …` in a
# venv that lacks one says which and what to run, instead of a traceback.
depcheck.exit_if_missing()

import faulthandler
import os
import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from admin.views import admin, audit, auth, bureau, firstrun, notify_admin, selfcheck
from admin.views import security as security_views
from core import (
    assets,
    errors,
    i18n,
    notify,
    security,
    sitedata,
    sites,
    siteurl,
    slowlane,
)
from models import MAX_ID, db, use_postgresql_options
from newsroom import preview_queue
from newsroom.views import editor, files, sharing
from operations import commands
from operations.views import health
from reader import pagecache, pages
from reader.views import feeds, legacy, previews, public
from reader.views import search as search_views
from review.views import ledger as ledger_views
from review.views import review as review_views
from review.views import review_admin, wordlist
from stats.views import stats

csrf = CSRFProtect()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SERVING_ENV = "SCHOOLNEWS_SERVING"


def create_app(test_config=None):
    # A native crash (a segfault in a C extension) then leaves a Python
    # traceback in the server's log instead of vanishing without a word.
    if not faulthandler.is_enabled():
        faulthandler.enable()
    # A granian worker (serve.py) forks its slow lane's process first,
    # before anything opens the database; the child builds its own app.
    lane_child = slowlane.start_child(lambda: create_app(test_config))
    # SCHOOLNEWS_INSTANCE points a server at another instance folder (the
    # benchmark's, a second school's); the default is ./instance.
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("SCHOOLNEWS_INSTANCE") or None,
    )
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///cms.sqlite3",  # inside instance/
        ARTICLES_PER_PAGE=20,
        FEED_ENTRIES=20,  # posts in each Atom feed
        # URLs per sitemap file (the protocol allows 50,000); beyond it
        # /sitemap.xml becomes an index of /sitemap-<n>.xml files.
        SITEMAP_MAX_URLS=50_000,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        # Only tests turn this on, to serve «remote» images from 127.0.0.1;
        # remote_images.py refuses loopback addresses otherwise.
        REMOTE_IMAGES_ALLOW_LOOPBACK=False,
        UPLOAD_FOLDER=None,  # defaults to instance/uploads
        BACKUP_FOLDER=None,  # defaults to instance/backups
        # After each backup, older archives beyond the newest this many are
        # deleted from the backup folder (0 keeps them all).
        BACKUP_KEEP=10,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        # Minutes of inactivity before an editor session ends.
        SESSION_IDLE_MINUTES=120,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # A view by the same reader within this window is not counted again.
        VIEW_DEDUP_MINUTES=30,
        # Counted views are written together this often (viewcount.Batch);
        # 0 writes each one as it comes.
        VIEW_FLUSH_SECONDS=0.25,
        WTF_CSRF_TIME_LIMIT=None,  # the session lifetime bounds the token
        # Reverse proxies (nginx) in front of the app; 0 means none. Only then
        # is X-Forwarded-For believed: login throttling and view counts go by
        # the client's address, and anyone can send that header.
        TRUSTED_PROXIES=0,
        # The address readers reach the site at, e.g. "https://news.school.cn":
        # absolute links are built from it and other hosts are refused
        # (siteurl.py). Empty: the «site_url» setting, else the request's host.
        SITE_URL="",
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()  # FLASK_SECRET_KEY=...
    else:
        app.config.from_mapping(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)

    proxies = _trusted_proxies(app.config["TRUSTED_PROXIES"])
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        use_postgresql_options()

    db.init_app(app)
    if not os.environ.get(SERVING_ENV):
        # Alembic is for the command line; server processes (serve.py sets
        # the variable) save its ~9 MB in each worker.
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    commands.init_app(app)
    notify.init_app(app)
    preview_queue.init_app(app)
    siteurl.init_app(app)

    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(public.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(editor.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(security_views.bp)
    app.register_blueprint(firstrun.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(previews.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(wordlist.bp)
    app.register_blueprint(review_views.bp)
    app.register_blueprint(review_admin.bp)
    app.register_blueprint(ledger_views.bp)
    app.register_blueprint(notify_admin.bp)
    app.register_blueprint(selfcheck.bp)
    app.register_blueprint(bureau.bp)
    app.register_blueprint(sharing.bp)
    errors.init_app(app, not_found_fallback=legacy.redirect_from_old_address)
    legacy.init_app(app)
    assets.init_app(app)
    # Every reader's page, cached or not, and the search: their misses take
    # turns in the slow lane (slowlane.py).
    pagecache.init_app(app, lane_endpoints=pages.PAGE_ENDPOINTS | {"search.results"})
    app.wsgi_app = security.Transport(app.wsgi_app)  # Secure cookies, HSTS on HTTPS
    # Before the page cache: its pages are keyed by the request's site.
    sites.init_app(app)
    if proxies:
        # Outermost, so that the page cache too sees the reader's address
        # and scheme (cookieless counting, Secure cookies).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    @app.context_processor
    def site_context():
        return {"site": site_settings()}

    # How to build another app like this one (a dry-run import builds one
    # on a scratch copy) without importing this module back.
    app.extensions["factory"] = create_app
    if lane_child is not None:
        app.extensions["pagecache"].lane.attach(lane_child)
    return app


def site_settings() -> dict[str, str]:
    """The site settings, read once per request (cached on reader pages)."""
    return sitedata.current().settings


class IdConverter(IntegerConverter):
    """<int:...> bounded to SQLite's integers: a larger number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _trusted_proxies(value) -> int:
    """The TRUSTED_PROXIES setting as a number of hops; a typo stops the start."""
    try:
        hops = int(value or 0)
    except (TypeError, ValueError):
        hops = -1
    if hops < 0 or isinstance(value, bool):
        raise ValueError(
            f"TRUSTED_PROXIES must be the number of proxies in front of the app "
            f"(0, 1, 2, ...), not {value!r}"
        )
    return hops


def database_url(uri):
    """postgresql:// (or postgres://, as hosting panels write it) means the
    psycopg driver that requirements.txt installs: SQLAlchemy would look for
    psycopg2, which is not there, and search uses psycopg's own calls."""
    if isinstance(uri, str):
        for scheme in ("postgresql://", "postgres://"):
            if uri.startswith(scheme):
                return "postgresql+psycopg://" + uri.removeprefix(scheme)
    return uri


def _instance_secret(instance_path: str) -> str:
    """Generate the secret key once and keep it, so sessions survive restarts."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    try:
        path.chmod(0o600)
    except OSError:  # Windows has no POSIX modes; the file is still private enough
        pass
    return key
