"""attachment previews: each upload's preview state, note and claim

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# What newsroom/previews.py can preview (by the stored name's extension):
# attachments a site already has get theirs from the worker after upgrading.
PREVIEWED = ("pdf", "docx", "xlsx", "csv")


def upgrade():
    # Plain ADD COLUMN: SQLite refuses the batch copy of referenced tables.
    op.add_column(
        "upload",
        sa.Column("preview", sa.String(10), nullable=False, server_default=""),
    )
    op.add_column(
        "upload",
        sa.Column("preview_note", sa.String(200), nullable=False, server_default=""),
    )
    op.add_column("upload", sa.Column("preview_until", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_upload_preview"), "upload", ["preview"])
    upload = sa.table(
        "upload",
        sa.column("kind", sa.String),
        sa.column("stored_name", sa.String),
        sa.column("preview", sa.String),
    )
    op.execute(
        upload.update()
        .where(
            upload.c.kind == "attachment",
            sa.or_(*(upload.c.stored_name.like(f"%.{ext}") for ext in PREVIEWED)),
        )
        .values(preview="pending")
    )
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Search reads attachments' names and text from now on: posts with
        # attachments are indexed again (each file is read once, bounded).
        from reader import search

        posts = conn.execute(
            sa.text(
                "SELECT DISTINCT article_id FROM upload"
                " WHERE kind = 'attachment' AND article_id IS NOT NULL"
            )
        ).scalars()
        search.index(conn, list(posts))


def downgrade():
    op.drop_index(op.f("ix_upload_preview"), table_name="upload")
    for name in ("preview_until", "preview_note", "preview"):
        op.drop_column("upload", name)
