"""The 等保 self-assessment (/admin/compliance): every control's state on a
test site in several configurations, cell by cell, on the page and in the
.docx and .xlsx exports; who may read it; and a site upgraded from 0014."""

import io
import os
import time
from datetime import timedelta
from html.parser import HTMLParser

import docx
import openpyxl
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from admin import selfcheck
from admin.selfcheck import DEVIATION, MANUAL, MET, NOT_MET
from core import audit
from models import AuditEvent, Setting, User, db, set_setting, utcnow
from operations import backup
from tests.conftest import PASSWORD, drop_audit_triggers, new_user, school_at

CLAUSES = (
    "7.1.4.1 a)",
    "7.1.4.1 b)",
    "7.1.4.1 c)",
    "7.1.4.2 a)",
    "7.1.4.2 b)",
    "7.1.4.2 c)",
    "7.1.4.2 d)",
    "7.1.4.3 a)",
    "7.1.4.3 b)",
    "7.1.4.3 c)",
    "7.1.4.4 c)",
    "7.1.4.4 d)",
    "7.1.4.4 e)",
    "7.1.4.6 a)",
    "7.1.4.7 a)",
    "7.1.4.7 b)",
    "7.1.4.9 a)",
    "7.1.4.9 b)",
)

# The seeded site: one admin holding all three roles in 单人模式, nothing
# backed up, HTTPS never seen, the audit chain never checked.
FRESH = {
    "7.1.4.1 a)": NOT_MET,  # passwords never expire
    "7.1.4.1 b)": MET,
    "7.1.4.1 c)": NOT_MET,
    "7.1.4.2 a)": MET,
    "7.1.4.2 b)": NOT_MET,  # "admin"
    "7.1.4.2 c)": MET,
    "7.1.4.2 d)": DEVIATION,
    "7.1.4.3 a)": MET,
    "7.1.4.3 b)": MET,
    "7.1.4.3 c)": NOT_MET,
    "7.1.4.4 c)": MANUAL,
    "7.1.4.4 d)": MET,
    "7.1.4.4 e)": MANUAL,
    "7.1.4.6 a)": NOT_MET,
    "7.1.4.7 a)": NOT_MET,
    "7.1.4.7 b)": NOT_MET,
    "7.1.4.9 a)": MET,
    "7.1.4.9 b)": MET,
}
LABELS = {
    MET: "Met",
    NOT_MET: "Not met",
    DEVIATION: "Deviation",
    MANUAL: "Manual check",
}


class Controls(HTMLParser):
    """The rows of the page's table: clause, area, requirement, state,
    evidence lines and advice, as the reader sees them."""

    FIELDS = ("s-clause", "s-area", "s-requirement", "s-state", "s-advice")

    def __init__(self, html):
        super().__init__()
        self.rows, self.row, self.field, self.depth = [], None, None, 0
        self.summary, self.in_count = {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "tr" and "s-row" in classes:
            self.row = {"evidence": []}
        elif tag == "li" and "s-count" in classes:
            self.in_count = []
        elif self.row is not None:
            if tag == "li":
                self.row["evidence"].append("")
                self.field = "evidence"
            for name in self.FIELDS:
                if name in classes:
                    self.field, self.depth = name, 0
                    self.row[name] = ""
            if self.field:
                self.depth += 1

    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None
        elif tag == "li" and self.in_count is not None:
            number, _sep, label = " ".join("".join(self.in_count).split()).partition(
                " "
            )
            self.summary[label] = int(number)
            self.in_count = None
        elif self.field == "evidence" and tag == "li":
            self.field = None
        elif self.field and self.field != "evidence":
            self.depth -= 1
            if self.depth <= 0:
                self.field = None

    def handle_data(self, data):
        if self.in_count is not None:
            self.in_count.append(data)
        elif self.row is not None and self.field == "evidence":
            self.row["evidence"][-1] += data
        elif self.row is not None and self.field:
            self.row[self.field] += data

    def cells(self):
        """Each row as the exports' six cells."""
        return [
            [
                r["s-clause"].strip(),
                r["s-area"].strip(),
                r["s-requirement"].strip(),
                r["s-state"].strip(),
                "\n".join(line.strip() for line in r["evidence"]),
                "" if r["s-advice"].strip() == "—" else r["s-advice"].strip(),
            ]
            for r in self.rows
        ]


@pytest.fixture(autouse=True)
def english(client):
    """The page's states and evidence are read in English (the msgids); the
    exports, always in Chinese, are compared with the page in Chinese."""
    client.set_cookie("lang", "en")


def page(client, lang="en"):
    response = client.get("/admin/compliance", query_string={"lang": lang})
    assert response.status_code == 200, response.status_code
    return Controls(response.text)


def states(client) -> dict[str, str]:
    by_label = {label: state for state, label in LABELS.items()}
    return {
        r["s-clause"].strip(): by_label[r["s-state"].strip()] for r in page(client).rows
    }


def row(client, clause) -> dict:
    return next(r for r in page(client).rows if r["s-clause"].strip() == clause)


def change(app, **settings):
    with app.app_context():
        for key, value in settings.items():
            set_setting(key, str(value))
        db.session.commit()


def add_users(app, *users):
    with app.app_context():
        db.session.add_all(users)
        db.session.commit()


def split_roles(app):
    """Three people, one management role each; the admin renamed."""
    security = new_user("zhangmin", "author")
    security.security_admin = True
    auditor = new_user("liuyang", "author")
    auditor.audit_admin = True
    add_users(app, security, auditor)
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.username, admin.security_admin, admin.audit_admin = "wangli", False, False
        set_setting("single_admin", "0")
        db.session.commit()


def back_up(app, age=timedelta(0)):
    path = backup.run_backup(app).path
    made = time.time() - age.total_seconds()
    os.utime(path, (made, made))


def verify_chain(app):
    with app.app_context():
        audit.record_now("settings_changed", "test")
        assert audit.verify().ok


def iso(moment):
    return moment.isoformat(timespec="seconds")


def https_seen(app, ago=timedelta(0)):
    change(app, https_seen_at=iso(utcnow() - ago))


def everything_done(app):
    """A site that did all the school can do in software."""
    split_roles(app)
    change(
        app,
        password_max_age_days=90,
        restore_drill_at=iso(utcnow() - timedelta(days=30)),
        restore_drill_result="ok",
        offsite_copy_at=iso(utcnow() - timedelta(days=2)),
    )
    https_seen(app, timedelta(days=1))
    back_up(app)
    verify_chain(app)


# --- configurations, cell by cell -----------------------------------------------


def test_fresh_seeded_site_in_single_admin_mode(admin_client):
    assert states(admin_client) == FRESH
    assert list(states(admin_client)) == list(CLAUSES)


def test_single_admin_mode_is_a_deviation_with_its_reason(admin_client):
    d = row(admin_client, "7.1.4.2 d)")
    assert "system administrator: admin." in d["evidence"]
    assert "security administrator: admin." in d["evidence"]
    assert "audit administrator: admin." in d["evidence"]
    assert "Single-administrator mode: on." in d["evidence"]
    assert "single-administrator mode lets admin hold several" in d["s-advice"]
    b = row(admin_client, "7.1.4.2 b)")
    assert (
        "Active accounts with a default name (admin, administrator, root): admin."
        in (b["evidence"])
    )
    assert "Rename admin" in b["s-advice"]


def test_summary_counts_the_rows(admin_client):
    controls = page(admin_client)
    assert controls.summary == {
        "Met": 8,
        "Not met": 7,
        "Deviation": 1,
        "Manual check": 2,
    }


def test_everything_done_meets_every_control_software_can(app, admin_client):
    everything_done(app)
    admin_client.post("/logout")
    admin_client.post("/login", data={"username": "wangli", "password": PASSWORD})
    expected = {clause: MET for clause in CLAUSES}
    expected["7.1.4.4 c)"] = expected["7.1.4.4 e)"] = MANUAL
    assert states(admin_client) == expected
    assert page(admin_client).summary == {
        "Met": 16,
        "Not met": 0,
        "Deviation": 0,
        "Manual check": 2,
    }
    d = row(admin_client, "7.1.4.2 d)")
    assert d["evidence"][:4] == [
        "system administrator: wangli.",
        "security administrator: zhangmin.",
        "audit administrator: liuyang.",
        "Single-administrator mode: off.",
    ]
    assert d["s-advice"].strip() == "—"


def test_split_roles_meet_separation_and_default_names(app, admin_client):
    split_roles(app)
    client = app.test_client()  # the admin was renamed: log in again
    client.post("/login", data={"username": "wangli", "password": PASSWORD})
    got = states(client)
    assert got["7.1.4.2 b)"] == MET
    assert got["7.1.4.2 d)"] == MET
    assert {k: v for k, v in got.items() if k not in ("7.1.4.2 b)", "7.1.4.2 d)")} == {
        k: v for k, v in FRESH.items() if k not in ("7.1.4.2 b)", "7.1.4.2 d)")
    }


@pytest.mark.parametrize(
    "name", ["administrator", "Root", "ADMIN"], ids=["administrator", "root", "Admin"]
)
def test_any_default_account_name_is_not_met(app, admin_client, name):
    split_roles(app)
    add_users(app, new_user(name, "author"))
    client = app.test_client()
    client.post("/login", data={"username": "wangli", "password": PASSWORD})
    b = row(client, "7.1.4.2 b)")
    assert b["s-state"] == "Not met"
    assert f"Rename {name} " in b["s-advice"]


def test_a_deactivated_default_account_is_not_counted(app, admin_client):
    split_roles(app)
    old = new_user("root", "author")
    old.active = False
    add_users(app, old)
    client = app.test_client()
    client.post("/login", data={"username": "wangli", "password": PASSWORD})
    assert states(client)["7.1.4.2 b)"] == MET


def test_account_waiting_for_setup_is_not_met(app, admin_client):
    split_roles(app)
    fresh = new_user("chen", "admin")
    fresh.needs_setup = True
    add_users(app, fresh)
    client = app.test_client()
    client.post("/login", data={"username": "wangli", "password": PASSWORD})
    b = row(client, "7.1.4.2 b)")
    assert b["s-state"] == "Not met"
    assert "Accounts still waiting for that setup: chen." in b["evidence"][1]


def test_roles_combined_without_single_admin_mode_are_not_met(app, admin_client):
    change(app, single_admin=0)
    d = row(admin_client, "7.1.4.2 d)")
    assert d["s-state"] == "Not met"
    assert "admin hold several management roles" in d["s-advice"]


def test_a_role_nobody_holds_is_not_met(app, admin_client):
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.audit_admin = False
        db.session.commit()
    d = row(admin_client, "7.1.4.2 d)")
    assert d["s-state"] == "Not met"
    assert "audit administrator: nobody." in d["evidence"]
    assert "Nobody holds the role of audit administrator" in d["s-advice"]


def test_separated_roles_with_single_mode_still_on_are_met(app, admin_client):
    split_roles(app)
    change(app, single_admin=1)
    client = app.test_client()
    client.post("/login", data={"username": "wangli", "password": PASSWORD})
    d = row(client, "7.1.4.2 d)")
    assert d["s-state"] == "Met"
    assert "Single-administrator mode: on." in d["evidence"]


@pytest.mark.parametrize(
    ("settings", "state"),
    [
        ({}, NOT_MET),  # defaults: 8 characters, 3 classes, never expires
        ({"password_max_age_days": 90}, MET),
        ({"password_max_age_days": 180}, MET),
        ({"password_max_age_days": 365}, NOT_MET),
        ({"password_max_age_days": 90, "password_classes": 2}, NOT_MET),
        (
            {
                "password_max_age_days": 90,
                "password_min_length": 12,
                "password_classes": 4,
                "password_history": 10,
            },
            MET,
        ),
    ],
    ids=["defaults", "expiry-90", "expiry-180", "expiry-365", "two-classes", "strict"],
)
def test_password_policy(app, admin_client, settings, state):
    change(app, **settings)
    a = row(admin_client, "7.1.4.1 a)")
    assert a["s-state"] == LABELS[state]
    if "password_min_length" in settings:
        assert "Minimum password length: 12 characters." in a["evidence"]
        assert "Character classes required: 4 of 4." in a["evidence"]
        assert "Earlier passwords refused: 10." in a["evidence"]
        assert "Password expiry: 90 days." in a["evidence"]


def test_second_factor_enrolment_is_evidence(app, admin_client):
    change(app, totp_required="admins")
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        admin.totp_secret, admin.totp_enabled_at = "JBSWY3DPEHPK3PXP", utcnow()
        db.session.commit()
    assert row(admin_client, "7.1.4.1 a)")["evidence"][-1] == (
        "Second factor (TOTP): required for the management roles; set up by 1 of 3 "
        "active accounts, 1 of 1 with a management role."
    )


def test_login_throttling_limits_are_shown(admin_client):
    b = row(admin_client, "7.1.4.1 b)")
    assert b["s-state"] == "Met"
    assert b["evidence"][0].startswith(
        "Login throttling is always on: after 5 failures"
    )
    assert "Idle sessions end after 120 minutes." in b["evidence"]


def test_the_per_account_ceiling_is_shown(admin_client, monkeypatch):
    from admin import throttle

    monkeypatch.setattr(throttle, "ACCOUNT_CEILING", 12, raising=False)
    monkeypatch.setattr(
        throttle, "ACCOUNT_SPACING", timedelta(seconds=45), raising=False
    )
    assert (
        "Per account over all addresses: after 12 failures within an hour, browsers "
        "new to the account get one password check every 45 seconds."
    ) in row(admin_client, "7.1.4.1 b)")["evidence"]


@pytest.mark.config(SESSION_IDLE_MINUTES=480)
def test_a_long_idle_timeout_is_not_met(admin_client):
    b = row(admin_client, "7.1.4.1 b)")
    assert b["s-state"] == "Not met"
    assert "Idle sessions end after 480 minutes." in b["evidence"]
    assert "SESSION_IDLE_MINUTES" in b["s-advice"]


def test_dormant_accounts_are_not_met_and_named(app, admin_client):
    gone = new_user("zhaolei", "author")
    gone.created_at = utcnow() - timedelta(days=400)
    gone.last_login_at = utcnow() - timedelta(days=200)
    add_users(app, gone)
    c = row(admin_client, "7.1.4.2 c)")
    assert c["s-state"] == "Not met"
    assert "Dormant accounts: zhaolei." in c["evidence"]
    change(app, dormant_days=365)
    assert row(admin_client, "7.1.4.2 c)")["s-state"] == "Met"


@pytest.mark.parametrize(
    ("ago", "state"),
    [(None, NOT_MET), (timedelta(days=1), MET), (timedelta(days=45), NOT_MET)],
    ids=["never", "yesterday", "weeks-ago"],
)
def test_https_seen(app, admin_client, ago, state):
    if ago is not None:
        https_seen(app, ago)
    got = states(admin_client)
    assert got["7.1.4.1 c)"] == got["7.1.4.6 a)"] == state
    c = row(admin_client, "7.1.4.1 c)")
    if ago is None:
        assert (
            "Staff last reached the site over HTTPS: not recorded yet." in c["evidence"]
        )
        assert "README «HTTPS»" in c["s-advice"]
        assert "TRUSTED_PROXIES = 1" in c["s-advice"]


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_https_seen_through_the_trusted_proxy(app, admin_client):
    # The setting is written once the response is done (the server closes it).
    admin_client.get("/editor/", headers={"X-Forwarded-Proto": "https"}).close()
    got = states(admin_client)
    assert got["7.1.4.1 c)"] == got["7.1.4.6 a)"] == MET
    c = row(admin_client, "7.1.4.1 c)")
    assert "TRUSTED_PROXIES: 1." in c["evidence"]


def test_https_claimed_by_an_untrusted_client_is_not_seen(app, admin_client):
    admin_client.get("/editor/", headers={"X-Forwarded-Proto": "https"}).close()
    with app.app_context():
        assert db.session.get(Setting, (1, "https_seen_at")) is None
    assert states(admin_client)["7.1.4.1 c)"] == NOT_MET


def test_audit_chain_verified_and_backed_up_is_met(app, admin_client):
    back_up(app)
    verify_chain(app)
    c = row(admin_client, "7.1.4.3 c)")
    assert c["s-state"] == "Met"
    assert c["evidence"][1].startswith("The audit chain was checked at ")
    assert c["evidence"][1].endswith(": intact.")
    assert "Events are kept 180 days, then archived into the backup." in c["evidence"]


def test_a_tampered_audit_chain_is_not_met(app, admin_client):
    back_up(app)
    verify_chain(app)
    with app.app_context(), db.engine.begin() as connection:
        drop_audit_triggers(connection)
        connection.execute(
            sa.text("UPDATE audit_event SET target = 'nothing to see' WHERE id = 1")
        )
    with app.app_context():
        assert not audit.verify().ok
    c = row(admin_client, "7.1.4.3 c)")
    assert c["s-state"] == "Not met"
    assert "ALTERED" in c["evidence"][1]
    assert "report it to the school's leadership" in c["s-advice"]


def test_audit_never_verified_or_short_retention_is_not_met(app, admin_client):
    back_up(app)
    c = row(admin_client, "7.1.4.3 c)")
    assert c["s-state"] == "Not met"
    assert "The audit chain has never been checked." in c["evidence"]
    verify_chain(app)
    change(app, audit_retention_days=90)
    c = row(admin_client, "7.1.4.3 c)")
    assert c["s-state"] == "Not met"
    assert "Keep audit events at least 180 days" in c["s-advice"]


@pytest.mark.parametrize(
    ("backup_age", "drill_age", "result", "state"),
    [
        (timedelta(hours=1), timedelta(days=30), "ok", MET),
        (timedelta(days=8), timedelta(days=30), "ok", NOT_MET),
        (timedelta(hours=1), None, "", NOT_MET),
        (timedelta(hours=1), timedelta(days=200), "ok", NOT_MET),
        (timedelta(hours=1), timedelta(days=30), "database check failed", NOT_MET),
        (None, timedelta(days=30), "ok", NOT_MET),
    ],
    ids=["both-recent", "old-backup", "no-drill", "old-drill", "failed-drill", "none"],
)
def test_backup_and_restore_drill(
    app, admin_client, backup_age, drill_age, result, state
):
    if backup_age is not None:
        back_up(app, backup_age)
    if drill_age is not None:
        change(
            app,
            restore_drill_at=iso(utcnow() - drill_age),
            restore_drill_result=result,
        )
    a = row(admin_client, "7.1.4.7 a)")
    assert a["s-state"] == LABELS[state]
    if backup_age is None:
        assert a["evidence"][0].startswith(
            "Newest backup: not recorded yet (0 archives in "
        )
    else:
        assert "(1 archives in " in a["evidence"][0]
    if result and result != "ok":
        assert "result: database check failed." in a["evidence"][1]


@pytest.mark.parametrize(
    ("ago", "state"),
    [(None, NOT_MET), (timedelta(days=3), MET), (timedelta(days=40), NOT_MET)],
    ids=["never", "days-ago", "weeks-ago"],
)
def test_offsite_copy(app, admin_client, ago, state):
    if ago is not None:
        change(app, offsite_copy_at=iso(utcnow() - ago))
    assert states(admin_client)["7.1.4.7 b)"] == state


def test_offsite_copy_time_with_a_zone_is_read(app, admin_client):
    # An ISO time with an offset (a copy script's `date -Iseconds`).
    local = (utcnow() + timedelta(hours=8) - timedelta(days=1)).isoformat(
        timespec="seconds"
    )
    change(app, offsite_copy_at=local + "+08:00")
    assert states(admin_client)["7.1.4.7 b)"] == MET


def test_personal_data_confirmations_are_counted(app, admin_client):
    with app.app_context():
        audit.record_now("article.compliance_confirmed", "1: 名单")
    b = row(admin_client, "7.1.4.9 b)")
    assert b["s-state"] == "Met"
    assert "Posts published with personal data and a reason: 1." in b["evidence"]


def test_evaluate_is_pure_over_its_facts(app):
    with app.test_request_context():
        facts = selfcheck.gather(app)
        before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
        assert [r.clause for r in selfcheck.evaluate(facts)] == list(CLAUSES)
        facts.settings["single_admin"] = "0"
        got = {r.clause: r.state for r in selfcheck.evaluate(facts)}
        assert got["7.1.4.2 d)"] == NOT_MET
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == before


# --- who may read it --------------------------------------------------------------


@pytest.mark.parametrize("username", ["author", "editor"])
def test_staff_without_a_management_role_get_403(login, client, username):
    login(username)
    assert client.get("/admin/compliance").status_code == 403
    assert client.get("/admin/compliance.xlsx").status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin/compliance")
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("duty", ["security_admin", "audit_admin"])
def test_each_management_role_may_read_and_export(app, client, duty):
    holder = new_user("holder", "author")
    setattr(holder, duty, True)
    add_users(app, holder)
    client.post("/login", data={"username": "holder", "password": PASSWORD})
    assert len(page(client).rows) == len(CLAUSES)
    assert client.get("/admin/compliance.docx").status_code == 200


# --- exports ----------------------------------------------------------------------


HEADERS = ["条款", "控制点", "要求", "结果", "证据", "整改建议"]


def exported(client, kind):
    response = client.get(f"/admin/compliance.{kind}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="dengbao-selfcheck-'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    return response


def test_xlsx_export_has_the_page_rows(app, admin_client):
    everything_done(app)
    change(app, single_admin=1)  # one deviation-free, met-mixed configuration
    admin_client.post("/logout")
    admin_client.post("/login", data={"username": "wangli", "password": PASSWORD})
    expected = page(admin_client, "zh_Hans_CN").cells()
    response = exported(admin_client, "xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [
        [c if c is not None else "" for c in r]
        for r in sheet.iter_rows(values_only=True)
    ]
    assert values[0][0] == "SchoolNews 网络安全等级保护（GB/T 22239-2019）二级自查报告"
    assert values[1][0].endswith("符合 16; 不符合 0; 偏离 0; 需人工确认 2")
    assert values[3] == HEADERS
    assert values[4:] == expected


def test_docx_export_has_the_page_rows(admin_client):
    expected = page(admin_client, "zh_Hans_CN").cells()
    response = exported(admin_client, "docx")
    assert response.mimetype.endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(response.data))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "SchoolNews 网络安全等级保护（GB/T 22239-2019）二级自查报告"
    assert "符合 8; 不符合 7; 偏离 1; 需人工确认 2" in paragraphs
    (table,) = document.tables
    rows = [[cell.text for cell in r.cells] for r in table.rows]
    assert rows[0] == HEADERS
    assert rows[1:] == expected
    assert rows[1][0] == "7.1.4.1 a)"


def test_each_export_is_audited(app, admin_client):
    exported(admin_client, "docx")
    exported(admin_client, "xlsx")
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.detail, AuditEvent.outcome)
            .where(AuditEvent.action == "selfcheck_exported")
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [
        ("selfcheck_exported", "docx", "success"),
        ("selfcheck_exported", "xlsx", "success"),
    ]


def test_exports_are_in_chinese_whatever_the_admins_language(admin_client):
    admin_client.get("/?lang=en")
    response = exported(admin_client, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet.cell(4, 1).value == "条款"


def test_the_server_does_not_load_python_docx_for_the_page(app, admin_client):
    import sys

    for name in [m for m in sys.modules if m == "docx" or m.startswith("docx.")]:
        del sys.modules[name]
    page(admin_client)
    assert "docx" not in sys.modules
    exported(admin_client, "docx")
    assert "docx" in sys.modules


# --- an upgraded site -------------------------------------------------------------


def test_site_upgraded_from_0014_logs_in_and_gets_a_true_first_assessment(tmp_path):
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    app = school_at(
        tmp_path,
        "0014",
        "INSERT INTO user (id, username, display_name, password_hash, role, active,"
        " session_token, created_at, last_login_at, needs_setup) VALUES"
        f" (1, 'admin', '管理员', '{hashed}', 'admin', 1, 't1',"
        " '2026-01-01 00:00:00', '2026-12-01 08:00:00', 0),"
        f" (2, 'wang', '王老师', '{hashed}', 'author', 1, 't2',"
        " '2026-01-01 00:00:00', '2026-12-01 08:00:00', 0)",
    )
    with app.app_context():
        upgrade()
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response.location
    with app.test_request_context():
        got = {r.clause: r for r in selfcheck.assess(app)}
    assert got["7.1.4.2 d)"].state == DEVIATION
    advice = got["7.1.4.2 d)"].advice
    assert "本站开启了单人模式，admin 同时担任多个管理员角色" in advice
    assert got["7.1.4.2 b)"].state == NOT_MET
    assert "请在账户页面把 admin 改为本人的用户名" in got["7.1.4.2 b)"].advice
    assert got["7.1.4.2 a)"].state == MET
    assert got["7.1.4.3 a)"].state == MET
    app.extensions["pagecache"].hot.dispose()
    with app.app_context():
        db.engine.dispose()


def test_accounts_are_counted_by_role_with_the_management_only_ones(app, admin_client):
    with app.app_context():
        auditor = new_user("shenji", "manager", "审计员")
        auditor.audit_admin = True
        db.session.add(auditor)
        db.session.commit()
    evidence = " ".join(row(admin_client, "7.1.4.2 a)")["evidence"])
    assert (
        "1 authors, 1 editors, 1 system administrators, 1 with a management role "
        "only (no posts); 0 deactivated." in " ".join(evidence.split())
    )
