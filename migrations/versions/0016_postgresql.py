"""PostgreSQL as a first-class database: the ledger and the audit log
append-only there too, upload sizes past 2 GB, and the cover's foreign key
that 0001 left out there

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 06:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Written out here, not imported from models.py: a migration stays as it
# landed while the models move on.
TRIGGERS = (
    "CREATE FUNCTION review_event_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'the review ledger is append-only'; END $$",
    "CREATE TRIGGER review_event_append_only BEFORE UPDATE OR DELETE"
    " ON review_event FOR EACH ROW EXECUTE FUNCTION review_event_append_only()",
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'DELETE' AND old.id <= (SELECT coalesce(max(archived_through_id), 0)"
    " FROM audit_chain) THEN RETURN old; END IF;"
    " RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE"
    " ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
)
COVER_KEY = "fk_article_cover_id_upload"
DROPS = (
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
    "DROP TRIGGER IF EXISTS review_event_append_only ON review_event",
    "DROP FUNCTION IF EXISTS review_event_append_only()",
)


def upgrade():
    # SQLite stores any integer in 8 bytes and has its triggers since 0012
    # and 0015: nothing to change there.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("upload", "size", type_=sa.BigInteger(), existing_type=sa.Integer())
    for statement in TRIGGERS:
        op.execute(statement)
    # 0001 declared article.cover_id's key use_alter, which create_table
    # leaves to a later ALTER that never came (SQLite writes it inline).
    op.execute(
        "UPDATE article SET cover_id = NULL WHERE cover_id IS NOT NULL"
        " AND cover_id NOT IN (SELECT id FROM upload)"
    )
    op.create_foreign_key(
        COVER_KEY, "article", "upload", ["cover_id"], ["id"], ondelete="SET NULL"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(COVER_KEY, "article", type_="foreignkey")
    for statement in DROPS:
        op.execute(statement)
    op.alter_column("upload", "size", type_=sa.Integer(), existing_type=sa.BigInteger())
