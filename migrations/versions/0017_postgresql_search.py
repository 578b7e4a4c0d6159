"""search on PostgreSQL: search_fts, the posts' tokens with a GIN index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 08:00:00

"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Written out here, not imported from reader/search.py: a migration stays as
# it landed while the code moves on (a change of the index ships its own).
CREATE = (
    "CREATE TABLE IF NOT EXISTS search_fts (id integer PRIMARY KEY,"
    " lexemes tsvector NOT NULL, title_uni text NOT NULL, title_bi text NOT NULL,"
    " body_uni text NOT NULL, body_bi text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS search_fts_lexemes ON search_fts USING gin (lexemes)",
)


def upgrade():
    # SQLite has had its FTS5 index since 0008.
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for statement in CREATE:
        op.execute(statement)
    from reader import search

    # The site searched by LIKE until now: its posts are found at once.
    search.rebuild(conn)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS search_fts")
    # search_doc is kept in step with search_fts only: LIKE never read it.
    op.execute("DELETE FROM search_doc")
