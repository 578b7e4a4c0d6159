"""CLI: init-db, create-user, demo."""

import secrets

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from models import Role, User, db


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

    upgrade()
    click.echo("Database is up to date.")
    if db.session.scalar(sa.select(sa.func.count(User.id))) == 0:
        password = secrets.token_urlsafe(12)
        create_user("admin", password, Role.ADMIN, "管理员")
        click.echo("Created the administrator account. Note this password now,")
        click.echo("it is shown only once:")
        click.echo(f"  username: admin   password: {password}")


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(Role.ALL), default=Role.AUTHOR, show_default=True
)
@click.option("--display-name", default="", help="Name shown to readers.")
@click.password_option(help="Asked for when not given.")
@with_appcontext
def create_user_command(username, role, display_name, password):
    """Create an account."""
    username = username.strip()
    if not username or len(username) > 64:
        raise click.ClickException("The username must be 1 to 64 characters.")
    if len(password) < 8:
        raise click.ClickException("The password must be at least 8 characters.")
    exists = db.session.scalar(sa.select(User.id).where(User.username == username))
    if exists:
        raise click.ClickException(f"The user {username!r} already exists.")
    create_user(username, password, role, display_name)
    click.echo(f"Created {role} {username}.")


@click.command("demo")
@with_appcontext
def demo_command():
    """Load the demo school's sections and articles (safe to run again)."""
    import demo

    created = demo.load_demo()
    click.echo(f"Demo content ready ({created} new articles).")


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
