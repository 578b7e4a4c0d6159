"""Login throttling: guessing slows down, then stops; nobody can lock others out."""

import re
import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from admin import throttle
from admin.throttle import PER_ADDRESS, PER_NAME
from admin.views import auth
from app import create_app
from models import AuditEvent, LoginAttempt, User, db
from tests.conftest import PASSWORD, user_id

ATTACKER = "203.0.113.9"
TEACHER = "198.51.100.7"
NGINX = "127.0.0.1"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand: clock.advance(minutes)."""

    class Clock:
        now = datetime(2026, 9, 1, 8, 0)

        def advance(self, minutes):
            self.now += timedelta(minutes=minutes)

    clock = Clock()
    monkeypatch.setattr(throttle, "utcnow", lambda: clock.now)
    return clock


def post_login(
    client, username="author", password=PASSWORD, address=TEACHER, **headers
):
    return client.post(
        "/login?lang=en",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def fail(client, username="author", times=1, **kwargs):
    for _ in range(times):
        response = post_login(client, username, "wrong password", **kwargs)
        assert response.status_code == 200, response.text


def error_of(response):
    """The message under the form's fields."""
    return re.findall(r'class="a-error"[^>]*>([^<]+)<', response.text)


# --- the same answer for every name -------------------------------------------------


def test_unknown_name_and_wrong_password_get_the_same_answer(client):
    known = post_login(client, "author", "wrong password")
    unknown = post_login(client, "nobody", "wrong password")
    assert known.status_code == unknown.status_code == 200
    assert error_of(known) == error_of(unknown) == ["Wrong username or password."]


def test_unknown_name_is_throttled_like_a_real_one(client, clock):
    fail(client, "author", times=PER_NAME.free)
    fail(client, "nobody", times=PER_NAME.free)
    known, unknown = post_login(client, "author"), post_login(client, "nobody")
    assert known.status_code == unknown.status_code == 429
    assert error_of(known) == error_of(unknown)


def test_unknown_name_costs_a_real_password_check(client, monkeypatch):
    # Without it, a fast "wrong password" would tell that the name is unknown.
    checked = []
    real_check = auth.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", spy)
    post_login(client, "nobody", "wrong password")
    method = generate_password_hash("x").split("$")[0]
    assert [h.split("$")[0] for h in checked] == [method]


# --- slowing down, then blocking ----------------------------------------------------


def test_first_failures_cost_nothing(client, clock):
    fail(client, times=PER_NAME.free - 1)
    assert post_login(client).status_code == 302


def test_after_the_free_failures_even_the_right_password_waits(client, clock):
    fail(client, times=PER_NAME.free)
    response = post_login(client)
    assert response.status_code == 429
    assert error_of(response) == [
        "Too many failed attempts. Please wait 1 minute and try again."
    ]
    assert client.get("/editor/").status_code == 302
    clock.advance(1)
    assert post_login(client).status_code == 302


def test_the_wait_grows_after_each_failure_then_blocks(client, clock):
    fail(client, times=PER_NAME.free)
    waits = []
    while True:
        response = post_login(client, password="still wrong")
        assert response.status_code == 429
        waits.append(int(re.search(r"Please wait (\d+) minute", response.text)[1]))
        clock.advance(waits[-1] - 1)
        assert post_login(client).status_code == 429  # a minute early
        clock.advance(1)
        if len(waits) > PER_NAME.block - PER_NAME.free:
            break
        fail(client)  # the next guess, once the wait is over
    # 1, 2, 4, 8, 15 minutes; then the block lasts until the oldest of the
    # ten failures is an hour old (30 minutes after the tenth).
    assert waits == [1, 2, 4, 8, 15, 30]
    assert post_login(client).status_code == 302


def test_refused_tries_do_not_stretch_the_wait(client, clock):
    fail(client, times=PER_NAME.free)
    for _ in range(20):
        assert post_login(client, password="wrong again").status_code == 429
    clock.advance(1)
    assert post_login(client).status_code == 302


def test_throttle_ignores_name_case(client, clock):
    fail(client, "AUTHOR", times=PER_NAME.free)
    assert post_login(client, "author").status_code == 429


def test_throttle_is_per_name(client, clock):
    fail(client, "author", times=PER_NAME.free)
    assert post_login(client, "author").status_code == 429
    assert post_login(client, "editor").status_code == 302


def test_failures_older_than_the_window_no_longer_count(client, clock, app):
    with app.app_context():
        old = clock.now - throttle.FAILURE_WINDOW
        for _ in range(PER_NAME.block):
            db.session.add(LoginAttempt(username="author", ip=TEACHER, created_at=old))
        db.session.commit()
    assert post_login(client).status_code == 302
    with app.app_context():  # and they are deleted
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 0


def test_success_clears_the_failures_from_that_address(client, clock):
    fail(client, times=PER_NAME.free - 1)
    assert post_login(client).status_code == 302
    client.post("/logout")
    fail(client, times=PER_NAME.free - 1)
    assert post_login(client).status_code == 302


def test_message_in_chinese_by_default_with_the_wait(app, client, clock):
    fail(client, times=PER_NAME.free)
    response = app.test_client().post(
        "/login",
        data={"username": "author", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": TEACHER},
    )
    assert response.status_code == 429
    assert "登录失败次数过多，请 1 分钟后再试。" in response.text


# --- the attack: a storm from one address ---------------------------------------------


def test_storm_from_one_address_does_not_lock_out_the_real_admin(app, clock):
    attacker, admin = app.test_client(), app.test_client()
    refused = 0
    for _ in range(100):
        response = post_login(attacker, "admin", "guess", address=ATTACKER)
        refused += response.status_code == 429
        clock.advance(0.2)
    assert refused > 80
    # The attacker is blocked even when the guess is right...
    assert post_login(attacker, "admin", PASSWORD, address=ATTACKER).status_code == 429
    # ...while the administrator logs in from the school at once.
    assert post_login(admin, "admin", PASSWORD, address=TEACHER).status_code == 302
    assert admin.get("/admin/users").status_code == 200


def test_real_users_login_elsewhere_does_not_reset_the_attackers_budget(app, clock):
    attacker, teacher = app.test_client(), app.test_client()
    fail(attacker, "author", times=PER_NAME.free, address=ATTACKER)
    assert post_login(teacher, address=TEACHER).status_code == 302
    assert post_login(attacker, "author", "guess", address=ATTACKER).status_code == 429


def test_spraying_many_names_from_one_address_is_slowed_down(app, clock):
    attacker = app.test_client()
    for n in range(PER_ADDRESS.free):
        fail(attacker, f"name{n}", address=ATTACKER)
    response = post_login(attacker, "editor", PASSWORD, address=ATTACKER)
    assert response.status_code == 429
    assert error_of(response) == [
        "Too many failed logins from your network. Please wait 1 minute and try again."
    ]
    assert post_login(app.test_client(), "editor", address=TEACHER).status_code == 302


def all_at_once(app, count, request):
    """Run request(client, n) in count threads, all recording their attempt
    together; return the statuses.

    Each is held at the moment it records its attempt until all of them are
    there: a throttle that checked first and recorded afterwards would then let
    every one of them through.
    """
    arrived = threading.Barrier(count, timeout=10)
    with app.app_context():
        engine = db.engine

    # On PostgreSQL an attempt first takes the lock that orders the
    # attempts' ids (admin/throttle.ATTEMPT_LOCK): all are held just before.
    records = "INSERT INTO login_attempt"
    if engine.dialect.name == "postgresql":
        records = "SELECT pg_advisory_xact_lock"

    def hold(conn, cursor, statement, *args):
        if statement.startswith(records):
            arrived.wait()

    statuses = []

    def run(n):
        statuses.append(request(app.test_client(), n).status_code)

    sa.event.listen(engine, "before_cursor_execute", hold)
    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", hold)
    return sorted(statuses)


def test_parallel_burst_checks_no_more_passwords_than_the_budget(app, monkeypatch):
    checked = []
    real_check = auth._password_matches

    def counting_check(user, password):
        checked.append(password)
        return real_check(user, password)

    monkeypatch.setattr(auth, "_password_matches", counting_check)
    count = 12  # within the connection pool (5 + 10 overflow)
    statuses = all_at_once(
        app,
        count,
        lambda client, n: post_login(client, "admin", f"guess {n}", address=ATTACKER),
    )
    assert statuses == [200] * PER_NAME.free + [429] * (count - PER_NAME.free)
    assert len(checked) == PER_NAME.free


def test_a_room_logging_in_at_once_all_get_in(app):
    # Twelve logins of one account from one address at the same moment: the
    # ones still checking their password hold the others back only until
    # they have succeeded, and successes do not count.
    statuses = all_at_once(app, 12, lambda client, n: post_login(client, "editor"))
    assert statuses == [302] * 12


def test_an_attempt_that_died_mid_check_is_not_waited_for(
    app, client, clock, monkeypatch
):
    with app.app_context():
        long_ago = clock.now - throttle.STALE_IN_FLIGHT - timedelta(seconds=1)
        for _ in range(PER_NAME.block):
            db.session.add(
                LoginAttempt(
                    username="author", ip=TEACHER, created_at=long_ago, pending=True
                )
            )
        db.session.commit()

    def no_waiting(seconds):
        raise AssertionError("waited for an attempt that will never finish")

    monkeypatch.setattr(throttle.time, "sleep", no_waiting)
    assert post_login(client).status_code == 429  # they still count as failures


def test_failed_attempts_are_no_longer_in_flight(app, client, clock):
    fail(client, times=2)
    with app.app_context():
        assert db.session.scalars(sa.select(LoginAttempt.pending)).all() == [
            False,
            False,
        ]


# --- the school behind nginx: TRUSTED_PROXIES ----------------------------------------


def behind_nginx(client, username, password, teacher_address):
    return post_login(
        client,
        username,
        password,
        address=NGINX,
        **{"X-Forwarded-For": teacher_address},
    )


def lock_out_one_teacher(app):
    """One teacher at 10.0.0.5 mistypes until the address is blocked."""
    teacher = app.test_client()
    for n in range(PER_ADDRESS.free):
        behind_nginx(teacher, f"typo{n}", "wrong password", "10.0.0.5")
    response = behind_nginx(teacher, "author", PASSWORD, "10.0.0.5")
    assert response.status_code == 429


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_with_trusted_proxy_one_teachers_typos_do_not_lock_out_colleagues(app, clock):
    lock_out_one_teacher(app)
    for n, user in enumerate(["editor", "admin"], start=6):
        colleague = app.test_client()
        response = behind_nginx(colleague, user, PASSWORD, f"10.0.0.{n}")
        assert response.status_code == 302
        assert colleague.get("/editor/").status_code == 200


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_with_trusted_proxy_the_failures_are_stored_per_teacher(app, clock):
    behind_nginx(app.test_client(), "author", "wrong password", "10.0.0.5")
    with app.app_context():
        assert db.session.scalars(sa.select(LoginAttempt.ip)).all() == ["10.0.0.5"]


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, clock):
    # Without the setting the header is the client's own claim: believing it
    # would let an attacker pick a new address for every guess.
    attacker = app.test_client()
    for n in range(PER_NAME.free):
        response = behind_nginx(attacker, "admin", "guess", f"192.0.2.{n}")
        assert response.status_code == 200
    assert behind_nginx(attacker, "admin", PASSWORD, "192.0.2.99").status_code == 429
    with app.app_context():
        assert set(db.session.scalars(sa.select(LoginAttempt.ip))) == {NGINX}


def test_without_trusted_proxies_the_whole_school_shares_one_address(app, clock):
    # What TRUSTED_PROXIES is for: without it every teacher behind nginx has
    # nginx's address, so one teacher's typos slow everyone down.
    lock_out_one_teacher(app)
    response = behind_nginx(app.test_client(), "editor", PASSWORD, "10.0.0.6")
    assert response.status_code == 429


@pytest.mark.parametrize("value", ["two", -1, True])
def test_bad_trusted_proxies_setting_stops_the_start(tmp_path, value):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "t",
                "TRUSTED_PROXIES": value,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                "UPLOAD_FOLDER": str(tmp_path / "u"),
            }
        )


# --- a storm from many addresses: the per-account ceiling ----------------------------

STORM = [f"127.0.0.{n}" for n in range(2, 52)]  # 50 loopback addresses


@pytest.fixture
def password_checks(monkeypatch):
    """Every password the login form checks (refused tries check none)."""
    checked = []
    real_check = auth._password_matches

    def counting_check(user, password):
        checked.append(password)
        return real_check(user, password)

    monkeypatch.setattr(auth, "_password_matches", counting_check)
    return checked


def wait_seconds(response):
    return int(re.search(r"Please wait (\d+) second", response.text)[1])


def storm(app, clock, rounds, username="admin"):
    """Guesses from all 50 addresses in turn, a guess every 0.6 s; how long
    it took and the statuses."""
    attacker = app.test_client()
    statuses = []
    for _ in range(rounds):
        for address in STORM:
            response = post_login(attacker, username, "guess", address=address)
            statuses.append(response.status_code)
            clock.advance(0.01)
    return len(statuses) * 0.6, statuses


def test_storm_from_fifty_addresses_is_slowed_per_account(app, clock, password_checks):
    elapsed, statuses = storm(app, clock, rounds=4)
    # Without the ceiling each address has its pair's 5 free tries: all 200
    # guesses would be checked. With it: the ceiling, then one per 30 s.
    allowed = throttle.ACCOUNT_CEILING + elapsed // 30 + 1
    assert len(password_checks) <= allowed
    assert statuses.count(429) >= 200 - allowed


def test_real_user_with_the_known_device_cookie_gets_in_at_once(
    app, clock, password_checks
):
    teacher = app.test_client()
    assert post_login(teacher, "admin", address=TEACHER).status_code == 302
    teacher.post("/logout")
    storm(app, clock, rounds=2)
    assert post_login(teacher, "admin", address=TEACHER).status_code == 302
    assert teacher.get("/admin/users").status_code == 200


def test_real_user_from_a_new_browser_waits_at_most_the_spacing(app, clock):
    storm(app, clock, rounds=2)
    new_browser = app.test_client()
    response = post_login(new_browser, "admin", address=TEACHER)
    assert response.status_code == 429
    assert error_of(response) == [
        f"This account has had too many failed logins lately. Please wait "
        f"{wait_seconds(response)} seconds and try again."
    ]
    wait = wait_seconds(response)
    assert 0 < wait <= throttle.ACCOUNT_SPACING.total_seconds()
    clock.advance(wait / 60)
    assert post_login(new_browser, "admin", address=TEACHER).status_code == 302


def test_account_ceiling_message_in_chinese(app, clock):
    storm(app, clock, rounds=1)
    response = app.test_client().post(
        "/login",
        data={"username": "admin", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": TEACHER},
    )
    assert response.status_code == 429
    assert re.search(r"该账号近期登录失败过多，请 \d+ 秒后再试", response.text)


def test_known_device_cookie_counts_only_for_its_own_account(app, clock):
    browser = app.test_client()
    assert post_login(browser, "editor", address=TEACHER).status_code == 302
    browser.post("/logout")
    storm(app, clock, rounds=1)
    # Known for the editor, a stranger to the admin's account.
    assert post_login(browser, "admin", address=TEACHER).status_code == 429


def test_a_forged_known_device_cookie_is_ignored(app, clock):
    storm(app, clock, rounds=1)
    browser = app.test_client()
    admin_id = user_id(app, "admin")
    browser.set_cookie("known_device", f"[{admin_id}].forged")
    assert post_login(browser, "admin", address=TEACHER).status_code == 429


def test_known_device_cookie_is_signed_long_lived_and_http_only(client):
    response = post_login(client, "author")
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if "known_device=" in c
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie)[1])
    assert max_age >= 300 * 24 * 3600


def test_few_failures_from_many_addresses_do_not_slow_the_account(app, clock):
    for address in STORM[: throttle.ACCOUNT_CEILING - 1]:
        fail(app.test_client(), "author", address=address)
    assert post_login(app.test_client(), "author").status_code == 302


# --- failed and refused logins are audit events --------------------------------------


def audit_rows(app):
    with app.app_context():
        return db.session.execute(
            sa.select(
                AuditEvent.action,
                AuditEvent.target,
                AuditEvent.user_id,
                AuditEvent.outcome,
                AuditEvent.detail,
                AuditEvent.ip,
            ).order_by(AuditEvent.id)
        ).all()


def test_logins_and_failures_are_audited_with_reason_and_address(app, client, clock):
    author = user_id(app, "author")
    post_login(client, "author", "wrong password")
    post_login(client, "nobody", "wrong password")
    fail(client, times=PER_NAME.free - 1)
    post_login(client, "author")  # refused: the pair's budget is spent
    clock.advance(60)
    post_login(client, "author")
    client.post("/logout")
    rows = [
        r for r in audit_rows(app) if r.action in ("login", "login_failed", "logout")
    ]
    assert rows[0] == (
        "login_failed",
        "author",
        author,
        "failure",
        "wrong_password",
        TEACHER,
    )
    assert rows[1] == (
        "login_failed",
        "nobody",
        None,
        "failure",
        "unknown_user",
        TEACHER,
    )
    assert rows[-3][:5] == ("login_failed", "author", author, "failure", "throttled")
    assert rows[-2] == ("login", "author", author, "success", "", TEACHER)
    assert rows[-1][:4] == ("logout", "author", author, "success")


def test_account_slowed_and_deactivated_logins_are_audited(app, clock):
    storm(app, clock, rounds=1, username="author")
    post_login(app.test_client(), "author")
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.username == "author").values(active=False)
        )
        db.session.commit()
    clock.advance(60)
    post_login(app.test_client(), "author", address="192.0.2.200")
    details = [r.detail for r in audit_rows(app) if r.action == "login_failed"]
    assert "account_slowed" in details
    assert details[-1] == "deactivated"
