"""站群: adding, listing and disabling schools' sites (`flask sites …`).

A new site starts as a new installation does (`flask init-db`): the default
sections, and a first administrator with a generated password who is led
through the first-run setup at the school's own address.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l

from core.sites import acting_for
from models import Role, Site, User, db, set_setting
from operations import sitetree

# A host name as readers type it: labels of letters, digits and hyphens.
_HOST_RE = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
_PREFIX_RE = re.compile(r"/[a-z0-9][a-z0-9-]{0,39}")
_USERNAME_MAX = 64


class SiteError(ValueError):
    """Why a site cannot be added or changed; str() is for people."""


def _taken_prefixes() -> set[str]:
    # The first segment of every route: a school at /admin would hide the
    # admin pages of the site that answers every other path.
    firsts = set()
    for rule in current_app.url_map.iter_rules():
        first = rule.rule.lstrip("/").split("/", 1)[0]
        firsts.add("/" + first.split("<", 1)[0])
    return firsts


def clean_host(value: str) -> str:
    host = (value or "").strip().lower().rstrip(".")
    try:  # 学校.cn as browsers send it: xn--...
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = " "  # not a host name
    if host and not _HOST_RE.fullmatch(host):
        raise SiteError(
            _l(
                "The host name %(host)s is not valid, for example school1.edu.cn.",
                host=value,
            )
        )
    return host


def clean_prefix(value: str) -> str:
    prefix = (value or "").strip().lower().rstrip("/")
    if not prefix:
        return ""
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    if not _PREFIX_RE.fullmatch(prefix):
        raise SiteError(
            _l(
                "The path %(prefix)s is not valid: one part of lower-case "
                "letters, digits and hyphens, for example /yizhong.",
                prefix=value,
            )
        )
    if prefix in _taken_prefixes():
        raise SiteError(
            _l("The path %(prefix)s is used by the site itself.", prefix=prefix)
        )
    return prefix


def free_address(host: str, prefix: str) -> tuple[str, str]:
    """A cleaned host and prefix no site is at yet (a new or imported site)."""
    host, prefix = clean_host(host), clean_prefix(prefix)
    if not host and not prefix:
        raise SiteError(
            _l(
                "Give the site a host name, a path, or both: the first site "
                "answers every other address."
            )
        )
    taken = db.session.scalar(
        sa.select(Site.id).where(Site.host == host, Site.path_prefix == prefix)
    )
    if taken is not None:
        raise SiteError(_l("Another site is at that address already."))
    return host, prefix


def add_site(
    name: str,
    host: str = "",
    prefix: str = "",
    bureau: bool = False,
    admin_username: str = "",
) -> tuple[Site, User, str]:
    """Add a site with its default sections and first administrator.

    Returns the site, the administrator and their generated password (shown
    once). Raises SiteError when something typed cannot be used; nothing is
    written then.
    """
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise SiteError(_l("The school's name must be 1 to 100 characters."))
    host, prefix = free_address(host, prefix)
    if bureau and db.session.scalar(sa.select(Site.id).where(Site.bureau.is_(True))):
        raise SiteError(_l("There is a bureau site already."))
    username = (admin_username or "").strip().lower()
    if not 1 <= len(username) <= _USERNAME_MAX:
        raise SiteError(_l("The administrator's user name must be 1 to 64 characters."))
    in_use = db.session.scalar(
        sa.select(User.id)
        .where(sa.func.lower(User.username) == username)
        .execution_options(all_sites=True)  # user names are one per installation
    )
    if in_use is not None:
        raise SiteError(_l("The user name %(name)s is taken.", name=username))

    site = Site(name=name, host=host, path_prefix=prefix, bureau=bureau)
    db.session.add(site)
    db.session.flush()
    password = secrets.token_urlsafe(12)
    with acting_for(site.id):
        set_setting("school_name", name)
        set_setting("demo_state", "skipped")  # a school's site starts empty
        sitetree.ensure_default_sections()
        admin = User(
            username=username,
            display_name="管理员",
            role=Role.ADMIN,
            session_token=secrets.token_hex(8),
            # All three management roles and the first-run setup, as
            # `flask init-db` makes the first site's administrator.
            needs_setup=True,
            security_admin=True,
            audit_admin=True,
        )
        admin.set_password(password)
        db.session.add(admin)
        db.session.flush()
    return site, admin, password


def set_active(site_id: int, active: bool) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise SiteError(_l("There is no site %(id)s.", id=site_id))
    if not site.host and not site.path_prefix and not active:
        raise SiteError(
            _l("The first site answers every other address: it cannot be disabled.")
        )
    site.active = active
    return site


def address(site: Site) -> str:
    return f"{site.host or '*'}{site.path_prefix or '/'}"


sites_cli = AppGroup("sites", help="The schools' sites of this installation (站群).")


@sites_cli.command("list")
def list_command():
    """Each site: id, address, name, bureau or not, active or not."""
    for site in db.session.scalars(sa.select(Site).order_by(Site.id)):
        flags = " ".join(
            flag
            for flag, on in (("bureau", site.bureau), ("disabled", not site.active))
            if on
        )
        click.echo(f"{site.id}\t{address(site)}\t{site.name}\t{flags}".rstrip())


@sites_cli.command("add")
@click.argument("name")
@click.option(
    "--host", default="", help="The host name readers use, e.g. school1.edu.cn."
)
@click.option("--prefix", default="", help="A path on a shared host, e.g. /yizhong.")
@click.option("--bureau", is_flag=True, help="The education bureau's own site.")
@click.option(
    "--admin",
    "admin_username",
    required=True,
    help="The first administrator's user name.",
)
def add_command(name, host, prefix, bureau, admin_username):
    """Add a school's site with its first administrator."""
    try:
        site, admin, password = add_site(name, host, prefix, bureau, admin_username)
    except SiteError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Added site {site.id}: {site.name} at {address(site)}.")
    click.echo("Its administrator's password is shown only once; note it now:")
    click.echo(f"  username: {admin.username}   password: {password}")
    click.echo("Servers that served one school only pick up new sites after a restart.")


def _switch(site_id: int, active: bool) -> None:
    try:
        site = set_active(site_id, active)
    except SiteError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    state = "enabled" if active else "disabled"
    click.echo(f"Site {site.id} ({site.name}) {state}.")


@sites_cli.command("disable")
@click.argument("site_id", type=int)
def disable_command(site_id):
    """Stop serving a site (its data stays)."""
    _switch(site_id, False)


@sites_cli.command("enable")
@click.argument("site_id", type=int)
def enable_command(site_id):
    """Serve a disabled site again."""
    _switch(site_id, True)


@sites_cli.command("export")
@click.argument("site_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_command(site_id, file):
    """Write one school's site, with its files, into one archive."""
    from operations import siteexport  # not loaded by server processes

    try:
        exported = siteexport.export_site(site_id, file)
    except siteexport.ArchiveError as error:
        raise click.ClickException(str(error)) from None
    counts = exported.manifest["counts"]
    files = sum(1 for m in exported.manifest["members"] if m.startswith("files/"))
    click.echo(
        f"Exported site {site_id} to {file}: {counts.get('article', 0)} posts, "
        f"{counts.get('user', 0)} users, {files} files."
    )


@sites_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="", help="The new site's host name.")
@click.option("--prefix", default="", help="Or its path on a shared host.")
@click.option(
    "--name", default="", help="Its name in the site list (default: the archive's)."
)
@click.option(
    "--rename-users-prefix",
    "rename_users",
    default="",
    help="Put this before every user name, e.g. yz- (names are one per installation).",
)
def import_command(file, host, prefix, name, rename_users):
    """Make a new site of a school's archive (from `sites export`)."""
    from operations import siteexport  # not loaded by server processes

    try:
        host, prefix = free_address(host, prefix)
        imported = siteexport.import_site(file, host, prefix, name, rename_users)
    except (SiteError, siteexport.ArchiveError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    site = imported.site
    click.echo(
        f"Imported site {site.id}: {site.name} at {address(site)}, "
        f"{imported.counts.get('article', 0)} posts, "
        f"{imported.counts.get('user', 0)} users, {imported.files} files, "
        f"{imported.audit_events} audit events."
    )
    for what, count in imported.detached.items():
        click.echo(
            f"{count} rows named a row of another site ({what}): imported "
            "without that link (a user signing in with another school's "
            "account needs a password here)."
        )
    click.echo("Its users sign in there with their passwords as before.")
