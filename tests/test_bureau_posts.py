"""站群: the bureau's posts on the schools it chooses, and nowhere else."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.sites import acting_for
from models import Article, Section, Site, Status, Upload, User, db, set_setting, utcnow
from review import chain
from tests.conftest import PASSWORD
from tests.test_site_isolation import PNG
from tests.test_sites import reader, sites_cli

IMAGE = "00000000000000aa" + "c" * 16 + ".png"


@pytest.fixture
def district(app):
    """The first school, two more (甲 at its host, 乙 under a path) and the
    bureau; the bureau's editor signed in; a live bureau post with a photo."""
    for args in (
        ["甲小学", "--host", "jia.example", "--admin", "jia-admin"],
        ["乙中学", "--prefix", "/yi", "--admin", "yi-admin"],
        ["区教育局", "--host", "jyj.example", "--bureau", "--admin", "jyj-admin"],
    ):
        assert sites_cli(app, "add", *args).exit_code == 0
    with app.app_context():
        bureau = db.session.scalar(sa.select(Site.id).where(Site.bureau.is_(True)))
        with acting_for(bureau):
            editor = User(
                username="jyj-editor",
                display_name="教育局编辑",
                role="editor",
                password_hash=db.session.scalar(
                    sa.select(User.password_hash)
                    .where(User.username == "editor")
                    .execution_options(all_sites=True)
                ),
                session_token="t",
            )
            section = db.session.scalar(
                sa.select(Section).where(Section.slug == "notices")
            )
            db.session.add(editor)
            db.session.add(
                Upload(
                    kind="image",
                    stored_name=IMAGE,
                    original_name="会场.png",
                    content_type="image/png",
                    size=len(PNG),
                    width=1,
                    height=1,
                )
            )
            post = Article(
                title="关于做好寒假安全工作的通知",
                body_html=(
                    "<p>各校：请做好寒假安全工作。</p>"
                    f'<p><img src="/uploads/{IMAGE}" alt="会场"></p>'
                ),
                author_name="区教育局办公室",
                section_id=section.id,
                status=Status.PUBLISHED,
                published_at=utcnow() - timedelta(hours=1),
            )
            db.session.add(post)
            db.session.flush()
            chain.record_publish(post, None)
            db.session.commit()
            post_id = post.id
    (Path(app.config["UPLOAD_FOLDER"]) / IMAGE).write_bytes(PNG)
    browser = reader(app, "jyj.example")
    login = browser.post(
        "/login", data={"username": "jyj-editor", "password": PASSWORD}
    )
    assert login.status_code == 302
    return browser, post_id, {"甲": 2, "乙": 3, "bureau": bureau}


def home(app, host, path="/"):
    return reader(app, host).get(path).get_data(as_text=True)


def test_a_bureau_post_goes_to_the_chosen_schools_only(app, district):
    browser, post_id, ids = district
    page = browser.get(f"/editor/articles/{post_id}/schools").get_data(as_text=True)
    offered = page.split("<fieldset")[1].split("</fieldset>")[0]
    assert "甲小学" in offered and "乙中学" in offered and "区教育局" not in offered
    sent = browser.post(
        f"/editor/articles/{post_id}/schools", data={"site": [str(ids["甲"])]}
    )
    assert sent.status_code == 302
    title = "关于做好寒假安全工作的通知"
    assert title in home(app, "jia.example")
    assert title not in home(app, "jia.example", "/yi/") and title not in home(
        app, "news.school.cn"
    )
    # In the school's chosen section (by default its 通知公告), marked as the bureau's.
    with app.app_context(), acting_for(ids["甲"]):
        copy = db.session.scalar(sa.select(Article).where(Article.title == title))
        assert copy.section.slug == "notices" and copy.source == "区教育局"
        assert chain.unexplained_texts() == []  # the school's ledger explains it
    article = home(app, "jia.example", f"/articles/{copy.id}")
    assert "区教育局" in article and "各校：请做好寒假安全工作。" in article
    # Its photo is the bureau's, served at the school's address too.
    photo = reader(app, "jia.example").get(f"/uploads/{IMAGE}")
    assert photo.status_code == 200 and photo.data == PNG
    photo.close()


def test_sending_again_after_an_edit_updates_the_copies(app, district):
    browser, post_id, ids = district
    browser.post(f"/editor/articles/{post_id}/schools", data={"site": [str(ids["甲"])]})
    with app.app_context(), acting_for(ids["bureau"]):
        post = db.session.get(Article, post_id)
        post.title = "关于做好寒假安全工作的通知（修订）"
        chain.record_publish(post, None)
        db.session.commit()
    both = {"site": [str(ids["甲"]), str(ids["乙"])]}
    assert (
        browser.post(f"/editor/articles/{post_id}/schools", data=both).status_code
        == 302
    )
    for host, path in (("jia.example", "/"), ("news.school.cn", "/yi/")):
        assert "寒假安全工作的通知（修订）" in home(app, host, path)
    with app.app_context():
        titles = db.session.scalars(
            sa.select(Article.title)
            .where(Article.title.like("关于做好寒假%"))
            .execution_options(all_sites=True)
        ).all()
    assert len(titles) == 3  # the bureau's and one copy per school, no duplicate


def test_a_school_chooses_where_the_bureaus_posts_go(app, district):
    browser, post_id, ids = district
    with app.app_context(), acting_for(ids["甲"]):
        section = db.session.scalar(
            sa.select(Section).where(Section.slug == "headlines")
        )
        set_setting("bureau_section", str(section.id))
        db.session.commit()
    browser.post(f"/editor/articles/{post_id}/schools", data={"site": [str(ids["甲"])]})
    assert "寒假安全工作" in home(app, "jia.example", "/sections/headlines")
    assert "寒假安全工作" not in home(app, "jia.example", "/sections/notices")


def test_the_settings_page_offers_the_schools_own_sections(app, district):
    _browser, _post, ids = district
    with app.app_context(), acting_for(ids["甲"]):
        admin = db.session.scalar(sa.select(User).where(User.username == "jia-admin"))
        admin.needs_setup = False
        admin.set_password(PASSWORD)
        db.session.commit()
    school = reader(app, "jia.example")
    school.post("/login", data={"username": "jia-admin", "password": PASSWORD})
    page = school.get("/admin/settings").get_data(as_text=True)
    assert 'name="bureau_section"' in page and "学校要闻" in page
    # The first site is a school of the 站群 too.
    first = reader(app)
    first.post("/login", data={"username": "admin", "password": PASSWORD})
    assert 'name="bureau_section"' in first.get("/admin/settings").get_data(
        as_text=True
    )


def test_only_the_bureaus_editors_send_posts(app, district):
    _browser, post_id, ids = district
    school_editor = reader(app)
    school_editor.post("/login", data={"username": "editor", "password": PASSWORD})
    assert school_editor.get(f"/editor/articles/{post_id}/schools").status_code == 404
    assert (
        school_editor.post(
            f"/editor/articles/{post_id}/schools", data={"site": ["2"]}
        ).status_code
        == 404
    )
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count(Article.id))
                .where(Article.title.like("关于做好寒假%"))
                .execution_options(all_sites=True)
            )
            == 1
        )


def test_nothing_chosen_or_a_draft_is_refused_with_a_message(app, district):
    browser, post_id, ids = district
    answer = browser.post(f"/editor/articles/{post_id}/schools", data={})
    assert answer.status_code == 400 and "请至少选择一所学校" in answer.get_data(
        as_text=True
    )
    answer = browser.post(
        f"/editor/articles/{post_id}/schools", data={"site": ["999", "x"]}
    )
    assert answer.status_code == 400
    with app.app_context(), acting_for(ids["bureau"]):
        db.session.get(Article, post_id).status = Status.DRAFT
        db.session.commit()
    answer = browser.post(
        f"/editor/articles/{post_id}/schools", data={"site": [str(ids["甲"])]}
    )
    assert answer.status_code == 400 and "请先发布" in answer.get_data(as_text=True)
