"""notifications: robots of departments and review groups, users' e-mail,
and the outbox of messages

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 08:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Plain ADD COLUMN: SQLite refuses the batch copy of referenced tables.
NEW_COLUMNS = [
    (
        "department",
        sa.Column("robot_url", sa.String(500), nullable=False, server_default=""),
    ),
    (
        "review_group",
        sa.Column("robot_url", sa.String(500), nullable=False, server_default=""),
    ),
    ("user", sa.Column("email", sa.String(254), nullable=True)),
]


def upgrade():
    for table, column in NEW_COLUMNS:
        op.add_column(table, column)
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim", sa.String(32), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        op.f("ix_notification_created_at"), "notification", ["created_at"]
    )
    op.create_index(op.f("ix_notification_target"), "notification", ["target"])
    op.create_index(
        "ix_notification_due", "notification", ["status", "next_attempt_at"]
    )


def downgrade():
    op.drop_table("notification")
    setting = sa.table("setting", sa.column("key", sa.String))
    op.execute(setting.delete().where(setting.c.key.like("smtp\\_%", escape="\\")))
    for table, column in reversed(NEW_COLUMNS):
        op.drop_column(table, column.name)
