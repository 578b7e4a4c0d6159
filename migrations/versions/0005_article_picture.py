"""article pictures: the chosen cover, else the first image of the body

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:10:00

"""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A copy of pictures.py as it is today: a migration must keep working when the
# app's code changes later.
_UPLOAD_PATH_RE = re.compile(r"/uploads/([0-9a-f]{16,64}\.[a-z0-9]{1,8})")


class _FirstUploadImage(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = None

    def handle_starttag(self, tag, attrs):
        if tag != "img" or self.found:
            return
        src = dict(attrs).get("src") or ""
        match = _UPLOAD_PATH_RE.fullmatch(urlsplit(src.strip()).path)
        if match:
            self.found = match[1]


def _first_body_image(body_html):
    if not body_html or "<img" not in body_html:
        return None
    parser = _FirstUploadImage()
    parser.feed(body_html)
    parser.close()
    return parser.found


def upgrade():
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("picture_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_article_picture_id_upload"),
            "upload",
            ["picture_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_article_picture_order",
            ["published_at", "status", "deleted_at"],
            unique=False,
            sqlite_where=sa.text("picture_id IS NOT NULL"),
            postgresql_where=sa.text("picture_id IS NOT NULL"),
        )
    # Existing posts get their picture now, so readers' pages never parse HTML.
    conn = op.get_bind()
    images = dict(
        conn.execute(
            sa.text("SELECT stored_name, id FROM upload WHERE kind = 'image'")
        ).all()
    )
    rows = conn.execute(sa.text("SELECT id, cover_id, body_html FROM article"))
    for row in rows.all():
        picture_id = row.cover_id or images.get(_first_body_image(row.body_html))
        if picture_id is not None:
            conn.execute(
                sa.text("UPDATE article SET picture_id = :picture WHERE id = :id"),
                {"picture": picture_id, "id": row.id},
            )


def downgrade():
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_picture_order")
        batch_op.drop_constraint(
            batch_op.f("fk_article_picture_id_upload"), type_="foreignkey"
        )
        batch_op.drop_column("picture_id")
