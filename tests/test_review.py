"""The review chain (先审后发) over HTTP: levels, returns, bypass, re-review, ledger."""

import secrets

import pytest
import sqlalchemy as sa

from models import (
    Article,
    Department,
    ReviewEvent,
    ReviewGroup,
    Role,
    Section,
    Status,
    User,
    db,
    set_setting,
)
from tests.conftest import (
    FAST_HASH,
    PASSWORD,
    form_data,
    get_article,
    shown_version,
    user_id,
)

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def make_user(app, username, role=Role.AUTHOR, department=None):
    with app.app_context():
        user = User(
            username=username,
            display_name=f"{username}老师",
            role=role,
            password_hash=FAST_HASH,
            session_token=secrets.token_hex(8),
        )
        if department:
            user.department = db.session.scalar(
                sa.select(Department).where(Department.name == department)
            )
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def school(app):
    """教务处 with head 主任; 宣传办 (level 2) and 校领导 (level 3); three levels."""
    with app.app_context():
        db.session.add(Department(name="教务处"))
        db.session.add(Section(name="新闻中心", slug="news"))
        db.session.commit()
    make_user(app, "teacher", department="教务处")
    make_user(app, "head", department="教务处")
    make_user(app, "office")
    make_user(app, "leader")
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        department = db.session.scalar(sa.select(Department))
        department.heads.append(users["head"])
        office = ReviewGroup(name="宣传办", members=[users["office"]])
        leaders = ReviewGroup(name="校领导", members=[users["leader"]])
        db.session.add_all([office, leaders])
        db.session.flush()
        set_setting("review_levels", "3")
        set_setting("review_group_2", str(office.id))
        set_setting("review_group_3", str(leaders.id))
        db.session.commit()
        return {"section": db.session.scalar(sa.select(Section.id))}


def as_user(client, username):
    client.post("/logout")
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def write_post(client, section, **fields):
    response = client.post(
        "/editor/articles/new", data=form_data(section, action="submit", **fields)
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[-2])


def ledger(app, article_id):
    with app.app_context():
        return [
            (e.user_name, e.level, e.decision, e.reason)
            for e in db.session.scalars(
                sa.select(ReviewEvent)
                .where(ReviewEvent.article_id == article_id)
                .order_by(ReviewEvent.id)
            )
        ]


def approve(client, article_id, **data):
    data.setdefault("version", shown_version(client.application, article_id))
    return client.post(f"/editor/review/{article_id}/approve", data=data)


def test_three_levels_with_a_return_and_a_resubmission(app, client, school):
    section = school["section"]
    as_user(client, "teacher")
    article_id = write_post(client, section)
    post = get_article(app, article_id)
    assert (post.status, post.review_level, post.review_levels) == ("pending", 1, 3)

    # Level 1 is the department head's: the others do not see it yet.
    as_user(client, "office")
    assert "开学典礼" not in client.get("/editor/review/").get_data(as_text=True)
    assert approve(client, article_id).status_code == 403
    as_user(client, "head")
    queue = client.get("/editor/review/").get_data(as_text=True)
    assert "开学典礼" in queue
    page = client.get(f"/editor/review/{article_id}").get_data(as_text=True)
    assert "<ins>开学典礼</ins>" in page  # a new post: all of it is new
    assert approve(client, article_id).status_code == 302
    assert get_article(app, article_id).review_level == 2

    # Level 2 returns it with a reason; the reason is required.
    as_user(client, "office")
    response = client.post(
        f"/editor/review/{article_id}/return",
        data={"reason": " ", "version": shown_version(client.application, article_id)},
    )
    assert response.status_code == 422
    assert get_article(app, article_id).review_level == 2
    client.post(
        f"/editor/review/{article_id}/return",
        data={
            "reason": "日期写错了",
            "version": shown_version(client.application, article_id),
        },
    )
    post = get_article(app, article_id)
    assert (post.status, post.review_level, post.returned_reason) == (
        "draft",
        0,
        "日期写错了",
    )

    # The author sees the reason on the post and in their list, fixes, resubmits.
    as_user(client, "teacher")
    assert "日期写错了" in client.get("/editor/").get_data(as_text=True)
    edit_page = client.get(f"/editor/articles/{article_id}/edit").get_data(as_text=True)
    assert "日期写错了" in edit_page
    client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(
            section,
            action="submit",
            version=str(get_article(app, article_id).version),
            body_html="<p>九月一日开学</p>",
        ),
    )
    post = get_article(app, article_id)
    assert (post.status, post.review_level, post.returned_reason) == (
        "pending",
        1,
        None,
    )

    # The chain starts again at level 1; the head sees what changed.
    as_user(client, "head")
    page = client.get(f"/editor/review/{article_id}").get_data(as_text=True)
    assert "<ins>九月一日开学</ins>" in page
    approve(client, article_id)
    as_user(client, "office")
    approve(client, article_id)
    assert not get_article(app, article_id).is_public
    as_user(client, "leader")
    assert approve(client, article_id).status_code == 302
    post = get_article(app, article_id)
    assert post.is_public and post.review_level == 0
    # The line under the article names each level's reviewer.
    html = client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "head老师" in html and "office老师" in html and "leader老师" in html

    assert [
        (name, level, decision) for name, level, decision, _ in ledger(app, article_id)
    ] == [
        ("teacher老师", 0, "submit"),
        ("head老师", 1, "approve"),
        ("office老师", 2, "return"),
        ("teacher老师", 0, "submit"),
        ("head老师", 1, "approve"),
        ("office老师", 2, "approve"),
        ("leader老师", 3, "approve"),
    ]


def test_nobody_approves_their_own_post_at_any_level(app, client, school):
    # The head writes: level 1 has nobody else named, so editors and admins
    # review it; the head never does, not even as a member of a later group.
    with app.app_context():
        group = db.session.get(ReviewGroup, 1)
        group.members.append(db.session.get(User, user_id(app, "head")))
        db.session.commit()
    as_user(client, "head")
    article_id = write_post(client, school["section"])
    response = approve(client, article_id)
    assert response.status_code == 403
    assert "You cannot review your own post" in response.get_data(as_text=True) or (
        "不能审核自己" in response.get_data(as_text=True)
    )
    as_user(client, "editor")
    assert approve(client, article_id).status_code == 302
    as_user(client, "head")
    assert approve(client, article_id).status_code == 403  # level 2, own post
    assert get_article(app, article_id).review_level == 2


def test_an_edit_of_a_published_post_waits_while_readers_keep_the_text(
    app, client, school
):
    section = school["section"]
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    as_user(client, "teacher")
    article_id = write_post(client, section)
    as_user(client, "head")
    approve(client, article_id)
    assert get_article(app, article_id).is_public

    as_user(client, "teacher")
    version = get_article(app, article_id).version
    response = client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(
            section, action="submit", version=str(version), title="开学典礼（更正）"
        ),
    )
    assert response.status_code == 302
    post = get_article(app, article_id)
    assert post.title == "开学典礼" and post.review_level == 1
    assert "（更正）" not in client.get(f"/articles/{article_id}").get_data(
        as_text=True
    )
    # The author goes on from their edit, not the old text.
    edit_page = client.get(f"/editor/articles/{article_id}/edit").get_data(as_text=True)
    assert "开学典礼（更正）" in edit_page

    as_user(client, "head")
    page = client.get(f"/editor/review/{article_id}").get_data(as_text=True)
    assert "<ins>（更正）</ins>" in page
    approve(client, article_id)
    post = get_article(app, article_id)
    assert post.title == "开学典礼（更正）" and post.is_public
    assert "（更正）" in client.get(f"/articles/{article_id}").get_data(as_text=True)


def test_editing_a_post_in_review_starts_the_chain_again(app, client, school):
    section = school["section"]
    as_user(client, "teacher")
    article_id = write_post(client, section)
    as_user(client, "head")
    approve(client, article_id)
    assert get_article(app, article_id).review_level == 2
    as_user(client, "teacher")
    version = get_article(app, article_id).version
    client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, version=str(version), body_html="<p>改了</p>"),
    )
    assert get_article(app, article_id).review_level == 1


def test_bypass_needs_permission_and_a_reason_and_is_recorded(app, client, school):
    section = school["section"]
    as_user(client, "editor")
    response = client.post(
        "/editor/articles/new", data=form_data(section, action="publish")
    )
    assert response.status_code == 403  # no reason: nothing saved, text kept
    assert "开学典礼" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 0
    response = client.post(
        "/editor/articles/new",
        data=form_data(section, action="publish", bypass_reason="停课紧急通知"),
    )
    assert response.status_code == 302
    with app.app_context():
        article_id = db.session.scalar(sa.select(Article.id))
    assert get_article(app, article_id).is_public
    assert ledger(app, article_id) == [("Editor 老师", 0, "bypass", "停课紧急通知")]

    # Not allowed by the site: refused even with a reason.
    with app.app_context():
        set_setting("review_bypass", "0")
        db.session.commit()
    response = client.post(
        "/editor/articles/new",
        data=form_data(section, action="publish", bypass_reason="紧急"),
    )
    assert response.status_code == 403
    # Authors never bypass.
    as_user(client, "teacher")
    response = client.post(
        "/editor/articles/new",
        data=form_data(section, action="publish", bypass_reason="紧急"),
    )
    assert response.status_code == 403


def test_a_channel_override_without_levels_lets_authors_publish(app, client, school):
    with app.app_context():
        db.session.get(Section, school["section"]).review_levels = 0
        db.session.commit()
    as_user(client, "teacher")
    response = client.post(
        "/editor/articles/new", data=form_data(school["section"], action="publish")
    )
    assert response.status_code == 302
    with app.app_context():
        article = db.session.scalar(sa.select(Article))
        assert article.status == Status.PUBLISHED and article.review_level == 0


def test_a_blocked_term_or_unconfirmed_id_number_stops_the_last_approval(
    app, client, school
):
    section = school["section"]
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    as_user(client, "teacher")
    article_id = write_post(
        client, section, body_html="<p>学生身份证号 11010519491231002X</p>"
    )
    as_user(client, "head")
    response = approve(client, article_id)
    assert response.status_code == 422
    assert not get_article(app, article_id).is_public
    response = approve(
        client, article_id, compliance_confirm="1", compliance_reason="已获家长同意"
    )
    assert response.status_code == 302
    assert get_article(app, article_id).is_public
    decisions = [(d, reason) for _n, _l, d, reason in ledger(app, article_id)]
    assert decisions[-2][0] == "approve"
    assert decisions[-1][0] == "confirm" and "已获家长同意" in decisions[-1][1]


def test_the_ledger_cannot_be_changed_or_deleted(app, client, school):
    as_user(client, "teacher")
    article_id = write_post(client, school["section"])
    with app.app_context():
        for statement in (
            "UPDATE review_event SET reason = 'x'",
            "DELETE FROM review_event",
        ):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
    assert len(ledger(app, article_id)) == 1


@pytest.mark.parametrize(
    "username, show, act",
    [
        ("teacher", 403, 403),  # the author: never their own reviewer
        ("office", 403, 403),  # a reviewer of another level
        ("author", 403, 403),  # anyone else
        ("editor", 200, 403),  # may look, but level 1 is the head's
        ("admin", 200, 403),
        ("head", 200, 302),
    ],
)
def test_who_may_see_and_decide_a_post_at_level_one(
    app, client, school, username, show, act
):
    as_user(client, "teacher")
    article_id = write_post(client, school["section"])
    as_user(client, username)
    assert client.get(f"/editor/review/{article_id}").status_code == show
    response = client.post(
        f"/editor/review/{article_id}/return",
        data={
            "reason": "不行",
            "version": shown_version(client.application, article_id),
        },
    )
    assert response.status_code == act
    expected = (0, "不行") if act == 302 else (1, None)
    post = get_article(app, article_id)
    assert (post.review_level, post.returned_reason) == expected


def test_the_edit_page_leads_a_reviewer_to_the_review_page(app, client, school):
    as_user(client, "teacher")
    article_id = write_post(client, school["section"])
    page = client.get(f"/editor/articles/{article_id}/edit").get_data(as_text=True)
    assert "in-review-notice" in page and 'id="review-link"' not in page
    as_user(client, "editor")  # may edit any post, but level 1 is the head's
    page = client.get(f"/editor/articles/{article_id}/edit").get_data(as_text=True)
    assert 'id="review-link"' not in page
    as_user(client, "head")
    with app.app_context():
        # Heads are authors: they review, but edit only their own posts.
        assert client.get(f"/editor/articles/{article_id}/edit").status_code == 403
    as_user(client, "admin")
    with app.app_context():
        set_setting("review_group_2", "")  # nobody named: editors and admins
        db.session.commit()
    as_user(client, "head")
    approve(client, article_id)
    as_user(client, "admin")
    page = client.get(f"/editor/articles/{article_id}/edit").get_data(as_text=True)
    assert f'href="/editor/review/{article_id}" id="review-link"' in page


def test_a_lone_admin_is_told_that_nobody_can_review_their_post(app, client):
    # A brand-new site: one level by default, and the admin is the only one
    # who could review, which they never may for their own post.
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.execute(
            sa.update(User).where(User.username != "admin").values(active=False)
        )
        db.session.add(Section(name="新闻", slug="news"))
        db.session.commit()
        section = db.session.scalar(sa.select(Section.id))
    as_user(client, "admin")
    response = client.post(
        "/editor/articles/new",
        data=form_data(section, action="submit"),
        follow_redirects=True,
    )
    assert "目前没有人能审核这篇稿件" in response.get_data(as_text=True)


def test_the_photographer_is_kept_and_shown_in_the_line(app, client, school):
    with app.app_context():
        set_setting("review_levels", "0")
        db.session.commit()
    as_user(client, "teacher")
    client.post(
        "/editor/articles/new",
        data=form_data(
            school["section"], action="publish", photographer="校宣传办 张三"
        ),
    )
    with app.app_context():
        article = db.session.scalar(sa.select(Article))
        assert article.photographer == "校宣传办 张三"
    html = client.get(f"/articles/{article.id}").get_data(as_text=True)
    assert "摄影：校宣传办 张三" in html and "撰稿：教务处" in html
    # The line is a setting, on by default.
    with app.app_context():
        set_setting("show_review_line", "0")
        db.session.commit()
    as_user(client, "editor")  # any save moves the cache version on
    with app.app_context():
        db.session.get(Article, article.id).pinned = True
        db.session.commit()
    assert 'id="review-line"' not in client.get(f"/articles/{article.id}").get_data(
        as_text=True
    )


def test_an_id_number_in_an_attachment_added_in_review_stops_the_last_approval(
    app, client, school
):
    """The class list attached after submitting is checked like the text:
    the reviewer sees the file, sheet, cell and masked number, and approves
    only with the confirmation and a reason."""
    import io
    import re

    from tests.documents import ID_MASKED, ID_NUMBER, class_list_xlsx

    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    as_user(client, "teacher")
    article_id = write_post(client, school["section"], body_html="<p>名单见附件</p>")
    response = client.post(
        "/editor/uploads/attachment",
        data={
            "file": (io.BytesIO(class_list_xlsx()), "奖学金名单.xlsx"),
            "article_id": str(article_id),
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)

    as_user(client, "head")
    page = client.get(f"/editor/review/{article_id}").get_data(as_text=True)
    [item] = re.findall(r'<li class="finding finding-confirm">.*?</li>', page, re.S)
    assert "奖学金名单.xlsx" in item and "C2" in item and ID_MASKED in item
    assert ID_NUMBER not in page
    assert 'name="compliance_confirm"' in page
    assert approve(client, article_id).status_code == 422
    assert not get_article(app, article_id).is_public
    response = approve(
        client, article_id, compliance_confirm="1", compliance_reason="公示需要"
    )
    assert response.status_code == 302
    assert get_article(app, article_id).is_public
    assert ledger(app, article_id)[-1][2:] == ("confirm", f"公示需要 | {ID_MASKED}")
