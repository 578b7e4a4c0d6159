"""Admin pages of the review chain: levels, groups, channel overrides, heads."""

import re

import pytest
import sqlalchemy as sa

from models import (
    Article,
    AuditEvent,
    Department,
    ReviewGroup,
    Section,
    Status,
    User,
    db,
    get_settings,
    set_setting,
)
from review import chain
from tests.conftest import PASSWORD, _login, user_id

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


@pytest.fixture
def school(app):
    """教务处 (the author is a member), the group 宣传办 with the editor in it,
    a channel 新闻中心 with a sub-section, and a channel 通知公告."""
    with app.app_context():
        department = Department(name="教务处")
        db.session.add(department)
        group = ReviewGroup(name="宣传办")
        db.session.add(group)
        news = Section(name="新闻中心", slug="news")
        notices = Section(name="通知公告", slug="notices")
        db.session.add_all([news, notices])
        db.session.flush()
        campus = Section(name="校园动态", slug="campus", parent_id=news.id)
        db.session.add(campus)
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        users["author"].department = department
        # The site's default (the test site starts without review).
        set_setting("review_levels", "1")
        db.session.commit()
        return {
            "department": department.id,
            "group": group.id,
            "news": news.id,
            "notices": notices.id,
            "campus": campus.id,
        }


def add_user(app, username, active=True):
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.username == "author"))
        user = User(
            username=username,
            display_name=f"{username}老师",
            password_hash=author.password_hash,
            session_token=username,
            active=active,
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def stored(app):
    with app.app_context():
        return get_settings()


def audit_log(app):
    """The audit events after the test client's own login."""
    with app.app_context():
        return [
            (e.action, e.target)
            for e in db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.action != "login")
                .order_by(AuditEvent.id)
            )
        ]


def group_state(app, group_id):
    with app.app_context():
        group = db.session.get(ReviewGroup, group_id)
        if group is None:
            return None
        return group.name, sorted(u.username for u in group.members)


def heads(app, department_id):
    with app.app_context():
        department = db.session.get(Department, department_id)
        return sorted(u.username for u in department.heads)


def channel_levels(app):
    with app.app_context():
        return dict(
            db.session.execute(sa.select(Section.slug, Section.review_levels)).all()
        )


def settings_form(**fields):
    # The defaults: one level, bypass allowed, the line shown.
    data = {
        "levels": "1",
        "group_2": "0",
        "group_3": "0",
        "bypass": "y",
        "show_review_line": "y",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def post_in_review(app, section_id, level, levels, title="待审稿件"):
    with app.app_context():
        article = Article(
            title=title,
            body_html="<p>正文</p>",
            section_id=section_id,
            status=Status.PENDING,
            created_by_id=user_id(app, "author"),
            review_level=level,
            review_levels=levels,
        )
        db.session.add(article)
        db.session.commit()
        return article.id


def reviewers(app, article_id, level):
    with app.app_context():
        article = db.session.get(Article, article_id)
        ids = chain.reviewer_ids(article, level)
        return sorted(
            db.session.scalars(sa.select(User.username).where(User.id.in_(ids)))
        )


def errors(response):
    return re.findall(r'class="a-error"[^>]*>([^<]*)<', response.text)


def routes(s):
    group, department = s["group"], s["department"]
    return [
        ("GET", "/admin/review", None),
        ("POST", "/admin/review", settings_form(levels="2", group_2=str(group))),
        ("POST", "/admin/review/channels", {f"channel-{s['news']}": "3"}),
        ("GET", "/admin/review/groups", None),
        ("POST", "/admin/review/groups", {"name": "校领导"}),
        ("GET", f"/admin/review/groups/{group}", None),
        ("POST", f"/admin/review/groups/{group}", {"name": "宣传处"}),
        ("POST", f"/admin/review/groups/{group}/members", {"people": "2"}),
        ("GET", f"/admin/departments/{department}/heads", None),
        ("POST", f"/admin/departments/{department}/heads", {"people": "1"}),
        ("POST", f"/admin/review/groups/{group}/delete", {}),
    ]


# --- who may open the pages ------------------------------------------------------


def test_admins_open_and_use_every_page(app, admin_client, school):
    for method, url, data in routes(school):
        response = admin_client.open(url, method=method, data=data)
        if method == "GET":
            assert response.status_code == 200, url
        else:
            assert response.status_code == 302, (url, response.text[:500])
            assert "/login" not in response.headers["Location"]
    # The group was renamed, given the editor, named for level 2 and so kept.
    assert group_state(app, school["group"]) == ("宣传处", ["editor"])
    assert heads(app, school["department"]) == ["author"]
    assert channel_levels(app)["news"] == 3


@pytest.mark.parametrize("role", ["author", "editor"])
def test_authors_and_editors_are_refused_and_change_nothing(app, client, school, role):
    _login(client, role)
    before = (stored(app), group_state(app, school["group"]), channel_levels(app))
    for method, url, data in routes(school):
        assert client.open(url, method=method, data=data).status_code == 403, url
    after = (stored(app), group_state(app, school["group"]), channel_levels(app))
    assert before == after
    assert heads(app, school["department"]) == []
    assert audit_log(app) == []


def test_anonymous_users_are_sent_to_login(client, school):
    for method, url, data in routes(school):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next=")


def test_the_review_settings_are_linked_from_the_admin_tabs(admin_client):
    html = admin_client.get("/admin/users").text
    assert '<a href="/admin/review">审核流程</a>' in html


# --- review settings -----------------------------------------------------------


def test_the_page_shows_the_chain_and_explains_it(app, admin_client, school):
    post_in_review(app, school["campus"], 1, 3)
    html = admin_client.get("/admin/review").text
    assert "作者所在部门的负责人" in html
    assert "不会让它们卡住" in html and "目前有 1 篇文章在审核中。" in html
    assert '<option selected value="1">' in html  # the default: one level
    assert "宣传办" in html
    # Nobody heads 教务处 yet: the page says who reviews instead.
    assert "以下部门尚未指定负责人" in html and "教务处" in html
    # One row per channel; sub-sections follow their channel.
    assert f'name="channel-{school["news"]}"' in html
    assert f'name="channel-{school["campus"]}"' not in html


def test_naming_a_group_for_level_2_puts_posts_in_its_queue(
    app, client, admin_client, school
):
    member = add_user(app, "office")
    admin_client.post(
        f"/admin/review/groups/{school['group']}/members", data={"people": member}
    )
    article_id = post_in_review(app, school["campus"], 2, 2, title="运动会通讯")
    # Nobody named for level 2 yet: editors and administrators review it.
    assert reviewers(app, article_id, 2) == ["admin", "editor"]

    response = admin_client.post(
        "/admin/review", data=settings_form(levels="2", group_2=str(school["group"]))
    )
    assert response.status_code == 302
    values = stored(app)
    assert (values["review_levels"], values["review_group_2"]) == (
        "2",
        str(school["group"]),
    )
    with app.app_context():
        campus = db.session.get(Section, school["campus"])
        assert chain.levels_for(campus) == 2
        assert chain.level_group(2).name == "宣传办"
    assert reviewers(app, article_id, 2) == ["office"]
    client.post("/logout")
    _login(client, "office")
    assert "运动会通讯" in client.get("/editor/review/").text
    assert (
        "review_settings_changed",
        "review_levels: 1 → 2; review_group_2: - → 宣传办",
    ) in audit_log(app)


def test_switches_and_levels_are_stored(app, admin_client, school):
    admin_client.post(
        "/admin/review",
        data=settings_form(levels="0", bypass=None, show_review_line=None),
    )
    values = stored(app)
    assert values["review_levels"] == "0"
    assert values["review_bypass"] == "0"  # unticked
    assert values["show_review_line"] == "0"
    with app.app_context():
        assert not chain.bypass_allowed()
    admin_client.post("/admin/review", data=settings_form(levels="3"))
    values = stored(app)
    assert (values["review_levels"], values["review_bypass"]) == ("3", "1")
    assert values["show_review_line"] == "1"


def test_saving_the_same_settings_writes_no_audit_entry(app, admin_client, school):
    admin_client.post("/admin/review", data=settings_form())
    response = admin_client.get("/admin/review")
    assert "没有修改任何内容。" in response.text
    assert audit_log(app) == []


def test_posts_in_review_keep_their_levels_when_the_chain_changes(
    app, admin_client, school
):
    article_id = post_in_review(app, school["campus"], 2, 3)
    admin_client.post("/admin/review", data=settings_form(levels="1"))
    admin_client.post("/admin/review/channels", data={f"channel-{school['news']}": "0"})
    with app.app_context():
        article = db.session.get(Article, article_id)
        assert (article.review_level, article.review_levels) == (2, 3)
    # Still waiting for someone at level 2.
    assert reviewers(app, article_id, 2) == ["admin", "editor"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"levels": "7"}, "请选择 0 至 3 级。"),
        ({"levels": "三"}, "请选择 0 至 3 级。"),
        ({"levels": ""}, "请选择 0 至 3 级。"),
        ({"group_2": "999"}, "该小组不存在（或已删除），请另选一个。"),
        ({"group_3": "x"}, "该小组不存在（或已删除），请另选一个。"),
    ],
)
def test_invalid_review_settings_are_refused_with_a_message(
    app, admin_client, school, fields, message
):
    before = stored(app)
    response = admin_client.post(
        "/admin/review", data=settings_form(**{"levels": "3", "bypass": None, **fields})
    )
    assert response.status_code == 400
    assert message in errors(response)
    assert stored(app) == before
    assert audit_log(app) == []


# --- channel overrides ----------------------------------------------------------


def test_channels_override_the_site(app, admin_client, school):
    response = admin_client.post(
        "/admin/review/channels",
        data={f"channel-{school['news']}": "3", f"channel-{school['notices']}": "0"},
    )
    assert response.status_code == 302
    assert channel_levels(app) == {"news": 3, "notices": 0, "campus": None}
    with app.app_context():
        assert chain.levels_for(db.session.get(Section, school["campus"])) == 3
        assert chain.levels_for(db.session.get(Section, school["notices"])) == 0
    assert audit_log(app) == [
        ("review_channel_changed", "新闻中心: - → 3; 通知公告: - → 0")
    ]
    # "" is the site default again; a channel left out of the form keeps its own.
    admin_client.post("/admin/review/channels", data={f"channel-{school['news']}": ""})
    assert channel_levels(app) == {"news": None, "notices": 0, "campus": None}
    html = admin_client.get("/admin/review").text
    assert "网站默认（1 级）" in html


@pytest.mark.parametrize("value", ["7", "-1", "default", "二"])
def test_an_invalid_channel_level_changes_nothing(app, admin_client, school, value):
    response = admin_client.post(
        "/admin/review/channels",
        data={f"channel-{school['news']}": value, f"channel-{school['notices']}": "2"},
    )
    assert response.status_code == 400
    assert errors(response) == ["请选择网站默认，或 0 至 3 级。"]
    assert f'name="channel-{school["news"]}" aria-invalid="true"' in response.text
    assert channel_levels(app) == {"news": None, "notices": None, "campus": None}
    assert audit_log(app) == []


def test_the_section_form_sets_a_channels_levels(app, admin_client, school):
    data = {"name": "新闻中心", "slug": "news", "parent_id": "0", "position": "0"}
    page = admin_client.get(f"/admin/sections/{school['news']}").text
    assert 'name="review_levels"' in page
    admin_client.post(
        f"/admin/sections/{school['news']}", data={**data, "review_levels": "2"}
    )
    assert channel_levels(app)["news"] == 2
    assert ("review_channel_changed", "新闻中心: 2 → -") not in audit_log(app)
    assert ("review_channel_changed", "新闻中心: - → 2") in audit_log(app)
    response = admin_client.post(
        f"/admin/sections/{school['news']}", data={**data, "review_levels": "9"}
    )
    assert response.status_code == 200  # the form again, with the message
    assert "请选择网站默认，或 0 至 3 级。" in response.text
    assert channel_levels(app)["news"] == 2
    # A form without the field (a sub-section's) leaves the channel's alone.
    admin_client.post(f"/admin/sections/{school['news']}", data=data)
    assert channel_levels(app)["news"] == 2
    sub = admin_client.get(f"/admin/sections/{school['campus']}").text
    assert 'name="review_levels"' not in sub


# --- review groups --------------------------------------------------------------


def test_an_admin_adds_renames_and_fills_a_group(app, admin_client, school):
    response = admin_client.post("/admin/review/groups", data={"name": " 校领导 "})
    with app.app_context():
        group_id = db.session.scalar(
            sa.select(ReviewGroup.id).where(ReviewGroup.name == "校领导")
        )
    assert response.headers["Location"] == f"/admin/review/groups/{group_id}"
    page = admin_client.get(response.headers["Location"]).text
    assert "已创建审核小组 校领导。请选择其成员。" in page
    # Every active user may be chosen.
    assert page.count('type="checkbox"') == 3
    editor, admin = user_id(app, "editor"), user_id(app, "admin")
    admin_client.post(
        f"/admin/review/groups/{group_id}/members", data={"people": [editor, admin]}
    )
    assert group_state(app, group_id) == ("校领导", ["admin", "editor"])
    admin_client.post(f"/admin/review/groups/{group_id}", data={"name": "校务委员会"})
    assert group_state(app, group_id) == ("校务委员会", ["admin", "editor"])
    # Nobody ticked: the group has no members.
    admin_client.post(f"/admin/review/groups/{group_id}/members", data={})
    assert group_state(app, group_id) == ("校务委员会", [])
    listing = admin_client.get("/admin/review/groups").text
    assert "校务委员会" in listing and "宣传办" in listing
    assert [action for action, _target in audit_log(app)] == [
        "review_group_created",
        "review_group_members",
        "review_group_renamed",
        "review_group_members",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "必填"),
        ("   ", "必填"),
        ("宣传办", "已有同名的审核小组。"),
        ("长" * 51, "50"),
    ],
)
def test_invalid_group_names_are_refused(app, admin_client, school, name, message):
    response = admin_client.post("/admin/review/groups", data={"name": name})
    assert response.status_code == 400
    assert message in " ".join(errors(response))
    other = admin_client.post("/admin/review/groups", data={"name": "校领导"})
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    response = admin_client.post(
        f"/admin/review/groups/{other_id}", data={"name": name}
    )
    if name != "宣传办":
        assert response.status_code == 400
        assert message in " ".join(errors(response))
    with app.app_context():
        names = db.session.scalars(sa.select(ReviewGroup.name).order_by(ReviewGroup.id))
        assert list(names) == ["宣传办", "校领导"]


def test_renaming_to_another_groups_name_is_refused(app, admin_client, school):
    other = admin_client.post("/admin/review/groups", data={"name": "校领导"})
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    response = admin_client.post(
        f"/admin/review/groups/{other_id}", data={"name": "宣传办"}
    )
    assert response.status_code == 400
    assert "已有同名的审核小组。" in errors(response)
    assert group_state(app, other_id) == ("校领导", [])
    # Its own name (in another case of letters, too) is fine.
    response = admin_client.post(
        f"/admin/review/groups/{school['group']}", data={"name": "宣传办"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize("people", [["9999"], ["abc"], ["1", "9999"]])
def test_unknown_members_are_refused(app, admin_client, school, people):
    response = admin_client.post(
        f"/admin/review/groups/{school['group']}/members", data={"people": people}
    )
    assert response.status_code == 400
    assert errors(response)[0] in (
        "所选人员中有人已无法选择，请刷新页面后重新选择。",
        "请从列表中选择人员。",
    )
    assert group_state(app, school["group"]) == ("宣传办", [])


def test_a_deactivated_user_cannot_be_chosen_but_can_be_removed(
    app, admin_client, school
):
    gone = add_user(app, "gone", active=False)
    response = admin_client.post(
        f"/admin/review/groups/{school['group']}/members", data={"people": gone}
    )
    assert response.status_code == 400
    with app.app_context():
        group = db.session.get(ReviewGroup, school["group"])
        group.members.append(db.session.get(User, gone))
        db.session.commit()
    page = admin_client.get(f"/admin/review/groups/{school['group']}").text
    assert "gone老师 · gone（已停用）" in page
    admin_client.post(f"/admin/review/groups/{school['group']}/members", data={})
    assert group_state(app, school["group"]) == ("宣传办", [])


def test_a_group_named_for_a_level_cannot_be_deleted(app, admin_client, school):
    admin_client.post(
        "/admin/review", data=settings_form(levels="3", group_3=str(school["group"]))
    )
    page = admin_client.get(f"/admin/review/groups/{school['group']}").text
    assert "负责终审" in page
    response = admin_client.post(
        f"/admin/review/groups/{school['group']}/delete", follow_redirects=True
    )
    assert (
        "宣传办 负责终审。请先在审核设置页面为这一级指定其他小组（或不指定）。"
        in response.text
    )
    assert group_state(app, school["group"]) == ("宣传办", [])
    # Once another is named, it can go; its members go with it.
    admin_client.post("/admin/review", data=settings_form(levels="3"))
    response = admin_client.post(f"/admin/review/groups/{school['group']}/delete")
    assert response.headers["Location"] == "/admin/review/groups"
    assert group_state(app, school["group"]) is None
    assert audit_log(app)[-1] == ("review_group_deleted", "宣传办")


def test_missing_groups_and_departments_are_404(admin_client, school):
    for url in ("/admin/review/groups/999", "/admin/departments/999/heads"):
        assert admin_client.get(url).status_code == 404
        assert admin_client.post(url, data={"name": "x"}).status_code == 404


# --- department heads -----------------------------------------------------------


def test_heads_do_the_first_review_of_their_members_posts(app, admin_client, school):
    head = add_user(app, "head")
    article_id = post_in_review(app, school["campus"], 1, 1)
    assert reviewers(app, article_id, 1) == ["admin", "editor"]
    page = admin_client.get(f"/admin/departments/{school['department']}/heads").text
    page = page[page.index("<fieldset") :]
    # The department's member (the author) is listed first.
    assert page.index("Author 老师") < page.index("Admin 老师")
    response = admin_client.post(
        f"/admin/departments/{school['department']}/heads",
        data={"people": [head, user_id(app, "editor")]},
    )
    assert response.status_code == 302
    assert heads(app, school["department"]) == ["editor", "head"]
    assert reviewers(app, article_id, 1) == ["editor", "head"]
    listing = admin_client.get("/admin/departments").text
    assert "负责人： Editor 老师、head老师" in listing
    assert audit_log(app) == [
        ("department_heads_changed", "教务处: Editor 老师, head老师")
    ]
    response = admin_client.post(
        f"/admin/departments/{school['department']}/heads", data={"people": "9999"}
    )
    assert response.status_code == 400
    assert heads(app, school["department"]) == ["editor", "head"]


# --- CSRF ---------------------------------------------------------------------------


def csrf_token(client, url):
    return re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(url).text
    )[1]


@pytest.mark.csrf
def test_every_form_needs_its_csrf_token(app, client, school):
    token = csrf_token(client, "/login")
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    before = (stored(app), group_state(app, school["group"]), channel_levels(app))
    for method, url, data in routes(school):
        if method == "POST":
            assert client.post(url, data=data).status_code == 400, url
    assert before == (
        stored(app),
        group_state(app, school["group"]),
        channel_levels(app),
    )
    assert heads(app, school["department"]) == []
    # With the token each page gives, the forms work.
    token = csrf_token(client, "/admin/review")
    response = client.post(
        "/admin/review", data=settings_form(levels="2", csrf_token=token)
    )
    assert response.status_code == 302
    assert stored(app)["review_levels"] == "2"
    response = client.post(
        "/admin/review/channels",
        data={f"channel-{school['news']}": "3", "csrf_token": token},
    )
    assert response.status_code == 302
    assert channel_levels(app)["news"] == 3
