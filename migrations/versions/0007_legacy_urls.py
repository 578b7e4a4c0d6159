"""old addresses of imported posts, sections and files (301 redirects)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 18:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "legacy_url",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_url")),
        sa.UniqueConstraint("path", name=op.f("uq_legacy_url_path")),
    )


def downgrade():
    op.drop_table("legacy_url")
