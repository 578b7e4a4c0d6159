"""Thumbnails made on a reader's first request, and what a reader gets when
one cannot be made: the original photo, never an error."""

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from models import db
from newsroom import storage, thumbnails


def jpeg(mode="RGB", size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def photo(app):
    """A stored photo whose thumbnails are not made yet: its stored name."""
    with app.app_context():
        upload = storage.save_image(io.BytesIO(jpeg("L")), "灰度.jpg", user_id=None)
        db.session.commit()
        shutil.rmtree(thumbnails.folder())
        return upload.stored_name


def thumb_url(stored_name, variant="240"):
    return "/uploads/thumbs/" + thumbnails.name_of(stored_name, variant)


def test_a_grey_photo_gets_a_colour_jpeg_thumbnail_on_first_request(client, photo):
    response = client.get(thumb_url(photo))
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(response.data))
    response.close()  # send_file keeps the file open until then
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (240, 160))


def falls_back_to_the_original(client, stored_name):
    response = client.get(thumb_url(stored_name))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/uploads/{stored_name}"
    # Asked again later: the fallback is not cached for long.
    assert response.cache_control.max_age == 300
    return True


def test_a_damaged_original_is_sent_instead(app, client, photo):
    original = Path(app.config["UPLOAD_FOLDER"]) / photo
    with open(original, "r+b") as fh:
        fh.truncate(300)  # the header decodes, the pixels do not
    assert falls_back_to_the_original(client, photo)
    with app.app_context():
        assert not list(thumbnails.folder().glob("*"))


def test_a_busy_server_sends_the_original_instead(client, photo, monkeypatch):
    monkeypatch.setattr(thumbnails, "DECODE_WAIT_SECONDS", 0.01)
    taken = 0
    while thumbnails._decode_slots.acquire(blocking=False):
        taken += 1
    try:
        assert falls_back_to_the_original(client, photo)
    finally:
        for _ in range(taken):
            thumbnails._decode_slots.release()


@pytest.mark.parametrize("blocked", ["folder", "file"])
def test_thumbnails_that_cannot_be_written_send_the_original(
    app, client, photo, blocked
):
    with app.app_context():
        folder = thumbnails.folder()
    if blocked == "folder":
        folder.write_bytes(b"")  # a file where the folder should be
    else:
        # A folder where the thumbnail should be: writing it fails at the end.
        (folder / thumbnails.name_of(photo, "240")).mkdir(parents=True)
    assert falls_back_to_the_original(client, photo)
    if blocked == "file":
        assert not list(folder.glob("*.tmp"))  # no half-written file left behind
