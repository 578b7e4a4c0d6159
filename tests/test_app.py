import pytest

from admin.views.auth import is_safe_next
from app import create_app
from models import db, parse_id
from tests.conftest import _close


def test_home_page_renders_school_name(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "SchoolNews" in response.get_data(as_text=True)


def test_every_page_sends_content_security_policy(client):
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_editor_login_reaches_dashboard(editor_client):
    assert editor_client.get("/editor/").status_code == 200


def test_next_only_follows_local_paths():
    assert is_safe_next("/editor/")
    for bad in ["https://evil.example/", "//evil", "/\\evil", "https:evil", None]:
        assert not is_safe_next(bad)


@pytest.mark.csrf
def test_login_without_csrf_token_is_refused(client, editor):
    response = client.post("/login", data=editor)
    assert response.status_code == 400
    assert client.get("/editor/").status_code == 302


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", 1),
        (" 42 ", 42),
        (7, 7),
        ("0", None),
        ("-1", None),
        ("²", None),  # isdigit() says yes, int() says no
        ("١٢", None),  # non-ASCII digits are not ids
        ("99999999999999999999", None),  # beyond SQLite's 64-bit integers
        (2**63, None),
        (True, None),
        ("1.5", None),
        ("", None),
        (None, None),
        ([], None),
    ],
)
def test_parse_id_accepts_only_positive_sqlite_integers(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/articles/99999999999999999999",
        "/sections/news?page=99999999999999999999",
        "/sections/news?page=²",
        "/editor/?page=99999999999999999999",
        "/editor/articles/99999999999999999999/edit",
        "/attachments/99999999999999999999",
    ],
)
def test_huge_or_odd_numbers_are_not_found_not_server_errors(
    editor_client, make_article, url
):
    make_article()
    assert editor_client.get(url).status_code == 404


def test_huge_ids_in_forms_are_refused_politely(editor_client, make_article):
    article_id = make_article()
    huge = "99999999999999999999"
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit?lang=en",
        data={"title": "标题", "section_id": huge, "version": huge, "cover_id": huge},
    )
    # The form comes back with the section marked and the text kept.
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please correct the marked fields. Your text has been kept." in html
    assert "Not a valid choice." in html
    assert 'value="标题"' in html
    response = editor_client.post(
        "/editor/uploads/attachment",
        data={"article_id": huge},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "error" in response.get_json()


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgresql://u:p@db:5432/school", "postgresql+psycopg://u:p@db:5432/school"),
        ("postgres://u:p@db/school", "postgresql+psycopg://u:p@db/school"),
        ("postgresql+psycopg://u@db/school", "postgresql+psycopg://u@db/school"),
    ],
)
def test_a_postgresql_url_as_staff_write_it_uses_the_installed_driver(
    tmp_path, monkeypatch, written, used
):
    """psycopg2, which SQLAlchemy takes for postgresql://, is not installed."""
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": written})
    with app.app_context():
        assert db.engine.url.render_as_string(hide_password=False) == used
        assert db.engine.dialect.driver == "psycopg"
    _close(app)
