"""first-run setup flag on users; origin of demo and imported rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 18:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts have long been in use: none of them needs the setup.
    # A plain ADD COLUMN, not a batch copy: SQLite refuses to drop the old
    # "user" table while other tables' foreign keys point at it.
    op.add_column(
        "user",
        sa.Column(
            "needs_setup", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    # Demo content loaded before this table existed has no rows here; the
    # clear-demo action recognises it by the demo's slugs and titles instead
    # (democlear.py), so nothing needs filling in.
    op.create_table(
        "origin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("target_key", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_origin")),
        sa.UniqueConstraint(
            "source", "target_type", "source_key", name=op.f("uq_origin_source")
        ),
    )
    with op.batch_alter_table("origin", schema=None) as batch_op:
        batch_op.create_index(
            "ix_origin_target", ["target_type", "target_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("origin", schema=None) as batch_op:
        batch_op.drop_index("ix_origin_target")
    op.drop_table("origin")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place (see upgrade for why no batch).
        op.execute('ALTER TABLE "user" DROP COLUMN needs_setup')
    else:
        op.drop_column("user", "needs_setup")
