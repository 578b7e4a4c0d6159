"""Alembic environment, run through Flask-Migrate inside the app context."""

import importlib
import logging
import sys

from alembic import context
from flask import current_app

# Landed migrations import two modules by their names from before the layout
# move (0002: sanitize, 0008: search). They are never edited, so while they
# run those names stand for the modules' new homes.
for _old, _new in (("sanitize", "newsroom.sanitize"), ("search", "reader.search")):
    sys.modules.setdefault(_old, importlib.import_module(_new))

config = context.config
logger = logging.getLogger("alembic.env")
target_db = current_app.extensions["migrate"].db


def run_migrations_offline():
    """Emit SQL for the configured database URL without connecting."""
    url = target_db.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def include_name(name, type_, parent_names):
    # The search index's FTS5 tables are made by SQL in their migration, not
    # by the models: autogenerate must not drop them.
    from reader import search

    return not (type_ == "table" and search.is_index_table(name))


def run_migrations_online():
    def skip_empty_autogenerate(context, revision, directives):
        # `flask db migrate` with no model change should not write an empty file.
        if getattr(config.cmd_opts, "autogenerate", False):
            if directives[0].upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty_autogenerate)
    conf_args.setdefault("include_name", include_name)
    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table's constraints by copying it to a new
            # one; its own procedure for that turns foreign keys off (a
            # no-op inside a transaction, so before it) and checks them after.
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()  # else Alembic joins that and never commits
        context.configure(
            connection=connection, target_metadata=target_db.metadata, **conf_args
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"foreign keys broken by a migration: {broken}")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
