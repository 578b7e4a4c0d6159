"""People are told: review moves reach real webhooks and a real SMTP server."""

import email
import email.policy
import http.server
import json
import re
import socket
import threading
import time

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from markupsafe import escape

from core import notify
from models import Department, Notification, ReviewGroup, Section, User, db, set_setting
from tests.conftest import PASSWORD, form_data, new_user, shown_version

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

TITLE = "开学典礼"


# --- Real targets on 127.0.0.1 -------------------------------------------------------


class Receiver:
    """A JSON webhook in a thread: the messages it got; it fails the first
    `fail` requests with a 500."""

    def __init__(self, fail=0):
        self.messages: list[dict] = []
        self.fail = fail
        self.seen = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.seen:
                    failing = receiver.fail > 0
                    receiver.fail -= 1
                    if not failing:
                        receiver.messages.append(json.loads(body))
                    receiver.seen.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def url(self, path="hook"):
        return f"json://127.0.0.1:{self.server.server_address[1]}/{path}"

    def wait_for(self, text, timeout=5.0):
        """The first message containing text, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for message in self.messages:
                    if text in json.dumps(message, ensure_ascii=False):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no message with {text!r}: {self.messages}")
                self.seen.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def dead_url():
    """A port where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"json://127.0.0.1:{port}/dead"


@pytest.fixture
def silent_url():
    """A socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"json://127.0.0.1:{sock.getsockname()[1]}/silent"
    sock.close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted"


@pytest.fixture
def smtp(app):
    """An SMTP server on 127.0.0.1, set as the site's mail server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    with app.app_context():
        for key, value in {
            "smtp_host": "127.0.0.1",
            "smtp_port": str(port),
            "smtp_tls": "insecure",
            "smtp_sender": "news@school.cn",
        }.items():
            set_setting(key, value)
        db.session.commit()
    yield mailbox
    controller.stop()


@pytest.fixture
def notifying(app):
    """The app's worker on, with short timeouts and retries; stopped after."""
    app.config.update(NOTIFY_WORKER=True, NOTIFY_TIMEOUT=1, NOTIFY_RETRY_SECONDS=0.2)
    yield app
    notify.stop(app)


# --- A school with one review level -----------------------------------------------


@pytest.fixture
def school(app):
    """教务处: teacher (author) and head (its head, level 1); one review level."""
    with app.app_context():
        department = Department(name="教务处")
        teacher = new_user("teacher", "author", "张老师")
        teacher.email = "teacher@school.cn"
        head = new_user("head", "author", "李主任")
        head.email = "head@school.cn"
        teacher.department = head.department = department
        department.heads.append(head)
        section = Section(name="新闻中心", slug="news")
        db.session.add_all([department, teacher, head, section])
        set_setting("review_levels", "1")
        db.session.commit()
        return {"section": section.id, "department": department.id}


def as_user(client, username):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def submit(client, section):
    started = time.monotonic()
    response = client.post(
        "/editor/articles/new", data=form_data(section, action="submit")
    )
    took = time.monotonic() - started
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[-2]), took


def outbox(app, **where):
    with app.app_context():
        return db.session.scalars(
            sa.select(Notification).filter_by(**where).order_by(Notification.id)
        ).all()


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


# --- What people get ---------------------------------------------------------------


def test_a_submit_reaches_the_site_webhook_with_title_and_link(
    app, client, school, notifying, receiver, smtp
):
    app.config["NOTIFY_URLS"] = [receiver.url()]
    as_user(client, "teacher")
    article_id, took = submit(client, school["section"])
    message = receiver.wait_for(TITLE)
    assert f"http://localhost/editor/review/{article_id}" in message["message"]
    assert "初审" in message["title"] or "First review" in message["title"]
    assert took < 2
    # The department head, who reviews level 1, is e-mailed too.
    wait_until(lambda: smtp.messages)
    recipients, mail = smtp.messages[0]
    assert recipients == ["head@school.cn"]
    assert TITLE in mail["Subject"]
    assert f"/editor/review/{article_id}" in mail.get_body().get_content()


def test_a_return_emails_the_author_the_reason_and_tells_the_department_robot(
    app, client, school, notifying, receiver, smtp
):
    with app.app_context():
        db.session.get(Department, school["department"]).robot_url = receiver.url()
        db.session.commit()
    as_user(client, "teacher")
    article_id, _took = submit(client, school["section"])
    as_user(client, "head")
    response = client.post(
        f"/editor/review/{article_id}/return",
        data={"reason": "日期写错了", "version": shown_version(app, article_id)},
    )
    assert response.status_code == 302
    message = receiver.wait_for("日期写错了")
    assert TITLE in message["message"]
    mail = wait_until(
        lambda: [m for to, m in smtp.messages if to == ["teacher@school.cn"]]
    )[0]
    text = mail.get_body().get_content()
    assert "日期写错了" in text and TITLE in text
    assert f"http://localhost/editor/articles/{article_id}/edit" in text


def test_the_last_approval_tells_the_author_with_the_public_link(
    app, client, school, notifying, smtp
):
    as_user(client, "teacher")
    article_id, _took = submit(client, school["section"])
    as_user(client, "head")
    client.post(
        f"/editor/review/{article_id}/approve",
        data={"version": shown_version(app, article_id)},
    )
    mail = wait_until(
        lambda: [m for to, m in smtp.messages if to == ["teacher@school.cn"]]
    )[0]
    assert f"http://localhost/articles/{article_id}" in mail.get_body().get_content()


def test_dead_and_silent_targets_delay_neither_the_request_nor_the_others(
    app, client, school, notifying, receiver, dead_url, silent_url
):
    app.config["NOTIFY_URLS"] = [dead_url, silent_url, receiver.url()]
    as_user(client, "teacher")
    started = time.monotonic()
    _article_id, took = submit(client, school["section"])
    assert took < 2
    receiver.wait_for(TITLE, timeout=3)
    assert time.monotonic() - started < 3
    failed = {}
    for url in (dead_url, silent_url):
        key = notify._site_key(url)
        failed[url] = wait_until(
            lambda key=key: [r for r in outbox(app, target=key) if r.last_error]
        )[0]
    as_user(client, "admin")
    page = client.get("/admin/notifications").get_data(as_text=True)
    for row in failed.values():
        assert str(escape(row.last_error)) in page
    assert "127.0.0.1" in page


def test_a_failed_send_is_retried_with_growing_delays(app, notifying, dead_url):
    app.config["NOTIFY_URLS"] = [dead_url]
    started = time.monotonic()
    with app.app_context():
        notify.queue(notify._site_key(dead_url), "测试", "正文")
        db.session.commit()
    row = wait_until(lambda: outbox(app, status="failed"), timeout=15)[0]
    # 0.2 + 0.4 + 0.8 + 1.6 s between the five attempts.
    assert time.monotonic() - started >= 3.0
    assert row.attempts == notify.MAX_ATTEMPTS
    assert row.last_error


def test_a_target_that_fails_once_gets_the_message_on_the_retry(app, notifying):
    receiver = Receiver(fail=1)
    try:
        app.config["NOTIFY_URLS"] = [receiver.url()]
        with app.app_context():
            notify.queue(notify._site_key(receiver.url()), "重试", "第二次成功")
            db.session.commit()
        receiver.wait_for("第二次成功")
        row = wait_until(lambda: outbox(app, status="sent"))[0]
        assert row.attempts == 2 and row.last_error == ""
    finally:
        receiver.close()


def test_a_row_claimed_by_another_process_is_not_sent_twice(app, receiver):
    app.config["NOTIFY_URLS"] = [receiver.url()]
    with app.app_context():
        notify.queue(notify._site_key(receiver.url()), "一次", "只发一次")
        db.session.commit()
    workers = [notify.Worker(app), notify.Worker(app)]
    with app.app_context():
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            for worker in workers:
                worker._dispatch(pool)
    receiver.wait_for("只发一次")
    time.sleep(0.3)
    assert len(receiver.messages) == 1
    assert [r.status for r in outbox(app)] == ["sent"]


# --- The admin page ----------------------------------------------------------------


def test_the_test_button_sends_to_one_target_or_all(
    app, admin_client, notifying, receiver
):
    other = Receiver()
    try:
        app.config["NOTIFY_URLS"] = [receiver.url(), other.url()]
        page = admin_client.get("/admin/notifications").get_data(as_text=True)
        assert "Send test message" in page or "发送测试消息" in page
        response = admin_client.post(
            "/admin/notifications/test",
            data={"target": notify._site_key(receiver.url())},
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/admin/notifications")
        receiver.wait_for("SchoolNews")
        response = admin_client.post(
            "/admin/notifications/test", data={"target": "all"}
        )
        other.wait_for("SchoolNews")
        wait_until(lambda: len(receiver.messages) == 2)
        assert (
            admin_client.post(
                "/admin/notifications/test", data={"target": "site:nothing"}
            ).status_code
            == 404
        )
    finally:
        other.close()


def test_the_test_button_with_nothing_set_up_says_so(app, admin_client):
    app.config["NOTIFY_URLS"] = []
    response = admin_client.post(
        "/admin/notifications/test", data={"target": "all"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "尚未设置任何通知对象" in response.text
    assert outbox(app) == []


def test_the_test_email_goes_to_the_admin_themself(app, admin_client, notifying, smtp):
    response = admin_client.post("/admin/notifications/test", data={"target": "email"})
    assert response.status_code == 302
    assert outbox(app) == []  # no address yet: told to add one
    admin_client.post("/account/password/email", data={"email": "admin@school.cn"})
    admin_client.post("/admin/notifications/test", data={"target": "email"})
    recipients, _mail = wait_until(lambda: smtp.messages)[0]
    assert recipients == ["admin@school.cn"]


@pytest.mark.csrf
def test_the_test_button_needs_the_csrf_token(app, client, receiver):
    app.config["NOTIFY_URLS"] = [receiver.url()]
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text
    )[1]
    client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
    )
    page = client.get("/admin/notifications").text
    assert 'name="csrf_token"' in page
    response = client.post("/admin/notifications/test", data={"target": "all"})
    assert response.status_code == 400
    assert outbox(app) == []
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = client.post(
        "/admin/notifications/test", data={"target": "all", "csrf_token": token}
    )
    assert response.status_code == 302
    assert len(outbox(app)) == 1


@pytest.mark.parametrize("username", ["author", "editor"])
def test_only_admins_see_the_page_or_send_tests(app, login, client, username):
    login(username)
    assert client.get("/admin/notifications").status_code == 403
    response = client.post("/admin/notifications/test", data={"target": "all"})
    assert response.status_code == 403
    assert outbox(app) == []


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/admin/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Robots and addresses ------------------------------------------------------------


@pytest.mark.parametrize(
    "url, ok",
    [
        ("dingtalk://token123", True),
        ("wecombot://botkey", True),
        ("feishu://token123", True),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123", True),
        ("json://127.0.0.1:8080/hook", True),
        ("dingtalk:/token", False),
        ("https://example.com/not-a-robot", False),
        ("钉钉机器人", False),
    ],
)
def test_robot_addresses_are_checked_with_apprise(url, ok):
    assert notify.valid_url(url) is ok


def test_a_bad_department_robot_is_refused_and_kept_as_typed(app, admin_client):
    with app.app_context():
        department = Department(name="德育处")
        db.session.add(department)
        db.session.commit()
        department_id = department.id
    prefix = f"d{department_id}-"
    response = admin_client.post(
        f"/admin/departments/{department_id}",
        data={prefix + "name": "德育处", prefix + "robot_url": "dingtalk:/oops"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "dingtalk:/oops" in page
    assert "dingtalk://token" in page  # the message says what works
    with app.app_context():
        assert db.session.get(Department, department_id).robot_url == ""
    response = admin_client.post(
        f"/admin/departments/{department_id}",
        data={prefix + "name": "德育处", prefix + "robot_url": "dingtalk://abc123"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert (
            db.session.get(Department, department_id).robot_url == "dingtalk://abc123"
        )


def test_a_bad_review_group_robot_is_refused_with_a_friendly_message(app, admin_client):
    with app.app_context():
        group = ReviewGroup(name="宣传办")
        db.session.add(group)
        db.session.commit()
        group_id = group.id
    response = admin_client.post(
        f"/admin/review/groups/{group_id}",
        data={"name": "宣传办", "robot_url": "feishu:/nope"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "feishu:/nope" in page and "feishu://token" in page
    admin_client.post(
        f"/admin/review/groups/{group_id}",
        data={"name": "宣传办", "robot_url": "feishu://token123"},
    )
    with app.app_context():
        assert db.session.get(ReviewGroup, group_id).robot_url == "feishu://token123"
    page = admin_client.get("/admin/notifications").get_data(as_text=True)
    assert "宣传办" in page and "token123" not in page  # the secret stays hidden


def test_admins_set_smtp_and_users_e_mail_addresses(app, admin_client):
    response = admin_client.post(
        "/admin/settings",
        data={
            "school_name": "实验中学",
            "smtp_host": "smtp.exmail.qq.com",
            "smtp_port": "465",
            "smtp_tls": "ssl",
            "smtp_user": "news@school.cn",
            "smtp_password": "s3cret/pw",
            "smtp_sender": "news@school.cn",
        },
    )
    assert response.status_code == 302
    # An empty password field keeps the saved password.
    admin_client.post(
        "/admin/settings",
        data={
            "school_name": "实验中学",
            "smtp_host": "smtp.exmail.qq.com",
            "smtp_port": "465",
            "smtp_tls": "ssl",
            "smtp_user": "news@school.cn",
            "smtp_sender": "news@school.cn",
        },
    )
    with app.app_context():
        assert notify.get_settings()["smtp_password"] == "s3cret/pw"
        url = notify.email_url("wang@school.cn")
        assert url.startswith("mailtos://news%40school.cn:s3cret%2Fpw@smtp.exmail")
        assert notify.valid_url(url)
    assert "s3cret" not in admin_client.get("/admin/settings").get_data(as_text=True)
    with app.app_context():
        author_id = db.session.scalar(
            sa.select(User.id).where(User.username == "author")
        )
    response = admin_client.post(
        f"/admin/users/{author_id}",
        data={
            "display_name": "作者",
            "role": "author",
            "department_id": "0",
            "email": "not-an-address",
        },
    )
    assert response.status_code == 200
    assert "wang@school.cn" in response.get_data(as_text=True)
    admin_client.post(
        f"/admin/users/{author_id}",
        data={
            "display_name": "作者",
            "role": "author",
            "department_id": "0",
            "email": "author@school.cn",
        },
    )
    with app.app_context():
        assert db.session.get(User, author_id).email == "author@school.cn"
