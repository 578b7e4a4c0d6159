"""The readers' kept connections: errors leave nothing half-done behind."""

import os
import shutil
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from core import hotpath
from core.hotpath import HotPath
from tests import dbserver


@pytest.fixture
def hot(tmp_path):
    """A HotPath on the test's database engine (make test-postgresql: PostgreSQL)."""
    url = dbserver.database_url(tmp_path, "hot")
    if dbserver.ON_POSTGRESQL:
        dbserver.create(url)
    hot = HotPath(url)
    hot.run("CREATE TABLE tally (day TEXT PRIMARY KEY, views INTEGER)", commit=True)
    yield hot
    hot.dispose()
    if dbserver.ON_POSTGRESQL:
        dbserver.drop(url)


def tally(hot):
    # Read on a kept connection, as requests do (group_concat is SQLite's own).
    sql = "SELECT day || '=' || views FROM tally ORDER BY day"
    with hot._borrowed() as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = [row[0] for row in cursor.fetchall()]
        cursor.close()
    return ",".join(rows) or None


def test_a_failing_statement_names_its_sql_and_the_next_call_works(hot):
    with pytest.raises(sa.exc.DBAPIError) as raised:
        hot.run("SELECT views FROM no_such_table WHERE day = :day", day="x")
    assert "no_such_table" in raised.value.statement
    assert hot.run("SELECT 1") == (1,)


def test_a_write_block_that_raises_writes_nothing(hot):
    with pytest.raises(RuntimeError):
        with hot.writing() as execute:
            execute("INSERT INTO tally VALUES (:day, 1)", day="03-01")
            raise RuntimeError("the request failed halfway")
    assert tally(hot) is None


def test_a_write_the_database_refuses_is_undone_whole(hot):
    hot.run("INSERT INTO tally VALUES ('03-01', 1)", commit=True)
    with pytest.raises(sa.exc.IntegrityError) as raised:
        with hot.writing() as execute:
            execute("INSERT INTO tally VALUES (:day, 1)", day="03-02")
            execute("INSERT INTO tally VALUES (:day, 1)", day="03-01")
    assert "INSERT INTO tally" in raised.value.statement
    assert tally(hot) == "03-01=1"


def test_failures_give_their_connection_back(hot):
    # At most MAX_CONNECTIONS are open: one kept after a failure would, in
    # a few failures, leave every later request waiting forever.
    def fail_many():
        for _ in range(3 * hotpath.MAX_CONNECTIONS):
            with pytest.raises(sa.exc.DBAPIError):
                hot.run("SELECT views FROM no_such_table")
            with pytest.raises(sa.exc.IntegrityError):
                with hot.writing() as execute:
                    execute("INSERT INTO tally VALUES ('d', 1)")
                    execute("INSERT INTO tally VALUES ('d', 1)")
            with pytest.raises(RuntimeError), hot.writing():
                raise RuntimeError("the request failed")
        done.append(hot.run("SELECT 1"))

    done = []
    thread = threading.Thread(target=fail_many, daemon=True)
    thread.start()
    thread.join(30)
    assert done == [(1,)]
    assert len(hot._idle) <= hotpath.MAX_CONNECTIONS


def test_a_read_leaves_no_transaction_open(hot):
    # A kept connection that only read must hold no lock on its tables: on
    # PostgreSQL one «idle in transaction» made a migration's ALTER TABLE (or
    # a restore) wait for every idle server process.
    hot.run("INSERT INTO tally VALUES ('03-01', 1)", commit=True)
    assert hot.run("SELECT views FROM tally WHERE day = :day", day="03-01") == (1,)
    other = sa.create_engine(hot.engine.url)
    try:
        with other.begin() as connection:
            if dbserver.ON_POSTGRESQL:
                connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            connection.exec_driver_sql("ALTER TABLE tally ADD COLUMN note TEXT")
    finally:
        other.dispose()
    assert hot.run("SELECT count(*) FROM tally") == (1,)


@dbserver.sqlite_only
def test_writes_go_on_when_the_lock_file_cannot_be_made(tmp_path):
    database = tmp_path / "hot.sqlite3"
    os.mkdir(f"{database}.lock")  # a folder where the lock file would go
    hot = HotPath(f"sqlite:///{database}")
    try:
        hot.run("CREATE TABLE tally (day TEXT, views INTEGER)", commit=True)
        hot.run("INSERT INTO tally VALUES ('03-01', 7)", commit=True)
        assert tally(hot) == "03-01=7"
    finally:
        hot.dispose()


def copied_rows(database, copy):
    """The tally in a copy of the database file alone, without its log."""
    shutil.copy(database, copy)
    try:
        with sqlite3.connect(copy) as connection:
            return connection.execute("SELECT * FROM tally").fetchall()
    except sqlite3.OperationalError:  # the table itself is still in the log
        return []
    finally:
        connection.close()


@dbserver.sqlite_only
def test_counted_views_reach_the_database_file_without_its_log(tmp_path, monkeypatch):
    # Requests never fold the write-ahead log into the file themselves; the
    # checkpointer does, so a copy of the file alone soon holds every view.
    monkeypatch.setattr(hotpath.Checkpointer, "INTERVAL", 0.05)
    database = tmp_path / "hot.sqlite3"
    hot = HotPath(f"sqlite:///{database}")
    try:
        hot.run("CREATE TABLE tally (day TEXT, views INTEGER)", commit=True)
        hot.run("INSERT INTO tally VALUES ('03-01', 42)", commit=True)
        deadline = time.monotonic() + 10
        while not (rows := copied_rows(database, tmp_path / "copy.sqlite3")):
            assert time.monotonic() < deadline, "the log was never checkpointed"
            time.sleep(0.05)
        assert rows == [("03-01", 42)]
    finally:
        hot.dispose()
