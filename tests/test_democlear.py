"""«清除演示内容»: removes what the demo made, keeps what staff made, at once."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from models import (
    Article,
    AuditEvent,
    Origin,
    Section,
    Status,
    Upload,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from newsroom import storage
from operations import demo_content, democlear
from operations.sitetree import DEFAULT_SLUGS
from tests.conftest import article_titled, user_id

STAFF_IN_DEMO_SECTION = "校园动态：教职工篮球赛"  # filed under the demo's 校园动态
STAFF_IN_DEFAULT_SECTION = "开学第一课"
EDITED_DEMO_POST = "我校举行春季田径运动会"
DEMO_POST_WITH_PHOTO = "我校高考成绩再创佳绩"
STAFF_PHONE = "0571-1111 2222"


def png_bytes(color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, "PNG")
    return buffer.getvalue()


def image(name, user_id, article_id=None, color=(200, 30, 30)):
    return storage.save_image(
        io.BytesIO(png_bytes(color)), name, user_id=user_id, article_id=article_id
    )


def section_id(slug):
    return db.session.scalar(sa.select(Section.id).where(Section.slug == slug))


@pytest.fixture
def demo_site(app, demo_output):
    """The demo school, a demo photo and logo, and what staff did since
    (tests that use it are marked `demo`)."""
    assert "52 new articles" in demo_output, demo_output
    with app.app_context():
        admin, editor = user_id(app, "admin"), user_id(app, "editor")
        # The demo's own pictures: its logo, its posts' pictures, and one
        # more photo in a demo post.
        logo = db.session.get(Upload, int(get_settings()["logo_id"]))
        photo = image("操场.png", admin, article_titled(DEMO_POST_WITH_PHOTO).id)
        # Staff: two posts (one in a section only the demo made), a photo,
        # the phone number, and an edit of a demo post.
        for title, slug in (
            (STAFF_IN_DEMO_SECTION, "campus"),
            (STAFF_IN_DEFAULT_SECTION, "headlines"),
        ):
            db.session.add(
                Article(
                    title=title,
                    body_html="<p>教职工写的。</p>",
                    section_id=section_id(slug),
                    status=Status.PUBLISHED,
                    published_at=utcnow(),
                    created_by_id=editor,
                )
            )
        db.session.flush()
        staff_photo = image(
            "篮球.png", editor, article_titled(STAFF_IN_DEMO_SECTION).id
        )
        edited = article_titled(EDITED_DEMO_POST)
        edited.body_html = "<p>老师改过的报道。</p>"
        edited.version = 2
        edited.updated_by_id = editor
        set_setting("phone", STAFF_PHONE)
        db.session.commit()
        files = {
            "photo": storage.file_path(photo),
            "logo": storage.file_path(logo),
            "staff_photo": storage.file_path(staff_photo),
        }
    assert all(path.exists() for path in files.values())
    return files


def counts(app):
    with app.app_context():
        return {
            model.__name__: db.session.scalar(
                sa.select(sa.func.count()).select_from(model)
            )
            for model in (Article, Section, Upload, Origin)
        } | {"settings": get_settings()}


def kept_uploads(app) -> set[str]:
    """The staff photo and the pictures of the demo post a teacher edited."""
    with app.app_context():
        edited = article_titled(EDITED_DEMO_POST)
        return {"篮球.png"} | set(
            db.session.scalars(
                sa.select(Upload.original_name).where(Upload.article_id == edited.id)
            )
        )


@pytest.mark.demo
def test_confirmation_page_lists_what_goes_and_what_stays(app, admin_client, demo_site):
    page = admin_client.get("/admin/demo").get_data(as_text=True)
    demo_posts = len(demo_content.ARTICLES) + len(demo_content.HIDDEN_ARTICLES)
    assert f"{demo_posts - 1} 篇演示文章" in page
    going = counts(app)["Upload"] - len(kept_uploads(app))
    assert going > 20  # the logo and most of the demo's pictures
    assert f"{going} 个演示图片和附件" in page
    assert "课堂教学" in page  # a demo section that goes
    assert "校园动态" in page  # stays: it holds a teacher's post
    assert EDITED_DEMO_POST in page
    assert 'name="csrf_token"' in page
    settings_page = admin_client.get("/admin/settings").get_data(as_text=True)
    assert "/admin/demo" in settings_page


@pytest.mark.demo
def test_clearing_removes_the_demo_and_keeps_what_staff_made(
    app, admin_client, demo_site
):
    kept = kept_uploads(app)
    response = admin_client.post("/admin/demo/clear")
    assert response.status_code == 302
    with app.app_context():
        titles = set(db.session.scalars(sa.select(Article.title)))
        slugs = set(db.session.scalars(sa.select(Section.slug)))
        uploads = db.session.scalars(sa.select(Upload.original_name)).all()
        settings = get_settings()
        audit = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert db.session.scalar(sa.select(sa.func.count(Origin.id))) == 0
    assert titles == {STAFF_IN_DEMO_SECTION, STAFF_IN_DEFAULT_SECTION, EDITED_DEMO_POST}
    # The default tree, and the demo section holding staff posts; nothing else.
    assert slugs == DEFAULT_SLUGS | {"campus"}
    assert set(uploads) == kept
    assert not demo_site["photo"].exists() and not demo_site["logo"].exists()
    # The thumbnails and icons of what went, went too.
    with app.app_context():
        names = db.session.scalars(sa.select(Upload.stored_name)).all()
    stems = {name.partition(".")[0] for name in names}
    thumbs = demo_site["logo"].parent / "thumbs"
    assert {path.name.partition("-")[0] for path in thumbs.iterdir()} <= stems
    assert demo_site["staff_photo"].exists()
    assert settings["phone"] == STAFF_PHONE
    assert settings["icp_number"] == "" and settings["logo_id"] == ""
    assert settings["school_name"] == "SchoolNews"
    assert settings["demo_state"] == "cleared"
    assert "demo_cleared" in audit
    page = admin_client.get(response.location).get_data(as_text=True)
    assert "演示内容已清除" in page


@pytest.mark.demo
def test_the_cached_home_page_no_longer_shows_demo_posts(app, client, demo_site):
    for _ in range(2):  # the second answer comes from the cache
        home = client.get("/").get_data(as_text=True)
        assert DEMO_POST_WITH_PHOTO in home and "阳光实验中学" in home
    assert len(app.extensions["pagecache"].store) == 1
    with app.test_request_context():
        democlear.clear()
    home = client.get("/").get_data(as_text=True)
    assert DEMO_POST_WITH_PHOTO not in home and "阳光实验中学" not in home
    assert STAFF_IN_DEFAULT_SECTION in home


@pytest.mark.demo
def test_a_failure_midway_leaves_everything_in_place(
    app, admin_client, demo_site, monkeypatch
):
    before = counts(app)

    def broken():
        raise RuntimeError("disk full")

    # The last step: everything before it has already been deleted.
    monkeypatch.setattr(democlear, "ensure_default_sections", broken)
    with pytest.raises(RuntimeError):
        admin_client.post("/admin/demo/clear")
    assert counts(app) == before
    assert all(path.exists() for path in demo_site.values())


@pytest.mark.demo
def test_clearing_twice_is_harmless(app, admin_client, demo_site):
    admin_client.post("/admin/demo/clear")
    after_first = counts(app)
    assert admin_client.post("/admin/demo/clear").status_code == 302
    assert counts(app) == after_first
    page = admin_client.get("/admin/demo").get_data(as_text=True)
    assert "本站没有演示内容" in page


@pytest.mark.demo
def test_the_demo_never_comes_back_after_clearing(app, runner, admin_client, demo_site):
    admin_client.post("/admin/demo/clear")
    before = counts(app)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    assert "cleared" in result.output and "--force" in result.output
    assert counts(app) == before
    result = runner.invoke(args=["demo", "--force"])
    assert "new articles" in result.output
    with app.app_context():
        assert article_titled(DEMO_POST_WITH_PHOTO) is not None


@pytest.mark.demo
def test_only_admins_may_clear_the_demo(app, login, demo_site):
    client = login("editor")
    assert client.get("/admin/demo").status_code == 403
    assert client.post("/admin/demo/clear").status_code == 403
    with app.app_context():
        assert article_titled(DEMO_POST_WITH_PHOTO) is not None


@pytest.mark.csrf
@pytest.mark.demo
def test_clearing_needs_the_forms_token(app, client, demo_site):
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    login = {"username": "admin", "password": "correct horse 42", "csrf_token": token}
    client.post("/login", data=login)
    assert client.post("/admin/demo/clear").status_code == 400
    with app.app_context():
        assert article_titled(DEMO_POST_WITH_PHOTO) is not None


@pytest.mark.demo
def test_a_teachers_post_named_like_a_demo_post_survives_later_clears(
    app, admin_client, demo_site
):
    admin_client.post("/admin/demo/clear")
    with app.app_context():
        db.session.add(
            Article(
                title=DEMO_POST_WITH_PHOTO,
                body_html="<p>今年的真实成绩。</p>",
                section_id=section_id("headlines"),
                created_by_id=user_id(app, "admin"),
                status=Status.PUBLISHED,
                published_at=utcnow(),
            )
        )
        db.session.commit()
    admin_client.post("/admin/demo/clear")
    with app.app_context():
        assert article_titled(DEMO_POST_WITH_PHOTO) is not None


def test_a_site_without_the_demo_has_nothing_to_clear(app, admin_client, make_article):
    make_article(title="我们自己的新闻")
    page = admin_client.get("/admin/demo").get_data(as_text=True)
    assert "本站没有演示内容" in page
    admin_client.post("/admin/demo/clear")
    with app.app_context():
        assert article_titled("我们自己的新闻") is not None
