"""For monitors and service managers: /healthz, and tracebacks of native crashes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from app import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_ok_without_login_and_is_never_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_cannot_be_opened(tmp_path):
    folder = tmp_path / "disk"
    folder.mkdir()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'cms.sqlite3'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    shutil.rmtree(folder)  # the disk holding the database went away
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "unable to open" not in response.get_data(as_text=True)


def test_native_crash_leaves_a_python_traceback(tmp_path):
    # The server once died of a "general protection fault" with nothing in
    # the log; create_app() turns on faulthandler so that cannot recur.
    script = f"""
import faulthandler
from app import create_app
create_app({{
    "TESTING": True,
    "SECRET_KEY": "test",
    "SQLALCHEMY_DATABASE_URI": "sqlite:///{tmp_path / "c.sqlite3"}",
    "UPLOAD_FOLDER": {str(tmp_path / "uploads")!r},
}})
def serve_request():
    faulthandler._sigsegv()
serve_request()
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Fatal Python error: Segmentation fault" in result.stderr
    assert "in serve_request" in result.stderr
