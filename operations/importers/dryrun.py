"""Run an import against a throwaway copy of the site: --dry-run.

The copy goes through exactly the same code as a real import, so the report
is the one a real run would print (updates included), while the site's
database and upload folder are never opened for writing, and the live site
is not held up by a long transaction.
"""

import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from models import db
from operations.importers.common import SourceError


@contextmanager
def scratch_copy(app: Flask):
    """An app context like app's, on a copy of its database and empty uploads."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise SourceError("--dry-run needs the site's SQLite database.")
    with tempfile.TemporaryDirectory(prefix="schoolnews-dry-run-") as folder:
        copy = Path(folder) / "copy.sqlite3"
        # Read-only: the site's database file stays exactly as it is.
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        config = dict(app.config)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{copy}"
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
            scratch.extensions["pagecache"].hot.dispose()
