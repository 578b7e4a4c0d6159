"""站群: one person working for several schools, with a role at each.

The person keeps their one account (user name, password, second factor) at
their home school. Each other school they work for gets a row of its own for
them, with that school's role, duties and department, which signs in with the
home row (User.login_id). The school manages that row as any of its accounts
(role, deactivation), but only the home school resets the password.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from core import audit
from core.sites import acting_for
from models import Role, Site, User, db
from operations.sites import SiteError, sites_cli


def home_account(username: str) -> User | None:
    """The person's own account, wherever it is."""
    return db.session.scalar(
        sa.select(User)
        .where(
            sa.func.lower(User.username) == username.strip().lower(),
            User.login_id.is_(None),
        )
        .execution_options(all_sites=True)
    )


def add_member(site_id: int, username: str, role: str) -> User:
    """Let the person with this account work at another school in `role`.
    Added to the session, not committed."""
    site = db.session.get(Site, site_id)
    if site is None:
        raise SiteError(_l("There is no site %(id)s.", id=site_id))
    if role not in Role.WRITERS:
        raise SiteError(_l("Choose the role: author, editor or admin (系统管理员)."))
    home = home_account(username)
    if home is None:
        raise SiteError(_l("There is no account %(name)s.", name=username.strip()))
    if home.site_id == site.id:
        raise SiteError(
            _l(
                "%(name)s already belongs to %(site)s.",
                name=home.username,
                site=site.name,
            )
        )
    with acting_for(site.id):
        there = db.session.scalar(sa.select(User).where(User.username == home.username))
        if there is not None:
            raise SiteError(
                _l(
                    "%(name)s already has an account at %(site)s.",
                    name=home.username,
                    site=site.name,
                )
            )
        member = User(
            username=home.username,
            display_name=home.display_name,
            byline=home.byline,
            email=home.email,
            role=role,
            login_id=home.id,
            # Never used: the member signs in with the home row's password.
            password_hash="",
            session_token="",
        )
        db.session.add(member)
        audit.record("member_added", f"{home.username} ({role})")
        # Inside acting_for: the rows take the school from their column
        # default, which is read when they are written.
        db.session.flush()
    return member


@sites_cli.command("add-member")
@click.argument("site_id", type=int)
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(Role.WRITERS),
    default=Role.AUTHOR,
    show_default=True,
    help="What the person is at that school.",
)
def add_member_command(site_id, username, role):
    """Let USERNAME (an account at another school) work at SITE_ID too,
    signing in with the same password."""
    try:
        member = add_member(site_id, username, role)
    except SiteError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{member.username} now works at site {site_id} as {role}.")
