"""The article editor: permissions, status workflow, validation, preview, dashboard."""

from datetime import datetime, timedelta

import pytest

from models import Article, AuditEvent, Status, db, set_setting, utcnow
from tests.conftest import form_data, get_article, shown_version, user_id

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def allow_authors_to_publish(app, allowed=True):
    with app.app_context():
        set_setting("review_levels", "0" if allowed else "1")
        db.session.commit()


@pytest.fixture
def section(make_section):
    return make_section(name="教研动态", slug="research")


@pytest.fixture
def own_draft(app, make_article, section):
    """A draft created by the seeded author."""
    return make_article(
        status=Status.DRAFT,
        published_at=None,
        section_id=section,
        created_by_id=user_id(app, "author"),
    )


# --- Access ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/editor/",
        "/editor/articles/new",
        "/editor/articles/1/edit",
        "/editor/articles/1/preview",
        "/editor/articles/1/revisions",
        "/editor/trash",
    ],
)
def test_anonymous_visitor_is_sent_to_login(client, make_article, path):
    make_article()
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/editor/articles/1/delete",
        "/editor/articles/1/restore",
        "/editor/articles/1/purge",
        "/editor/trash/empty",
        "/editor/articles/1/revisions/1/restore",
    ],
)
def test_anonymous_post_changes_nothing(app, client, make_article, path):
    article_id = make_article()
    response = client.post(path, data={"confirm": "yes"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"
    assert get_article(app, article_id).deleted_at is None


@pytest.mark.parametrize(
    ("username", "status"),
    [("author", 403), ("editor", 200), ("admin", 200)],
)
def test_reviewer_pages_need_editor_role(app, login, make_article, username, status):
    article_id = make_article()
    client = login(username)
    assert client.get("/editor/trash").status_code == status
    # The role is checked before the post is looked up: an author gets the
    # same 403 as for the trash, not a 404 that would depend on the post.
    assert client.get(f"/editor/articles/{article_id}/revisions").status_code == status


def test_author_cannot_open_another_authors_post(author_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    assert author_client.get(f"/editor/articles/{article_id}/edit").status_code == 403
    assert (
        author_client.get(f"/editor/articles/{article_id}/preview").status_code == 403
    )
    response = author_client.post(
        f"/editor/articles/{article_id}/edit", data=form_data(1, title="改掉")
    )
    assert response.status_code == 403


def test_author_cannot_save_over_another_authors_post(app, author_client, make_article):
    article_id = make_article(status=Status.DRAFT, published_at=None)
    author_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(1, title="改掉", version="1"),
    )
    assert get_article(app, article_id).title == "测试文章"


def test_editor_can_open_any_post(editor_client, own_draft):
    assert editor_client.get(f"/editor/articles/{own_draft}/edit").status_code == 200


def test_missing_post_is_404(editor_client):
    assert editor_client.get("/editor/articles/999/edit").status_code == 404


# --- Creating and the status workflow -------------------------------------------


def test_author_creates_a_draft(app, author_client, section):
    response = author_client.post("/editor/articles/new", data=form_data(section))
    assert response.status_code == 302
    article_id = int(response.headers["Location"].split("/")[-2])
    article = get_article(app, article_id)
    assert article.status == Status.DRAFT
    assert article.created_by_id == user_id(app, "author")
    assert article.title == "开学典礼"
    assert article.version == 1


def test_new_form_defaults_author_to_display_name(author_client, section):
    page = author_client.get("/editor/articles/new").get_data(as_text=True)
    assert 'value="Author 老师"' in page


def test_author_must_submit_when_review_is_required(app, author_client, section):
    allow_authors_to_publish(app, False)
    response = author_client.post(
        "/editor/articles/new", data=form_data(section, action="publish")
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Article.id))) == 0


def test_author_cannot_publish_existing_draft_when_review_required(
    app, author_client, own_draft
):
    allow_authors_to_publish(app, False)
    response = author_client.post(
        f"/editor/articles/{own_draft}/edit",
        data=form_data(1, action="publish", version="1"),
    )
    assert response.status_code == 403
    assert get_article(app, own_draft).status == Status.DRAFT


def test_author_submits_and_editor_approves(app, client, login, own_draft, section):
    allow_authors_to_publish(app, False)
    login("author")
    response = client.post(
        f"/editor/articles/{own_draft}/edit",
        data=form_data(section, action="submit", version="1"),
    )
    assert response.status_code == 302
    assert get_article(app, own_draft).status == Status.PENDING
    client.post("/logout")
    login("editor")
    # Nobody heads the author's department: editors review level 1.
    response = client.post(
        f"/editor/review/{own_draft}/approve",
        data={"version": shown_version(app, own_draft)},
    )
    assert response.status_code == 302
    article = get_article(app, own_draft)
    assert article.status == Status.PUBLISHED
    assert article.published_at is not None
    assert client.get(f"/articles/{own_draft}").status_code == 200
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditEvent.action).where(AuditEvent.action != "login")
        ).all()
    assert "article.submit" in actions


def test_author_publishes_when_setting_allows(app, author_client, section):
    allow_authors_to_publish(app)
    response = author_client.post(
        "/editor/articles/new", data=form_data(section, action="publish")
    )
    assert response.status_code == 302
    with app.app_context():
        article = db.session.scalars(db.select(Article)).one()
        assert article.status == Status.PUBLISHED
        assert article.is_public
        actions = db.session.scalars(
            db.select(AuditEvent.action).where(AuditEvent.action != "login")
        ).all()
    assert actions == ["article.publish"]


def test_author_cannot_pin(app, author_client, own_draft, section):
    allow_authors_to_publish(app)
    author_client.post(
        f"/editor/articles/{own_draft}/edit",
        data=form_data(section, pinned="y", version="1"),
    )
    assert get_article(app, own_draft).pinned is False
    author_client.post("/editor/articles/new", data=form_data(section, pinned="y"))
    with app.app_context():
        assert not db.session.scalars(db.select(Article.pinned)).all().count(True)


def test_editor_pins(app, editor_client, own_draft, section):
    editor_client.post(
        f"/editor/articles/{own_draft}/edit",
        data=form_data(section, pinned="y", version="1"),
    )
    assert get_article(app, own_draft).pinned is True


def test_future_publish_time_schedules_in_site_time_zone(app, editor_client, section):
    local = datetime.now() + timedelta(days=2)
    value = local.strftime("%Y-%m-%dT%H:%M")
    editor_client.post(
        "/editor/articles/new",
        data=form_data(section, action="publish", published_at=value),
    )
    with app.app_context():
        article = db.session.scalars(db.select(Article)).one()
        assert article.is_scheduled
        assert not article.is_public
        # Asia/Shanghai is UTC+8 (no daylight saving).
        expected = datetime.strptime(value, "%Y-%m-%dT%H:%M") - timedelta(hours=8)
        assert article.published_at == expected
    page = editor_client.get("/editor/?status=scheduled").get_data(as_text=True)
    assert "开学典礼" in page


def test_unpublish_returns_post_to_draft(app, editor_client, make_article, section):
    article_id = make_article(section_id=section)
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, action="unpublish", version="1"),
    )
    assert response.status_code == 302
    assert get_article(app, article_id).status == Status.DRAFT
    assert editor_client.get(f"/articles/{article_id}").status_code == 404
    with app.app_context():
        event = db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action != "login")
        ).one()
    assert event.action == "article.unpublish"
    assert event.user_id == user_id(app, "editor")
    assert event.target.startswith(f"article {article_id}: ")


def test_an_authors_change_to_a_published_post_waits_for_review(
    app, author_client, make_article, section
):
    allow_authors_to_publish(app, False)
    article_id = make_article(section_id=section, created_by_id=user_id(app, "author"))
    response = author_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, title="偷偷改", action="save", version="1"),
    )
    assert response.status_code == 302
    assert get_article(app, article_id).title == "测试文章"
    assert "偷偷改" not in author_client.get(f"/articles/{article_id}").get_data(
        as_text=True
    )
    response = author_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, action="unpublish", version="1"),
    )
    assert response.status_code == 403
    assert get_article(app, article_id).status == Status.PUBLISHED


# --- Validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"section_id": ""}, "section_id"),
        ({"section_id": "9999"}, "section_id"),
        ({"summary": "字" * 501}, "summary"),
        ({"published_at": "明天"}, "published_at"),
        ({"author_name": "名" * 101}, "author_name"),
    ],
)
def test_invalid_form_keeps_the_text(app, author_client, section, overrides, field):
    data = form_data(section, body_html="<p>我写了很久的正文</p>", **overrides)
    response = author_client.post("/editor/articles/new?lang=en", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "我写了很久的正文" in page
    assert f'id="{field}-error"' in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Article.id))) == 0


def test_body_is_sanitized_on_save(app, author_client, section):
    author_client.post(
        "/editor/articles/new",
        data=form_data(
            section, body_html='<p onclick="x()">好<script>alert(1)</script></p>'
        ),
    )
    with app.app_context():
        body = db.session.scalars(db.select(Article.body_html)).one()
    assert "<script" not in body and "onclick" not in body and "好" in body


def test_rerendered_form_does_not_echo_script(author_client, section):
    response = author_client.post(
        "/editor/articles/new",
        data=form_data(section, title="", body_html="<p>文</p><script>bad()</script>"),
    )
    assert "bad()" not in response.get_data(as_text=True)


# --- Conflicts ----------------------------------------------------------------------


def test_stale_version_does_not_overwrite(app, client, login, make_article, section):
    article_id = make_article(
        status=Status.DRAFT, published_at=None, section_id=section
    )
    login("editor")
    first = client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, title="第一位编辑", version="1"),
    )
    assert first.status_code == 302
    second = client.post(
        f"/editor/articles/{article_id}/edit?lang=en",
        data=form_data(
            section, title="第二位编辑", body_html="<p>我的改动</p>", version="1"
        ),
    )
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    assert 'id="conflict"' in page and "我的改动" in page
    article = get_article(app, article_id)
    assert article.title == "第一位编辑"
    assert article.version == 2


# --- Preview ---------------------------------------------------------------------


def test_preview_of_draft_counts_no_view(app, author_client, own_draft):
    response = author_client.get(f"/editor/articles/{own_draft}/preview")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "preview-banner" in page and "正文内容" in page
    assert get_article(app, own_draft).views == 0


def test_preview_of_published_post_counts_no_view(app, editor_client, make_article):
    article_id = make_article(views=5)
    assert (
        editor_client.get(f"/editor/articles/{article_id}/preview").status_code == 200
    )
    assert get_article(app, article_id).views == 5


# --- Dashboard -------------------------------------------------------------------


def test_author_dashboard_lists_only_own_posts(app, author_client, make_article):
    make_article(title="别人的文章")
    make_article(title="我的文章", created_by_id=user_id(app, "author"))
    page = author_client.get("/editor/").get_data(as_text=True)
    assert "我的文章" in page and "别人的文章" not in page


def test_editor_dashboard_lists_all_and_counts_pending(
    app, editor_client, make_article
):
    make_article(
        title="待审文章",
        status=Status.PENDING,
        published_at=None,
        review_level=1,
        review_levels=1,
        created_by_id=user_id(app, "author"),
    )
    make_article(title="已发文章")
    page = editor_client.get("/editor/?lang=en").get_data(as_text=True)
    assert "待审文章" in page and "已发文章" in page
    assert "pending-notice" in page and "1 post is waiting for your review" in page
    page = editor_client.get("/editor/?status=pending").get_data(as_text=True)
    assert "待审文章" in page and "已发文章" not in page


def test_dashboard_filters_by_section_and_title(
    editor_client, make_article, make_section
):
    channel = make_section(name="新闻中心", slug="news-c")
    child = make_section(name="校园新闻", slug="campus", parent_id=channel)
    other = make_section(name="通知公告", slug="notices")
    make_article(title="运动会报道", section_id=child)
    make_article(title="放假通知", section_id=other)
    page = editor_client.get(f"/editor/?section={channel}").get_data(as_text=True)
    assert "运动会报道" in page and "放假通知" not in page
    page = editor_client.get("/editor/?q=通知").get_data(as_text=True)
    assert "放假通知" in page and "运动会报道" not in page
    page = editor_client.get("/editor/?q=%25").get_data(as_text=True)
    assert "放假通知" not in page


def test_dashboard_hides_trashed_posts(editor_client, make_article):
    make_article(title="删掉的", deleted_at=utcnow())
    assert "删掉的" not in editor_client.get("/editor/").get_data(as_text=True)


def test_dashboard_paginates(app, editor_client, make_article):
    for n in range(app.config["ARTICLES_PER_PAGE"] + 1):
        make_article(title=f"文章{n:02d}")
    first = editor_client.get("/editor/").get_data(as_text=True)
    second = editor_client.get("/editor/?page=2").get_data(as_text=True)
    assert first.count('/edit"') == app.config["ARTICLES_PER_PAGE"]
    assert second.count('/edit"') == 1
    assert editor_client.get("/editor/?page=3").status_code == 404
    assert editor_client.get("/editor/?page=x").status_code == 404
