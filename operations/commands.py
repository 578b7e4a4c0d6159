"""CLI: init-db, create-user, demo, thumbnails, reindex, backup, restore,
backup-drill, audit-verify, import-wordpress, import-dedecms, check-text,
check-ledger."""

import secrets
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from core import audit
from core.i18n import display_size
from core.sites import acting_for
from models import DEFAULT_SITE_ID, Role, Site, User, db, get_settings, set_setting
from operations import (
    backup,
    members,  # noqa: F401  (adds `sites add-member`)
    sitetree,
)
from operations.sites import sites_cli
from operations.topostgresql import migrate_to_postgresql_command
from review import compliance


def create_user(username: str, password: str, role: str, display_name: str = ""):
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        session_token=secrets.token_hex(8),
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database; create an admin account on first run."""
    from flask_migrate import upgrade  # not loaded by server processes

    is_new = not sa.inspect(db.engine).has_table("alembic_version")
    upgrade()
    if is_new:
        click.echo(f"Created the database {db.engine.url.database}.")
    else:
        click.echo("Database is up to date.")
    if db.session.scalar(sa.select(sa.func.count(User.id))) == 0:
        password = secrets.token_urlsafe(12)
        admin = create_user("admin", password, Role.ADMIN, "管理员")
        admin.needs_setup = True  # cleared by the first-run setup page
        # All three management roles until the setup shares them out
        # (admin/duties.py); nothing but the setup opens before that.
        admin.security_admin = admin.audit_admin = True
        sitetree.ensure_default_sections()
        db.session.commit()
        click.echo("Created the administrator account. Note this password now,")
        click.echo("it is shown only once:")
        click.echo(f"  username: admin   password: {password}")
        click.echo(
            "You will be asked to change it, to choose your own user name and who "
            "administers the site, and to enter the school's details, at the "
            "first login."
        )


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(Role.ALL), default=Role.AUTHOR, show_default=True
)
@click.option("--display-name", default="", help="Name shown to readers.")
@click.option(
    "--site",
    "site_id",
    type=int,
    default=DEFAULT_SITE_ID,
    show_default=True,
    help="The school's site (flask sites list) the account belongs to.",
)
@click.password_option(help="Asked for when not given.")
@with_appcontext
def create_user_command(username, role, display_name, site_id, password):
    """Create an account."""
    username = username.strip()
    if not username or len(username) > 64:
        raise click.ClickException("The username must be 1 to 64 characters.")
    if len(password) < 8:
        raise click.ClickException("The password must be at least 8 characters.")
    exists = db.session.scalar(
        sa.select(User.id)
        .where(sa.func.lower(User.username) == username.lower())
        .execution_options(all_sites=True)  # one name per installation
    )
    if exists:
        raise click.ClickException(f"The user {username!r} already exists.")
    if db.session.get(Site, site_id) is None:
        raise click.ClickException(f"There is no site {site_id} (flask sites list).")
    with acting_for(site_id):
        create_user(username, password, role, display_name)
    click.echo(f"Created {role} {username}.")


@click.command("demo")
@click.option(
    "--force", is_flag=True, help="Load it even on a site with content of its own."
)
@click.option(
    "--skip",
    is_flag=True,
    help="Do not load it, and remember not to on later runs (make run DEMO=0).",
)
@with_appcontext
def demo_command(force, skip):
    """Load the demo school on a brand-new site (safe to run again)."""
    from operations import demo

    if skip:
        if get_settings()["demo_state"] == "":
            set_setting("demo_state", "skipped")
            db.session.commit()
        click.echo("Skipped the demo content.")
        return
    reason = None if force else demo.reason_not_to_load()
    if reason:
        click.echo(reason)
        return
    click.echo("Loading the demo content ...")
    created = demo.load_demo()
    click.echo(f"Demo content ready ({created} new articles).")


@click.command("thumbnails")
@with_appcontext
def thumbnails_command():
    """Make the missing thumbnails of every photo (after an upgrade or a restore).

    Optional: a reader's request makes a missing thumbnail too; this only
    spares the first readers the wait.
    """
    from models import Upload
    from newsroom import thumbnails

    made = failed = 0
    for upload in db.session.scalars(sa.select(Upload).where(Upload.kind == "image")):
        missing = [
            variant
            for variant in thumbnails.PHOTO_VARIANTS
            if not (
                thumbnails.folder() / thumbnails.name_of(upload.stored_name, variant)
            ).is_file()
        ]
        if not missing:
            continue
        if thumbnails.make(upload, missing):
            made += 1
        else:
            failed += 1
            click.echo(f"Could not read {upload.stored_name} ({upload.original_name}).")
    click.echo(f"Photos given thumbnails: {made}. Unreadable originals: {failed}.")


@click.command("reindex")
@with_appcontext
def reindex_command():
    """Rebuild the search index from every published post."""
    from reader import search

    backend = search.backend_for(db.engine)
    click.echo(f"Rebuilding the search index ({backend.name}) ...")
    with db.engine.begin() as connection:
        indexed = search.rebuild(connection)
    click.echo(f"Indexed {indexed} published posts.")


@click.command("backup")
@click.argument(
    "folder",
    required=False,
    type=click.Path(file_okay=False, writable=True, path_type=Path),
)
@with_appcontext
def backup_command(folder):
    """Write one backup archive (database, uploads, settings) into FOLDER.

    FOLDER defaults to BACKUP_FOLDER (instance/backups). Safe while the site
    runs. Afterwards only the newest BACKUP_KEEP archives there are kept.
    """
    app = current_app._get_current_object()
    try:
        result = backup.run_backup(app, folder)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    counts = result.manifest["counts"]
    size = display_size(result.path.stat().st_size)
    click.echo(f"Wrote {result.path} ({size}).")
    click.echo(
        f"It holds {counts['article']} posts, {counts['revision']} revisions "
        f"and {result.manifest['upload_files']} uploaded files."
    )
    _report_backup_extras(result)
    for path in result.pruned:
        click.echo(f"Deleted the older backup {path.name}.")
    _record_after_backup("backup_created", result.path.name)
    if result.copy_error:
        # Loud, and a failing exit status for cron's mail; the backup stands.
        raise click.ClickException(
            f"The backup {result.path.name} was written here, but the copy to "
            f"another machine failed: {result.copy_error}"
        )


def _record_after_backup(action: str, target: str) -> None:
    """Record the backup; a site busy writing only delays it, and never turns
    a backup that was written into a failed command."""
    for attempt in range(3):
        try:
            audit.record(action, target)
            db.session.commit()
            return
        except sa.exc.OperationalError:  # "database is locked": writers queued
            db.session.rollback()
            time.sleep(1 + attempt)
    click.echo(
        f"The backup {target} could not be recorded in the audit log: the "
        "database stayed busy.",
        err=True,
    )


def _report_backup_extras(result) -> None:
    """The audit archive and off-machine copy of a backup, one line each."""
    archived = result.archived
    if archived is not None:
        click.echo(
            f"Archived {archived.count} audit events past the retention "
            f"(ids {archived.first_id}-{archived.last_id}) to {archived.path.name}."
        )
    elif result.archive_note:
        click.echo(f"Audit events were not archived: {result.archive_note}.", err=True)
    if result.copied_to is not None:
        click.echo(f"Copied it to {result.copied_to} (size and sha256 checked).")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace an instance that has data (it is moved aside, not deleted).",
)
@click.option(
    "--with-config",
    is_flag=True,
    help="Also restore config.py, after showing it (it runs as code at start).",
)
@click.option("--yes", is_flag=True, help="Do not ask before replacing data.")
@with_appcontext
def restore_command(archive, force, with_config, yes):
    """Check ARCHIVE and restore it into this instance (stop the server first)."""
    app = current_app._get_current_object()
    try:
        instance = backup.Instance.of(app)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    # This process must not hold the database open while it is replaced.
    db.session.remove()
    db.engine.dispose()
    try:
        replacing = not backup.is_empty(instance)
    except backup.BackupError as error:
        raise click.ClickException(f"Nothing was restored. {error}") from None
    if replacing and not force:
        raise click.ClickException(
            f"{instance.label} or {instance.uploads} already holds data. "
            "Restore into an empty instance, or add --force to replace it "
            "(the current data is moved aside, not deleted)."
        )
    instance.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=instance.folder, prefix=".restore-") as tmp:
        click.echo(f"Checking {archive} ...")
        try:
            checked = backup.unpack_and_check(
                archive,
                Path(tmp),
                max_bytes=app.config.get("RESTORE_MAX_BYTES")
                or backup.RESTORE_MAX_BYTES,
                max_ratio=app.config.get("RESTORE_MAX_RATIO")
                or backup.RESTORE_MAX_RATIO,
                engine=instance.engine,
                instance=instance,
            )
            config = (
                backup.config_for_display(checked.config)
                if with_config and checked.config
                else None
            )
        except backup.BackupError as error:
            raise click.ClickException(f"Nothing was restored. {error}") from None
        manifest = checked.manifest
        counts = manifest["counts"]
        check = (
            "database integrity check ok"
            if checked.engine == "sqlite"
            else "pg_restore read the whole dump"
        )
        click.echo(
            f"The archive is sound: made {manifest['created_at']}, "
            f"{counts['article']} posts, {manifest['upload_files']} uploaded "
            f"files, {check}."
        )
        if config is not None:
            # config.py runs at every start: whoever made the archive wrote it.
            click.echo("The archive's config.py, which runs as code at every start:")
            click.echo("----- config.py -----")
            click.echo(config, nl=not config.endswith("\n"))
            click.echo("----- end of config.py -----")
            if not yes:
                click.confirm(f"Write this config.py to {instance.folder}?", abort=True)
        elif with_config:
            click.echo("The archive has no config.py.")
        if replacing and not yes:
            click.confirm(
                "Replace this instance's database, uploads and settings?",
                abort=True,
            )
        if checked.engine == "postgresql":
            click.echo("Restoring the dump into a new database and checking it ...")
        try:
            replaced = backup.restore_backup(checked, instance, with_config=with_config)
        except backup.BackupError as error:
            raise click.ClickException(f"Nothing was restored. {error}") from None
        skipped_config = checked.config is not None and not with_config
    click.echo(f"Restored the database to {instance.label}.")
    click.echo(f"Restored the uploads to {instance.uploads}.")
    if config is not None:
        click.echo(f"Restored config.py to {instance.folder}.")
    if skipped_config:
        click.echo(
            "config.py was not restored, as it runs as code: read it with "
            f"`tar -xzOf {archive} config.py` and copy it to {instance.folder} "
            "yourself, or restore with --with-config."
        )
    if replaced.database is not None:
        click.echo(
            f"The replaced database was renamed {replaced.database} (drop it "
            "once the restored site is checked)."
        )
    if replaced.folder is not None:
        click.echo(f"The replaced data was moved to {replaced.folder}.")
    if manifest.get("alembic_revision"):
        from flask_migrate import upgrade  # not loaded by server processes

        # An archive from an older release gets this release's migrations.
        upgrade()
        click.echo("Database is up to date.")
    _record_restore(archive)


def _record_restore(archive: Path) -> None:
    """The restored log says it was restored (from the command line: no user)."""
    try:
        audit.record("restore", archive.name, detail=archive.name)
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:  # an archive made without migrations
        db.session.rollback()
        click.echo(f"The restore could not be recorded in the audit log: {error}")


@click.command("backup-drill")
@click.argument(
    "archive",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@with_appcontext
def backup_drill_command(archive):
    """Restore ARCHIVE (default: the newest backup) into a temporary site and
    check it: the restore drill (恢复演练). The live site is not touched; the
    outcome is kept for the self-assessment. Exits with 1 when it fails."""
    from operations import drill

    app = current_app._get_current_object()
    if archive is None:
        folder = backup.backup_folder(app)
        newest = backup.list_backups(folder)
        if not newest:
            raise click.ClickException(
                f"There is no backup in {folder}: run `flask --app app backup` first."
            )
        archive = newest[0]
    click.echo(f"Restore drill with {archive} ...")
    result = drill.run_drill(app, archive)
    for step in result.steps:
        click.echo(step)
    drill.record(result)
    if not result.ok:
        click.echo(f"The restore drill failed: {result.problem}", err=True)
        raise SystemExit(1)
    click.echo("The restore drill passed.")


@click.command("audit-verify")
@click.option(
    "--archives",
    is_flag=True,
    help="Also check the archived events (instance/audit-archive).",
)
@with_appcontext
def audit_verify_command(archives):
    """Walk the audit log's hash chain: an event changed, removed or inserted
    in the database is found. Exits with 1 when the chain is broken."""
    try:
        verdict = audit.verify()
    except sa.exc.OperationalError:
        raise click.ClickException(
            "The database is not ready: run `flask --app app init-db` first."
        ) from None
    problems = []
    if verdict.ok:
        click.echo(f"OK: the audit chain holds {verdict.checked} events.")
    else:
        problems.append(verdict.note)
    if archives:
        folder = Path(current_app.instance_path, audit.ARCHIVE_FOLDER)
        found = audit.verify_archives(folder)
        if found.ok:
            click.echo(f"OK: the archive holds {found.checked} events.")
        else:
            problems.append(f"Archive: {found.note}")
    for problem in problems:
        click.echo(f"BROKEN: {problem}", err=True)
    outcome = audit.FAILURE if problems else audit.SUCCESS
    audit.record("audit_verified", "", outcome=outcome, detail=" ".join(problems))
    db.session.commit()
    if problems:
        raise SystemExit(1)


# --- imports from an old site (importers/) ---------------------------------------

UPLOADS_OPTION = click.option(
    "--uploads",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A copy of the old site's upload folder, for photos and attachments.",
)
TIMEZONE_OPTION = click.option(
    "--timezone",
    default=None,
    help="The old site's time zone (default: BABEL_DEFAULT_TIMEZONE).",
)
DRY_RUN_OPTION = click.option(
    "--dry-run",
    is_flag=True,
    help="Print the report of a real run without writing anything.",
)


def _zone(name: str | None) -> ZoneInfo:
    name = name or current_app.config["BABEL_DEFAULT_TIMEZONE"]
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(
            f"Unknown time zone {name!r}; use a name such as Asia/Shanghai."
        ) from None


def _run_import(source, site, *, total, report, uploads, dry_run, work, **where):
    """Run work(import, progress) for real or on a copy, then print the report."""
    from operations.importers.common import Import, SourceError
    from operations.importers.dryrun import scratch_copy

    app = current_app._get_current_object()
    try:
        with scratch_copy(app) if dry_run else nullcontext():
            imp = Import(source, site, uploads=uploads, report=report, **where)
            with click.progressbar(length=total, label="Importing posts") as bar:
                work(imp, lambda: bar.update(1))
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    for line in report.lines():
        click.echo(line)


@click.command("import-wordpress")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@UPLOADS_OPTION
@TIMEZONE_OPTION
@DRY_RUN_OPTION
@with_appcontext
def import_wordpress_command(export, uploads, timezone, dry_run):
    """Import a WordPress export file (Tools > Export); safe to run again."""
    from operations.importers import wordpress
    from operations.importers.common import Report, SourceError

    zone = _zone(timezone)
    try:
        data = wordpress.load(export)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    posts = data.posts()
    click.echo(
        f"Read {export.name}: {len(posts)} posts and pages in "
        f"{len(data.categories)} categories from {data.base_url or 'an unnamed site'}."
    )
    _run_import(
        wordpress.SOURCE,
        data.site,
        total=len(posts),
        report=Report(dry_run=dry_run),
        uploads=uploads,
        dry_run=dry_run,
        work=lambda imp, step: wordpress.import_export(data, imp, zone, step),
        upload_prefixes=wordpress.UPLOAD_PREFIXES,
        site_hosts=data.hosts,
        base_url=data.base_url or None,
    )


@click.command("import-dedecms")
@click.option(
    "--db",
    "db_url",
    required=True,
    help="The DedeCMS database: mysql://USER:PASSWORD@HOST[:PORT]/DATABASE",
)
@click.option("--prefix", default="dede_", show_default=True, help="Table prefix.")
@UPLOADS_OPTION
@TIMEZONE_OPTION
@DRY_RUN_OPTION
@with_appcontext
def import_dedecms_command(db_url, prefix, uploads, timezone, dry_run):
    """Import a DedeCMS (织梦) site from its MySQL/MariaDB database."""
    from operations.importers import dedecms
    from operations.importers.common import Report, SourceError

    zone = _zone(timezone)
    report = Report(dry_run=dry_run)
    try:
        connection = dedecms.connect(db_url)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    try:
        try:
            database = dedecms.Database(connection, prefix, report)
            total = database.count()
        except SourceError as error:
            raise click.ClickException(str(error)) from None
        name = dedecms.parse_db_url(db_url)["database"]
        click.echo(f"Connected to {name}: {total} archives.")
        medias = database.config["cfg_medias_dir"].rstrip("/") or "/uploads"
        basehost = database.config["cfg_basehost"].rstrip("/")
        _run_import(
            dedecms.SOURCE,
            dedecms.site_of(database, name),
            total=total,
            report=report,
            uploads=uploads,
            dry_run=dry_run,
            work=lambda imp, step: dedecms.import_database(database, imp, zone, step),
            upload_prefixes=(medias + "/",),
            site_hosts={urlsplit(basehost).hostname or ""},
            base_url=basehost or None,
        )
    finally:
        connection.close()


def _html_of(path: Path) -> str:
    """The body HTML of a .txt, .html or .docx file, or a ClickException."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise click.ClickException(f"Cannot read {path}: {error.strerror}.") from None
    if suffix == ".docx":
        import io

        from newsroom import docx_import
        from newsroom.uploads import UploadError

        try:
            # Images are not stored: only their place and alt text matter here.
            result = docx_import.docx_to_html(io.BytesIO(data), lambda *_: "/image")
        except UploadError as error:
            raise click.ClickException(f"{path} is not a readable .docx file.") from (
                error
            )
        return result.html
    if suffix not in (".txt", ".html", ".htm"):
        raise click.ClickException(
            "Give a .txt, .html, .docx, .pdf, .xlsx or .csv file."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # what Chinese Windows saves
        except UnicodeDecodeError:
            raise click.ClickException(
                f"{path} is neither UTF-8 nor GB18030 text."
            ) from None
    if suffix == ".txt":
        from markupsafe import escape

        text = "".join(f"<p>{escape(line)}</p>" for line in text.splitlines())
    return text


# Read as an attachment is (newsroom/doctext.py, in the sandbox): the check
# then names the page, sheet and cell of each finding.
_DOCUMENT_SUFFIXES = (".pdf", ".xlsx", ".csv")
_UNREADABLE = {
    "encrypted": "it is protected by a password",
    "too_large": "it is too large",
    "unbounded": "reading it took too much time or memory",
}


def _document_of(path: Path) -> compliance.AttachmentText:
    """The text of a .pdf, .xlsx or .csv file place by place, or a ClickException."""
    from newsroom import doctext

    text = doctext.extract(path, path.suffix)
    if text.problem:
        why = _UNREADABLE.get(text.problem, "it is damaged or not what its name says")
        raise click.ClickException(f"{path} could not be read: {why}.")
    if text.truncated:
        click.echo(f"Only the first part of {path} was read.", err=True)
    return compliance.AttachmentText(path.name, text.segments)


@click.command("check-text")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@with_appcontext
def check_text_command(file):
    """Run the compliance check on a .txt, .html, .docx, .pdf, .xlsx or .csv FILE.

    Prints one line per finding (kind, severity, place, masked excerpt; the
    place of a .pdf is its page, of a workbook the sheet and cell) and exits
    with 1 when it finds personal data (身份证号, a mobile or bank card
    number) or a 禁止 (block) term: for admins trying out the word list, and
    for checking a file before it is attached.
    """
    if not file.is_file():
        raise click.ClickException(f"No such file: {file}")
    html, attachments = "", []
    if file.suffix.lower() in _DOCUMENT_SUFFIXES:
        attachments = [_document_of(file)]
    else:
        html = _html_of(file)
    try:
        findings = compliance.check_post("", "", html, attachments)
    except sa.exc.OperationalError:
        raise click.ClickException(
            "The database is not ready: run `flask --app app init-db` first."
        ) from None
    for finding in findings:
        click.echo(finding.line())
    blocked = len(compliance.blocking(findings))
    personal = len(compliance.needing_confirmation(findings))
    click.echo(
        f"{len(findings)} findings, {blocked} blocking, {personal} personal data.",
        err=True,
    )
    if blocked or personal:
        raise SystemExit(1)


@click.command("check-ledger")
@with_appcontext
def check_ledger_command():
    """Check that the review ledger explains every text readers ever got.

    Walks every published post and every revision that was live, and prints
    each text with no last approval, bypass or unreviewed publish (0 levels)
    behind it; exits with 1 when it finds one.
    """
    from review import chain

    try:
        found = chain.unexplained_texts()
    except sa.exc.OperationalError:
        raise click.ClickException(
            "The database is not ready: run `flask --app app init-db` first."
        ) from None
    for item in found:
        click.echo(
            f"post {item.article_id} ({item.what}): {item.title} "
            f"[{item.version_hash[:8]}] has no approval in the ledger"
        )
    if found:
        click.echo(f"{len(found)} texts are not explained by the ledger.", err=True)
        raise SystemExit(1)
    click.echo("Every text readers got is explained by the ledger.")


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(thumbnails_command)
    app.cli.add_command(reindex_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(backup_drill_command)
    app.cli.add_command(audit_verify_command)
    app.cli.add_command(import_wordpress_command)
    app.cli.add_command(import_dedecms_command)
    app.cli.add_command(check_text_command)
    app.cli.add_command(check_ledger_command)
    app.cli.add_command(migrate_to_postgresql_command)
    app.cli.add_command(sites_cli)
