"""站群: sites, and the site each school-owned row belongs to

An existing installation becomes site 1, named after its school, with no
host or path prefix: it answers every request as before. Every owned row
goes to site 1, and what was unique in the installation (a section's slug,
a department's name, a setting's key, …) becomes unique within its site.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:00:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Tables whose rows a site owns. Those named with a constraint had it unique
# across the installation; it becomes unique within a site.
OWNED = {
    "section": ("uq_section_slug", ["slug"]),
    "department": ("uq_department_name", ["name"]),
    "review_group": ("uq_review_group_name", ["name"]),
    "word_rule": ("uq_word_rule_term", ["term"]),
    "legacy_url": ("uq_legacy_url_path", ["path"]),
    "origin": ("uq_origin_source", ["source", "target_type", "source_key"]),
    "article": None,
    "upload": None,
    "user": None,
    "setting": None,  # its primary key becomes (site_id, key)
}
# Reader lists' indexes gain a trailing site_id, so they still cover the
# visibility test once every query asks for one site (see models.Article).
ARTICLE_INDEXES = {
    "ix_article_order": ["pinned", "published_at", "status", "deleted_at"],
    "ix_article_section_order": [
        "section_id",
        "pinned",
        "published_at",
        "status",
        "deleted_at",
    ],
    "ix_article_channel_order": [
        "channel_id",
        "pinned",
        "published_at",
        "status",
        "deleted_at",
    ],
    "ix_article_picture_order": ["published_at", "status", "deleted_at"],
}
PICTURE_WHERE = sa.text("picture_id IS NOT NULL")
# Tables whose constraints change, copied to a new table on SQLite.
COPIED = {table for table, unique in OWNED.items() if unique} | {"setting"}


def _site_column(table):
    return sa.Column(
        "site_id",
        sa.Integer(),
        sa.ForeignKey("site.id", name=f"fk_{table}_site_id_site"),
        nullable=False,
        server_default="1",
    )


def _create_index(name, columns):
    partial = {}
    if name == "ix_article_picture_order":
        partial = {"sqlite_where": PICTURE_WHERE, "postgresql_where": PICTURE_WHERE}
    op.create_index(name, "article", columns, unique=False, **partial)


def upgrade():
    site = op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("host", sa.String(253), nullable=False, server_default=""),
        sa.Column("path_prefix", sa.String(60), nullable=False, server_default=""),
        sa.Column("bureau", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("host", "path_prefix", name=op.f("uq_site_host")),
    )
    connection = op.get_bind()
    name = connection.scalar(
        sa.text("SELECT value FROM setting WHERE key = 'school_name'")
    )
    op.bulk_insert(
        site,
        [
            {
                "id": 1,
                "name": (name or "").strip()[:100] or "SchoolNews",
                "host": "",
                "path_prefix": "",
                "bureau": False,
                "active": True,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('site', 'id'), 1)")
        )

    for table, unique in OWNED.items():
        if table in COPIED:
            _add_with_copy(table, unique)
        else:
            # A plain ADD COLUMN: copying these tables on SQLite would turn
            # their other columns' foreign keys into table constraints, which
            # earlier migrations' DROP COLUMN cannot get past on the way back.
            _add_in_place(table)

    for index, columns in ARTICLE_INDEXES.items():
        op.drop_index(index, table_name="article")
        _create_index(index, [*columns, "site_id"])


def _add_in_place(table):
    if op.get_bind().dialect.name != "sqlite":
        op.add_column(table, _site_column(table))
        return
    # Alembic cannot add a foreign key to an SQLite table without copying
    # it; SQLite itself takes one written into the column.
    op.execute(
        f'ALTER TABLE "{table}" ADD COLUMN site_id INTEGER DEFAULT 1 NOT NULL'
        f" CONSTRAINT fk_{table}_site_id_site REFERENCES site (id)"
    )


def _add_with_copy(table, unique):
    with op.batch_alter_table(table) as batch:
        batch.add_column(_site_column(table))
        if unique:
            old, columns = unique
            batch.drop_constraint(old, type_="unique")
            batch.create_unique_constraint(f"uq_{table}_site_id", ["site_id", *columns])
        if table == "setting":
            batch.drop_constraint("pk_setting", type_="primary")
            batch.create_primary_key("pk_setting", ["site_id", "key"])


def downgrade():
    connection = op.get_bind()
    if connection.scalar(sa.text("SELECT count(*) FROM site")) > 1:
        raise RuntimeError(
            "This database holds several sites; the previous release holds one. "
            "Export each school's site first, then go back with one site."
        )
    for index, columns in ARTICLE_INDEXES.items():
        op.drop_index(index, table_name="article")
        _create_index(index, columns)
    for table, unique in reversed(OWNED.items()):
        if table not in COPIED:
            if connection.dialect.name != "sqlite":  # SQLite's goes with it
                op.drop_constraint(f"fk_{table}_site_id_site", table, "foreignkey")
            op.drop_column(table, "site_id")
            continue
        with op.batch_alter_table(table) as batch:
            if table == "setting":
                batch.drop_constraint("pk_setting", type_="primary")
                batch.create_primary_key("pk_setting", ["key"])
            if unique:
                old, columns = unique
                batch.drop_constraint(f"uq_{table}_site_id", type_="unique")
                batch.create_unique_constraint(old, columns)
            batch.drop_constraint(f"fk_{table}_site_id_site", type_="foreignkey")
            batch.drop_column("site_id")
    op.drop_table("site")
