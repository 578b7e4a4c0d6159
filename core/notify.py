"""People are told: review moves queue messages, a worker thread sends them.

A move (review/chain.py) only adds Notification rows to its own transaction:
e-mail to the people concerned, the group-chat robots (钉钉, 企业微信, 飞书)
of the author's department or of the level's review group, and the site-wide
NOTIFY_URLS. A worker thread in each server process claims a row with a
conditional UPDATE (so several processes never send one twice), sends it
through Apprise with short timeouts on a few sender threads (a dead target
holds up nothing else), and retries with exponential back-off.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from core import background, sites, siteurl
from models import (
    Department,
    Notification,
    ReviewGroup,
    User,
    db,
    get_settings,
    parse_id,
    utcnow,
)

MAX_ATTEMPTS = 5
SENDERS = 4  # sender threads: one hanging target leaves the others free
POLL_SECONDS = 5.0  # rows queued by other processes are seen this soon
LEASE = timedelta(minutes=2)  # a claim older than this was a process that died
REPEAT = timedelta(minutes=10)  # one «waiting» message per person and post
TLS_MODES = ("starttls", "ssl", "insecure")

log = logging.getLogger(__name__)


class Event:
    WAITING = "waiting"
    RETURNED = "returned"
    PUBLISHED = "published"
    BYPASSED = "bypassed"
    TEST = "test"


# --- Targets -----------------------------------------------------------------------


@dataclass
class Target:
    key: str  # Notification.target
    kind: str  # site, department, group, email
    name: str  # what the admin page calls it (lazy: the worker has no locale)
    url: str  # the Apprise URL (secret: shown only redacted)


def valid_url(url: str) -> bool:
    """Whether Apprise can send to this URL (no network is used)."""
    return _plugin(url) is not None


_plugins_lock = threading.Lock()


def _plugin(url: str):
    # Apprise loads its plugins on first use, which is not safe from several
    # sender threads at once.
    with _plugins_lock:
        import apprise  # imported when used: server processes stay small

        try:
            return apprise.Apprise.instantiate(url.strip())
        except Exception:  # a malformed URL is only «not usable»
            return None


def redacted(url: str) -> str:
    plugin = _plugin(url)
    if plugin is None:
        return "?"
    return plugin.url(privacy=True).split("?", 1)[0]


def _site_key(url: str) -> str:
    return "site:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def site_targets() -> list[Target]:
    return [
        Target(_site_key(url), "site", _l("Every message (NOTIFY_URLS)"), url)
        for url in current_app.config.get("NOTIFY_URLS") or ()
        if url
    ]


def department_target(department: Department | None) -> Target | None:
    if department is None or not department.robot_url:
        return None
    return Target(
        f"department:{department.id}",
        "department",
        department.name,
        department.robot_url,
    )


def group_target(group: ReviewGroup | None) -> Target | None:
    if group is None or not group.robot_url:
        return None
    return Target(f"group:{group.id}", "group", group.name, group.robot_url)


def email_url(to: str, settings: dict | None = None) -> str | None:
    """The Apprise mailto URL for one address, from «站点设置»; None unset."""
    settings = settings or get_settings()
    host, sender = settings["smtp_host"].strip(), settings["smtp_sender"].strip()
    if not host or not sender or not to:
        return None
    mode = settings["smtp_tls"] if settings["smtp_tls"] in TLS_MODES else "starttls"
    login = ""
    if settings["smtp_user"]:
        login = quote(settings["smtp_user"], safe="")
        if settings["smtp_password"]:
            login += ":" + quote(settings["smtp_password"], safe="")
        login += "@"
    port = parse_id(settings["smtp_port"])
    address = f"{host}:{port}" if port else host
    return (
        f"{'mailto' if mode == 'insecure' else 'mailtos'}://{login}{address}"
        f"/{quote(to, safe='@')}?from={quote(sender, safe='@')}&mode={mode}"
        f"&smtp={quote(host, safe='')}"
    )


def email_target(settings: dict | None = None) -> Target | None:
    settings = settings or get_settings()
    if not (settings["smtp_host"].strip() and settings["smtp_sender"].strip()):
        return None
    return Target("email", "email", _l("E-mail to users"), "")


def all_targets() -> list[Target]:
    """Every configured target, as the admin page lists them."""
    targets = site_targets()
    email = email_target()
    if email is not None:
        targets.append(email)
    for model in (Department, ReviewGroup):
        rows = db.session.scalars(
            sa.select(model)
            .where(model.robot_url != "")
            .order_by(model.position, model.name)
        )
        make = department_target if model is Department else group_target
        targets.extend(make(row) for row in rows)
    return targets


def _resolve(row: Notification) -> str | None:
    """The URL a queued row goes to now (config and settings may have moved)."""
    kind, _sep, ident = row.target.partition(":")
    if kind == "site":
        for target in site_targets():
            if target.key == row.target:
                return target.url
        return None
    if kind == "email":
        return email_url(row.recipient)
    model = {"department": Department, "group": ReviewGroup}.get(kind)
    found = db.session.get(model, parse_id(ident) or 0) if model else None
    return found.robot_url if found is not None and found.robot_url else None


# --- Queueing ----------------------------------------------------------------------


def link(endpoint: str, **values) -> str:
    """An absolute link for a message (a path if nothing says the host)."""
    try:
        return siteurl.absolute_url(endpoint, **values)
    except RuntimeError:  # no site address, request or SERVER_NAME: a path
        return siteurl.path_for(endpoint, **values)


def tell(
    article,
    event: str,
    subject: str,
    text: str,
    link: str,
    people: set,
    robot: Target | None,
    actor,
) -> None:
    """Queue one move's messages: every site target, the group's robot, and
    an e-mail to each of people. The caller (review/chain.py) says who and what."""
    body = f"{text}\n{link}"
    if actor is not None and event != Event.WAITING:
        people.discard(actor.id)  # nobody needs telling what they just did
    targets: list[tuple[Target, str]] = [(t, "") for t in site_targets()]
    if robot is not None:
        targets.append((robot, ""))
    email = email_target()
    if email is not None and people:
        addresses = db.session.scalars(
            sa.select(User.email).where(
                User.id.in_(people - {None}),
                User.active.is_(True),
                User.email.is_not(None),
                User.email != "",
            )
        )
        targets.extend((email, address) for address in sorted(set(addresses)))
    for target, recipient in targets:
        if event == Event.WAITING and _told_recently(
            target.key, recipient, article.id, subject
        ):
            continue  # an edit during review restarts the chain: once is enough
        queue(target.key, subject, body, recipient, article.id, event)
    if targets:
        db.session.info["notify_wake"] = True


def _told_recently(key: str, recipient: str, article_id: int, subject: str) -> bool:
    return (
        db.session.scalar(
            sa.select(Notification.id)
            .where(
                Notification.target == key,
                Notification.recipient == recipient,
                Notification.article_id == article_id,
                Notification.title == subject[:300],
                Notification.created_at > utcnow() - REPEAT,
            )
            .limit(1)
        )
        is not None
    )


def queue(
    key: str,
    title: str,
    body: str,
    recipient: str = "",
    article_id: int | None = None,
    event: str = "",
) -> Notification:
    """Add a message for one target to the session; the caller commits."""
    row = Notification(
        target=key,
        recipient=recipient,
        article_id=article_id,
        event=event,
        title=title[:300],
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        claim="",
        last_error="",
    )
    db.session.add(row)
    db.session.info["notify_wake"] = True
    return row


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _wake_after_commit(session) -> None:
    if session.info.pop("notify_wake", False):
        worker = current_app.extensions.get("notify") if current_app else None
        if worker is not None:
            worker.kick()


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_after_rollback(session) -> None:
    session.info.pop("notify_wake", None)


# --- Sending -----------------------------------------------------------------------


class _Capture(logging.Handler):
    """Apprise logs why a send failed; keep what this thread's send logged."""

    local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())


_capture = _Capture(logging.WARNING)


def send_now(url: str, title: str, body: str, timeout: float) -> str | None:
    """Send one message; None when it went, else why not."""
    plugin = _plugin(url)
    if plugin is None:
        return "not a usable Apprise URL"
    # A dead or silent target must not hold a sender for long.
    plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout)
    plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout)
    apprise_log = logging.getLogger("apprise")
    if _capture not in apprise_log.handlers:
        apprise_log.addHandler(_capture)
    _Capture.local.lines = []
    try:
        ok = plugin.notify(body=body, title=title)
    except Exception as error:  # a plugin's bug is one failed send
        return f"{type(error).__name__}: {error}"[:500]
    finally:
        lines, _Capture.local.lines = _Capture.local.lines, None
    if ok:
        return None
    return ("; ".join(lines) or "the target refused the message")[:500]


class Worker(background.ProcessThread):
    """The outbox's sender in this process: one thread, a few sender threads."""

    name = "notify-worker"
    config_key = "NOTIFY_WORKER"
    extension = "notify"

    def __init__(self, app):
        super().__init__(app)
        self.in_flight: set[int] = set()

    def _run(self) -> None:
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="notify-send") as pool:
            while not self.stopping.is_set():
                wait = POLL_SECONDS
                try:
                    with self.app.app_context():
                        wait = self._dispatch(pool)
                except Exception:  # the database may be busy or not there yet
                    log.warning("the notification outbox was not read", exc_info=True)
                self.wait(wait)

    def _dispatch(self, pool) -> float:
        """Claim due rows for the free senders; seconds until the next is due."""
        now = utcnow()
        free = SENDERS - len(self.in_flight)
        due = sa.or_(
            sa.and_(
                Notification.status == "pending", Notification.next_attempt_at <= now
            ),
            sa.and_(Notification.status == "sending", Notification.claimed_until < now),
        )
        ids = []
        if free > 0:
            ids = db.session.scalars(
                sa.select(Notification.id)
                .where(due)
                .order_by(Notification.id)
                .limit(free)
                .execution_options(all_sites=True)  # one worker sends for all
            ).all()
        for row_id in ids:
            token = uuid.uuid4().hex
            claimed = db.session.execute(
                sa.update(Notification)
                .where(Notification.id == row_id, due)
                .values(
                    status="sending",
                    claim=token,
                    claimed_until=now + LEASE,
                    attempts=Notification.attempts + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False, all_sites=True)
            ).rowcount
            db.session.commit()
            if claimed == 1:  # else another process was quicker
                with self.lock:
                    self.in_flight.add(row_id)
                pool.submit(self._send, row_id, token)
        if len(ids) == free and free > 0:
            return 0  # maybe more are due
        upcoming = db.session.scalar(
            sa.select(sa.func.min(Notification.next_attempt_at))
            .where(Notification.status == "pending")
            .execution_options(all_sites=True)
        )
        if upcoming is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max((upcoming - utcnow()).total_seconds(), 0.05))

    def _send(self, row_id: int, token: str) -> None:
        try:
            with self.app.app_context():
                row = db.session.get(
                    Notification, row_id, execution_options={"all_sites": True}
                )
                with sites.acting_for(row.site_id):  # its site's targets, mail
                    url = _resolve(row)
                title, body, attempts = row.title, row.body, row.attempts
                db.session.rollback()  # no transaction held open while sending
                timeout = float(self.app.config.get("NOTIFY_TIMEOUT", 5))
                if url is None:
                    error = "this target is no longer configured"
                    attempts = MAX_ATTEMPTS  # nothing to retry
                else:
                    error = send_now(url, title, body, timeout)
                self._record(row_id, token, attempts, error)
        except Exception:
            log.exception("notification %s was not sent", row_id)
        finally:
            with self.lock:
                self.in_flight.discard(row_id)
            self.wake.set()

    def _record(self, row_id: int, token: str, attempts: int, error) -> None:
        now = utcnow()
        if error is None:
            values = {"status": "sent", "sent_at": now, "last_error": ""}
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": error}
        else:
            base = float(self.app.config.get("NOTIFY_RETRY_SECONDS", 30))
            delay = timedelta(seconds=base * 2 ** (attempts - 1))
            values = {
                "status": "pending",
                "next_attempt_at": now + delay,
                "last_error": error,
            }
        db.session.execute(
            sa.update(Notification)
            .where(Notification.id == row_id, Notification.claim == token)
            .values(claim="", claimed_until=None, **values)
            .execution_options(synchronize_session=False, all_sites=True)
        )
        db.session.commit()


def init_app(app) -> None:
    """Bind the worker: it starts with a server process (serve.py), else with
    the first message queued; NOTIFY_WORKER False (tests) keeps it off."""
    app.config.setdefault("NOTIFY_URLS", [])
    app.config.setdefault("NOTIFY_TIMEOUT", 5)  # seconds per connect and read
    app.config.setdefault("NOTIFY_RETRY_SECONDS", 30)  # then 60, 120, 240
    Worker.bind(app)


def stop(app) -> None:
    Worker.stop_bound(app)
