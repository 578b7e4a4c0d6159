"""站群: the reader lists' indexes lead with site_id

0019 put site_id last in the article listing indexes: they covered the
site filter, but a long list (the home page, the feeds, the sitemap) walked
every school's posts in date order and dropped the other schools' rows. With
site_id first, each school's posts are one range of the index, already in
listing order.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# The columns each listing index had after 0019, without site_id, which came
# last there and comes first here (see models.Article).
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


def _rebuild(site_first: bool):
    for name, columns in ARTICLE_INDEXES.items():
        partial = {}
        if name == "ix_article_picture_order":
            partial = {"sqlite_where": PICTURE_WHERE, "postgresql_where": PICTURE_WHERE}
        op.drop_index(name, table_name="article")
        ordered = ["site_id", *columns] if site_first else [*columns, "site_id"]
        op.create_index(name, "article", ordered, unique=False, **partial)


def upgrade():
    _rebuild(site_first=True)


def downgrade():
    _rebuild(site_first=False)
