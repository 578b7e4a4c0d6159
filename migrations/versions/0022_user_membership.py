"""站群: one person at several schools, with a role at each

A person who works for several schools has a row at each with the same user
name; the rows other than their home row name it in login_id and sign in with
its password. The user name becomes unique within a site, and unique across
the installation among home rows (a partial index).

On SQLite, changing a table constraint means copying the table. It is copied
from its own CREATE TABLE text with just that constraint replaced (SQLite's
documented way), so every other constraint keeps the form it has: a generic
copy would turn the columns' foreign keys into table constraints, which the
plain DROP COLUMNs of earlier downgrades cannot get past.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:30:00

"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OLD_UNIQUE = ("uq_user_username", ["username"])
NEW_UNIQUE = ("uq_user_site_id", ["site_id", "username"])
HOME_ONLY = sa.text("login_id IS NULL")


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite takes a foreign key written into an added column.
        op.execute(
            'ALTER TABLE "user" ADD COLUMN login_id INTEGER'
            " CONSTRAINT fk_user_login_id_user REFERENCES user (id)"
        )
        _swap_unique_sqlite(OLD_UNIQUE, NEW_UNIQUE)
    else:
        op.add_column("user", sa.Column("login_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_user_login_id_user", "user", "user", ["login_id"], ["id"]
        )
        op.drop_constraint(OLD_UNIQUE[0], "user", type_="unique")
        op.create_unique_constraint(NEW_UNIQUE[0], "user", NEW_UNIQUE[1])
    op.create_index("ix_user_login_id", "user", ["login_id"])
    op.create_index(
        "uq_user_home_username",
        "user",
        ["username"],
        unique=True,
        sqlite_where=HOME_ONLY,
        postgresql_where=HOME_ONLY,
    )


def downgrade():
    connection = op.get_bind()
    if connection.scalar(
        sa.text('SELECT count(*) FROM "user" WHERE login_id IS NOT NULL')
    ):
        raise RuntimeError(
            "Some people sign in to several schools with one account; the "
            "previous release has one school per account. Deactivate and remove "
            "those schools' rows first."
        )
    op.drop_index("uq_user_home_username", table_name="user")
    op.drop_index("ix_user_login_id", table_name="user")
    if connection.dialect.name == "sqlite":
        _swap_unique_sqlite(NEW_UNIQUE, OLD_UNIQUE)
        op.drop_column("user", "login_id")  # its inline foreign key goes with it
    else:
        op.drop_constraint(NEW_UNIQUE[0], "user", type_="unique")
        op.create_unique_constraint(OLD_UNIQUE[0], "user", OLD_UNIQUE[1])
        op.drop_constraint("fk_user_login_id_user", "user", type_="foreignkey")
        op.drop_column("user", "login_id")


def _swap_unique_sqlite(old, new):
    """Copy the user table with one UNIQUE constraint replaced (env.py runs
    SQLite migrations with foreign keys off and checks them after)."""
    connection = op.get_bind()
    create = connection.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'user'")
    )
    indexes = connection.scalars(
        sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'user' AND sql IS NOT NULL"
        )
    ).all()
    columns = r"\s*,\s*".join(old[1])
    pattern = re.compile(
        rf"CONSTRAINT\s+\"?{old[0]}\"?\s+UNIQUE\s*\(\s*{columns}\s*\)", re.IGNORECASE
    )
    replaced, count = pattern.subn(
        f"CONSTRAINT {new[0]} UNIQUE ({', '.join(new[1])})", create
    )
    if count != 1:
        raise RuntimeError(f"user table: constraint {old[0]} not found in {create!r}")
    name = re.compile(r'^CREATE TABLE\s+("?user"?)', re.IGNORECASE)
    replaced = name.sub('CREATE TABLE "_user_copy"', replaced, count=1)
    op.execute(replaced)
    op.execute('INSERT INTO "_user_copy" SELECT * FROM "user"')
    op.execute('DROP TABLE "user"')
    op.execute('ALTER TABLE "_user_copy" RENAME TO "user"')
    for index in indexes:
        op.execute(index)
