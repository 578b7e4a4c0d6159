"""Move a SQLite site's database into an empty PostgreSQL database.

The schema comes from the migrations (so alembic_version is right and the
PostgreSQL-only parts, such as the ledger's triggers, are there); the rows
are copied table by table in foreign-key order from one read transaction
of the SQLite file, so the copy is one consistent moment even while the
site runs. Every table is then checked: row count and a checksum computed
the same way from both databases' rows. Uploads stay where they are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.pool import NullPool

from models import db
from reader import search

BATCH = 2000
DRIVER = "postgresql+psycopg"
# Tables that are not data: SQLite's own, and Alembic's (made by the migrations).
NOT_COPIED = {"sqlite_sequence", "sqlite_stat1", "sqlite_stat4", "alembic_version"}


class MigrationError(Exception):
    """Something the person running the command can fix; the message says how."""


@dataclass
class TableCheck:
    name: str
    source_rows: int
    target_rows: int = -1
    source_sum: str = ""
    target_sum: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.source_rows == self.target_rows and self.source_sum == self.target_sum
        )


@dataclass
class Result:
    url: sa.URL
    revision: str
    checks: list[TableCheck] = field(default_factory=list)
    indexed: int = 0
    search: str = ""
    search_error: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


# --- The target ------------------------------------------------------------------


def target_url(raw: str) -> sa.URL:
    """The PostgreSQL URL to write to, with the psycopg (3) driver."""
    example = "postgresql://user:password@127.0.0.1:5432/schoolnews"
    try:
        url = sa.make_url(raw.strip())
    except sa.exc.ArgumentError:
        raise MigrationError(
            f"{raw!r} is not a database URL. Give one like {example}"
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgres":  # the spelling Heroku and others print
        backend, driver = "postgresql", ""
    if backend != "postgresql":
        raise MigrationError(
            f"The target must be a PostgreSQL database ({example}), not {backend}."
        )
    if driver not in ("", "psycopg"):
        raise MigrationError(
            f"SchoolNews talks to PostgreSQL through psycopg 3: write the URL as "
            f"postgresql://… or postgresql+psycopg://…, not postgresql+{driver}://…"
        )
    if not url.database:
        raise MigrationError(
            f"The URL names no database: end it with /name ({example})."
        )
    return url.set(drivername=DRIVER)


def shown(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _engine(url: sa.URL) -> sa.Engine:
    try:
        return sa.create_engine(
            url, poolclass=NullPool, connect_args={"connect_timeout": 10}
        )
    except ModuleNotFoundError:
        raise MigrationError(
            "The PostgreSQL driver psycopg is not installed: run "
            "`.venv/bin/pip install -r requirements.txt` first."
        ) from None


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return " ".join(text.split())


def _why_not_connected(url: sa.URL, error: Exception) -> MigrationError:
    """Tell a missing database (createdb) from a server that cannot be reached."""
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    try:
        with _engine(url.set(database="postgres")).connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            )
    except sa.exc.DBAPIError:
        exists = None  # the server, or its maintenance database, is out of reach
    if exists is None and f'database "{url.database}" does not exist' in str(error):
        exists = False
    if exists is False:
        options = f"-h {url.host or 'localhost'} -p {url.port or 5432}"
        owner = url.username or "postgres"
        return MigrationError(
            f"The database {url.database!r} does not exist on {where}. Create it "
            f"first (empty), for example: createdb {options} -U postgres "
            f"-O {owner} {url.database}"
        )
    return MigrationError(
        f"Cannot connect to PostgreSQL at {where} as "
        f"{url.username or 'the default user'}: {_first_line(error)}"
    )


def check_target(url: sa.URL) -> None:
    """Refuse a database that cannot be reached, has tables, or is read-only to us."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                sa.text(
                    "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
                    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                    " AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1"
                )
            ).scalars()
            tables = list(tables)
            encoding = connection.scalar(sa.text("SHOW server_encoding"))
            may_create = connection.scalar(
                sa.text(
                    "SELECT current_schema() IS NOT NULL"
                    " AND has_schema_privilege(current_schema(), 'CREATE')"
                )
            )
    except sa.exc.DBAPIError as error:
        raise _why_not_connected(url, error) from None
    finally:
        engine.dispose()
    if tables:
        listed = ", ".join(tables[:5]) + (" …" if len(tables) > 5 else "")
        raise MigrationError(
            f"The database {url.database!r} is not empty: it has {len(tables)} "
            f"tables ({listed}). The copy goes only into an empty database: "
            f"create a new one with createdb, or empty this one "
            f"(dropdb {url.database} && createdb {url.database})."
        )
    if encoding.upper() not in ("UTF8", "UTF-8"):
        # Chinese text cannot be stored in SQL_ASCII or LATIN1.
        raise MigrationError(
            f"The database {url.database!r} stores text as {encoding}, not UTF8. "
            f"Create it again with: createdb -E UTF8 -T template0 {url.database}"
        )
    if not may_create:
        raise MigrationError(
            f"The user {url.username!r} may not create tables in {url.database!r}. "
            f"Make it the database's owner: ALTER DATABASE {url.database} "
            f"OWNER TO {url.username};"
        )


def create_schema(url: sa.URL, migrations: str) -> str:
    """Run every migration on the target; its revision afterwards."""
    from flask import Flask
    from flask_migrate import Migrate, upgrade  # not loaded by server processes

    # A bare app of its own: the migrations read the database from the
    # current app, and the site's own app must stay on SQLite meanwhile.
    app = Flask(__name__, instance_path=current_app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = url.render_as_string(hide_password=False)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"poolclass": NullPool}
    db.init_app(app)
    Migrate(app, db, directory=migrations, render_as_batch=True)
    with app.app_context():
        try:
            upgrade()
        except (sa.exc.DBAPIError, SystemExit) as error:
            raise MigrationError(
                "Creating the tables with the migrations failed: "
                f"{_first_line(error)}. The database {url.database!r} may now "
                "hold part of them: empty it before trying again."
            ) from None
        finally:
            db.engine.dispose()
    with _engine(url).connect() as connection:
        return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def head_revisions(migrations: str) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(migrations).get_heads())


# --- Checksums -------------------------------------------------------------------


def _plain(value):
    """A value as JSON, the same whichever database it was read from."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return "datetime:" + value.isoformat()
    if isinstance(value, date):
        return "date:" + value.isoformat()
    if isinstance(value, bytes | memoryview):
        return "bytes:" + bytes(value).hex()
    return f"{type(value).__name__}:{value}"


class Checksum:
    """sha256 over a table's rows in primary-key order, whatever order they came in.

    Sorted here, not by ORDER BY: the two databases sort text keys
    (setting.key) by different collations.
    """

    def __init__(self, table: sa.Table):
        self.names = [column.name for column in table.columns]
        self.key = [column.name for column in table.primary_key.columns]
        self.rows: list[tuple] = []

    def add(self, row: dict) -> None:
        values = [_plain(row[name]) for name in self.names]
        line = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(line.encode()).digest()
        key = tuple(_plain(row[name]) for name in self.key)
        self.rows.append((key, digest))

    def hexdigest(self) -> str:
        total = hashlib.sha256()
        for _key, digest in sorted(self.rows):
            total.update(digest)
        return total.hexdigest()


def table_checksum(connection: sa.Connection, table: sa.Table) -> tuple[int, str]:
    """(rows, checksum) of a table as this connection reads it."""
    checksum = Checksum(table)
    result = connection.execute(
        sa.select(table).execution_options(yield_per=BATCH)
    ).mappings()
    for row in result:
        checksum.add(row)
    return len(checksum.rows), checksum.hexdigest()


def verify(source: sa.Connection, target: sa.Connection) -> list[TableCheck]:
    """Compare every copied table's count and checksum in the two databases."""
    checks = []
    for table in copied_tables():
        rows, digest = table_checksum(source, table)
        check = TableCheck(table.name, rows, source_sum=digest)
        check.target_rows, check.target_sum = table_checksum(target, table)
        checks.append(check)
    return checks


# --- The copy --------------------------------------------------------------------


def copied_tables() -> list[sa.Table]:
    """The models' tables, parents before children."""
    return [t for t in db.metadata.sorted_tables if not search.is_index_table(t.name)]


def _late_columns(table: sa.Table, before: set[str]) -> list[sa.Column]:
    """Foreign keys to rows not copied yet (a cycle, or the table itself).

    PostgreSQL checks a foreign key at once, so these go in as NULL and are
    filled in once every table is there.
    """
    late = []
    for column in table.columns:
        if any(fk.column.table.name not in before for fk in column.foreign_keys):
            if not column.nullable:
                raise MigrationError(
                    f"{table.name}.{column.name} refers to a table copied after "
                    "it and cannot be left empty meanwhile."
                )
            late.append(column)
    return late


def _checked(table: sa.Table, row: dict) -> dict:
    """Refuse, with where it is, a value PostgreSQL would refuse."""
    for column in table.columns:
        value = row[column.name]
        if not isinstance(value, str):
            continue
        problem = None
        if "\x00" in value:
            problem = "contains a NUL character, which PostgreSQL text cannot hold"
        length = getattr(column.type, "length", None)
        if length and len(value) > length:
            problem = f"is {len(value)} characters long, the column holds {length}"
        if problem:
            key = ", ".join(f"{c.name}={row[c.name]}" for c in table.primary_key)
            raise MigrationError(
                f"{table.name} ({key}): {column.name} {problem}. Correct it on "
                "the SQLite site and run the command again."
            )
    return row


def _source_tables(source: sa.Connection) -> dict[str, set[str]]:
    names = source.execute(
        sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")
    ).scalars()
    return {
        name: {row[1] for row in source.exec_driver_sql(f'PRAGMA table_info("{name}")')}
        for name in list(names)
    }


def check_source(source: sa.Connection, heads: set[str]) -> list[str]:
    """Refuse a database older than the code; the tables that are not copied."""
    tables = _source_tables(source)
    if "alembic_version" in tables:
        revision = source.scalar(sa.text("SELECT version_num FROM alembic_version"))
        if revision not in heads:
            raise MigrationError(
                f"The SQLite database is at migration {revision}, this version of "
                f"SchoolNews at {', '.join(sorted(heads))}: upgrade it first with "
                "`flask --app app init-db`."
            )
    for table in copied_tables():
        missing = [
            c.name for c in table.columns if c.name not in tables.get(table.name, ())
        ]
        if missing:
            raise MigrationError(
                f"The SQLite database lacks {table.name}."
                f"{', '.join(missing)}: upgrade it first with "
                "`flask --app app init-db`."
            )
    known = {t.name for t in db.metadata.sorted_tables} | NOT_COPIED
    return sorted(
        name for name in tables if name not in known and not search.is_index_table(name)
    )


def _high_water(source: sa.Connection) -> dict[str, int]:
    """Ids already handed out per table, beyond what max(id) shows."""
    marks: dict[str, int] = {}
    tables = source.execute(
        sa.text("SELECT name FROM sqlite_master WHERE type = 'table'")
    ).scalars()
    if "sqlite_sequence" in set(tables):  # AUTOINCREMENT tables' own counters
        for name, seq in source.execute(
            sa.text("SELECT name, seq FROM sqlite_sequence")
        ):
            marks[name] = int(seq or 0)
    # Archived audit events are deleted, and their ids must not come back.
    archived = source.scalar(
        sa.text("SELECT max(archived_through_id) FROM audit_chain")
    )
    marks["audit_event"] = max(marks.get("audit_event", 0), int(archived or 0))
    return marks


def copy_tables(
    source: sa.Connection, target: sa.Connection, log: Callable[[str], None]
) -> list[TableCheck]:
    """Copy every table's rows; each table's count and checksum as read."""
    checks, copied = [], set()
    fill_in: list[tuple[sa.Table, list[sa.Column], list[dict]]] = []
    # The migrations seed a few rows (the audit chain's head): the site's
    # own take their place.
    for table in reversed(copied_tables()):
        target.execute(sa.delete(table))
    for table in copied_tables():
        total = source.scalar(sa.select(sa.func.count()).select_from(table))
        late = _late_columns(table, copied)
        # An UPDATE would set updated_at (onupdate) to now: keep the copied one.
        kept = late + [c for c in table.columns if c.onupdate and c not in late]
        key = list(table.primary_key.columns)
        checksum = Checksum(table)
        later: list[dict] = []
        done = 0
        result = source.execute(
            sa.select(table).order_by(*key).execution_options(yield_per=BATCH)
        ).mappings()
        for part in result.partitions(BATCH):
            rows = []
            for row in part:
                row = _checked(table, dict(row))
                checksum.add(row)
                if late and any(row[c.name] is not None for c in late):
                    later.append(
                        {f"k_{c.name}": row[c.name] for c in key}
                        | {f"v_{c.name}": row[c.name] for c in kept}
                    )
                    row = row | {c.name: None for c in late}
                rows.append(row)
            try:
                target.execute(table.insert(), rows)
            except sa.exc.DBAPIError as error:
                raise MigrationError(
                    f"PostgreSQL refused a row of {table.name}: {_first_line(error)}"
                ) from None
            done += len(rows)
            if done < total:
                log(f"  {table.name}: {done:,} / {total:,}")
        log(f"  {table.name}: {done:,} rows")
        copied.add(table.name)
        checks.append(TableCheck(table.name, done, source_sum=checksum.hexdigest()))
        if later:
            fill_in.append((table, kept, later))
    for table, late, later in fill_in:
        statement = (
            sa.update(table)
            .where(*(c == sa.bindparam(f"k_{c.name}") for c in table.primary_key))
            .values({c.name: sa.bindparam(f"v_{c.name}") for c in late})
        )
        try:
            target.execute(statement, later)
        except sa.exc.DBAPIError as error:
            raise MigrationError(
                f"PostgreSQL refused a reference in {table.name}: {_first_line(error)}"
            ) from None
    return checks


def set_sequences(target: sa.Connection, high_water: dict[str, int]) -> int:
    """Start every id sequence after the highest id copied; how many were set."""
    rows = target.execute(
        sa.text(
            "SELECT table_name, column_name, pg_get_serial_sequence("
            "quote_ident(table_schema) || '.' || quote_ident(table_name), column_name)"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
        )
    ).all()
    count = 0
    for table, column, sequence in rows:
        if sequence is None:
            continue
        quoted = target.dialect.identifier_preparer.quote
        highest = target.scalar(
            sa.text(f"SELECT max({quoted(column)}) FROM {quoted(table)}")
        )
        highest = max(int(highest or 0), high_water.get(table, 0))
        # setval(…, 1, false): the next id is 1, as in a new database.
        target.execute(
            sa.text("SELECT setval(:sequence, :value, :called)"),
            {"sequence": sequence, "value": max(highest, 1), "called": highest > 0},
        )
        count += 1
    return count


def migrate(
    source_engine: sa.Engine,
    url: sa.URL,
    migrations: str,
    log: Callable[[str], None],
) -> Result:
    """Copy the site's SQLite database into the empty PostgreSQL one at `url`."""
    if source_engine.dialect.name != "sqlite":
        raise MigrationError(
            f"This site's database is {source_engine.dialect.name}, not SQLite: "
            "there is nothing to move."
        )
    if source_engine.url.database in (None, "", ":memory:"):
        raise MigrationError("This site's SQLite database is in memory, not a file.")
    if not Path(source_engine.url.database).is_file():
        raise MigrationError(
            f"There is no database at {source_engine.url.database}: nothing to move."
        )
    check_target(url)
    heads = head_revisions(migrations)
    source_engine = sa.create_engine(source_engine.url, poolclass=NullPool)
    try:
        return _migrate(source_engine, url, migrations, heads, log)
    except sa.exc.DBAPIError as error:
        raise MigrationError(
            f"The copy stopped: {_first_line(error)}. Nothing changed on the SQLite "
            f"site; the database {url.database!r} may hold part of the copy: "
            "empty it before trying again."
        ) from None
    finally:
        source_engine.dispose()


def _migrate(source_engine, url, migrations, heads, log) -> Result:
    with source_engine.connect() as source:
        # One read transaction: every table as of the same moment (WAL keeps
        # it while the site writes on).
        source.exec_driver_sql("BEGIN")
        skipped = check_source(source, heads)
        high_water = _high_water(source)

        log("Creating the tables with the migrations ...")
        revision = create_schema(url, migrations)
        result = Result(url, revision, skipped=skipped)
        target_engine = _engine(url)
        try:
            log("Copying the rows ...")
            with target_engine.begin() as target:
                sources = copy_tables(source, target, log)
                sequences = set_sequences(target, high_water)
            log(f"Set {sequences} id sequences after the highest ids.")
            log("Checking every table in PostgreSQL ...")
            with target_engine.connect() as target:
                for check in sources:
                    table = db.metadata.tables[check.name]
                    check.target_rows, check.target_sum = table_checksum(target, table)
            result.checks = sources
            posts = next(c.source_rows for c in sources if c.name == "article")
            # The longest step on PostgreSQL, and it says nothing until done.
            log(f"Rebuilding the search index of {posts:,} posts (the slow step) ...")
            try:
                with target_engine.begin() as target:
                    result.search = search.backend_for(target).name
                    result.indexed = search.rebuild(target)
            except sa.exc.DBAPIError as error:
                # The rows stand (committed and checked): `flask reindex`
                # on the moved site can build it later.
                result.search_error = _first_line(error)
        finally:
            target_engine.dispose()
        source.rollback()
    return result


def config_line(url: sa.URL) -> str:
    return f"SQLALCHEMY_DATABASE_URI = {url.render_as_string(hide_password=False)!r}"


def config_path(instance_path: str) -> Path:
    return Path(instance_path) / "config.py"


# --- The command -----------------------------------------------------------------


def _migrations_folder() -> str:
    migrate = current_app.extensions.get("migrate")
    if migrate is not None:
        return str(migrate.directory)
    return str(Path(current_app.root_path) / "migrations")


def _print_checks(checks: list[TableCheck]) -> None:
    width = max(len("Table"), *(len(check.name) for check in checks))
    click.echo(f"{'Table':<{width}}  {'SQLite':>9}  {'PostgreSQL':>10}  Checksum")
    for check in checks:
        verdict = "OK" if check.ok else "MISMATCH"
        click.echo(
            f"{check.name:<{width}}  {check.source_rows:>9,}  "
            f"{check.target_rows:>10,}  {verdict}"
        )


@click.command("migrate-to-postgresql")
@click.argument("url")
@with_appcontext
def migrate_to_postgresql_command(url):
    """Copy this SQLite site into the empty PostgreSQL database at URL.

    URL is like postgresql://user:password@127.0.0.1:5432/schoolnews; create
    the database first (createdb). The SQLite site is only read, and the
    uploads stay where they are.
    """
    try:
        target = target_url(url)
        source = db.engine
        click.echo(f"Copying {source.url.database} into {shown(target)}.")
        click.echo(
            "Writes made on the site during the copy are not moved: stop the "
            "editor (or the whole site) first."
        )
        result = migrate(source, target, _migrations_folder(), click.echo)
    except MigrationError as error:
        raise click.ClickException(str(error)) from None
    for name in result.skipped:
        click.echo(f"Not copied: the table {name} is not part of SchoolNews.")
    if not result.search_error:
        click.echo(f"Search index rebuilt ({result.search}): {result.indexed:,} posts.")
    _print_checks(result.checks)
    if not result.ok:
        bad = [check.name for check in result.checks if not check.ok]
        raise click.ClickException(
            f"The copy differs from the SQLite database in {', '.join(bad)}. "
            "Do not switch the site over; empty the PostgreSQL database and run "
            "the command again with the editor stopped."
        )
    click.echo(f"All {len(result.checks)} tables match (migration {result.revision}).")
    click.echo(
        f"Now put this line in {config_path(current_app.instance_path)} "
        "(replacing any SQLALCHEMY_DATABASE_URI there) and restart the site:"
    )
    click.echo(f"    {config_line(result.url)}")
    if result.search_error:
        raise click.ClickException(
            f"The search index could not be rebuilt: {result.search_error}. "
            "Readers' search finds nothing until it is: after the restart, run "
            "`flask --app app reindex`."
        )
