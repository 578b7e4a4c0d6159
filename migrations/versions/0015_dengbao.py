"""等保 2.0: separated management roles, password policy, second factor,
per-device sessions, and an audit log with source address, outcome and a
hash chain

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 08:00:00

"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Plain ADD COLUMN: SQLite refuses the batch copy of referenced tables.
NEW_COLUMNS = [
    (
        "user",
        sa.Column(
            "security_admin", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    ),
    (
        "user",
        sa.Column(
            "audit_admin", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    ),
    (
        "user",
        sa.Column(
            "must_change_password",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    ),
    ("user", sa.Column("password_changed_at", sa.DateTime(), nullable=True)),
    ("user", sa.Column("totp_secret", sa.String(64), nullable=True)),
    ("user", sa.Column("totp_enabled_at", sa.DateTime(), nullable=True)),
    ("user", sa.Column("totp_last_step", sa.Integer(), nullable=True)),
    (
        "audit_event",
        sa.Column("ip", sa.String(45), nullable=False, server_default=""),
    ),
    (
        "audit_event",
        sa.Column("outcome", sa.String(10), nullable=False, server_default="success"),
    ),
    (
        "audit_event",
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    ),
    (
        "audit_event",
        sa.Column("hash", sa.String(64), nullable=False, server_default=""),
    ),
]

AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
    " WHEN old.id > (SELECT coalesce(max(archived_through_id), 0) FROM audit_chain)"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)


def _event_hash(previous, row):
    # Frozen copy of core/audit.event_hash as of this migration.
    parts = (
        previous,
        row.created_at.isoformat(sep=" ", timespec="microseconds"),
        str(row.user_id or ""),
        row.action,
        row.target or "",
        "",  # ip: unknown for events before this migration
        "success",
        "",
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _user_key(table):
    return sa.ForeignKeyConstraint(
        ["user_id"],
        ["user.id"],
        name=op.f(f"fk_{table}_user_id_user"),
        ondelete="CASCADE",
    )


def upgrade():
    for table, column in NEW_COLUMNS:
        op.add_column(table, column)
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"])
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("archived_through_id", sa.Integer(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified_ok", sa.Boolean(), nullable=True),
        sa.Column("verified_note", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sa.Column("remembered", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=False),
        _user_key("user_session"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("key", name=op.f("uq_user_session_key")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"])
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _user_key("password_history"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(
        op.f("ix_password_history_user_id"), "password_history", ["user_id"]
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(256), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        _user_key("recovery_code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"])

    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    user = sa.table(
        "user",
        sa.column("role", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("security_admin", sa.Boolean),
        sa.column("audit_admin", sa.Boolean),
        sa.column("password_changed_at", sa.DateTime),
    )
    # Passwords age from the upgrade: an expiry policy switched on later
    # must not expire everyone at once.
    op.execute(user.update().values(password_changed_at=now))
    # Every administrator keeps all it could do: it now holds the three
    # management roles, which only 单人模式 allows. The site starts in that
    # mode and the self-assessment reports it until the roles are split.
    admins = bind.execute(
        user.update()
        .where(user.c.role == "admin")
        .values(security_admin=True, audit_admin=True)
    ).rowcount
    setting = sa.table(
        "setting", sa.column("key", sa.String), sa.column("value", sa.Text)
    )
    if admins:
        op.execute(setting.delete().where(setting.c.key == "single_admin"))
        op.bulk_insert(setting, [{"key": "single_admin", "value": "1"}])

    # Chain the events already in the log, oldest first.
    event = sa.table(
        "audit_event",
        sa.column("id", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("user_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("target", sa.String),
        sa.column("hash", sa.String),
    )
    head, length = "", 0
    rows = bind.execute(sa.select(event).order_by(event.c.id)).all()
    for row in rows:
        head = _event_hash(head, row)
        length += 1
        bind.execute(event.update().where(event.c.id == row.id).values(hash=head))
    chain = sa.table(
        "audit_chain",
        *(
            sa.column(name)
            for name in (
                "id",
                "head_hash",
                "length",
                "archived_through_id",
                "anchor_hash",
                "verified_note",
            )
        ),
    )
    op.bulk_insert(
        chain,
        [
            {
                "id": 1,
                "head_hash": head,
                "length": length,
                "archived_through_id": 0,
                "anchor_hash": "",
                "verified_note": "",
            }
        ],
    )
    if bind.dialect.name == "sqlite":
        for trigger in AUDIT_TRIGGERS:
            op.execute(trigger)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    op.drop_table("recovery_code")
    op.drop_table("password_history")
    op.drop_table("user_session")
    op.drop_table("audit_chain")
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    for table, column in reversed(NEW_COLUMNS):
        op.drop_column(table, column.name)
    setting = sa.table("setting", sa.column("key", sa.String))
    op.execute(setting.delete().where(setting.c.key == "single_admin"))
