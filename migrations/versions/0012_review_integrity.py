"""review integrity: who changed the text in a round, versions decided on,
held attachments, and a ledger line for every text already online

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:00:00

"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Plain ADD COLUMN: SQLite refuses the batch copy of referenced tables.
NEW_COLUMNS = [
    (
        "article",
        sa.Column("review_writers", sa.String(500), nullable=False, server_default=""),
    ),
    (
        "review_event",
        sa.Column("final", sa.Boolean(), nullable=False, server_default=sa.false()),
    ),
    (
        "revision",
        sa.Column("version_hash", sa.String(64), nullable=False, server_default=""),
    ),
    (
        "upload",
        sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()),
    ),
    ("pending_text", sa.Column("section_id", sa.Integer(), nullable=True)),
    ("pending_text", sa.Column("cover_id", sa.Integer(), nullable=True)),
]


def _hash(title, summary, body_html, section_id, cover_id, attachment_ids):
    # Frozen copy of review.version_hash as of this migration.
    parts = (
        title or "",
        summary or "",
        body_html or "",
        str(section_id or ""),
        str(cover_id or ""),
        ",".join(str(i) for i in sorted(attachment_ids)),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _baseline_events(bind):
    """Every text online before versions were checked gets one ledger line,
    so check-ledger explains it (and only it) from now on."""
    article = sa.table(
        "article",
        *(
            sa.column(name)
            for name in (
                "id",
                "title",
                "summary",
                "body_html",
                "section_id",
                "cover_id",
                "status",
                "author_name",
            )
        ),
    )
    upload = sa.table(
        "upload", sa.column("id"), sa.column("article_id"), sa.column("kind")
    )
    event = sa.table(
        "review_event",
        *(
            sa.column(name)
            for name in (
                "created_at",
                "article_id",
                "article_title",
                "department",
                "author",
                "user_id",
                "user_name",
                "level",
                "decision",
                "reason",
                "version_hash",
                "final",
            )
        ),
    )
    files: dict[int, list[int]] = {}
    for upload_id, article_id in bind.execute(
        sa.select(upload.c.id, upload.c.article_id).where(
            upload.c.kind == "attachment", upload.c.article_id.is_not(None)
        )
    ):
        files.setdefault(article_id, []).append(upload_id)
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "created_at": now,
            "article_id": row.id,
            "article_title": (row.title or "")[:200],
            "department": "",
            "author": row.author_name or "",
            "user_id": None,
            "user_name": "",
            "level": 0,
            "decision": "baseline",
            "reason": "online before review versions were recorded",
            "version_hash": _hash(
                row.title,
                row.summary,
                row.body_html,
                row.section_id,
                row.cover_id,
                files.get(row.id, []),
            ),
            "final": True,
        }
        for row in bind.execute(
            sa.select(article).where(article.c.status == "published")
        )
    ]
    if rows:
        op.bulk_insert(event, rows)


def upgrade():
    for table, column in NEW_COLUMNS:
        op.add_column(table, column)
    op.create_table(
        "review_version",
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(500), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("cover_id", sa.Integer(), nullable=True),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version_hash", name=op.f("pk_review_version")),
    )
    _baseline_events(op.get_bind())


def downgrade():
    # The baseline ledger lines stay: the ledger is append-only.
    op.drop_table("review_version")
    for table, column in reversed(NEW_COLUMNS):
        op.drop_column(table, column.name)
