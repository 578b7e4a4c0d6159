"""the review chain (先审后发): department heads, review groups, pending edits,
the review ledger, and the 摄影 field

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 21:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (table, column) added in place with plain ADD COLUMN: SQLite refuses the
# batch copy of tables that other tables' foreign keys point at.
NEW_COLUMNS = [
    ("section", sa.Column("review_levels", sa.Integer(), nullable=True)),
    (
        "article",
        sa.Column("photographer", sa.String(100), nullable=False, server_default=""),
    ),
    (
        "article",
        sa.Column("review_level", sa.Integer(), nullable=False, server_default="0"),
    ),
    (
        "article",
        sa.Column("review_levels", sa.Integer(), nullable=False, server_default="0"),
    ),
    (
        "article",
        sa.Column("review_hash", sa.String(64), nullable=False, server_default=""),
    ),
    ("article", sa.Column("returned_reason", sa.String(200), nullable=True)),
    (
        "article",
        sa.Column("reviewed_by", sa.String(400), nullable=False, server_default=""),
    ),
]

LEDGER_TRIGGERS = (
    "CREATE TRIGGER review_event_no_update BEFORE UPDATE ON review_event"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
    "CREATE TRIGGER review_event_no_delete BEFORE DELETE ON review_event"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
)


def _member_table(name, owner, owner_table):
    op.create_table(
        name,
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            [owner],
            [f"{owner_table}.id"],
            name=op.f(f"fk_{name}_{owner}_{owner_table}"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f(f"fk_{name}_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(owner, "user_id", name=op.f(f"pk_{name}")),
    )


def _text_columns():
    return [
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(500), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=False),
    ]


def _article_key(table):
    return [
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f(f"fk_{table}_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f(f"pk_{table}")),
    ]


def upgrade():
    for table, column in NEW_COLUMNS:
        op.add_column(table, column)
    _member_table("department_head", "department_id", "department")
    op.create_table(
        "review_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_group")),
        sa.UniqueConstraint("name", name=op.f("uq_review_group_name")),
    )
    _member_table("review_group_member", "group_id", "review_group")
    op.create_table(
        "pending_text",
        *_text_columns(),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("photographer", sa.String(100), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
            name=op.f("fk_pending_text_created_by_id_user"),
            ondelete="SET NULL",
        ),
        *_article_key("pending_text"),
    )
    op.create_table(
        "approved_text",
        *_text_columns(),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        *_article_key("approved_text"),
    )
    op.create_table(
        "review_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("article_title", sa.String(200), nullable=False),
        sa.Column("department", sa.String(50), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_event")),
    )
    op.create_index(op.f("ix_review_event_created_at"), "review_event", ["created_at"])
    op.create_index(op.f("ix_review_event_article_id"), "review_event", ["article_id"])
    if op.get_bind().dialect.name == "sqlite":
        for trigger in LEDGER_TRIGGERS:
            op.execute(trigger)
    # The old single review step becomes a chain of one level; a site that let
    # authors publish directly gets none. Editors and admins keep publishing
    # directly, now as a recorded bypass with a reason.
    setting = sa.table(
        "setting", sa.column("key", sa.String), sa.column("value", sa.Text)
    )
    bind = op.get_bind()
    authors_could = bind.scalar(
        sa.select(setting.c.value).where(setting.c.key == "authors_can_publish")
    )
    op.execute(setting.delete().where(setting.c.key == "authors_can_publish"))
    op.bulk_insert(
        setting,
        [
            {"key": "review_levels", "value": "0" if authors_could == "1" else "1"},
            {"key": "review_bypass", "value": "1"},
        ],
    )


def downgrade():
    setting = sa.table(
        "setting", sa.column("key", sa.String), sa.column("value", sa.Text)
    )
    bind = op.get_bind()
    levels = bind.scalar(
        sa.select(setting.c.value).where(setting.c.key == "review_levels")
    )
    op.execute(
        setting.delete().where(
            setting.c.key.in_(
                [
                    "review_levels",
                    "review_bypass",
                    "review_group_2",
                    "review_group_3",
                    "show_review_line",
                ]
            )
        )
    )
    op.bulk_insert(
        setting,
        [{"key": "authors_can_publish", "value": "1" if levels == "0" else "0"}],
    )
    for table in (
        "review_event",
        "approved_text",
        "pending_text",
        "review_group_member",
        "review_group",
        "department_head",
    ):
        op.drop_table(table)
    for table, column in reversed(NEW_COLUMNS):
        op.drop_column(table, column.name)
