"""a default byline (署名) per user

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    # Existing users get an empty byline: their posts keep using the display
    # name. A plain ADD COLUMN, not a batch copy: SQLite refuses to drop the
    # old "user" table while other tables' foreign keys point at it.
    op.add_column(
        "user",
        sa.Column("byline", sa.String(length=100), nullable=False, server_default=""),
    )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place (see upgrade for why no batch).
        op.execute('ALTER TABLE "user" DROP COLUMN byline')
    else:
        op.drop_column("user", "byline")
