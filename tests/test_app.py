import pytest

from views.auth import is_safe_next


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
