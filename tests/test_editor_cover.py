"""The cover image on the editor page (its browser flow: tests/e2e)."""

import io

from PIL import Image


def upload_png(client):
    data = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 102, 204)).save(data, "PNG")
    data.seek(0)
    response = client.post(
        "/editor/uploads/image",
        data={"file": (data, "封面.png")},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    return response.get_json()


def test_edit_page_of_a_post_with_a_cover_shows_the_cover(editor_client, make_article):
    cover = upload_png(editor_client)
    article_id = make_article(cover_id=cover["id"])
    response = editor_client.get(f"/editor/articles/{article_id}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<img src="{cover["url"]}"' in html
    assert 'id="cover-remove" hidden' not in html


def test_edit_page_without_a_cover_hides_the_remove_button(editor_client, make_article):
    response = editor_client.get(f"/editor/articles/{make_article()}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="cover-remove" hidden' in html
    preview = html.split('id="cover-preview"', 1)[1].split("</div>", 1)[0]
    assert "<img" not in preview
