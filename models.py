"""Database models: users, departments, sections (栏目), articles, uploads, …"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


# Stable constraint names keep Alembic's batch migrations working on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base.metadata.naming_convention = NAMING_CONVENTION

db = SQLAlchemy(model_class=Base)


# Partial indexes, whose WHERE each dialect takes as its own option. Naming a
# dialect's option imports that dialect (PostgreSQL's costs about 2 MB in every
# process), so PostgreSQL's is added only when a PostgreSQL database is used:
# by create_app() and before tables are created there.
_PARTIAL: list[tuple[sa.Index, str]] = []


def partial_index(name: str, *columns: str, where: str, unique: bool = False):
    index = sa.Index(name, *columns, unique=unique, sqlite_where=sa.text(where))
    _PARTIAL.append((index, where))
    return index


def use_postgresql_options() -> None:
    for index, where in _PARTIAL:
        options = index.dialect_options["postgresql"]  # imports the dialect
        if options["where"] is None:
            options["where"] = sa.text(where)


@sa.event.listens_for(Base.metadata, "before_create")
def _before_create(target, connection, **kwargs) -> None:
    if connection.dialect.name == "postgresql":
        use_postgresql_options()


# SQLite integers are signed 64-bit; a larger id from a URL or form would raise
# OverflowError deep in the driver instead of being a plain "not found".
MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """A positive id from untrusted input (form, JSON, setting), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        # isdigit() alone accepts "²" and other digits int() refuses.
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


def utcnow() -> datetime:
    """Naive UTC now: SQLite has no time zones, so every stored time is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def bulk_change_target(state) -> type | None:
    """The model a bulk ORM UPDATE or DELETE changes (a do_orm_execute state).

    None for anything else, and for statements marked
    readers_unaffected=True (a draft's autosave, the view counter): the
    page cache and the search index both leave those alone.
    """
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    if state.execution_options.get("readers_unaffected"):
        return None
    return state.bind_mapper.class_


@sa.event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    # A web server has concurrent readers and writers: WAL lets them overlap and
    # the busy timeout makes a writer wait instead of failing with "locked".
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    # 1 MB of pages per connection instead of SQLite's 2 MB: requests read a
    # few index ranges each, the OS caches the file, and every server process
    # must stay small.
    cursor.execute("PRAGMA cache_size = -1024")
    cursor.close()


@sa.event.listens_for(Engine, "before_cursor_execute", retval=True)
def _drop_nul_characters(conn, cursor, statement, parameters, context, executemany):
    # PostgreSQL's text refuses U+0000, which SQLite stores and no page ever
    # shows (HTML and XML drop it): a title pasted with one must save, not fail.
    if conn.dialect.name != "postgresql" or not parameters:
        return statement, parameters
    return statement, _without_nul(parameters)


def _without_nul(parameters):
    if isinstance(parameters, Mapping):
        if any(isinstance(v, str) and "\x00" in v for v in parameters.values()):
            return {
                k: v.replace("\x00", "") if isinstance(v, str) else v
                for k, v in parameters.items()
            }
        return parameters
    # executemany's list of rows (SQLAlchemy's batched inserts pass one
    # row's mapping with executemany set, so the flag does not tell).
    if isinstance(parameters, list) and isinstance(parameters[0], (Mapping, tuple)):
        return [_without_nul(row) for row in parameters]
    if any(isinstance(v, str) and "\x00" in v for v in parameters):
        return type(parameters)(
            v.replace("\x00", "") if isinstance(v, str) else v for v in parameters
        )
    return parameters


# 站群: one database holds several schools' sites (core/sites.py). A row of a
# SiteOwned table belongs to one site, and every ORM query of a request sees
# only its site's rows. Commands and background work act for the first site
# unless they say otherwise (sites.acting_for).
DEFAULT_SITE_ID = 1
_acting_site: ContextVar[int] = ContextVar("acting_site", default=DEFAULT_SITE_ID)


def current_site_id() -> int:
    """The site this request, command or job acts for."""
    return _acting_site.get()


class Site(db.Model):
    """A school's site in a 站群, or the education bureau's own."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # The host readers reach it at (lower case, no port), and the path it
    # is served under where there is no host per school ("/yizhong"). The
    # site with neither answers every host no other site claims: a single
    # school's installation is that one site.
    host: Mapped[str] = mapped_column(sa.String(253), default="", server_default="")
    path_prefix: Mapped[str] = mapped_column(
        sa.String(60), default="", server_default=""
    )
    bureau: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("host", "path_prefix"),)


@sa.event.listens_for(Site.__table__, "after_create")
def _first_site(table, connection, **kw) -> None:
    # A new database holds one site, the default one, which owns every row
    # until a bureau adds schools. Without an explicit id, so that
    # PostgreSQL's sequence moves past it.
    connection.execute(table.insert().values(name="SchoolNews", created_at=utcnow()))


class SiteOwned:
    """A row that belongs to one site; new rows go to the acting site."""

    site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("site.id"), default=current_site_id, server_default="1"
    )


class Role:
    AUTHOR = "author"
    EDITOR = "editor"
    # The system administrator (系统管理员): settings, sections, departments,
    # accounts; see Duty for the other two management roles.
    ADMIN = "admin"
    # An account there only for a management role (the security or audit
    # administrator): no posts and no editor, as 最小权限 asks.
    MANAGER = "manager"
    WRITERS = (AUTHOR, EDITOR, ADMIN)
    ALL = (*WRITERS, MANAGER)


class Duty:
    """The separated management roles of 等保 (三员): an account holds any of
    them beside its role; admin/duties.py says which may go together."""

    SYSTEM = "system"  # role == Role.ADMIN
    SECURITY = "security"  # password and login policy, word list, unlocks
    AUDIT = "audit"  # reads and exports the audit log, nothing else
    ALL = (SYSTEM, SECURITY, AUDIT)


class Status:
    DRAFT = "draft"
    PENDING = "pending"
    PUBLISHED = "published"
    ALL = (DRAFT, PENDING, PUBLISHED)


def _membership(name: str, owner: str, owner_table: str) -> sa.Table:
    """A table of (owner, user) pairs; both sides go when either is deleted."""
    return sa.Table(
        name,
        Base.metadata,
        sa.Column(
            owner,
            sa.ForeignKey(f"{owner_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
        ),
    )


# A department's heads (部门负责人) do the first review level (初审) of its
# members' posts; a department may have several.
department_head = _membership("department_head", "department_id", "department")
# Members of a review group (宣传办, 校领导 …) named for review levels 2 and 3.
review_group_member = _membership("review_group_member", "group_id", "review_group")


class Department(SiteOwned, db.Model):
    """A 部门 (教务处, 德育处, 年级组 …): staff belong to one; 发稿统计 counts by it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    position: Mapped[int] = mapped_column(default=0)
    # An Apprise URL of the department's group-chat robot (钉钉, 企业微信,
    # 飞书): told when its members' posts wait for level 1 or are returned.
    robot_url: Mapped[str] = mapped_column(
        sa.String(500), default="", server_default=""
    )

    members: Mapped[list[User]] = relationship(back_populates="department")
    heads: Mapped[list[User]] = relationship(
        secondary=department_head, order_by="User.display_name"
    )

    __table_args__ = (sa.UniqueConstraint("site_id", "name"),)


class ReviewGroup(SiteOwned, db.Model):
    """The reviewers of a further review level (复审, 终审): see review/chain.py."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    position: Mapped[int] = mapped_column(default=0)
    # The group chat's robot (an Apprise URL), told when a post waits for
    # the level the group does.
    robot_url: Mapped[str] = mapped_column(
        sa.String(500), default="", server_default=""
    )

    members: Mapped[list[User]] = relationship(
        secondary=review_group_member, order_by="User.display_name"
    )

    __table_args__ = (sa.UniqueConstraint("site_id", "name"),)


class User(SiteOwned, UserMixin, db.Model):
    """An account at one site: what the person is there (role, duties,
    department, active) and, on their home row, how they sign in.

    A person who works for several schools (站群) has one row per school with
    the same user name; the other rows name the home row in login_id and use
    its password, second factor and session token (User.login), so one
    password opens every school they belong to, each with its own role.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # One home row per name in the installation (the partial index), and a
    # name once per site.
    __table_args__ = (
        sa.UniqueConstraint("site_id", "username"),
        partial_index(
            "uq_user_home_username", "username", unique=True, where="login_id IS NULL"
        ),
    )
    username: Mapped[str] = mapped_column(sa.String(64))
    login_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    # 署名: the author shown on their new posts, e.g. 德育处; empty means
    # display_name.
    byline: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    # Where notify.py e-mails the user (posts waiting for them, returns).
    email: Mapped[str | None] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.AUTHOR)
    active: Mapped[bool] = mapped_column(default=True)
    # Changing it logs out every session of the user (password reset, deactivation).
    session_token: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The administrator made by init-db with a generated password: until the
    # first-run setup (admin/views/firstrun.py) is done, that is the only page open.
    needs_setup: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    department_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("department.id"), index=True
    )
    # The other two management roles (Duty); the system one is role == admin.
    security_admin: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    audit_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # A password someone else chose (an admin's new account or reset): the
    # user must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    # When the password was last set: its age for the expiry policy.
    password_changed_at: Mapped[datetime | None]
    # TOTP second factor: the shared secret, and when the user confirmed it
    # with a first code (until then it is not asked for).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None]
    # The last time step whose code was accepted: a code is good only once.
    totp_last_step: Mapped[int | None]

    department: Mapped[Department | None] = relationship(back_populates="members")
    articles: Mapped[list[Article]] = relationship(
        back_populates="created_by", foreign_keys="Article.created_by_id"
    )

    @property
    def is_active(self) -> bool:
        return self.active

    # The UserSession.key of the device this request comes from, set by
    # admin/sessions.py when it logs the user in or loads them (not stored).
    device_key = ""

    def get_id(self) -> str:
        # Read back by admin/sessions.py: the session and remember-me cookies
        # name the user, the token all sessions share (rotated to end them
        # all) and this device's session.
        return f"{self.id}:{self.login.session_token}:{self.device_key}"

    @property
    def can_review(self) -> bool:
        """Editors and admins review, publish, pin and edit anyone's posts."""
        return self.role in (Role.EDITOR, Role.ADMIN)

    @property
    def writes_posts(self) -> bool:
        """Everyone but an account there only for a management role."""
        return self.role != Role.MANAGER

    @property
    def is_admin(self) -> bool:
        """The system administrator (系统管理员)."""
        return self.role == Role.ADMIN

    @property
    def is_security_admin(self) -> bool:
        return self.security_admin

    @property
    def is_audit_admin(self) -> bool:
        return self.audit_admin

    @property
    def duties(self) -> tuple[str, ...]:
        """The management roles the account holds, in Duty.ALL order."""
        held = (self.is_admin, self.security_admin, self.audit_admin)
        return tuple(d for d, has in zip(Duty.ALL, held, strict=True) if has)

    @property
    def login(self) -> User:
        """The row holding this person's password, second factor and session
        token: the home row, which may belong to another site."""
        if self.login_id is None:
            return self
        home = self.__dict__.get("_home")
        if home is None or home.id != self.login_id:
            home = db.session.get(
                User, self.login_id, execution_options={"all_sites": True}
            )
            self.__dict__["_home"] = home
        return home

    @property
    def is_member(self) -> bool:
        """Signs in with another school's account (login_id)."""
        return self.login_id is not None

    @property
    def has_totp(self) -> bool:
        login = self.login
        return login.totp_secret is not None and login.totp_enabled_at is not None

    @property
    def default_byline(self) -> str:
        """The author name a new post starts with."""
        return self.byline or self.display_name

    def set_password(self, password: str) -> None:
        login = self.login
        login.password_hash = generate_password_hash(password)
        login.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.login.password_hash, password)


class Section(SiteOwned, db.Model):
    """A 栏目: a channel (no parent) or one of its sub-sections."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    slug: Mapped[str] = mapped_column(sa.String(60))
    position: Mapped[int] = mapped_column(default=0)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("section.id"), index=True
    )

    parent: Mapped[Section | None] = relationship(
        back_populates="children", remote_side="Section.id"
    )
    children: Mapped[list[Section]] = relationship(
        back_populates="parent", order_by="(Section.position, Section.id)"
    )
    articles: Mapped[list[Article]] = relationship(
        back_populates="section", foreign_keys="Article.section_id"
    )
    # A channel's own number of review levels (0–3); None: the site's setting.
    # Sub-sections follow their channel.
    review_levels: Mapped[int | None]
    # 更新周期: days within which the section must get a post, 0 never
    # checked; None: the default by its name (stats/freshness.py).
    update_days: Mapped[int | None]

    @property
    def channel(self) -> Section:
        return self.parent or self

    def subtree_ids(self) -> list[int]:
        """This section and its sub-sections: a channel lists its children's posts."""
        return [self.id, *(child.id for child in self.children)]

    __table_args__ = (sa.UniqueConstraint("site_id", "slug"),)


class Article(SiteOwned, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # clean_html() output
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    # The summary, else the start of the body as plain text: what lists and the
    # meta description show. Kept by an ORM event on every save
    # (newsroom/derived.py), so readers' pages never parse HTML.
    excerpt: Mapped[str] = mapped_column(sa.String(500), default="")
    author_name: Mapped[str] = mapped_column(sa.String(100), default="")
    source: Mapped[str | None] = mapped_column(sa.String(100))
    section_id: Mapped[int] = mapped_column(sa.ForeignKey("section.id"))
    # The section's channel (the section itself for a channel), copied here so
    # that a channel page reads one index range in order instead of sorting the
    # posts of all its sections. Kept by ORM events (newsroom/derived.py).
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("section.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default=Status.DRAFT)
    # A published article with a future time is scheduled (定时发布).
    published_at: Mapped[datetime | None]
    pinned: Mapped[bool] = mapped_column(default=False)
    cover_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("upload.id", use_alter=True, ondelete="SET NULL")
    )
    # What lists, the picture-news block and share previews show: the chosen
    # cover, else the first of the site's own images in the body. Kept by ORM
    # events like the excerpt (newsroom/derived.py).
    picture_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("upload.id", use_alter=True, ondelete="SET NULL")
    )
    views: Mapped[int] = mapped_column(default=0)
    # Bumped on every editor save; a save based on an older version is a conflict.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    deleted_at: Mapped[datetime | None]  # in the trash
    # 摄影: who took the photos, for the line under the article.
    photographer: Mapped[str] = mapped_column(
        sa.String(100), default="", server_default=""
    )
    # The review chain (review/chain.py): the level now waiting (0: not in review),
    # how many levels this submission needs, and the hash of the text that was
    # submitted. A published post keeps these at 0 unless an edit of it
    # (PendingText) is in review.
    review_level: Mapped[int] = mapped_column(default=0, server_default="0")
    review_levels: Mapped[int] = mapped_column(default=0, server_default="0")
    review_hash: Mapped[str] = mapped_column(
        sa.String(64), default="", server_default=""
    )
    # Why a reviewer sent it back, until it is submitted again.
    returned_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Who changed the text in the current review round (",3,7,"): none of them
    # may approve it. Cleared when a text goes live.
    review_writers: Mapped[str] = mapped_column(
        sa.String(500), default="", server_default=""
    )
    # Who approved each level of the version online, as JSON {"1": name, …}:
    # the line under the article reads it without another query.
    reviewed_by: Mapped[str] = mapped_column(
        sa.String(400), default="", server_default=""
    )

    section: Mapped[Section] = relationship(
        back_populates="articles", foreign_keys=[section_id]
    )
    created_by: Mapped[User | None] = relationship(
        back_populates="articles", foreign_keys=[created_by_id]
    )
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    cover: Mapped[Upload | None] = relationship(foreign_keys=[cover_id])
    picture: Mapped[Upload | None] = relationship(
        foreign_keys=[picture_id], viewonly=True
    )
    # What readers get: attachments added to a live post wait for review
    # (held) until the chain approves them.
    attachments: Mapped[list[Upload]] = relationship(
        primaryjoin=(
            "and_(Upload.article_id == Article.id, Upload.kind == 'attachment',"
            " Upload.held.is_(False))"
        ),
        order_by="Upload.id",
        viewonly=True,
    )
    # What the editor and the reviewers see: the held ones too.
    all_attachments: Mapped[list[Upload]] = relationship(
        primaryjoin=(
            "and_(Upload.article_id == Article.id, Upload.kind == 'attachment')"
        ),
        order_by="Upload.id",
        viewonly=True,
    )
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="article",
        order_by="Revision.id.desc()",
        cascade="all, delete-orphan",
    )

    # Reader lists are "pinned first, newest first": these indexes hand SQLite
    # rows already in that order, so a page reads a few rows instead of sorting
    # every post. Indexes on status or deleted_at alone would tempt the planner
    # into the sort, which is what made lists slow at 100,000 posts. A second
    # (section_id, published_at) index would do the same: SQLite without
    # statistics prefers its date range and then sorts the whole section.
    # The trailing status and deleted_at make the indexes cover the visibility
    # test, so counting a section's posts for paging never reads the table.
    # site_id leads (migration 0021): each school's posts are one range, so a
    # long list never walks other schools' rows.
    __table_args__ = (
        sa.Index(
            "ix_article_order",
            "site_id",
            "pinned",
            "published_at",
            "status",
            "deleted_at",
        ),
        sa.Index(
            "ix_article_section_order",
            "site_id",
            "section_id",
            "pinned",
            "published_at",
            "status",
            "deleted_at",
        ),
        sa.Index(
            "ix_article_channel_order",
            "site_id",
            "channel_id",
            "pinned",
            "published_at",
            "status",
            "deleted_at",
        ),
        sa.Index("ix_article_views", "views"),
        # Newest posts with a picture (the home page's picture news), in index
        # order. Partial, so only queries asking for a picture can pick it.
        partial_index(
            "ix_article_picture_order",
            "site_id",
            "published_at",
            "status",
            "deleted_at",
            where="picture_id IS NOT NULL",
        ),
        sa.Index("ix_article_updated", "updated_at"),
    )

    @classmethod
    def visible_clause(cls, now: datetime | None = None):
        """SQL condition for what readers may see: published, due, not trashed."""
        return sa.and_(
            cls.status == Status.PUBLISHED,
            cls.published_at.is_not(None),
            cls.published_at <= (now or utcnow()),
            cls.deleted_at.is_(None),
        )

    @property
    def is_public(self) -> bool:
        return (
            self.status == Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= utcnow()
            and self.deleted_at is None
        )

    @property
    def is_scheduled(self) -> bool:
        return (
            self.status == Status.PUBLISHED
            and self.published_at is not None
            and self.published_at > utcnow()
        )


def channel_of(connection, section_id: int | None) -> int | None:
    """The channel of a section: its parent, or itself for a channel."""
    if section_id is None:
        return None
    parent_id = connection.scalar(
        sa.select(Section.parent_id).where(Section.id == section_id)
    )
    return parent_id or section_id


@sa.event.listens_for(Section, "after_update")
def _move_posts_with_section(mapper, connection, section: Section) -> None:
    # A section moved to another channel takes its posts' channel with it.
    if sa.inspect(section).attrs.parent_id.history.has_changes():
        connection.execute(
            sa.update(Article.__table__)
            .where(Article.__table__.c.section_id == section.id)
            .values(
                channel_id=section.parent_id or section.id,
                updated_at=Article.__table__.c.updated_at,  # not an edit
            )
        )


class Revision(db.Model):
    """A previous version of a published article, kept on every save."""

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    body_html: Mapped[str] = mapped_column(sa.Text)
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # The review hash of this text when it was live (check-ledger finds its
    # approval); empty for a text readers never saw, or kept before 0012.
    version_hash: Mapped[str] = mapped_column(
        sa.String(64), default="", server_default=""
    )

    article: Mapped[Article] = relationship(back_populates="revisions")
    created_by: Mapped[User | None] = relationship()


class ArticleDraft(db.Model):
    """One user's autosaved, unsaved working copy of a published article.

    Readers must never see half-edited text, so autosave of a published post
    lands here instead of on the article; a real save deletes it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique (article_id, user_id) below also indexes article_id.
    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # clean_html() output
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    author_name: Mapped[str] = mapped_column(sa.String(100), default="")
    source: Mapped[str | None] = mapped_column(sa.String(100))
    # The Article.version the user was editing; another differs if someone
    # else saved the post meanwhile.
    base_version: Mapped[int] = mapped_column(default=0)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("article_id", "user_id"),)


class PendingText(db.Model):
    """An edit of a published post waiting for review (先审后发).

    Readers keep seeing the article's text until the edit passes its last
    level; then this text replaces it. One per article: a new edit replaces
    the old one and starts the chain again.
    """

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # clean_html() output
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    author_name: Mapped[str] = mapped_column(sa.String(100), default="")
    source: Mapped[str | None] = mapped_column(sa.String(100))
    photographer: Mapped[str] = mapped_column(sa.String(100), default="")
    # Where and with which cover the edit would go live (None: unchanged).
    section_id: Mapped[int | None]
    cover_id: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovedText(db.Model):
    """The text a post's latest approval was given to: reviewers see the diff."""

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewEvent(SiteOwned, db.Model):
    """One line of the review ledger (审核台账): never updated or deleted.

    Names are copied, not referenced, so the ledger reads the same after a
    post is purged or a user renamed; SQLite triggers (see below and
    migration 0011) refuse UPDATE and DELETE.
    """

    __tablename__ = "review_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    article_id: Mapped[int] = mapped_column(index=True)
    article_title: Mapped[str] = mapped_column(sa.String(200))
    # The author's department when it happened (for per-department views).
    department: Mapped[str] = mapped_column(sa.String(50), default="")
    author: Mapped[str] = mapped_column(sa.String(100), default="")
    user_id: Mapped[int | None]
    user_name: Mapped[str] = mapped_column(sa.String(100), default="")
    level: Mapped[int] = mapped_column(default=0)
    # submit, approve, return, bypass, confirm (personal data published on
    # purpose), withdraw
    decision: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    version_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    # This decision put the version online (last approval, bypass, publish
    # where nothing is reviewed, baseline): what check-ledger looks for.
    final: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # A school's ledger page reads its own events newest first.
    __table_args__ = (sa.Index("ix_review_event_site", "site_id", "id"),)


class ReviewVersion(db.Model):
    """A text someone decided on, by its review hash: the diff's other side.

    Content-addressed and never changed, so "what did I return?" stays
    answerable after the post moves on.
    """

    __tablename__ = "review_version"

    version_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str | None] = mapped_column(sa.String(500))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    section_id: Mapped[int | None]
    cover_id: Mapped[int | None]
    # JSON list of [upload id, file name]
    attachments: Mapped[str] = mapped_column(sa.Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The ledger is append-only in the database itself, not only in the code.
LEDGER_TRIGGERS = (
    "CREATE TRIGGER review_event_no_update BEFORE UPDATE ON review_event"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
    "CREATE TRIGGER review_event_no_delete BEFORE DELETE ON review_event"
    " BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END",
)
# The same on PostgreSQL, where a trigger calls a function.
LEDGER_TRIGGERS_POSTGRESQL = (
    "CREATE FUNCTION review_event_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'the review ledger is append-only'; END $$",
    "CREATE TRIGGER review_event_append_only BEFORE UPDATE OR DELETE"
    " ON review_event FOR EACH ROW EXECUTE FUNCTION review_event_append_only()",
)
for _trigger, _dialect in [(t, "sqlite") for t in LEDGER_TRIGGERS] + [
    (t, "postgresql") for t in LEDGER_TRIGGERS_POSTGRESQL
]:
    sa.event.listen(
        ReviewEvent.__table__,
        "after_create",
        sa.DDL(_trigger).execute_if(dialect=_dialect),
    )


class Upload(SiteOwned, db.Model):
    """An image or attachment, stored under a random name in UPLOAD_FOLDER."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # "image" or "attachment"
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    # Shown and used for downloads; secure_filename() would drop Chinese names.
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    # Bytes: a 3 GB video is past PostgreSQL's INTEGER (SQLite's holds 8 bytes).
    size: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), default=0
    )
    width: Mapped[int | None]
    height: Mapped[int | None]
    article_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("article.id", ondelete="SET NULL"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # An attachment added to a live post under review: readers get it only
    # once the chain approves the post.
    held: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # An attachment's online preview (newsroom/previews.py), made in the
    # background: "" (none: a photo, or a type without previews), "pending",
    # "working" (claimed until preview_until), "ready" or "failed".
    preview: Mapped[str] = mapped_column(
        sa.String(10), default="", server_default="", index=True
    )
    # Why there is no preview ("encrypted", "too_big", …), shown as a note.
    preview_note: Mapped[str] = mapped_column(
        sa.String(200), default="", server_default=""
    )
    preview_until: Mapped[datetime | None]

    uploaded_by: Mapped[User | None] = relationship()


class ArticleView(db.Model):
    """When a reader last counted as a view of an article (refresh-proofing)."""

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    )
    reader: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # a hash
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DailyViews(db.Model):
    """An article's counted views on one day (the site's local date).

    Bumped by the view counter in the same transaction as Article.views, so
    the days of an article always add up to its views since counting began.
    """

    __tablename__ = "article_daily_views"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    views: Mapped[int] = mapped_column(default=0)

    # Statistics read a range of days for every post; the primary key serves
    # one post's days. Without a rowid on SQLite, the primary key is the
    # table: a counted view's upsert walks one B-tree instead of two.
    __table_args__ = (
        sa.Index("ix_article_daily_views_day", "day"),
        {"sqlite_with_rowid": False},
    )


class Setting(SiteOwned, db.Model):
    """Site settings edited in the browser: school name, phone, footer, …"""

    # Each site has its own settings: the key is unique within a site.
    site_id: Mapped[int] = mapped_column(
        sa.ForeignKey("site.id"),
        primary_key=True,
        default=current_site_id,
        server_default="1",
    )
    key: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, default="")


SETTING_DEFAULTS = {
    "school_name": "SchoolNews",
    "phone": "",
    "address": "",
    "footer_text": "",
    "icp_number": "",
    # 公网安备号, shown in the footer beside the ICP number.
    "psb_number": "",
    "logo_id": "",
    # 站群: the section this school's copies of the bureau's posts go to
    # (newsroom/bureaupost.py); "" for its 通知公告, else its first section.
    "bureau_section": "",
    # scheme://host[:port] readers reach the site at (siteurl.py): the base
    # of absolute links and the host requests must ask for. "" for none;
    # SITE_URL in the instance config wins over it.
    "site_url": "",
    # 先审后发 (review/chain.py): review levels 0–3 (channels may override), the
    # groups that do levels 2 and 3, whether editors and admins may publish
    # past the chain (with a recorded reason), and the 撰稿/初审/… line.
    "review_levels": "1",
    "review_group_2": "",
    "review_group_3": "",
    "review_bypass": "1",
    "show_review_line": "1",
    # The mail server notify.py e-mails users through; tls: "starttls", "ssl"
    # or "insecure".
    "smtp_host": "",
    "smtp_port": "",
    "smtp_user": "",
    "smtp_password": "",
    "smtp_sender": "",
    "smtp_tls": "starttls",
    # "": never decided; "loaded", "skipped" or "cleared": `flask demo` loads
    # the demo school only on a brand-new instance, never after a clear.
    "demo_state": "",
    # 等保 (admin/policy.py): 单人模式 lets one account hold all three
    # management roles (the self-assessment reports it as a deviation).
    "single_admin": "0",
    # Passwords: length, character classes of 4 (lower, upper, digit,
    # other), earlier passwords refused, days until one expires (0: never)
    # and how many days before that the user is warned.
    "password_min_length": "8",
    "password_classes": "3",
    "password_history": "5",
    "password_max_age_days": "0",
    "password_warn_days": "14",
    # Who must use a second factor (TOTP): "none", "admins" (any management
    # role) or "all".
    "totp_required": "none",
    # Accounts unused this many days are dormant: listed for the admin, and
    # disabled at once when dormant_auto_disable is "1".
    "dormant_days": "180",
    "dormant_auto_disable": "0",
    # Days audit events stay in the database before `flask backup` archives
    # them (网络安全法 art. 21: at least six months).
    "audit_retention_days": "180",
    # Evidence for the self-assessment: the last restore drill (ISO time and
    # "ok" or what failed), the last off-machine copy of a backup, and the
    # last time the site was reached over HTTPS.
    "restore_drill_at": "",
    "restore_drill_result": "",
    "offsite_copy_at": "",
    "https_seen_at": "",
}


def get_settings() -> dict[str, str]:
    settings = dict(SETTING_DEFAULTS)
    settings.update(
        (row.key, row.value) for row in db.session.scalars(db.select(Setting))
    )
    return settings


def set_setting(key: str, value: str) -> None:
    if key not in SETTING_DEFAULTS:
        raise KeyError(key)
    row = db.session.get(Setting, (current_site_id(), key))
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value


class Origin(SiteOwned, db.Model):
    """Where a row came from: the demo, or an import from another site.

    One row per item a source created, keyed on the item's id in the source,
    so a source can find its items again: to clear the demo, or to update
    what an earlier import brought in instead of duplicating it. Settings
    have no id here: their key is the target_key.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # "demo", "wordpress", …
    source_key: Mapped[str] = mapped_column(sa.String(255))
    target_type: Mapped[str] = mapped_column(sa.String(20))  # see TARGET_TYPES
    target_id: Mapped[int | None]
    target_key: Mapped[str | None] = mapped_column(sa.String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    TARGET_TYPES = ("article", "section", "upload", "setting", "user")

    __table_args__ = (
        sa.UniqueConstraint("site_id", "source", "target_type", "source_key"),
        sa.Index("ix_origin_target", "target_type", "target_id"),
    )


class LegacyUrl(SiteOwned, db.Model):
    """An address on the site a school moved from, and what it shows here now.

    Written by the importers (importers/); read only where a request would
    otherwise be a 404, or by the home page when it gets one of the old
    sites' query arguments (reader/views/legacy.py), so reader pages never pay for it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # legacyurls.normalise() of the old path and query: "/?p=12",
    # "/plus/view.php?aid=5", "/a/news/20240328/5.html", "/2024/03/开学典礼".
    path: Mapped[str] = mapped_column(sa.String(500))
    target_type: Mapped[str] = mapped_column(sa.String(20))  # see TARGET_TYPES
    target_id: Mapped[int]
    # The import that wrote it, with the old site: "wordpress school.cn",
    # "dedecms news_db/dede_". Another import may not take the address over.
    source: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    TARGET_TYPES = ("article", "section", "upload")

    __table_args__ = (sa.UniqueConstraint("site_id", "path"),)


class CacheState(db.Model):
    """One row that every server process reads to know if its cached pages hold.

    It lives in the database so that every process (and machine) sharing the
    database sees a change at once; see pagecache.py.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # Bumped in the same transaction as any change readers could see.
    version: Mapped[int] = mapped_column(default=1)
    # When the next scheduled post goes public: pages rendered before then
    # are stale from that moment, with no cron and no editor action.
    next_change_at: Mapped[datetime | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(SiteOwned, db.Model):
    """Who did what, from where, and whether it succeeded (core/audit.py).

    Append-only and hash-chained: each row's hash covers the one before it,
    so a row changed or removed in the database breaks the chain.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # The event type: login, login_failed, user_created, article.published, …
    action: Mapped[str] = mapped_column(sa.String(50), index=True)
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    # The client address (through TRUSTED_PROXIES); "" from the command line.
    ip: Mapped[str] = mapped_column(sa.String(45), default="", server_default="")
    outcome: Mapped[str] = mapped_column(
        sa.String(10), default="success", server_default="success"
    )  # or "failure"
    # Why it failed, or what changed, for the reader of the log.
    detail: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    # sha256 over the previous event's hash and this row (core/audit.py).
    hash: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")

    user: Mapped[User | None] = relationship()

    # A school's audit page reads its own events newest first. The chain
    # (core/audit.py) runs through every site's events in id order; the
    # site is not in the hash, which 0020 added after events were chained.
    __table_args__ = (sa.Index("ix_audit_event_site", "site_id", "id"),)


class AuditChain(db.Model):
    """The one row that ends the audit chain: the newest hash and how many
    events lead to it from the anchor (the last event archived away)."""

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    head_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    length: Mapped[int] = mapped_column(default=0)  # events after the anchor
    # Events up to this id were archived (core/audit.py) and deleted; the
    # chain goes on from anchor_hash.
    archived_through_id: Mapped[int] = mapped_column(default=0)
    anchor_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    # The last check of the whole chain, shown on the audit and 等保 pages.
    verified_at: Mapped[datetime | None]
    verified_ok: Mapped[bool | None]
    verified_note: Mapped[str] = mapped_column(sa.String(500), default="")


# The audit log is append-only in the database too: no UPDATE, and DELETE
# only of events already archived (core/audit.archive).
AUDIT_TRIGGERS = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
    " WHEN old.id > (SELECT coalesce(max(archived_through_id), 0) FROM audit_chain)"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
AUDIT_TRIGGERS_POSTGRESQL = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'DELETE' AND old.id <= (SELECT coalesce(max(archived_through_id), 0)"
    " FROM audit_chain) THEN RETURN old; END IF;"
    " RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE"
    " ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
)
for _trigger, _dialect in [(t, "sqlite") for t in AUDIT_TRIGGERS] + [
    (t, "postgresql") for t in AUDIT_TRIGGERS_POSTGRESQL
]:
    sa.event.listen(
        AuditEvent.__table__,
        "after_create",
        sa.DDL(_trigger).execute_if(dialect=_dialect),
    )


class UserSession(db.Model):
    """One login on one device: logout ends it alone (admin/sessions.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random; the session and remember-me cookies carry it (User.get_id).
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    # Logged in with «remember me»: the remember-me cookie may reopen it.
    remembered: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None]
    # logout, ended (by the user), all_ended, password, admin, idle, …
    end_reason: Mapped[str] = mapped_column(sa.String(20), default="")

    user: Mapped[User] = relationship()


class PasswordHistory(db.Model):
    """Hashes of a user's earlier passwords, so the policy can refuse reuse."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(db.Model):
    """A one-time code that stands in for the second factor (a lost phone)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(256))
    used_at: Mapped[datetime | None]


class WordRule(SiteOwned, db.Model):
    """A wrong or sensitive term for the compliance check (compliance.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(sa.String(50))
    replacement: Mapped[str] = mapped_column(sa.String(50), default="")
    severity: Mapped[str] = mapped_column(sa.String(10), default="hint")  # or "block"
    # Longer correct words containing the term (按装订 for 按装), space separated.
    exceptions: Mapped[str] = mapped_column(sa.String(500), default="")
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("site_id", "term"),)


class Notification(SiteOwned, db.Model):
    """A message for one target, waiting in the outbox or sent (notify.py).

    Review moves only add rows, in their own transaction; a worker thread
    claims each with a conditional UPDATE and sends it, retrying with
    back-off, so a slow or dead target never holds up a request.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # "site:<url hash>", "department:<id>", "group:<id>" or "email"
    target: Mapped[str] = mapped_column(sa.String(100), index=True)
    recipient: Mapped[str] = mapped_column(sa.String(254), default="")  # e-mail
    article_id: Mapped[int | None]  # no foreign key: purged posts keep history
    event: Mapped[str] = mapped_column(sa.String(20), default="")
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # pending, sending, sent or failed (after the last attempt)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who is sending it, until when: another process takes over after that.
    claim: Mapped[str] = mapped_column(sa.String(32), default="")
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    last_attempt_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_notification_due", "status", "next_attempt_at"),)


class LoginAttempt(SiteOwned, db.Model):
    """Failed logins, and ones still checking a password, for throttle.py."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    ip: Mapped[str] = mapped_column(sa.String(45), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # True while the password is being checked: a parallel burst of guesses
    # counts before any of them has failed (see throttle.begin).
    pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
