"""站群: one database, several schools' sites, each request inside its own."""

from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from core.sites import SiteMap, acting_for
from models import (
    Article,
    AuditEvent,
    Department,
    Notification,
    Section,
    Setting,
    Site,
    Status,
    User,
    WordRule,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from tests.conftest import PASSWORD, count_statements, new_user

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
SECOND_HOST = "school2.edu.example.cn"
THIRD_PREFIX = "/sanzhong"


class reader:
    """A phone's browser asking one host (the client's own keeps cookies)."""

    def __init__(self, app, host="news.school.cn"):
        self.client = app.test_client()
        self.client.environ_base["HTTP_USER_AGENT"] = PHONE
        self.base_url = f"http://{host}"

    def get(self, path, **kwargs):
        return self.client.get(path, base_url=self.base_url, **kwargs)

    def post(self, path, **kwargs):
        return self.client.post(path, base_url=self.base_url, **kwargs)


def school(site_id: int, name: str, slug: str = "news", section: str = "校园新闻"):
    """Give the acting site a name, a section and a teacher (in an app context)."""
    with acting_for(site_id):
        set_setting("school_name", name)
        db.session.add(Section(name=section, slug=slug))
        db.session.add(new_user(f"teacher{site_id}", "editor"))
        db.session.commit()


@pytest.fixture
def three_schools(app):
    """Site 1 (any host), site 2 at its own host, site 3 under a path prefix."""
    with app.app_context():
        db.session.add_all(
            [
                Site(id=2, name="第二中学", host=SECOND_HOST),
                Site(id=3, name="第三中学", path_prefix=THIRD_PREFIX),
            ]
        )
        if db.engine.dialect.name == "postgresql":
            # Ids given by hand: `sites add` takes the next from the sequence.
            db.session.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('site', 'id'), 3)")
            )
        db.session.commit()
        school(1, "第一中学", section="一中新闻")
        school(2, "第二中学", section="二中新闻")
        school(3, "第三中学", section="三中新闻")
    return app


def test_a_new_database_is_one_site_owning_every_row(app):
    with app.app_context():
        assert db.session.execute(sa.select(Site.id, Site.host)).all() == [(1, "")]
        owners = db.session.scalars(
            sa.select(User.site_id).execution_options(all_sites=True)
        ).all()
        assert owners and set(owners) == {1}


def test_each_site_sees_and_changes_only_its_own_rows(three_schools):
    app = three_schools
    with app.app_context():
        with acting_for(2):
            # What is unique in a school is unique within its site only.
            db.session.add_all([Department(name="教务处"), WordRule(term="按装")])
            db.session.commit()
        db.session.add_all([Department(name="教务处"), WordRule(term="按装")])
        db.session.commit()
        first_news = db.session.scalar(
            sa.select(Section.id).where(Section.slug == "news")
        )
        with acting_for(2):
            assert get_settings()["school_name"] == "第二中学"
            assert db.session.scalars(sa.select(Section.name)).all() == ["二中新闻"]
            assert db.session.scalars(sa.select(User.username)).all() == ["teacher2"]
            assert db.session.get(Section, first_news) is None
            # A bulk change touches the acting site's rows only.
            db.session.execute(sa.update(Section).values(name="改名"))
            db.session.execute(sa.delete(WordRule))
            db.session.commit()
        db.session.expire_all()
        assert get_settings()["school_name"] == "第一中学"
        assert db.session.scalars(sa.select(Section.name)).all() == ["一中新闻"]
        assert db.session.scalars(sa.select(WordRule.term)).all() == ["按装"]
        everywhere = db.session.execute(
            sa.select(Section.site_id, Section.name)
            .order_by(Section.site_id)
            .execution_options(all_sites=True)
        ).all()
        assert everywhere == [(1, "一中新闻"), (2, "改名"), (3, "三中新闻")]
        settings = db.session.execute(
            sa.select(Setting.site_id)
            .where(Setting.key == "school_name")
            .execution_options(all_sites=True)
        ).scalars()
        assert sorted(settings) == [1, 2, 3]


def test_requests_go_to_the_site_of_their_host_or_path_prefix(three_schools):
    app = three_schools
    first = reader(app).get("/").get_data(as_text=True)
    assert "第一中学" in first and "一中新闻" in first
    assert "第二中学" not in first and "二中新闻" not in first

    second = reader(app, SECOND_HOST).get("/").get_data(as_text=True)
    assert "第二中学" in second and "二中新闻" in second
    assert "第一中学" not in second and "一中新闻" not in second

    # The prefix is the site's root: every link of its pages carries it.
    response = reader(app).get(f"{THIRD_PREFIX}/")
    third = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "第三中学" in third and "三中新闻" in third
    assert "第一中学" not in third and "一中新闻" not in third
    assert f'href="{THIRD_PREFIX}/sections/news"' in third
    assert 'href="/sections/news"' not in third
    page = reader(app).get(f"{THIRD_PREFIX}/sections/news")
    assert page.status_code == 200 and "三中新闻" in page.get_data(as_text=True)
    # A path that only starts like the prefix is the first site's.
    assert reader(app).get(f"{THIRD_PREFIX}x/").status_code == 404


def test_cached_pages_stay_with_their_site(three_schools):
    app = three_schools
    for _ in range(3):  # rendered, then served from the page cache
        assert "一中新闻" in reader(app).get("/").get_data(as_text=True)
        third = reader(app).get(f"{THIRD_PREFIX}/").get_data(as_text=True)
        assert "三中新闻" in third and "一中新闻" not in third
        second = reader(app, SECOND_HOST).get("/").get_data(as_text=True)
        assert "二中新闻" in second and "一中新闻" not in second
    # A change on one site shows there at once, and only there.
    with app.app_context(), acting_for(2):
        set_setting("school_name", "第二中学（新校区）")
        db.session.commit()
    assert "新校区" in reader(app, SECOND_HOST).get("/").get_data(as_text=True)
    assert "新校区" not in reader(app).get("/").get_data(as_text=True)


def test_a_teacher_signs_in_on_their_own_site_only(three_schools):
    app = three_schools
    client = reader(app, SECOND_HOST)
    answer = client.post("/login", data={"username": "teacher2", "password": PASSWORD})
    assert answer.status_code == 302
    assert client.get("/editor/").status_code == 200

    elsewhere = reader(app)
    refused = elsewhere.post(
        "/login", data={"username": "teacher2", "password": PASSWORD}
    )
    assert refused.status_code == 200  # the form again, with its error
    assert elsewhere.get("/editor/").status_code == 302  # to the login page


def test_one_site_never_reads_the_site_list_again(app):
    reader(app).get("/").close()
    with count_statements() as seen:
        for host in ("news.school.cn", "other.example", "127.0.0.1"):
            reader(app, host).get("/").close()
    assert not [s for s in seen if "FROM site" in s]


def test_a_site_added_by_another_server_is_found_by_its_host(
    three_schools, monkeypatch
):
    app = three_schools
    reader(app).get("/").close()  # this process has read the sites
    with app.app_context():
        db.session.add(Site(id=4, name="第四中学", host="school4.example.cn"))
        db.session.commit()
        school(4, "第四中学", section="四中新闻")
    monkeypatch.setattr(SiteMap, "RELOAD_SECONDS", 0.0)
    page = reader(app, "school4.example.cn").get("/").get_data(as_text=True)
    assert "四中新闻" in page and "一中新闻" not in page


def test_a_request_leaves_no_site_behind_in_its_thread(three_schools):
    app = three_schools
    reader(app, SECOND_HOST).get("/").close()
    reader(app).get(f"{THIRD_PREFIX}/feed.xml").close()
    # What this thread does next (a command, a job) is the default site's.
    with app.app_context():
        assert db.session.scalars(sa.select(Section.name)).all() == ["一中新闻"]
        db.session.add(Section(name="后来", slug="later"))
        db.session.commit()
        assert (
            db.session.scalar(sa.select(Section.site_id).where(Section.slug == "later"))
            == 1
        )


def test_the_outbox_sends_each_sites_messages_to_that_sites_robots(three_schools):
    from core import notify
    from tests.test_notify import Receiver, wait_until

    app = three_schools
    receiver = Receiver()
    try:
        with app.app_context():
            for site_id in (1, 2):
                with acting_for(site_id):
                    department = Department(
                        name="教务处", robot_url=receiver.url(f"site{site_id}")
                    )
                    db.session.add(department)
                    db.session.flush()
                    notify.queue(
                        f"department:{department.id}", f"等待初审{site_id}", "正文"
                    )
                    db.session.commit()
        app.config.update(NOTIFY_WORKER=True, NOTIFY_TIMEOUT=1)
        notify.Worker.bind(app)  # on: one worker for every site's outbox
        # The first send loads Apprise, slow on a busy machine.
        wait_until(lambda: len(receiver.messages) == 2, timeout=30)
        for site_id in (1, 2):
            assert f"等待初审{site_id}" in str(receiver.messages)

        def statuses():
            with app.app_context():
                return db.session.execute(
                    sa.select(Notification.site_id, Notification.status)
                    .order_by(Notification.site_id)
                    .execution_options(all_sites=True)
                ).all()

        # The worker records a message as sent once the robot has answered:
        # a moment after the receiver has it.
        wait_until(lambda: all(status != "sending" for _s, status in statuses()))
        assert statuses() == [(1, "sent"), (2, "sent")]
    finally:
        notify.stop(app)
        receiver.close()


# --- flask sites -------------------------------------------------------------------


def sites_cli(app, *args):
    return app.test_cli_runner().invoke(args=["sites", *args])


def test_a_school_added_from_the_command_line_starts_like_a_new_installation(app):
    reader(app).get("/").close()  # a server that already serves the first site
    added = sites_cli(
        app, "add", "城南小学", "--host", "CN.School.Example", "--admin", "cn-admin"
    )
    assert added.exit_code == 0, added.output
    assert "cn.school.example" in added.output
    password = added.output.split("password:")[1].split()[0]
    listing = sites_cli(app, "list").output
    assert "2\tcn.school.example/\t城南小学" in listing

    home = reader(app, "cn.school.example").get("/").get_data(as_text=True)
    assert "城南小学" in home and "新闻中心" in home
    assert "城南小学" not in reader(app).get("/").get_data(as_text=True)
    # Its administrator signs in there, and there only, into the first run.
    school = reader(app, "cn.school.example")
    answer = school.post("/login", data={"username": "cn-admin", "password": password})
    assert answer.status_code == 302
    assert school.get("/editor/").headers["Location"].endswith("/admin/setup")
    elsewhere = reader(app).post(
        "/login", data={"username": "cn-admin", "password": password}
    )
    assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["新校", "--admin", "x1"], "请为网站填写域名或路径"),
        (["新校", "--prefix", "/admin", "--admin", "x1"], "已被系统本身使用"),
        (["新校", "--prefix", "/两个字", "--admin", "x1"], "无效"),
        (["新校", "--host", "bad host", "--admin", "x1"], "域名 bad host 无效"),
        (["新校", "--host", "b.example", "--admin", "x1"], "已有其他网站使用这个地址"),
        (["新校", "--host", "c.example", "--admin", "author"], "已被占用"),
        (["", "--host", "c.example", "--admin", "x1"], "1 至 100 个字符"),
        (
            ["局", "--host", "d.example", "--bureau", "--admin", "x1"],
            "已经有教育局网站了",
        ),
    ],
)
def test_a_site_that_cannot_be_added_is_refused_and_nothing_is_written(
    app, args, message
):
    assert (
        sites_cli(
            app, "add", "乙校", "--host", "b.example", "--bureau", "--admin", "b-admin"
        ).exit_code
        == 0
    )
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Site.id)))
    refused = sites_cli(app, "add", *args)
    assert refused.exit_code != 0 and message in refused.output, refused.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Site.id))) == before


def test_a_disabled_site_shows_a_notice_and_never_another_schools_pages(three_schools):
    app = three_schools
    assert "二中新闻" in reader(app, SECOND_HOST).get("/").get_data(as_text=True)
    assert sites_cli(app, "disable", "2").exit_code == 0
    for path in ("/", "/sections/news", "/login"):
        answer = reader(app, SECOND_HOST).get(path)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 404 and "网站已停用" in page
        assert "一中新闻" not in page and "二中新闻" not in page
    refused = sites_cli(app, "disable", "1")
    assert refused.exit_code != 0 and "不能停用" in refused.output
    assert sites_cli(app, "enable", "2").exit_code == 0
    assert "二中新闻" in reader(app, SECOND_HOST).get("/").get_data(as_text=True)


def test_backups_of_every_site_are_the_bureaus_alone(app):
    bureau = signed_in_bureau(app)
    school_admin = reader(app)
    school_admin.post("/login", data={"username": "admin", "password": PASSWORD})
    assert school_admin.get("/admin/backups").status_code == 404
    assert school_admin.post("/admin/backups").status_code == 404
    assert 'href="/admin/backups"' not in school_admin.get("/admin/users").get_data(
        as_text=True
    )
    page = bureau.get("/jyj/admin/backups")
    assert page.status_code == 200


# --- the bureau's page of schools ----------------------------------------------------


def signed_in_bureau(app) -> reader:
    """The bureau's site added at /jyj (`flask sites add`), its administrator
    past the first run and signed in there."""
    added = sites_cli(
        app, "add", "区教育局", "--prefix", "/jyj", "--bureau", "--admin", "jyj"
    )
    assert added.exit_code == 0, added.output
    site_id = int(added.output.split("site ")[1].split(":")[0])
    password = added.output.split("password:")[1].split()[0]
    with app.app_context(), acting_for(site_id):
        admin = db.session.scalar(sa.select(User).where(User.username == "jyj"))
        admin.needs_setup = False
        db.session.commit()
    browser = reader(app)
    answer = browser.post("/jyj/login", data={"username": "jyj", "password": password})
    assert answer.status_code == 302
    return browser


@pytest.fixture
def bureau(app):
    return signed_in_bureau(app)


def test_the_bureau_adds_a_school_and_hands_over_its_first_password(app, bureau):
    page = bureau.get("/jyj/admin/sites")
    assert page.status_code == 200
    assert 'href="/jyj/admin/sites"' in page.get_data(as_text=True)  # its tab
    answer = bureau.post(
        "/jyj/admin/sites",
        data={
            "name": "城东小学",
            "host": "cd.school.example",
            "prefix": "",
            "admin_username": "cd-admin",
        },
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "城东小学" in text
    assert answer.headers["Cache-Control"] == "no-store"
    password = text.split("<code>cd-admin</code>")[1].split("<code>")[1].split("<")[0]
    school = reader(app, "cd.school.example")
    assert "城东小学" in school.get("/").get_data(as_text=True)
    login = school.post("/login", data={"username": "cd-admin", "password": password})
    assert login.status_code == 302
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent.target)
            .where(AuditEvent.action == "site_created")
            .execution_options(all_sites=True)
        ).startswith("城东小学")


def test_a_school_the_bureau_cannot_add_keeps_what_was_typed(app, bureau):
    answer = bureau.post(
        "/jyj/admin/sites",
        data={
            "name": "城西中学",
            "host": "bad host",
            "prefix": "",
            "admin_username": "cx-admin",
        },
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "域名 bad host 无效" in text and 'value="城西中学"' in text
    assert 'value="cx-admin"' in text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 2


def test_the_bureau_disables_and_enables_a_school(app, bureau):
    assert (
        sites_cli(
            app, "add", "城东小学", "--host", "cd.example", "--admin", "cd"
        ).exit_code
        == 0
    )
    assert bureau.post("/jyj/admin/sites/3/disable").status_code == 302
    assert "网站已停用" in reader(app, "cd.example").get("/").get_data(as_text=True)
    assert bureau.post("/jyj/admin/sites/3/enable").status_code == 302
    assert "城东小学" in reader(app, "cd.example").get("/").get_data(as_text=True)
    # Neither the first site (every other address) nor the bureau's own.
    for site_id in (1, 2):
        bureau.post(f"/jyj/admin/sites/{site_id}/disable")
        with app.app_context():
            assert db.session.get(Site, site_id).active


def test_only_the_bureaus_administrators_have_the_page(app, bureau):
    school_admin = reader(app)
    school_admin.post("/login", data={"username": "admin", "password": PASSWORD})
    assert school_admin.get("/admin/sites").status_code == 404
    assert school_admin.post("/admin/sites", data={"name": "x"}).status_code == 404
    assert 'href="/admin/sites"' not in school_admin.get("/admin/users").get_data(
        as_text=True
    )
    assert reader(app).get("/jyj/admin/sites").status_code == 302  # to the login


def test_a_user_name_is_one_per_installation_wherever_it_is_chosen(three_schools):
    app = three_schools
    # teacher2 is the second school's; the first school's admin cannot take it.
    admin = reader(app)
    admin.post("/login", data={"username": "admin", "password": PASSWORD})
    answer = admin.post(
        "/admin/users",
        data={
            "username": "Teacher2",
            "display_name": "重名",
            "role": "author",
            "password": "a long enough password 1",
        },
    )
    assert "此用户名已被占用" in answer.get_data(as_text=True)  # the form again
    with app.app_context():
        same = sa.select(sa.func.count(User.id)).where(
            sa.func.lower(User.username) == "teacher2"
        )
        assert db.session.scalar(same.execution_options(all_sites=True)) == 1
    taken = sites_cli(app, "add", "四中", "--host", "d.example", "--admin", "TEACHER2")
    assert taken.exit_code != 0 and "已被占用" in taken.output
    runner = app.test_cli_runner()
    refused = runner.invoke(
        args=["create-user", "teacher2", "--password", "a long enough password 1"]
    )
    assert refused.exit_code != 0 and "already exists" in refused.output
    made = runner.invoke(
        args=["create-user", "wang", "--site", "2", "--password", "long enough 123"]
    )
    assert made.exit_code == 0, made.output
    login = reader(app, SECOND_HOST).post(
        "/login", data={"username": "wang", "password": "long enough 123"}
    )
    assert login.status_code == 302


def test_each_site_searches_its_own_posts(three_schools, make_article):
    app = three_schools
    with app.app_context():
        for site_id in (1, 2):
            with acting_for(site_id):
                section = db.session.scalar(sa.select(Section.id))
                db.session.add(
                    Article(
                        title=f"秋季运动会{site_id}",
                        body_html="<p>运动会</p>",
                        section_id=section,
                        status=Status.PUBLISHED,
                        published_at=utcnow() - timedelta(hours=1),
                    )
                )
                db.session.commit()
    quoted = "/search?q=" + quote("运动会")
    unmarked = {"<mark>": "", "</mark>": ""}  # the words found are marked
    first = reader(app).get(quoted).get_data(as_text=True)
    second = reader(app, SECOND_HOST).get(quoted).get_data(as_text=True)
    for mark, nothing in unmarked.items():
        first, second = first.replace(mark, nothing), second.replace(mark, nothing)
    assert "秋季运动会1" in first and "秋季运动会2" not in first
    assert "秋季运动会2" in second and "秋季运动会1" not in second


# --- the bureau's shared word list --------------------------------------------------


def findings(browser, text):
    answer = browser.post("/editor/check", json={"title": "通知", "body_html": text})
    assert answer.status_code == 200
    return {(f["value"], f["severity"]) for f in answer.get_json()["findings"]}


def test_the_bureaus_terms_hold_in_every_school_which_cannot_weaken_them(
    three_schools,
):
    app = three_schools
    with app.app_context():
        db.session.add(Site(id=4, name="区教育局", host="jyj.example", bureau=True))
        db.session.commit()
        with acting_for(4):
            db.session.add_all(
                [
                    WordRule(term="统考排名", replacement="", severity="block"),
                    WordRule(term="按装", replacement="安装", severity="hint"),
                ]
            )
            db.session.commit()
        with acting_for(2):
            # The second school tries to soften the bureau's block, and to
            # exempt a word that contains it; it adds a term of its own.
            db.session.add_all(
                [
                    WordRule(term="统考排名", severity="hint", exceptions="统考排名表"),
                    WordRule(term="按装", severity="block"),
                    WordRule(term="校内词", severity="hint"),
                ]
            )
            db.session.commit()
    text = "<p>统考排名表、按装、校内词</p>"
    editors = {}
    for site_id, host in ((2, SECOND_HOST), (1, "news.school.cn")):
        browser = reader(app, host)
        login = browser.post(
            "/login", data={"username": f"teacher{site_id}", "password": PASSWORD}
        )
        assert login.status_code == 302
        editors[site_id] = browser
    for _ in range(2):  # compiled, then from the process's cache
        assert findings(editors[2], text) == {
            ("统考排名", "block"),  # still blocked, and not exempted
            ("按装", "block"),  # stricter than the bureau's hint: allowed
            ("校内词", "hint"),
        }
        assert findings(editors[1], text) == {("统考排名", "block"), ("按装", "hint")}
    # The school's word list page shows the shared terms, read only.
    admin = reader(app, SECOND_HOST)
    with app.app_context(), acting_for(2):
        db.session.scalar(
            sa.select(User).where(User.username == "teacher2")
        ).security_admin = True
        db.session.commit()
    admin.post("/login", data={"username": "teacher2", "password": PASSWORD})
    page = admin.get("/admin/words").get_data(as_text=True)
    shared = page.split('id="shared-words"')[1].split("</section>")[0]
    assert "统考排名" in shared and "按装" in shared and "校内词" not in shared
    with app.app_context():
        bureau_rule = db.session.scalar(
            sa.select(WordRule.id)
            .where(WordRule.site_id == 4, WordRule.term == "统考排名")
            .execution_options(all_sites=True)
        )
    assert admin.get(f"/admin/words/{bureau_rule}").status_code == 404
    assert admin.post(f"/admin/words/{bureau_rule}/delete").status_code == 404
