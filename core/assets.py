"""Static files under fingerprinted names, and gzip for every other response.

url_for("static", filename="css/site.css") gives /static/css/site.1a2b3c4d5e.css:
the name carries a hash of the content, so browsers may keep the file for a
year and still fetch a changed one at once. Plain names keep working (Jodit
loads its own files by relative URL) with the usual revalidation.

Reader pages are compressed once by the page cache; everything else (editor
pages, JSON, CSS and JS) by Flask-Compress.
"""

import hashlib
import os
import re

from flask import Flask, current_app, request, send_from_directory
from flask_compress import Compress
from werkzeug.security import safe_join

from core.pagemarks import PAGE_HEADER

ONE_YEAR = 365 * 24 * 3600
_FINGERPRINTED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{10})(?P<ext>\.\w+)$")

compress = Compress()


class Fingerprints:
    """Content hashes of static files, computed once per file and change."""

    def __init__(self, folder: str):
        self.folder = folder
        self._known: dict[str, tuple[float, str]] = {}

    def digest(self, filename: str) -> str | None:
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        known = self._known.get(filename)
        if known is None or known[0] != mtime:
            with open(path, "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()[:10]
            known = self._known[filename] = (mtime, digest)
        return known[1]

    def name(self, filename: str) -> str:
        """site.css -> site.<digest>.css; unchanged if the file is missing."""
        digest = self.digest(filename)
        if digest is None:
            return filename
        stem, dot, ext = filename.rpartition(".")
        return f"{stem}.{digest}.{ext}" if dot else f"{filename}.{digest}"


def static_file(filename: str):
    fingerprints = current_app.extensions["fingerprints"]
    match = _FINGERPRINTED.match(filename)
    if match:
        original = match["stem"] + match["ext"]
        if fingerprints.digest(original) == match["digest"]:
            response = send_from_directory(current_app.static_folder, original)
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = ONE_YEAR
            response.cache_control.immutable = True
            return response
        if fingerprints.digest(original) is not None:
            # An old fingerprint (a page cached before an upgrade): the current
            # file, without the year-long promise.
            return send_from_directory(current_app.static_folder, original)
    return send_from_directory(current_app.static_folder, filename)


def init_app(app: Flask) -> None:
    fingerprints = Fingerprints(app.static_folder)
    app.extensions["fingerprints"] = fingerprints
    # Replace Flask's own static route with one that understands fingerprints.
    app.view_functions["static"] = static_file

    @app.url_defaults
    def fingerprint_static_urls(endpoint, values):
        if endpoint == "static" and "filename" in values:
            values["filename"] = fingerprints.name(values["filename"])

    app.config.setdefault("COMPRESS_REGISTER", False)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Flask-Compress's streaming mode never closes the file it streams.
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)

    @app.after_request
    def compress_response(response):
        if PAGE_HEADER in response.headers:
            return response  # the page cache compresses reader pages once
        if request.endpoint == "static" and response.direct_passthrough:
            # Read CSS and JS into memory so they can be compressed; the file
            # is closed when the response is.
            response.direct_passthrough = False
            response.make_sequence()
        return compress.after_request(response)
