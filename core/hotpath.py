"""Run the few statements every reader request needs on connections kept aside.

A cached page costs a few tiny statements (the cache version; for a counted
view, the article's count and its day's total in one transaction). Through
SQLAlchemy's pool and execution layers each costs 100-270 µs; on a DBAPI
connection kept by the thread, 10-70 µs (measured here, see
bench/RESULTS.md). The statements are still written once as SQLAlchemy text
and compiled for the database in use, so another database works unchanged.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager, nullcontext

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

try:
    import fcntl
except ImportError:  # Windows: waitress serves from one process, threads only
    fcntl = None


class WriteLock:
    """Take turns writing to one SQLite file, across threads and processes.

    SQLite makes a blocked writer sleep and retry (1, 2, 5, 10 … ms): with
    two processes counting thousands of views a second, the unlucky ones
    retried for half a second. A blocking file lock queues them in the
    kernel instead, which wakes the next writer the moment the lock is free.
    """

    def __init__(self, path: str):
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd = None

    def _file(self) -> int | None:
        # Opened on the first write, not at start: the app must start (and
        # say what is wrong) even when the database folder is not there yet.
        if self._fd is None and fcntl is not None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return None  # SQLite's own locking still keeps writes safe
        return self._fd

    def __enter__(self):
        self._thread_lock.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            # Interrupted while waiting (Ctrl+C): the next writer, the final
            # flush on the way out, must not wait for this lock forever.
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()
        return False


class Statement:
    """A text statement compiled once for one dialect."""

    def __init__(self, dialect, text: str):
        compiled = sa.text(text).compile(dialect=dialect)
        self.text = text
        self.sql = str(compiled)
        self.names = compiled.positiontup if dialect.positional else None

    def params(self, values: dict):
        if self.names is None:
            return values
        return tuple(values[name] for name in self.names)


_checkpointer_lock = threading.Lock()
# Connections a HotPath opens at most (the GIL runs one thread at a time).
MAX_CONNECTIONS = 4


class Checkpointer(threading.Thread):
    """Moves the WAL into the database file every few seconds, off requests.

    PASSIVE never blocks readers or writers; SQLite releases the GIL while it
    copies and syncs, so the request thread keeps serving meanwhile.
    """

    INTERVAL = 2.0

    def __init__(self, engine: sa.Engine):
        super().__init__(name="sqlite-checkpointer", daemon=True)
        self.engine = engine
        self.stopped = threading.Event()

    def run(self) -> None:
        connection = None
        while not self.stopped.wait(self.INTERVAL):
            try:
                if connection is None:
                    connection = self.engine.raw_connection()
                cursor = connection.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.close()
            except Exception:  # noqa: BLE001 - try again next round
                connection = None
        if connection is not None:
            connection.close()


def _first_row(connection, stmt: Statement, values: dict):
    cursor = connection.cursor()
    try:
        cursor.execute(stmt.sql, stmt.params(values))
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


class HotPath:
    """DBAPI connections to the app's database, kept for the next request.

    A list of idle ones rather than one per thread: the server starts and
    retires its threads, and a connection left to be collected with its
    thread was closed by the garbage collector while the thread was torn
    down, which crashed a worker at exit (issue 19).
    """

    def __init__(self, url):
        # Its own engine without a pool limit: held connections must never
        # starve the app's pool (waitress runs 8 threads). The engine's
        # "connect" events still run (models.py sets SQLite's pragmas there).
        self.engine = sa.create_engine(url, poolclass=NullPool)
        self.dialect = self.engine.dialect
        database = self.engine.url.database
        sqlite_file = self.dialect.name == "sqlite" and database not in (
            None,
            "",
            ":memory:",
        )
        # Other databases queue row locks fairly by themselves.
        self._write_lock = WriteLock(f"{database}.lock") if sqlite_file else None
        self._idle: list = []  # list.append and pop are atomic
        # Each SQLite connection holds its own caches (~0.5 MB): with dozens
        # of server threads, a few connections taken in turn will do.
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._statements: dict[str, Statement] = {}
        self._checkpointer = None
        self._sqlite_file = sqlite_file
        # psycopg begins a transaction before a connection's first statement
        # and keeps it until a commit: a kept connection that only read sat
        # «idle in transaction» on PostgreSQL, holding its tables' locks, so a
        # migration's ALTER TABLE (or a restore) waited for every idle server.
        # Reads run on their own (autocommit); writing() begins its own
        # transaction. SQLite's driver begins only before a write already.
        self._autocommit = self.dialect.name != "sqlite"

    def statement(self, text: str) -> Statement:
        stmt = self._statements.get(text)
        if stmt is None:
            stmt = self._statements[text] = Statement(self.dialect, text)
        return stmt

    def _acquire(self):
        self._slots.acquire()
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            return self._open()
        except BaseException:
            self._slots.release()
            raise

    def _release(self, connection) -> None:
        self._idle.append(connection)
        self._slots.release()

    def _open(self):
        connection = self.engine.raw_connection()
        if self._sqlite_file:
            # A commit that crosses the WAL threshold copies the log into
            # the database and waits for the disk: 10-700 ms on a reader's
            # request. Counting never does that; Checkpointer does it aside.
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
            # It reads one row at a time: a small page cache will do
            # (SQLite's default keeps 2 MB per connection).
            cursor.execute("PRAGMA cache_size = -256")
            cursor.close()
            self._start_checkpointer()
        if self._autocommit:
            self.dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
        return connection

    def _start_checkpointer(self) -> None:
        with _checkpointer_lock:
            if self._checkpointer is None:
                self._checkpointer = Checkpointer(self.engine)
                self._checkpointer.start()

    @contextmanager
    def _borrowed(self):
        """A connection for one use: kept for the next after, closed if it failed."""
        connection = self._acquire()
        try:
            yield connection
        except self.dialect.loaded_dbapi.Error:
            # A broken or locked connection is not reused; the next opens one.
            self._close(connection)
            self._slots.release()
            raise
        except BaseException:
            self._release(connection)
            raise
        self._release(connection)

    def run(self, text: str, commit: bool = False, **values):
        """Execute and return the first row (or None).

        With commit, the statement is a write of its own transaction, taken
        in turn with this machine's other writers (WriteLock).
        """
        if commit:
            with self.writing() as execute:
                return execute(text, **values)
        stmt = self.statement(text)
        try:
            with self._borrowed() as connection:
                return _first_row(connection, stmt, values)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._wrapped(stmt, values, error) from error

    @contextmanager
    def writing(self):
        """One write transaction of several statements, in turn with other writers.

        Yields execute(text, **values), which returns the first row (or
        None); commits when the block ends, rolls back if it raises.
        """
        current = None
        try:
            with self._borrowed() as connection, self._write_lock or nullcontext():

                def execute(text: str, **values):
                    nonlocal current
                    current = (self.statement(text), values)
                    return _first_row(connection, *current)

                if self._autocommit:
                    execute("BEGIN")
                try:
                    yield execute
                except BaseException:
                    self._end(connection, "ROLLBACK")
                    raise
                self._end(connection, "COMMIT")
        except self.dialect.loaded_dbapi.Error as error:
            stmt, values = current or (self.statement("COMMIT"), {})
            raise self._wrapped(stmt, values, error) from error

    def _end(self, connection, command: str) -> None:
        """Commit or roll back; in autocommit mode the driver's own calls may
        do nothing, so the transaction writing() began is ended in SQL."""
        if self._autocommit:
            _first_row(connection, self.statement(command), {})
        elif command == "COMMIT":
            connection.commit()
        else:
            connection.rollback()

    def _wrapped(self, stmt: Statement, values: dict, error) -> sa.exc.DBAPIError:
        return sa.exc.DBAPIError.instance(
            stmt.sql, values, error, self.dialect.loaded_dbapi.Error
        )

    @staticmethod
    def _close(connection) -> None:
        try:
            connection.rollback()
            connection.close()
        except Exception:  # noqa: BLE001 - already failing; the cause is raised
            pass

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stopped.set()
            self._checkpointer.join(timeout=5)
        while self._idle:
            self._close(self._idle.pop())
        self.engine.dispose()
