"""站群: the bureau's posts on the schools it chooses, and nowhere else;
their attachments go with them, and the bureau can take them back (撤回)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.sites import acting_for
from models import (
    Article,
    AuditEvent,
    Origin,
    ReviewEvent,
    Section,
    Site,
    Status,
    Upload,
    User,
    db,
    set_setting,
    utcnow,
)
from newsroom import preview_queue, storage
from review import chain
from tests.conftest import PASSWORD
from tests.documents import make_drawn_pdf
from tests.test_docx_import import make_docx
from tests.test_files import fetch, upload_attachment
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
            db.session.commit()
    post_id = bureau_post(
        app,
        "关于做好寒假安全工作的通知",
        "<p>各校：请做好寒假安全工作。</p>"
        f'<p><img src="/uploads/{IMAGE}" alt="会场"></p>',
        author_name="区教育局办公室",
    )
    (Path(app.config["UPLOAD_FOLDER"]) / IMAGE).write_bytes(PNG)
    browser = sign_in(reader(app, "jyj.example"), "jyj-editor")
    return browser, post_id, {"甲": 2, "乙": 3, "bureau": bureau}


def bureau_post(app, title: str, body: str, **fields) -> int:
    """A live post of the bureau's in its 通知公告, with its ledger line."""
    with app.app_context():
        bureau = db.session.scalar(sa.select(Site.id).where(Site.bureau.is_(True)))
        with acting_for(bureau):
            section = db.session.scalar(
                sa.select(Section).where(Section.slug == "notices")
            )
            post = Article(
                title=title,
                body_html=body,
                section_id=section.id,
                status=Status.PUBLISHED,
                published_at=utcnow() - timedelta(hours=1),
                **fields,
            )
            db.session.add(post)
            db.session.flush()
            chain.record_publish(post, None)
            db.session.commit()
            return post.id


def sign_in(browser, username):
    """browser signed in as username (with the form's token, for the tests
    that check it)."""
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"username": username, "password": PASSWORD}
    if token:
        data["csrf_token"] = token[1]
    assert browser.post("/login", data=data).status_code == 302
    return browser


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


def test_the_schools_are_offered_by_the_names_they_gave_themselves(app, district):
    browser, post_id, ids = district
    with app.app_context(), acting_for(ids["甲"]):
        set_setting("school_name", "甲市实验小学")  # «站点设置», after it was added
        db.session.commit()
    page = browser.get(f"/editor/articles/{post_id}/schools").get_data(as_text=True)
    offered = page.split("<fieldset")[1].split("</fieldset>")[0]
    assert "甲市实验小学" in offered and "甲小学" not in offered


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


# --- attachments ----------------------------------------------------------------


def send(browser, post_id, *schools):
    answer = browser.post(
        f"/editor/articles/{post_id}/schools", data={"site": [str(s) for s in schools]}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


def attach(app, browser, post_id, data, name, bureau) -> int:
    """An attachment of the bureau's live post, passed by its review (the
    bureau's site reviews its posts), its preview made (as the bureau)."""
    answer = upload_attachment(browser, data, name, post_id)
    assert answer.status_code == 200, answer.get_json()
    with app.app_context(), acting_for(bureau):
        chain.record_publish(db.session.get(Article, post_id), None)
        db.session.commit()
        preview_queue.process_pending()
    return answer.get_json()["id"]


def copy_of(app, site_id, post_id) -> Article:
    with app.app_context(), acting_for(site_id):
        origin = db.session.scalar(
            sa.select(Origin.target_id).where(
                Origin.source == "bureau",
                Origin.target_type == "article",
                Origin.source_key == str(post_id),
            )
        )
        copy = db.session.get(Article, origin)
        db.session.expunge(copy)
        return copy


def attachment_rows(app, site_id, article_id) -> list[Upload]:
    with app.app_context(), acting_for(site_id):
        rows = db.session.scalars(
            sa.select(Upload)
            .where(Upload.article_id == article_id, Upload.kind == "attachment")
            .order_by(Upload.id)
        ).all()
        db.session.expunge_all()
        return rows


@pytest.mark.usefixtures("ledger_checked")
def test_the_attachments_go_with_the_post_and_serve_at_the_school(app, district):
    browser, post_id, ids = district
    pdf = make_drawn_pdf(["寒假安全须知", "第二页"])
    pdf_id = attach(app, browser, post_id, pdf, "寒假安全须知.pdf", ids["bureau"])
    docx_id = attach(
        app, browser, post_id, make_docx(), "运动会通知.docx", ids["bureau"]
    )
    send(browser, post_id, ids["甲"])
    copy = copy_of(app, ids["甲"], post_id)
    files = attachment_rows(app, ids["甲"], copy.id)
    assert [f.original_name for f in files] == ["寒假安全须知.pdf", "运动会通知.docx"]
    assert {f.id for f in files}.isdisjoint({pdf_id, docx_id})  # the school's own
    assert [f.preview for f in files] == ["ready", "ready"]  # not made twice
    school = reader(app, "jia.example")
    page = school.get(f"/articles/{copy.id}").get_data(as_text=True)
    for file in files:
        assert f'href="/attachments/{file.id}"' in page
        assert f'href="/attachments/{file.id}/preview"' in page
    assert "寒假安全须知.pdf" in page and "预览生成中" not in page
    download = fetch(school, f"/attachments/{files[0].id}")
    assert download.status_code == 200 and download.data == pdf
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    # Both previews, with their thumbnails, pages and pictures, at the school.
    thumbs = re.findall(r'class="attachment-thumb" src="([^"]+)"', page)
    assert len(thumbs) == 2
    for thumb in thumbs:
        assert files[0].stored_name in thumb or files[1].stored_name in thumb
        assert fetch(school, thumb).status_code == 200
    preview = school.get(f"/attachments/{files[0].id}/preview").get_data(True)
    pages = re.findall(r'<img src="(/uploads/derived/[^"]+/page-\d+\.jpg)"', preview)
    assert len(pages) == 2 and all(files[0].stored_name in p for p in pages)
    assert fetch(school, pages[0]).status_code == 200
    document = school.get(f"/attachments/{files[1].id}/preview").get_data(True)
    picture = re.search(r'<img alt="运动会照片" src="([^"]+)"', document)[1]
    assert picture.startswith(f"/uploads/derived/{files[1].stored_name}/")
    assert fetch(school, picture).status_code == 200
    # The school's search finds the post by its attachment's name.
    found = school.get("/search?q=寒假安全须知").get_data(as_text=True)
    assert f"/articles/{copy.id}" in found
    with app.app_context(), acting_for(ids["甲"]):
        assert chain.unexplained_texts() == []


def test_a_school_never_reaches_the_bureaus_files(app, district):
    browser, post_id, ids = district
    attach(app, browser, post_id, make_drawn_pdf(["通知"]), "通知.pdf", ids["bureau"])
    other_id = bureau_post(app, "局内部工作安排", "<p>不发往学校。</p>")
    unsent = make_drawn_pdf(["内部"])
    attach(app, browser, other_id, unsent, "内部安排.pdf", ids["bureau"])
    send(browser, post_id, ids["甲"])
    with app.app_context(), acting_for(ids["bureau"]):
        bureau_files = db.session.scalars(
            sa.select(Upload).where(Upload.kind == "attachment")
        ).all()
        names = [(f.id, f.stored_name) for f in bureau_files]
    assert len(names) == 2
    school = reader(app, "jia.example")
    for upload_id, stored_name in names:  # the one sent and the one not sent
        for path in (
            f"/attachments/{upload_id}",
            f"/attachments/{upload_id}/preview",
            f"/uploads/{stored_name}",
            f"/uploads/derived/{stored_name}/preview/thumb.jpg",
            f"/uploads/derived/{stored_name}/preview/page-1.jpg",
        ):
            assert fetch(school, path).status_code == 404, path
    # The bureau's own address serves them, so the paths above were real.
    assert fetch(reader(app, "jyj.example"), f"/attachments/{names[1][0]}").data == (
        unsent
    )


def test_sending_again_follows_the_bureaus_attachments(app, district):
    browser, post_id, ids = district
    first = attach(
        app, browser, post_id, make_drawn_pdf(["一"]), "一.pdf", ids["bureau"]
    )
    attach(app, browser, post_id, make_drawn_pdf(["二"]), "二.pdf", ids["bureau"])
    send(browser, post_id, ids["甲"])
    copy = copy_of(app, ids["甲"], post_id)
    before = attachment_rows(app, ids["甲"], copy.id)
    # The school adds a file of its own to its copy: sending again keeps it.
    with app.app_context(), acting_for(ids["甲"]):
        storage.save_upload(
            b"school's own",
            kind="attachment",
            ext="csv",
            content_type="text/csv",
            original_name="本校名单.csv",
            user_id=None,
            article_id=copy.id,
        ).preview = ""
        chain.record_publish(db.session.get(Article, copy.id), None)
        db.session.commit()
    # The bureau takes 一.pdf off and adds 三.pdf.
    assert browser.post(f"/editor/uploads/{first}/delete").status_code == 200
    attach(app, browser, post_id, make_drawn_pdf(["三"]), "三.pdf", ids["bureau"])
    send(browser, post_id, ids["甲"])
    after = attachment_rows(app, ids["甲"], copy.id)
    assert [f.original_name for f in after] == ["二.pdf", "本校名单.csv", "三.pdf"]
    assert after[0].id == before[1].id  # kept, not copied again
    with app.app_context():
        assert not storage.file_path(before[0]).exists()  # 一.pdf's copy is gone
        assert storage.file_path(after[0]).exists()
        assert not Path(
            storage.upload_folder(), "derived", before[0].stored_name
        ).exists()
    page = home(app, "jia.example", f"/articles/{copy.id}")
    assert "三.pdf" in page and "二.pdf" in page and "一.pdf" not in page
    with app.app_context(), acting_for(ids["甲"]):
        assert chain.unexplained_texts() == []


# --- taking a copy back (撤回) ----------------------------------------------------


def withdraw(browser, post_id, *schools):
    return browser.post(
        f"/editor/articles/{post_id}/schools/withdraw",
        data={"site": [str(s) for s in schools]},
    )


def ledger(app, site_id, article_id) -> list[tuple[str, str]]:
    with app.app_context(), acting_for(site_id):
        return [
            tuple(row)
            for row in db.session.execute(
                sa.select(ReviewEvent.decision, ReviewEvent.reason)
                .where(ReviewEvent.article_id == article_id)
                .order_by(ReviewEvent.id)
            )
        ]


def test_the_bureau_withdraws_a_post_and_sends_it_again(app, district):
    browser, post_id, ids = district
    attach(app, browser, post_id, make_drawn_pdf(["须知"]), "须知.pdf", ids["bureau"])
    send(browser, post_id, ids["甲"], ids["乙"])
    copy = copy_of(app, ids["甲"], post_id)
    title = "关于做好寒假安全工作的通知"
    school = reader(app, "jia.example")
    # Cached pages first: withdrawing must reach them too.
    assert title in school.get("/").get_data(as_text=True)
    assert school.get(f"/articles/{copy.id}").status_code == 200
    file_id = attachment_rows(app, ids["甲"], copy.id)[0].id
    page = browser.get(f"/editor/articles/{post_id}/schools").get_data(as_text=True)
    assert 'id="withdraw-form"' in page
    answer = withdraw(browser, post_id, ids["甲"])
    assert answer.status_code == 302
    done = flashes(browser.get(answer.location).get_data(as_text=True), "success")
    assert len(done) == 1 and "1" in done[0]
    assert title not in school.get("/").get_data(as_text=True)
    assert title not in school.get("/sections/notices").get_data(as_text=True)
    assert school.get(f"/articles/{copy.id}").status_code == 404
    assert fetch(school, f"/attachments/{file_id}").status_code == 404
    found = school.get("/search?q=寒假安全").get_data(as_text=True)
    assert f"/articles/{copy.id}" not in found
    assert title in home(app, "news.school.cn", "/yi/")  # 乙 keeps it
    # The school's ledger says the bureau took it back; the bureau's audit log too.
    lines = ledger(app, ids["甲"], copy.id)
    assert lines[0][0] == "publish" and "区教育局" in lines[0][1]
    assert lines[-1][0] == "remove" and "区教育局" in lines[-1][1]
    assert len(lines) == 2
    with app.app_context(), acting_for(ids["bureau"]):
        assert db.session.scalar(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "post_withdrawn")
        ) == str(ids["甲"])
    with app.app_context(), acting_for(ids["甲"]):
        assert db.session.get(Article, copy.id).status == Status.DRAFT
        assert chain.unexplained_texts() == []
    # The page says so, and sending again puts the same copy back.
    page = browser.get(f"/editor/articles/{post_id}/schools").get_data(as_text=True)
    withdraw_form = page.split('id="withdraw-form"')[1]
    assert f'value="{ids["甲"]}"' not in withdraw_form
    assert f'value="{ids["乙"]}"' in withdraw_form
    send(browser, post_id, ids["甲"])
    assert copy_of(app, ids["甲"], post_id).id == copy.id
    assert title in school.get("/").get_data(as_text=True)
    assert school.get(f"/articles/{copy.id}").status_code == 200
    assert fetch(school, f"/attachments/{file_id}").status_code == 200
    assert [d for d, _r in ledger(app, ids["甲"], copy.id)] == [
        "publish",
        "remove",
        "publish",
    ]


def flashes(page: str, category: str = "error") -> list[str]:
    return re.findall(
        rf'<p class="flash flash-{category}" role="status">([^<]*)</p>', page
    )


def test_withdrawing_explains_every_bad_choice(app, district):
    browser, post_id, ids = district
    send(browser, post_id, ids["甲"])
    url = f"/editor/articles/{post_id}/schools/withdraw"
    nothing = browser.post(url, data={})
    assert nothing.status_code == 400
    assert "请至少选择一所学校" in nothing.get_data(as_text=True)
    for bad in (["999"], ["x"], [str(ids["bureau"])], [str(ids["甲"]), "999"]):
        answer = browser.post(url, data={"site": bad})
        assert answer.status_code == 400 and len(flashes(answer.get_data(True))) == 1
    assert title_live(app, ids["甲"])  # nothing was done
    # Not sent there, then already withdrawn: each school's own message.
    answer = withdraw(browser, post_id, ids["乙"])
    assert answer.status_code == 302
    (message,) = flashes(browser.get(answer.location).get_data(as_text=True))
    assert "乙中学" in message
    assert withdraw(browser, post_id, ids["甲"]).status_code == 302
    browser.get(f"/editor/articles/{post_id}/schools").close()  # its flash read
    answer = withdraw(browser, post_id, ids["甲"], ids["乙"])
    messages = flashes(browser.get(answer.location).get_data(as_text=True))
    assert len(messages) == 2 and "甲小学" in messages[0] and "乙中学" in messages[1]
    assert len(ledger(app, ids["甲"], copy_of(app, ids["甲"], post_id).id)) == 2


def title_live(app, site_id) -> bool:
    with app.app_context(), acting_for(site_id):
        return bool(
            db.session.scalar(
                sa.select(sa.func.count(Article.id)).where(
                    Article.title.like("关于做好寒假%"),
                    Article.status == Status.PUBLISHED,
                )
            )
        )


def test_only_the_bureaus_editors_withdraw(app, district):
    browser, post_id, ids = district
    send(browser, post_id, ids["甲"])
    # A school's staff: their own site has no such page, whatever the ids.
    for username, host in (("editor", "news.school.cn"), ("jia-admin", "jia.example")):
        if username == "jia-admin":
            with app.app_context(), acting_for(ids["甲"]):
                admin = db.session.scalar(
                    sa.select(User).where(User.username == username)
                )
                admin.needs_setup = False
                admin.set_password(PASSWORD)
                db.session.commit()
        staff = sign_in(reader(app, host), username)
        assert withdraw(staff, post_id, ids["甲"]).status_code == 404
    # The bureau's authors do not publish, so they do not withdraw either.
    with app.app_context(), acting_for(ids["bureau"]):
        author = User(
            username="jyj-author",
            display_name="局作者",
            role="author",
            session_token="a",
        )
        author.set_password(PASSWORD)
        db.session.add(author)
        db.session.commit()
    author = sign_in(reader(app, "jyj.example"), "jyj-author")
    assert withdraw(author, post_id, ids["甲"]).status_code == 403
    assert author.get(f"/editor/articles/{post_id}/schools").status_code == 403
    anonymous = reader(app, "jyj.example")
    assert withdraw(anonymous, post_id, ids["甲"]).status_code == 302  # to login
    assert title_live(app, ids["甲"])


@pytest.mark.csrf
def test_withdrawing_needs_the_forms_token(app, district):
    browser, post_id, ids = district
    page = browser.get(f"/editor/articles/{post_id}/schools").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert (
        browser.post(
            f"/editor/articles/{post_id}/schools",
            data={"site": [str(ids["甲"])], "csrf_token": token},
        ).status_code
        == 302
    )
    assert withdraw(browser, post_id, ids["甲"]).status_code == 400
    assert title_live(app, ids["甲"])
    answer = browser.post(
        f"/editor/articles/{post_id}/schools/withdraw",
        data={"site": [str(ids["甲"])], "csrf_token": token},
    )
    assert answer.status_code == 302 and not title_live(app, ids["甲"])
