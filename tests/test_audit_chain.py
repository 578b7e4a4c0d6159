"""The audit log's hash chain: `flask audit-verify` finds an event changed,
removed or forged in the database, writers take turns, and events past the
retention are archived into the backup before they are deleted."""

import gzip
import json
import tarfile
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from core import audit
from models import AuditChain, AuditEvent, db, set_setting, utcnow
from operations import backup
from tests.conftest import _close, _config, drop_audit_triggers


@pytest.fixture
def app(tmp_path, request, monkeypatch, empty_site):
    """The test site, with an instance folder of its own (audit-archive/)."""
    monkeypatch.setenv("SCHOOLNEWS_INSTANCE", str(tmp_path / "instance"))
    empty_site.copy_to(tmp_path)
    app = create_app(_config(tmp_path, request))
    yield app
    _close(app)


def add_events(app, count, *, age_days=0, action="settings_changed", user=None):
    """Record count events, as if made age_days ago; return their ids."""
    with app.app_context():
        events = []
        for n in range(count):
            event = audit.record(action, f"target {n}", user, detail=f"第{n}项")
            if age_days:
                event.created_at = utcnow() - timedelta(days=age_days, minutes=n)
            events.append(event)
        db.session.commit()
        return [event.id for event in events]


def verify(runner, *options):
    return runner.invoke(args=["audit-verify", *options])


def tamper(app, *statements):
    """Run SQL on the database as an attacker with its password would."""
    with app.app_context(), db.engine.begin() as connection:
        for statement in statements:
            if statement is DROP_TRIGGERS[0]:
                drop_audit_triggers(connection)
            else:
                connection.execute(sa.text(statement))


# Lifts the append-only guard first (tests/conftest.drop_audit_triggers).
DROP_TRIGGERS = ("-- drop the audit log's triggers",)


def test_an_untouched_log_verifies(app, runner):
    add_events(app, 5)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "OK: the audit chain holds 5 events." in result.output
    with app.app_context():
        chain = db.session.get(AuditChain, 1)
        assert chain.verified_ok is True and chain.verified_at is not None
        last = db.session.scalars(
            sa.select(AuditEvent).order_by(AuditEvent.id.desc())
        ).first()
        assert (last.action, last.outcome) == ("audit_verified", "success")


def test_the_database_refuses_to_change_or_delete_an_event(app):
    (event_id,) = add_events(app, 1)
    for statement in (
        f"UPDATE audit_event SET target = 'x' WHERE id = {event_id}",
        f"DELETE FROM audit_event WHERE id = {event_id}",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            tamper(app, statement)


def test_an_event_changed_in_the_database_is_named(app, runner):
    ids = add_events(app, 5)
    tamper(
        app,
        *DROP_TRIGGERS,
        f"UPDATE audit_event SET target = '无害' WHERE id = {ids[2]}",
    )
    result = verify(runner)
    assert result.exit_code == 1
    assert f"Event {ids[2]} does not fit the chain" in result.output
    with app.app_context():
        chain = db.session.get(AuditChain, 1)
        assert chain.verified_ok is False
        assert f"Event {ids[2]}" in chain.verified_note


@pytest.mark.parametrize("column", ["created_at", "user_id", "ip", "outcome", "detail"])
def test_every_column_is_covered_by_the_hash(app, runner, column):
    ids = add_events(app, 3)
    value = {
        "created_at": "'2020-01-01 00:00:00.000000'",
        "user_id": "1",
        "ip": "'10.9.9.9'",
        "outcome": "'failure'",
        "detail": "''",
    }[column]
    tamper(
        app,
        *DROP_TRIGGERS,
        f"UPDATE audit_event SET {column} = {value} WHERE id = {ids[1]}",
    )
    result = verify(runner)
    assert result.exit_code == 1 and f"Event {ids[1]}" in result.output


def test_removing_the_newest_event_is_found(app, runner):
    ids = add_events(app, 4)
    tamper(app, *DROP_TRIGGERS, f"DELETE FROM audit_event WHERE id = {ids[-1]}")
    result = verify(runner)
    assert result.exit_code == 1
    assert "the newest events were removed" in result.output


def test_removing_an_event_in_the_middle_is_found(app, runner):
    ids = add_events(app, 4)
    tamper(app, *DROP_TRIGGERS, f"DELETE FROM audit_event WHERE id = {ids[1]}")
    result = verify(runner)
    assert result.exit_code == 1 and f"Event {ids[2]}" in result.output


def test_a_forged_event_is_found_even_with_a_well_made_hash(app, runner):
    ids = add_events(app, 3)
    with app.app_context():
        head = db.session.get(AuditChain, 1).head_hash

        class Forged:
            created_at = utcnow()
            user_id = 1
            action = "settings_changed"
            target = "伪造"
            ip = "127.0.0.1"
            outcome = "success"
            detail = ""

        forged_hash = audit.event_hash(head, Forged)
    tamper(
        app,
        "INSERT INTO audit_event (created_at, user_id, action, target, ip, outcome,"
        " detail, hash) VALUES"
        f" ('{Forged.created_at.isoformat(sep=' ')}', 1, 'settings_changed', '伪造',"
        f" '127.0.0.1', 'success', '', '{forged_hash}')",
    )
    result = verify(runner)
    assert result.exit_code == 1
    assert "4 were found" in result.output and ids


def test_a_forged_event_with_a_made_up_hash_is_named(app, runner):
    add_events(app, 2)
    tamper(
        app,
        "INSERT INTO audit_event (id, created_at, action, target, ip, outcome,"
        " detail, hash) VALUES (999, '2026-01-01 00:00:00', 'login', 'admin', '',"
        " 'success', '', 'abc')",
    )
    result = verify(runner)
    assert result.exit_code == 1 and "Event 999 does not fit" in result.output


def record_in_threads(app, threads=4, each=25):
    errors = []

    def writer(n):
        try:
            with app.app_context():
                for k in range(each):
                    audit.record_now("settings_changed", f"thread {n} event {k}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return errors


def test_writers_recording_at_once_still_make_one_valid_chain(app, runner):
    assert record_in_threads(app) == []
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "holds 100 events" in result.output


def test_processes_recording_at_once_still_make_one_valid_chain(app, runner, tmp_path):
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from app import create_app\n"
        "from core import audit\n"
        "app = create_app({'TESTING': True, 'SECRET_KEY': 't',"
        f" 'SQLALCHEMY_DATABASE_URI': {app.config['SQLALCHEMY_DATABASE_URI']!r},"
        f" 'UPLOAD_FOLDER': {app.config['UPLOAD_FOLDER']!r}}})\n"
        "with app.app_context():\n"
        "    for k in range(20):\n"
        "        audit.record_now('settings_changed', f'{sys.argv[1]} {k}')\n"
    )
    root = Path(__file__).resolve().parent.parent
    workers = [
        subprocess.Popen([sys.executable, "-c", script, f"p{n}"], cwd=root)
        for n in range(3)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "holds 60 events" in result.output


# --- archiving past the retention ------------------------------------------------


def archive_dir(app) -> Path:
    return Path(app.instance_path, audit.ARCHIVE_FOLDER)


def run_backup(app):
    with app.app_context():
        return backup.run_backup(app)


def read_archive(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        header, *events = [json.loads(line) for line in lines]
    return header, events


def test_backup_archives_events_past_the_retention_then_deletes_them(app, runner):
    old = add_events(app, 5, age_days=200)
    young = add_events(app, 3)
    result = run_backup(app)
    name = f"audit-{old[0]}-{old[-1]}.jsonl.gz"
    assert result.archived.path.name == name
    path = archive_dir(app) / name
    header, events = read_archive(path)
    assert header["anchor_hash"] == "" and header["after_id"] == 0
    assert header["count"] == 5 and [e["id"] for e in events] == old
    assert set(events[0]) == set(audit.ARCHIVE_FIELDS)
    assert events[0]["detail"] == "第0项"
    # The archive is inside the backup that was made with it.
    with tarfile.open(result.path) as tar:
        assert f"audit-archive/{name}" in tar.getnames()
    with app.app_context():
        ids = db.session.scalars(sa.select(AuditEvent.id)).all()
        assert not set(old) & set(ids) and set(young) <= set(ids)
        chain = db.session.get(AuditChain, 1)
        assert chain.archived_through_id == old[-1]
        assert chain.anchor_hash == events[-1]["hash"]
        archived = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "audit_archived")
        ).one()
        assert archived.detail == f"5 events, ids {old[0]}-{old[-1]}"
    both = verify(runner, "--archives")
    assert both.exit_code == 0, both.output
    assert "the archive holds 5 events" in both.output


def test_later_archives_go_on_from_the_earlier_ones(app, runner, monkeypatch):
    import models

    first = add_events(app, 3, age_days=300)
    run_backup(app)
    second = add_events(app, 2)
    # Half a year later, for the backup's retention rule only.
    later = models.utcnow() + timedelta(days=200)
    monkeypatch.setattr(models, "utcnow", lambda: later)
    run_backup(app)
    files = [p.name for p in audit.archive_files(archive_dir(app))]
    assert files[0] == f"audit-{first[0]}-{first[-1]}.jsonl.gz"
    assert files[1].startswith(f"audit-{first[-1] + 1}-")
    header, events = read_archive(archive_dir(app) / files[1])
    assert second[-1] in [e["id"] for e in events]
    assert verify(runner, "--archives").exit_code == 0


def test_the_retention_is_never_below_six_months(app):
    with app.app_context():
        set_setting("audit_retention_days", "30")
        db.session.commit()
    add_events(app, 2, age_days=100)
    result = run_backup(app)
    assert result.archived is None
    assert audit.archive_files(archive_dir(app)) == []


def test_a_longer_retention_keeps_events_longer(app):
    with app.app_context():
        set_setting("audit_retention_days", "400")
        db.session.commit()
    add_events(app, 2, age_days=300)
    assert run_backup(app).archived is None


def test_a_changed_archive_file_is_found(app, runner):
    add_events(app, 3, age_days=200)
    run_backup(app)
    (path,) = audit.archive_files(archive_dir(app))
    header, events = read_archive(path)
    events[1]["target"] = "改过"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for line in (header, *events):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    assert verify(runner).exit_code == 0  # the live chain is whole
    result = verify(runner, "--archives")
    assert result.exit_code == 1
    assert f"event {events[1]['id']} does not fit" in result.output


def test_a_missing_archive_file_is_found(app, runner):
    add_events(app, 3, age_days=200)
    run_backup(app)
    for path in audit.archive_files(archive_dir(app)):
        path.unlink()
    result = verify(runner, "--archives")
    assert result.exit_code == 1 and "missing" in result.output


def test_a_broken_chain_is_not_archived_away(app, runner):
    ids = add_events(app, 3, age_days=200)
    tamper(
        app, *DROP_TRIGGERS, f"UPDATE audit_event SET target = 'x' WHERE id = {ids[1]}"
    )
    result = run_backup(app)
    assert result.archived is None
    assert f"Event {ids[1]} does not fit" in result.archive_note
    assert result.path.is_file()  # the backup itself was made
    assert verify(runner).exit_code == 1  # and the tampering is still found


def test_events_stay_until_the_backup_holding_them_is_complete(
    app, monkeypatch, runner
):
    old = add_events(app, 3, age_days=200)

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "create_backup", full_disk)
    with pytest.raises(backup.BackupError):
        run_backup(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 3
    monkeypatch.undo()
    # The next backup writes the archive again and completes the job.
    result = run_backup(app)
    assert result.archived.first_id == old[0]
    assert len(audit.archive_files(archive_dir(app))) == 1
    assert verify(runner, "--archives").exit_code == 0


def test_archiving_every_event_never_hands_out_their_ids_again(app, runner):
    old = add_events(app, 4, age_days=200)
    run_backup(app)
    (later,) = add_events(app, 1)
    with app.app_context():
        archived = db.session.scalar(
            sa.select(AuditEvent.id).where(AuditEvent.action == "audit_archived")
        )
    assert old[-1] < archived < later
    assert verify(runner, "--archives").exit_code == 0


def test_the_web_backup_archives_too_and_names_the_admin(app):
    from tests.conftest import PASSWORD

    add_events(app, 3, age_days=200)
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert client.post("/admin/backups").status_code == 302
    with app.app_context():
        archived = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "audit_archived")
        ).one()
        assert archived.user.username == "admin"
        assert archived.ip == "127.0.0.1"
    assert len(audit.archive_files(archive_dir(app))) == 1


def test_a_backup_never_deletes_an_archive_file_of_another_chain(app):
    folder = archive_dir(app)
    folder.mkdir(parents=True)
    foreign = folder / "audit-1-3.jsonl.gz"
    with gzip.open(foreign, "wt", encoding="utf-8") as out:
        header = {"kind": audit.ARCHIVE_KIND, "last_id": 3, "last_hash": "f" * 64}
        out.write(json.dumps(header) + "\n")
    add_events(app, 3)  # ids 1-3 here, with other hashes
    run_backup(app)
    assert foreign.exists()


def test_a_leftover_archive_of_this_chain_is_written_anew(app, monkeypatch):
    add_events(app, 3, age_days=200)
    monkeypatch.setattr(audit, "commit_archive", lambda archived: False)
    run_backup(app)  # wrote the file, deleted nothing
    (leftover,) = audit.archive_files(archive_dir(app))
    monkeypatch.undo()
    add_events(app, 1, age_days=199)
    result = run_backup(app)
    (written,) = audit.archive_files(archive_dir(app))
    assert written.name != leftover.name and result.archived.count == 4
