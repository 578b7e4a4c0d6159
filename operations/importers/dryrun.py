"""Run an import against a throwaway copy of the site: --dry-run.

The copy goes through exactly the same code as a real import, so the report
is the one a real run would print (updates included), while the site's
database and upload folder are never opened for writing, and the live site
is not held up by a long transaction. On PostgreSQL the copy is a scratch
database restored from a pg_dump of one snapshot, dropped afterwards.
"""

import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from models import db
from operations import backup
from operations.importers.common import SourceError


@contextmanager
def scratch_copy(app: Flask):
    """An app context like app's, on a copy of its database and empty uploads."""
    url = db.engine.url
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql") or not url.database:
        raise SourceError("--dry-run needs a SQLite or PostgreSQL site.")
    with tempfile.TemporaryDirectory(prefix="schoolnews-dry-run-") as folder:
        if backend == "sqlite":
            copy_url, dropped = _sqlite_copy(url, Path(folder)), None
        else:
            try:
                dropped = backup.scratch_postgresql(
                    backup.Instance.of(app), Path(folder)
                )
            except backup.BackupError as error:
                raise SourceError(
                    f"--dry-run could not copy the site: {error}"
                ) from None
            copy_url = dropped.render_as_string(hide_password=False)
        config = dict(app.config)
        config["SQLALCHEMY_DATABASE_URI"] = copy_url
        config["UPLOAD_FOLDER"] = str(Path(folder) / "uploads")
        scratch = app.extensions["factory"](config)
        try:
            with scratch.app_context():
                try:
                    yield scratch
                finally:
                    db.session.remove()
                    db.engine.dispose()
        finally:
            pagecache = scratch.extensions["pagecache"]
            if pagecache.counter.batch is not None:
                pagecache.counter.batch.stop()
            pagecache.hot.dispose()
            if dropped is not None:
                backup.drop_database(dropped)


def _sqlite_copy(url, folder: Path) -> str:
    copy = folder / "copy.sqlite3"
    # Read-only: the site's database file stays exactly as it is.
    source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{copy}"
