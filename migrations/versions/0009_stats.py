"""departments; daily view totals per article for the statistics page

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("name", name=op.f("uq_department_name")),
    )
    # A plain ADD COLUMN, not a batch copy: SQLite refuses to drop the old
    # "user" table while other tables' foreign keys point at it. SQLite takes
    # the foreign key inline only, so it gets the column as SQL of its own.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            'ALTER TABLE "user" ADD COLUMN department_id INTEGER'
            " CONSTRAINT fk_user_department_id_department"
            " REFERENCES department (id)"
        )
    else:
        op.add_column("user", sa.Column("department_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_user_department_id_department"),
            "user",
            "department",
            ["department_id"],
            ["id"],
        )
    op.create_index(
        op.f("ix_user_department_id"), "user", ["department_id"], unique=False
    )
    # Views counted before this release have no day: the statistics start
    # with the upgrade (the page says so), nothing is guessed.
    op.create_table(
        "article_daily_views",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_daily_views_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "article_id", "day", name=op.f("pk_article_daily_views")
        ),
        # See models.DailyViews: the primary key is the table on SQLite.
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_article_daily_views_day", "article_daily_views", ["day"], unique=False
    )


def downgrade():
    op.drop_index("ix_article_daily_views_day", table_name="article_daily_views")
    op.drop_table("article_daily_views")
    op.drop_index(op.f("ix_user_department_id"), table_name="user")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place, its inline foreign key with it.
        op.execute('ALTER TABLE "user" DROP COLUMN department_id')
    else:
        op.drop_constraint(
            op.f("fk_user_department_id_department"), "user", type_="foreignkey"
        )
        op.drop_column("user", "department_id")
    op.drop_table("department")
