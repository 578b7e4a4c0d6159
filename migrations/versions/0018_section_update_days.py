"""栏目更新: how often each section must get a post (its 更新周期)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # NULL: the default by the section's name (stats/freshness.py), so every
    # existing section is checked after the upgrade without anyone setting it.
    op.add_column("section", sa.Column("update_days", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("section", "update_days")
