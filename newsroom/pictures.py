"""Which picture stands for a post: the chosen cover, else its first photo.

Computed when a post is saved (Article.picture_id is kept by the ORM
events in newsroom/derived.py), so lists, the picture-news block and the share
preview never parse HTML while a reader waits.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import sqlalchemy as sa

# The path of an image in UPLOAD_FOLDER as newsroom/views/files.py serves it.
_UPLOAD_PATH_RE = re.compile(r"/uploads/([0-9a-f]{16,64}\.[a-z0-9]{1,8})")


class _FirstUploadImage(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag != "img" or self.found:
            return
        src = dict(attrs).get("src") or ""
        # Only the site's own uploads: they have thumbnails at the sizes the
        # pages use and stay as long as the post does. An image from another
        # site has neither (it may vanish or refuse hotlinking, and the CSP
        # does not even show it), so it is skipped, not used for og:image.
        match = _UPLOAD_PATH_RE.fullmatch(urlsplit(src.strip()).path)
        if match:
            self.found = match[1]


def first_body_image(body_html: str | None) -> str | None:
    """The stored name of the first of the site's own images in body_html."""
    if not body_html or "<img" not in body_html:
        return None
    parser = _FirstUploadImage()
    parser.feed(body_html)
    parser.close()
    return parser.found


_upload = sa.table(
    "upload",
    sa.column("id", sa.Integer),
    sa.column("stored_name", sa.String),
    sa.column("kind", sa.String),
)


def picture_id_for(connection, cover_id: int | None, body_html: str | None):
    """The post's picture: its chosen cover, else the first body image's upload."""
    if cover_id is not None:
        return cover_id
    name = first_body_image(body_html)
    if name is None:
        return None
    return connection.scalar(
        sa.select(_upload.c.id).where(
            _upload.c.stored_name == name, _upload.c.kind == "image"
        )
    )
