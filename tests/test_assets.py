"""Fingerprinted static files with long cache lifetimes; compressed responses."""

import gzip
import os
import re
from pathlib import Path

import brotli

from core.assets import Fingerprints

STATIC = Path(__file__).resolve().parent.parent / "static"
UA = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)"}


def linked_assets(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_css_and_js_by_content_fingerprint(client):
    links = linked_assets(client.get("/", headers=UA).text)
    assert any(link.endswith(".css") for link in links)
    assert any(link.endswith(".js") for link in links)
    for link in links:
        assert re.search(r"\.[0-9a-f]{10}\.\w+$", link), link


def test_a_fingerprinted_file_is_kept_for_a_year(client):
    for link in linked_assets(client.get("/", headers=UA).text):
        response = client.get(link)
        data = response.data
        response.close()
        assert response.status_code == 200
        cache = response.headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache
        assert "no-cache" not in cache
        plain = re.sub(r"\.[0-9a-f]{10}(\.\w+)$", r"\1", link)
        assert data == (STATIC / plain.removeprefix("/static/")).read_bytes()


def test_an_old_fingerprint_gets_the_current_file_without_the_promise(client):
    response = client.get("/static/css/site.0123456789.css")
    data = response.data
    response.close()
    assert response.status_code == 200
    assert data == (STATIC / "css/site.css").read_bytes()
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_plain_names_still_work_for_files_loaded_by_relative_url(client):
    response = client.get("/static/css/site.css")
    response.close()
    assert response.status_code == 200
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_static_paths_cannot_leave_the_folder(client):
    for path in (
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/../app.0123456789.py",
    ):
        assert client.get(path).status_code == 404


def test_the_fingerprint_follows_the_content(tmp_path):
    (tmp_path / "site.css").write_text("body { color: red }")
    fingerprints = Fingerprints(str(tmp_path))
    first = fingerprints.name("site.css")
    assert re.fullmatch(r"site\.[0-9a-f]{10}\.css", first)
    assert fingerprints.name("site.css") == first
    (tmp_path / "site.css").write_text("body { color: blue }")
    os.utime(tmp_path / "site.css", (1, 1))  # a new mtime, as an upgrade gives
    assert fingerprints.name("site.css") != first
    assert fingerprints.name("missing.css") == "missing.css"


def test_editor_pages_and_css_are_compressed(editor_client):
    page = editor_client.get("/editor/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert "</html>" in gzip.decompress(page.data).decode()
    css = editor_client.get("/static/css/site.css", headers={"Accept-Encoding": "br"})
    assert css.headers["Content-Encoding"] == "br"
    assert b"body" in brotli.decompress(css.data)
    css.close()


def test_nothing_is_compressed_for_clients_that_did_not_ask(editor_client):
    page = editor_client.get("/editor/")
    assert "Content-Encoding" not in page.headers
    assert "</html>" in page.text
