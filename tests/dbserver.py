"""Which database engine the tests run on.

SQLite files by default (`make test`). With SCHOOLNEWS_TEST_POSTGRESQL set
to a server URL (`make test-postgresql` sets postgresql+psycopg://postgres@
127.0.0.1:5432/), every test's database is a real PostgreSQL database
instead: each test process builds its templates once and each test gets a
copy (CREATE DATABASE … TEMPLATE), dropped when the test ends.

Database names carry the test process's pid, so two runs at once never
touch each other's, and a run that was killed leaves nothing behind for
long: the next run drops databases whose process is gone.
"""

import hashlib
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

SERVER = os.environ.get("SCHOOLNEWS_TEST_POSTGRESQL", "").strip()
ON_POSTGRESQL = bool(SERVER)
PREFIX = f"sn_{os.getpid()}_"

# Marks a test about SQLite itself (its files, WAL, pragmas, triggers as
# SQLite writes them): skipped on PostgreSQL, where its counterpart says so.
sqlite_only = pytest.mark.skipif(
    ON_POSTGRESQL,
    reason="about SQLite's own files; the PostgreSQL case is tested apart",
)
postgresql_only = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="PostgreSQL only: run with make test-postgresql"
)


def _server_url(database: str = "postgres") -> sa.URL:
    return sa.make_url(SERVER).set(database=database)


_admin = None


def _admin_engine() -> sa.Engine:
    global _admin
    if _admin is None:
        _admin = sa.create_engine(
            _server_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
    return _admin


def database_url(folder, name: str = "test") -> str:
    """The URL of the test's database called `name`, kept in `folder`'s name."""
    if not ON_POSTGRESQL:
        return f"sqlite:///{folder / f'{name}.sqlite3'}"
    digest = hashlib.sha1(f"{folder}/{name}".encode()).hexdigest()[:16]
    return _server_url(PREFIX + digest).render_as_string(hide_password=False)


def create(url: str, template: str | None = None) -> None:
    """Create the (empty, or copied from `template`'s) PostgreSQL database."""
    name = sa.make_url(url).database
    sql = f'CREATE DATABASE "{name}"'
    if template:
        sql += f' TEMPLATE "{sa.make_url(template).database}"'
    with _admin_engine().connect() as connection:
        connection.exec_driver_sql(sql)


def drop(url: str) -> None:
    name = sa.make_url(url).database
    with _admin_engine().connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_left_behind() -> None:
    """Drop the databases of test processes that no longer run."""
    with _admin_engine().connect() as connection:
        names = connection.execute(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE :like"),
            {"like": "sn\\_%"},
        ).scalars()
        for name in list(names):
            pid = name.split("_")[1]
            if pid.isdigit() and not _running(int(pid)):
                connection.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )


def drop_own() -> None:
    with _admin_engine().connect() as connection:
        names = connection.execute(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE :like"),
            {"like": PREFIX.replace("_", "\\_") + "%"},
        ).scalars()
        for name in list(names):
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
