"""The benchmark's ceiling: a bare Flask app answering every path with fixed bytes.

Serve: BENCH_PAGE_FILE=/abs/page.html python serve.py --app bench.bare_app:create_app

It returns the saved article page (read once at start) as text/html, so the
only difference from the real app's cached article is the app's own work.
"""

import os
from pathlib import Path

from flask import Flask, Response

PAGE_FILE_ENV = "BENCH_PAGE_FILE"


def create_app():
    app = Flask(__name__)
    page = Path(os.environ[PAGE_FILE_ENV]).read_bytes()

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def page_bytes(path):
        return Response(page, content_type="text/html; charset=utf-8")

    return app
