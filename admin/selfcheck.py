"""The 等保 2.0 self-assessment (自查): each application-layer control of
GB/T 22239-2019 level 2 (chapter 7, 第二级安全要求; 7.1.4 安全计算环境) and
its state on this installation, with the evidence, for the school's assessor.

gather() reads what the state rests on (settings, accounts, the audit
chain, the backup folder, the app's config) into Facts; evaluate() turns
Facts into rows and touches nothing, so tests can check every cell. The
page (admin/views/selfcheck.py) and both exports show the same rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from admin import dormant, throttle
from admin.passwords import Policy
from core.i18n import datetime_filter
from models import AuditChain, AuditEvent, Duty, Role, User, db, get_settings, utcnow
from operations import backup

MET = "met"
NOT_MET = "not_met"
DEVIATION = "deviation"
MANUAL = "manual"
STATES = (MET, NOT_MET, DEVIATION, MANUAL)
STATE_LABELS = {
    MET: _l("Met"),
    NOT_MET: _l("Not met"),
    DEVIATION: _l("Deviation"),
    MANUAL: _l("Manual check"),
}

# What this installation must show for a control to count as met. The
# standard names no numbers; these are what assessors commonly accept.
MIN_PASSWORD_LENGTH = 8
MIN_PASSWORD_CLASSES = 3
MAX_PASSWORD_AGE_DAYS = 180  # 定期更换: an expiry is set, at most half a year
MAX_IDLE_MINUTES = 120
HTTPS_RECENT = timedelta(days=30)
BACKUP_RECENT = timedelta(days=7)
DRILL_RECENT = timedelta(days=180)
OFFSITE_RECENT = timedelta(days=31)
MIN_AUDIT_RETENTION_DAYS = 180  # 网络安全法 第二十一条: at least six months
DEFAULT_NAMES = frozenset({"admin", "administrator", "root"})

AREAS = {
    "7.1.4.1": _l("Identification and authentication"),
    "7.1.4.2": _l("Access control"),
    "7.1.4.3": _l("Security audit"),
    "7.1.4.4": _l("Intrusion prevention"),
    "7.1.4.6": _l("Data integrity"),
    "7.1.4.7": _l("Data backup and recovery"),
    "7.1.4.9": _l("Personal information protection"),
}
# The requirements in the standard's words (the Chinese catalog holds them
# verbatim; the English is a translation).
REQUIREMENTS = {
    "7.1.4.1 a)": _l(
        "Users who log in shall be identified and authenticated; identities shall "
        "be unique, and authentication information shall meet complexity "
        "requirements and be changed regularly."
    ),
    "7.1.4.1 b)": _l(
        "A login failure handling function shall be provided: ending the session, "
        "limiting unlawful login attempts and logging out automatically when a "
        "login connection times out shall be configured and enabled."
    ),
    "7.1.4.1 c)": _l(
        "For remote administration, the necessary measures shall be taken to "
        "prevent authentication information from being eavesdropped on during "
        "network transmission."
    ),
    "7.1.4.2 a)": _l("Accounts and permissions shall be assigned to users who log in."),
    "7.1.4.2 b)": _l(
        "Default accounts shall be renamed or removed, and the default passwords "
        "of default accounts changed."
    ),
    "7.1.4.2 c)": _l(
        "Redundant and expired accounts shall be deleted or disabled in time, and "
        "shared accounts avoided."
    ),
    "7.1.4.2 d)": _l(
        "Administrative users shall be granted the minimum privileges they need, "
        "and the privileges of administrative users shall be separated."
    ),
    "7.1.4.3 a)": _l(
        "Security audit shall be enabled, covering every user, and important user "
        "actions and important security events shall be audited."
    ),
    "7.1.4.3 b)": _l(
        "Audit records shall include the date and time of the event, the user, the "
        "event type, whether the event succeeded, and other audit-related "
        "information."
    ),
    "7.1.4.3 c)": _l(
        "Audit records shall be protected and backed up regularly, so that they are "
        "not deleted, modified or overwritten unexpectedly."
    ),
    "7.1.4.4 c)": _l(
        "Management terminals that administer the system over the network shall be "
        "restricted by setting their access method or network address range."
    ),
    "7.1.4.4 d)": _l(
        "A data validity check shall be provided, so that what is entered through "
        "the human–machine interface or a communication interface meets the "
        "system's requirements."
    ),
    "7.1.4.4 e)": _l(
        "Known vulnerabilities that may exist shall be found, and patched promptly "
        "after adequate testing and evaluation."
    ),
    "7.1.4.6 a)": _l(
        "Check techniques shall be used to ensure the integrity of important data "
        "during transmission."
    ),
    "7.1.4.7 a)": _l(
        "A local backup and recovery function for important data shall be provided."
    ),
    "7.1.4.7 b)": _l(
        "An off-site data backup function shall be provided, sending important data "
        "over the communication network in regular batches to a backup site."
    ),
    "7.1.4.9 a)": _l(
        "Only the users' personal information that the business needs shall be "
        "collected and kept."
    ),
    "7.1.4.9 b)": _l(
        "Unauthorized access to and unlawful use of users' personal information "
        "shall be prohibited."
    ),
}
CLAUSES = tuple(REQUIREMENTS)

DUTY_LABELS = {
    Duty.SYSTEM: _l("system administrator"),
    Duty.SECURITY: _l("security administrator"),
    Duty.AUDIT: _l("audit administrator"),
}
TOTP_LABELS = {
    "none": _l("not required"),
    "admins": _l("required for the management roles"),
    "all": _l("required for everyone"),
}


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    duties: tuple[str, ...]
    has_totp: bool
    needs_setup: bool


@dataclass
class Facts:
    """Everything the assessment rests on, read once."""

    now: datetime
    settings: dict[str, str]
    policy: Policy
    accounts: list[Account]  # active ones
    inactive: int
    dormant: list[str]  # user names, longest unused first
    dormant_days: int
    idle_minutes: int
    remember_days: int
    trusted_proxies: int
    chain_verified_at: datetime | None
    chain_ok: bool | None
    chain_note: str
    events: int
    oldest_event: datetime | None
    newest_event: AuditEvent | None
    confirmations: int  # personal data published with a recorded reason
    backups: list[datetime]  # when each archive was made, newest first
    backup_folder: str
    version: str


@dataclass
class Row:
    clause: str  # "7.1.4.1 a)"
    state: str
    evidence: list[str] = field(default_factory=list)
    advice: str = ""  # what to do; for a deviation, why and what would end it

    @property
    def area(self) -> str:
        return str(AREAS[self.clause.split()[0]])

    @property
    def requirement(self) -> str:
        return str(REQUIREMENTS[self.clause])

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def anchor(self) -> str:
        return "c-" + self.clause.replace(".", "-").replace(" ", "").rstrip(")")


def gather(app=None) -> Facts:
    """Read the facts from the database, the settings and the backup folder."""
    app = app or current_app._get_current_object()
    settings = get_settings()
    users = db.session.scalars(sa.select(User).order_by(User.id)).all()
    active = [
        Account(u.username, u.role, u.duties, u.has_totp, u.needs_setup)
        for u in users
        if u.active
    ]
    chain = db.session.get(AuditChain, 1)
    count, oldest = db.session.execute(
        sa.select(sa.func.count(AuditEvent.id), sa.func.min(AuditEvent.created_at))
    ).one()
    newest = db.session.scalar(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
    )
    confirmations = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "article.compliance_confirmed"
        )
    )
    folder = backup.backup_folder(app)
    made = [
        datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        for path in backup.list_backups(Path(folder))
    ]
    remember = app.config.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365)
    if not isinstance(remember, timedelta):
        remember = timedelta(seconds=int(remember))
    return Facts(
        now=utcnow(),
        settings=settings,
        policy=Policy.current(settings),
        accounts=active,
        inactive=len(users) - len(active),
        dormant=[u.username for u in dormant.dormant_users()],
        dormant_days=dormant.days(settings),
        idle_minutes=int(app.config.get("SESSION_IDLE_MINUTES") or 0),
        remember_days=remember.days,
        trusted_proxies=int(app.config.get("TRUSTED_PROXIES") or 0),
        chain_verified_at=chain.verified_at if chain else None,
        chain_ok=chain.verified_ok if chain else None,
        chain_note=chain.verified_note if chain else "",
        events=count,
        oldest_event=oldest,
        newest_event=newest,
        confirmations=confirmations or 0,
        backups=made,
        backup_folder=str(folder),
        version=backup.app_version(),
    )


def parse_time(value: str) -> datetime | None:
    """A time stored in a setting (ISO 8601) as naive UTC; None when unset."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _number(settings: dict, key: str, fallback: int) -> int:
    try:
        return int(settings.get(key, ""))
    except ValueError:
        return fallback


def _when(moment: datetime | None) -> str:
    return datetime_filter(moment) if moment else _("not recorded yet")


def evaluate(facts: Facts) -> list[Row]:
    """The rows of the self-assessment, in the standard's order."""
    https = _https(facts)
    return [
        _passwords(facts),
        _login_failures(facts),
        _remote_admin(facts, https),
        _accounts(facts),
        _default_accounts(facts),
        _dormant(facts),
        _separation(facts),
        _audit_enabled(facts),
        _audit_fields(facts),
        _audit_protected(facts),
        _admin_terminals(facts),
        _validity(facts),
        _vulnerabilities(facts),
        _transport_integrity(facts, https),
        _local_backup(facts),
        _offsite(facts),
        _personal_minimum(facts),
        _personal_access(facts),
    ]


def summary(rows: list[Row]) -> list[tuple[str, str, int]]:
    """(state, label, how many rows) for every state, in STATES order."""
    counts = Counter(row.state for row in rows)
    return [(state, str(STATE_LABELS[state]), counts[state]) for state in STATES]


def assess(app=None) -> list[Row]:
    return evaluate(gather(app))


# --- 7.1.4.1 身份鉴别 -------------------------------------------------------------


def _passwords(facts: Facts) -> Row:
    policy = facts.policy
    evidence = [
        _("User names are unique (enforced by the database)."),
        _("Minimum password length: %(num)d characters.", num=policy.min_length),
        _("Character classes required: %(num)d of 4.", num=policy.classes),
        _("Common passwords and the user's own name are refused."),
        _("Earlier passwords refused: %(num)d.", num=policy.history),
        _("Password expiry: %(days)s.", days=_days_or_never(policy.max_age_days)),
        _second_factor(facts),
    ]
    advice = []
    if policy.min_length < MIN_PASSWORD_LENGTH or policy.classes < MIN_PASSWORD_CLASSES:
        advice.append(
            _(
                "On the password policy page (security administrator), require at "
                "least %(length)d characters and %(classes)d character classes.",
                length=MIN_PASSWORD_LENGTH,
                classes=MIN_PASSWORD_CLASSES,
            )
        )
    if not 0 < policy.max_age_days <= MAX_PASSWORD_AGE_DAYS:
        advice.append(
            _(
                "Passwords must be changed regularly: on the password policy page, set "
                "the password expiry to at most %(days)d days (90 is usual).",
                days=MAX_PASSWORD_AGE_DAYS,
            )
        )
    return Row("7.1.4.1 a)", NOT_MET if advice else MET, evidence, " ".join(advice))


def _days_or_never(days: int) -> str:
    if not days:
        return _("passwords never expire")
    return ngettext("%(num)d day", "%(num)d days", days)


def _second_factor(facts: Facts) -> str:
    required = facts.settings.get("totp_required", "none")
    managers = [a for a in facts.accounts if a.duties]
    return _(
        "Second factor (TOTP): %(required)s; set up by %(users)d of %(total)d active "
        "accounts, %(admins)d of %(managers)d with a management role.",
        required=TOTP_LABELS.get(required, required),
        users=sum(a.has_totp for a in facts.accounts),
        total=len(facts.accounts),
        admins=sum(a.has_totp for a in managers),
        managers=len(managers),
    )


def _login_failures(facts: Facts) -> Row:
    name, address = throttle.PER_NAME, throttle.PER_ADDRESS
    evidence = [
        _(
            "Login throttling is always on: after %(free)d failures for one user "
            "name from one address each try waits longer (up to %(longest)d "
            "minutes); %(block)d failures within an hour block that pair.",
            free=name.free,
            longest=int(throttle.LONGEST_PAUSE.total_seconds() // 60),
            block=name.block,
        ),
        _(
            "One address may fail %(free)d times over all user names before it is "
            "slowed down, and is blocked after %(block)d.",
            free=address.free,
            block=address.block,
        ),
    ]
    # The per-account ceiling across addresses (admin/throttle.py), where the
    # release has it.
    ceiling = getattr(throttle, "ACCOUNT_CEILING", None)
    spacing = getattr(throttle, "ACCOUNT_SPACING", None)
    if ceiling is not None and spacing is not None:
        evidence.append(
            _(
                "Per account over all addresses: after %(num)d failures within an "
                "hour, browsers new to the account get one password check every "
                "%(seconds)d seconds.",
                num=ceiling,
                seconds=int(spacing.total_seconds()),
            )
        )
    evidence += [
        _(
            "Logging out ends that device's session; ending all sessions or a "
            "password change ends every one."
        ),
        _("Idle sessions end after %(num)d minutes.", num=facts.idle_minutes),
        _(
            "A device where «remember me» was ticked stays logged in for %(num)d days.",
            num=facts.remember_days,
        ),
    ]
    if 0 < facts.idle_minutes <= MAX_IDLE_MINUTES:
        return Row("7.1.4.1 b)", MET, evidence)
    advice = _(
        "Set SESSION_IDLE_MINUTES in instance/config.py to at most %(num)d "
        "minutes and restart the site.",
        num=MAX_IDLE_MINUTES,
    )
    return Row("7.1.4.1 b)", NOT_MET, evidence, advice)


def _https(facts: Facts) -> tuple[datetime | None, bool]:
    seen = parse_time(facts.settings.get("https_seen_at", ""))
    return seen, seen is not None and facts.now - seen <= HTTPS_RECENT


def _https_evidence(facts: Facts, seen: datetime | None) -> list[str]:
    return [
        _("Staff last reached the site over HTTPS: %(when)s.", when=_when(seen)),
        _("TRUSTED_PROXIES: %(num)d.", num=facts.trusted_proxies),
        _("Over HTTPS every cookie is marked Secure and HSTS is sent."),
    ]


def _https_advice(facts: Facts, seen: datetime | None) -> str:
    if seen is not None:
        advice = _(
            "No administrator has used HTTPS for %(days)d days. Open the "
            "administration pages at the site's https:// address.",
            days=(facts.now - seen).days,
        )
    else:
        advice = _(
            "Serve the site over HTTPS: put nginx in front with the school's "
            "certificate (or a free one from Let's Encrypt where the server reaches "
            "the internet), as README «HTTPS» and deploy/nginx-https.conf show, "
            "then log in at the https:// address."
        )
    if facts.trusted_proxies == 0:
        advice += " " + _(
            "If nginx already serves HTTPS, set TRUSTED_PROXIES = 1 in "
            "instance/config.py, so that the site sees it."
        )
    return advice


def _remote_admin(facts: Facts, https) -> Row:
    seen, recent = https
    evidence = _https_evidence(facts, seen)
    if recent:
        return Row("7.1.4.1 c)", MET, evidence)
    return Row("7.1.4.1 c)", NOT_MET, evidence, _https_advice(facts, seen))


# --- 7.1.4.2 访问控制 -------------------------------------------------------------


def _role_counts(facts: Facts) -> str:
    counts = Counter(a.role for a in facts.accounts)
    return _(
        "Active accounts: %(authors)d authors, %(editors)d editors, %(admins)d "
        "system administrators, %(managers)d with a management role only (no "
        "posts); %(inactive)d deactivated.",
        authors=counts[Role.AUTHOR],
        editors=counts[Role.EDITOR],
        admins=counts[Role.ADMIN],
        managers=counts[Role.MANAGER],
        inactive=facts.inactive,
    )


def _accounts(facts: Facts) -> Row:
    evidence = [
        _role_counts(facts),
        _(
            "Every page for staff requires a login; the server checks the account's "
            "role and management roles on every request."
        ),
    ]
    return Row("7.1.4.2 a)", MET, evidence)


def _default_accounts(facts: Facts) -> Row:
    named = [a.username for a in facts.accounts if a.username.lower() in DEFAULT_NAMES]
    unset = [a.username for a in facts.accounts if a.needs_setup]
    evidence = [
        _(
            "Active accounts with a default name (admin, administrator, root): "
            "%(names)s.",
            names=", ".join(named) or _("none"),
        ),
        _(
            "The first administrator gets a random password, which the first-run "
            "setup replaces. Accounts still waiting for that setup: %(names)s.",
            names=", ".join(unset) or _("none"),
        ),
    ]
    advice = []
    if named:
        advice.append(
            _(
                "Rename %(names)s to a personal user name on the account's page, or "
                "create a personal administrator account and deactivate this one.",
                names=", ".join(named),
            )
        )
    if unset:
        advice.append(
            _("Log in and finish the first-run setup, which sets a new password.")
        )
    return Row("7.1.4.2 b)", NOT_MET if advice else MET, evidence, " ".join(advice))


def _dormant(facts: Facts) -> Row:
    auto = facts.settings.get("dormant_auto_disable") == "1"
    evidence = [
        _(
            "Accounts unused for %(num)d days count as dormant; they are disabled "
            "automatically: %(auto)s.",
            num=facts.dormant_days,
            auto=_("yes") if auto else _("no"),
        ),
        _("Dormant accounts: %(names)s.", names=", ".join(facts.dormant) or _("none")),
    ]
    shared = _(
        "The software cannot tell whether several people share an account: make sure "
        "every teacher logs in with their own."
    )
    if facts.dormant:
        advice = _(
            "Disable the dormant accounts on the users page (one button), or turn on "
            "their automatic disabling."
        )
        return Row("7.1.4.2 c)", NOT_MET, evidence, f"{advice} {shared}")
    return Row("7.1.4.2 c)", MET, evidence, shared)


def _separation(facts: Facts) -> Row:
    holders = {
        duty: [a.username for a in facts.accounts if duty in a.duties]
        for duty in Duty.ALL
    }
    evidence = [
        _(
            "%(duty)s: %(names)s.",
            duty=DUTY_LABELS[duty],
            names=", ".join(names) or _("nobody"),
        )
        for duty, names in holders.items()
    ]
    single = facts.settings.get("single_admin") == "1"
    evidence.append(
        _("Single-administrator mode: %(on)s.", on=_("on") if single else _("off"))
    )
    evidence.append(
        _(
            "The system administrator cannot read or erase the audit log; the audit "
            "administrator can read and export it and change nothing."
        )
    )
    missing = [DUTY_LABELS[d] for d, names in holders.items() if not names]
    combined = [a.username for a in facts.accounts if len(a.duties) > 1]
    split = _(
        "Give the security administrator and the audit administrator an account each "
        "(two other people than the system administrator), then turn off "
        "single-administrator mode."
    )
    if missing:
        advice = _(
            "Nobody holds the role of %(roles)s: give it to an active account.",
            roles=", ".join(str(m) for m in missing),
        )
        return Row("7.1.4.2 d)", NOT_MET, evidence, advice)
    if combined and single:
        reason = _(
            "Deviation chosen by the school: single-administrator mode lets %(names)s "
            "hold several management roles, for a school with only one person to "
            "run the site.",
            names=", ".join(combined),
        )
        return Row("7.1.4.2 d)", DEVIATION, evidence, f"{reason} {split}")
    if combined:
        advice = _(
            "%(names)s hold several management roles: keep one each.",
            names=", ".join(combined),
        )
        return Row("7.1.4.2 d)", NOT_MET, evidence, advice)
    return Row("7.1.4.2 d)", MET, evidence)


# --- 7.1.4.3 安全审计 -------------------------------------------------------------


def _audit_enabled(facts: Facts) -> Row:
    evidence = [
        _(
            "The audit log is always on and covers every account: logins and failed "
            "logins, logouts, account, role and permission changes, publishing, "
            "settings, backups, restores and exports."
        ),
        _(
            "Events recorded: %(num)d, since %(when)s.",
            num=facts.events,
            when=_when(facts.oldest_event),
        ),
    ]
    return Row("7.1.4.3 a)", MET, evidence)


def _audit_fields(facts: Facts) -> Row:
    evidence = [
        _(
            "Each event holds its date and time, the user, the source address "
            "(through the trusted proxies), the event type, success or failure, "
            "and details."
        )
    ]
    event = facts.newest_event
    if event is not None:
        evidence.append(
            _(
                "Newest event: %(when)s, %(user)s, %(action)s, %(outcome)s, from "
                "%(address)s.",
                when=datetime_filter(event.created_at),
                user=event.user.username if event.user else "—",
                action=event.action,
                outcome=event.outcome,
                address=event.ip or "—",
            )
        )
    return Row("7.1.4.3 b)", MET, evidence)


def _audit_protected(facts: Facts) -> Row:
    retention = _number(facts.settings, "audit_retention_days", 0)
    newest = facts.backups[0] if facts.backups else None
    evidence = [
        _(
            "Events are append-only in the database and hash-chained, so a changed "
            "or removed event is detected."
        ),
        _chain_evidence(facts),
        _(
            "Events are kept %(num)d days, then archived into the backup.",
            num=retention,
        ),
        _("Newest backup (it holds the audit log): %(when)s.", when=_when(newest)),
    ]
    advice = []
    if facts.chain_ok is None or facts.chain_verified_at is None:
        advice.append(
            _(
                "Check the audit chain: on the audit log page (audit administrator), "
                "or by running «flask --app app audit-verify» on the server."
            )
        )
    elif not facts.chain_ok:
        advice.append(
            _(
                "The last check found the audit log altered: keep the database as it "
                "is, report it to the school's leadership and compare with the "
                "backups to find what was changed."
            )
        )
    if retention < MIN_AUDIT_RETENTION_DAYS:
        advice.append(
            _(
                "Keep audit events at least %(num)d days (Cybersecurity Law, "
                "article 21): change the retention setting.",
                num=MIN_AUDIT_RETENTION_DAYS,
            )
        )
    if not _recent(facts, newest, BACKUP_RECENT):
        advice.append(_backup_advice())
    return Row("7.1.4.3 c)", NOT_MET if advice else MET, evidence, " ".join(advice))


def _chain_evidence(facts: Facts) -> str:
    if facts.chain_verified_at is None or facts.chain_ok is None:
        return _("The audit chain has never been checked.")
    if facts.chain_ok:
        return _(
            "The audit chain was checked at %(when)s: intact.",
            when=datetime_filter(facts.chain_verified_at),
        )
    return _(
        "The audit chain was checked at %(when)s: ALTERED (%(note)s).",
        when=datetime_filter(facts.chain_verified_at),
        note=facts.chain_note,
    )


def _recent(facts: Facts, moment: datetime | None, within: timedelta) -> bool:
    return moment is not None and facts.now - moment <= within


def _backup_advice() -> str:
    return _(
        "Make a backup at least weekly: schedule «flask --app app backup» every "
        "night (README «Backup and restore»), or use the backups page."
    )


# --- 7.1.4.4 入侵防范 -------------------------------------------------------------


def _admin_terminals(facts: Facts) -> Row:
    evidence = [
        _("Administration is only possible through the site's own pages, after login."),
        _("TRUSTED_PROXIES: %(num)d.", num=facts.trusted_proxies),
    ]
    advice = _(
        "Decide from which networks staff may log in, and restrict /login, /admin "
        "and /editor to them in nginx (allow/deny lines; deploy/nginx-https.conf "
        "has an example) or in the school's firewall."
    )
    return Row("7.1.4.4 c)", MANUAL, evidence, advice)


def _validity(facts: Facts) -> Row:
    evidence = [
        _("Every form is checked on the server and carries a CSRF token."),
        _(
            "Posts pass one strict HTML allowlist; pages send a "
            "Content-Security-Policy without inline scripts."
        ),
        _(
            "Uploads are checked by their content, stored under random names, and "
            "never served as web pages."
        ),
    ]
    return Row("7.1.4.4 d)", MET, evidence)


def _vulnerabilities(facts: Facts) -> Row:
    evidence = [
        _("SchoolNews version %(version)s.", version=facts.version),
        _("Every Python package is pinned to a version in requirements.txt."),
    ]
    advice = _(
        "At least every term: upgrade SchoolNews to its newest release, install the "
        "operating system's security updates, and check the packages for known "
        "vulnerabilities («pip-audit -r requirements.txt»). Keep a note of what was "
        "done."
    )
    return Row("7.1.4.4 e)", MANUAL, evidence, advice)


# --- 7.1.4.6 数据完整性, 7.1.4.7 数据备份恢复 ----------------------------------------


def _transport_integrity(facts: Facts, https) -> Row:
    seen, recent = https
    evidence = [
        _("HTTPS (TLS) checks the integrity of everything sent."),
        *_https_evidence(facts, seen)[:2],
    ]
    if recent:
        return Row("7.1.4.6 a)", MET, evidence)
    return Row("7.1.4.6 a)", NOT_MET, evidence, _https_advice(facts, seen))


def _local_backup(facts: Facts) -> Row:
    newest = facts.backups[0] if facts.backups else None
    drill_at = parse_time(facts.settings.get("restore_drill_at", ""))
    drill_result = facts.settings.get("restore_drill_result", "")
    evidence = [
        _(
            "Newest backup: %(when)s (%(num)d archives in %(folder)s).",
            when=_when(newest),
            num=len(facts.backups),
            folder=facts.backup_folder,
        ),
        _(
            "Last restore drill: %(when)s, result: %(result)s.",
            when=_when(drill_at),
            result=(_("succeeded") if drill_result == "ok" else drill_result) or "—",
        ),
        _("A restore checks the archive and the database before it replaces anything."),
    ]
    advice = []
    if not _recent(facts, newest, BACKUP_RECENT):
        advice.append(_backup_advice())
    if not _recent(facts, drill_at, DRILL_RECENT) or drill_result != "ok":
        advice.append(
            _(
                "Rehearse a restore at least every half year, as README «Backup and "
                "restore» describes, so that the drill and its result are recorded."
            )
        )
    return Row("7.1.4.7 a)", NOT_MET if advice else MET, evidence, " ".join(advice))


def _offsite(facts: Facts) -> Row:
    copied = parse_time(facts.settings.get("offsite_copy_at", ""))
    evidence = [
        _("Last copy of a backup to another machine: %(when)s.", when=_when(copied))
    ]
    if _recent(facts, copied, OFFSITE_RECENT):
        return Row("7.1.4.7 b)", MET, evidence)
    advice = _(
        "Copy the backups to another machine or building at least monthly (a NAS, "
        "another server, the bureau's storage), as README «Backup and restore» "
        "shows, so that the copy is recorded."
    )
    return Row("7.1.4.7 b)", NOT_MET, evidence, advice)


# --- 7.1.4.9 个人信息保护 -----------------------------------------------------------


def _personal_minimum(facts: Facts) -> Row:
    evidence = [
        _(
            "Accounts hold only a user name, a name, an optional e-mail address and "
            "a department."
        ),
        _(
            "Photo metadata (EXIF, with GPS position and camera details) is always "
            "removed on upload."
        ),
        _(
            "Readers need no account; their views are counted with a cookie, or a "
            "keyed hash from which no address can be recovered."
        ),
    ]
    return Row("7.1.4.9 a)", MET, evidence)


def _personal_access(facts: Facts) -> Row:
    evidence = [
        _(
            "Before a post is submitted or published, its text and attachments are "
            "checked for ID card numbers, mobile numbers and bank card numbers; "
            "publishing them needs a recorded reason."
        ),
        _(
            "Posts published with personal data and a reason: %(num)d.",
            num=facts.confirmations,
        ),
        _("Only administrators can open the account pages (names, e-mail addresses)."),
    ]
    return Row("7.1.4.9 b)", MET, evidence)
