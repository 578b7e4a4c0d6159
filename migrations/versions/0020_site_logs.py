"""站群: the audit log, the review ledger, the outbox and login failures
belong to a site too

Every existing row goes to site 1. The audit chain stays one chain through
all sites' events (core/audit.py); the ledger and audit triggers are left as
they are, since adding a column updates no row.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = ("audit_event", "review_event", "notification", "login_attempt")
# The school's own pages read these newest first.
INDEXED = ("audit_event", "review_event")


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        if sqlite:
            # Copying a table would drop its append-only triggers; SQLite
            # takes a foreign key written into the added column.
            op.execute(
                f'ALTER TABLE "{table}" ADD COLUMN site_id INTEGER DEFAULT 1 NOT NULL'
                f" CONSTRAINT fk_{table}_site_id_site REFERENCES site (id)"
            )
        else:
            op.add_column(
                table,
                sa.Column(
                    "site_id",
                    sa.Integer(),
                    sa.ForeignKey("site.id", name=f"fk_{table}_site_id_site"),
                    nullable=False,
                    server_default="1",
                ),
            )
        if table in INDEXED:
            op.create_index(f"ix_{table}_site", table, ["site_id", "id"], unique=False)


def downgrade():
    connection = op.get_bind()
    if connection.scalar(sa.text("SELECT count(*) FROM site")) > 1:
        raise RuntimeError(
            "This database holds several sites; 0019 keeps their logs apart "
            "only with this revision. Export each school's site first."
        )
    for table in reversed(TABLES):
        if table in INDEXED:
            op.drop_index(f"ix_{table}_site", table_name=table)
        if connection.dialect.name != "sqlite":  # SQLite's goes with the column
            op.drop_constraint(f"fk_{table}_site_id_site", table, "foreignkey")
        op.drop_column(table, "site_id")
