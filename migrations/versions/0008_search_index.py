"""search index: plain text per post and an FTS5 table of its tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 18:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_doc",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_doc")),
    )
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return  # other databases search with search.LikeBackend: no index
    import search

    op.execute(search.CREATE_FTS)
    # An upgraded school can search its existing posts at once.
    search.rebuild(conn)


def downgrade():
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_doc")
