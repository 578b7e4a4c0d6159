"""page cache state, article excerpts and channels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 16:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cache_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_change_at", sa.DateTime(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_state")),
    )
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("excerpt", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_article_channel_id_section"), "section", ["channel_id"], ["id"]
        )
        batch_op.create_index(
            "ix_article_channel_order",
            ["channel_id", "pinned", "published_at", "status", "deleted_at"],
            unique=False,
        )
    op.execute(
        "UPDATE article SET channel_id = (SELECT coalesce(section.parent_id, section.id)"
        " FROM section WHERE section.id = article.section_id)"
    )
    # Existing posts get their excerpt now, so readers' pages never parse HTML.
    from sanitize import summarize

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, summary, body_html FROM article")).all()
    for row in rows:
        excerpt = (row.summary or "").strip() or summarize(row.body_html or "")
        conn.execute(
            sa.text("UPDATE article SET excerpt = :excerpt WHERE id = :id"),
            {"excerpt": excerpt[:500], "id": row.id},
        )


def downgrade():
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_channel_order")
        batch_op.drop_constraint(
            batch_op.f("fk_article_channel_id_section"), type_="foreignkey"
        )
        batch_op.drop_column("channel_id")
        batch_op.drop_column("excerpt")
    op.drop_table("cache_state")
