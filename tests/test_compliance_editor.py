"""The compliance check in the editor: before submit and publish, and on request."""

import re

import pytest

from models import Article, AuditEvent, Status, WordRule, db, set_setting
from review import compliance
from tests.conftest import form_data as shared_form_data

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

ID_NUMBER = "440304200802295614"
BLOCKED = "一股作气"


@pytest.fixture(autouse=True)
def rules(app):
    with app.app_context():
        db.session.add_all(
            [
                WordRule(term=BLOCKED, replacement="一鼓作气", severity="block"),
                WordRule(term="再接再励", replacement="再接再厉", severity="hint"),
            ]
        )
        db.session.commit()


def form_data(section, body, action, **overrides):
    return shared_form_data(section, body_html=body, action=action, **overrides)


def only_article(app):
    with app.app_context():
        article = db.session.scalars(db.select(Article)).one()
        db.session.expunge(article)
        return article


def audit(app, action):
    with app.app_context():
        return db.session.scalars(
            db.select(AuditEvent.target).where(AuditEvent.action == action)
        ).all()


def require_review(app):
    """One review level: authors submit (the conftest site has none)."""
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()


@pytest.mark.parametrize("action", ["publish", "submit"])
def test_a_blocked_term_refuses_and_keeps_the_text(app, login, section, action):
    if action == "submit":
        require_review(app)
    client = login("editor" if action == "publish" else "author")
    body = f"<p>同学们{BLOCKED}冲向终点。</p>"
    response = client.post(
        "/editor/articles/new", data=form_data(section, body, action)
    )
    article = only_article(app)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/editor/articles/{article.id}/edit?check=1"
    )
    assert article.status == Status.DRAFT  # saved, neither published nor submitted
    assert article.body_html == body
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "禁止" in page or "不得" in page or BLOCKED in page
    assert f"「{BLOCKED}」" in page  # the message names the term
    assert 'class="finding finding-block"' in page  # and the panel lists it
    assert audit(app, "article.publish") == []


def test_a_blocked_term_refuses_publishing_an_existing_post(
    app, editor_client, make_article, section
):
    article_id = make_article(
        status=Status.PENDING, published_at=None, section_id=section
    )
    body = f"<p>{BLOCKED}</p>"
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, body, "publish", version="1"),
    )
    assert response.status_code == 302
    article = only_article(app)
    assert (article.status, article.body_html) == (Status.PENDING, body)


def test_hints_do_not_block(app, editor_client, section):
    body = '<p>同学们再接再励。</p><p><img src="/static/x.png"></p>'
    response = editor_client.post(
        "/editor/articles/new", data=form_data(section, body, "publish")
    )
    assert response.status_code == 302
    assert "/published" in response.headers["Location"]
    assert only_article(app).status == Status.PUBLISHED


def test_personal_data_needs_a_confirmed_reason_to_publish(app, editor_client, section):
    body = f"<p>获奖学生身份证号 {ID_NUMBER}</p>"
    response = editor_client.post(
        "/editor/articles/new", data=form_data(section, body, "publish")
    )
    assert only_article(app).status == Status.DRAFT
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "440304********5614" in page and ID_NUMBER not in page.split("<textarea")[0]
    assert 'id="compliance-confirm"' in page
    assert 'id="compliance-confirm" hidden' not in page

    # Ticking without a reason is not enough.
    article = only_article(app)
    edit = f"/editor/articles/{article.id}/edit"
    data = form_data(section, body, "publish", version=str(article.version))
    editor_client.post(edit, data=data | {"compliance_confirm": "1"})
    assert only_article(app).status == Status.DRAFT

    article = only_article(app)
    data["version"] = str(article.version)
    response = editor_client.post(
        edit,
        data=data | {"compliance_confirm": "1", "compliance_reason": "家长同意公示"},
    )
    assert response.status_code == 302
    assert only_article(app).status == Status.PUBLISHED
    [target] = audit(app, "article.compliance_confirmed")
    assert target == f"article {article.id}: 家长同意公示 | 440304********5614"


def test_personal_data_does_not_stop_submitting(app, author_client, section):
    require_review(app)
    body = "<p>联系电话 13812345678</p>"
    author_client.post("/editor/articles/new", data=form_data(section, body, "submit"))
    assert only_article(app).status == Status.PENDING


def test_attachment_names_are_checked(app, editor_client, make_article, section):
    from models import Upload

    article_id = make_article(
        status=Status.DRAFT, published_at=None, section_id=section
    )
    with app.app_context():
        db.session.add(
            Upload(
                kind="attachment",
                stored_name="a" * 32 + ".pdf",
                original_name=f"{BLOCKED}.pdf",
                content_type="application/pdf",
                article_id=article_id,
            )
        )
        db.session.commit()
    editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, "<p>正文</p>", "publish", version="1"),
    )
    assert only_article(app).status == Status.DRAFT


def test_check_endpoint_lists_masked_findings(app, author_client, make_article):
    missing = '<a href="/articles/999">旧文</a>'
    draft = make_article(status=Status.DRAFT, published_at=None)
    response = author_client.post(
        "/editor/check",
        json={
            "title": "再接再励",
            "summary": "",
            "body_html": f"<p>卡号 6217000000000006</p>{missing}"
            f'<a href="/articles/{draft}">草稿</a>',
        },
    )
    assert response.status_code == 200
    findings = response.get_json()["findings"]
    assert [(f["field"], f["kind"], f["severity"], f["value"]) for f in findings] == [
        ("title", "word", "hint", "再接再励"),
        ("body", "bank_card", "confirm", "6217********0006"),
        ("body", "link", "hint", "/articles/999"),
        ("body", "link", "hint", f"/articles/{draft}"),
    ]
    assert findings[0]["suggestion"] == "再接再厉"
    assert findings[0]["kind_label"] == "用词"
    assert findings[2]["suggestion"] == "页面不存在"
    assert findings[3]["suggestion"] == "读者看不到这个页面"
    assert "6217000000000006" not in response.get_data(as_text=True)


def test_check_endpoint_needs_login_and_json(client, author_client):
    assert author_client.post("/editor/check", data="x").status_code == 400


def test_check_endpoint_needs_a_login(client):
    response = client.post("/editor/check", json={"title": "x"})
    # fetch() gets JSON it can act on, not a redirect to an HTML page.
    assert response.status_code == 401
    assert response.json["login_url"] == "/login?next=/editor/check"


def _csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    return found[1]


@pytest.mark.csrf
def test_check_endpoint_needs_the_csrf_token(client, editor):
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data=editor | {"csrf_token": token})
    response = client.post("/editor/check", json={"title": "再接再励"})
    assert response.status_code == 400
    assert "findings" not in (response.get_json(silent=True) or {})
    token = _csrf_token(client.get("/editor/articles/new").get_data(as_text=True))
    response = client.post(
        "/editor/check", json={"title": "再接再励"}, headers={"X-CSRFToken": token}
    )
    assert response.get_json()["findings"][0]["value"] == "再接再励"


def test_word_list_changes_are_seen_at_once(app):
    with app.app_context():
        assert [f.value for f in compliance.check_post("按装空调", "", "")] == []
        db.session.add(WordRule(term="按装", replacement="安装", severity="hint"))
        db.session.commit()
        assert [f.value for f in compliance.check_post("按装空调", "", "")] == ["按装"]
        # Compiled once per version of the list, not per check.
        assert compliance.matcher_from_db() is compliance.matcher_from_db()
        before = compliance.matcher_from_db()
        rule = db.session.scalars(db.select(WordRule).filter_by(term="按装")).one()
        rule.exceptions = "按装空调"
        db.session.commit()
        assert compliance.check_post("按装空调", "", "") == []
        assert compliance.matcher_from_db() is not before


# --- Attachments' text --------------------------------------------------------------


def attach(client, article_id, name, data):
    import io

    response = client.post(
        "/editor/uploads/attachment",
        data={"file": (io.BytesIO(data), name), "article_id": str(article_id)},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["id"]


def test_an_id_number_in_a_sheet_needs_a_confirmed_reason_to_publish(
    app, editor_client, make_article, section
):
    from tests.documents import ID_MASKED, ID_NUMBER, class_list_xlsx

    article_id = make_article(
        status=Status.DRAFT, published_at=None, section_id=section
    )
    attach(editor_client, article_id, "奖学金名单.xlsx", class_list_xlsx())
    edit = f"/editor/articles/{article_id}/edit"
    data = form_data(section, "<p>名单见附件。</p>", "publish", version="1")
    response = editor_client.post(edit, data=data)
    assert only_article(app).status == Status.DRAFT
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    # The panel names the file, the sheet and the cell, and shows the number
    # masked (the translation says 附件 奖学金名单.xlsx，工作表 名单，单元格 C2).
    [item] = re.findall(r'<li class="finding finding-confirm">.*?</li>', page, re.S)
    label = re.search(r'<span class="finding-kind">(.*?)</span>', item)[1]
    assert re.search(r"奖学金名单\.xlsx\W.*\W名单\W.*\WC2$", label), label
    assert ID_MASKED in item
    assert ID_NUMBER not in page
    assert 'id="compliance-confirm" hidden' not in page

    data["version"] = str(only_article(app).version)
    response = editor_client.post(
        edit, data=data | {"compliance_confirm": "1", "compliance_reason": "公示名单"}
    )
    assert response.status_code == 302
    assert only_article(app).status == Status.PUBLISHED
    [target] = audit(app, "article.compliance_confirmed")
    assert target == f"article {article_id}: 公示名单 | {ID_MASKED}"


def test_the_check_endpoint_reads_attachments_with_their_places(
    app, author_client, make_article
):
    from tests.conftest import user_id
    from tests.documents import PHONE, make_pdf

    article_id = make_article(
        status=Status.DRAFT, published_at=None, created_by_id=user_id(app, "author")
    )
    pdf = make_pdf(["运动会报名表", f"联系电话 {PHONE}", "请同学们一股作气"])
    attach(author_client, article_id, "报名表.pdf", pdf)
    response = author_client.post(
        "/editor/check",
        json={"title": "通知", "body_html": "<p>见附件</p>", "article_id": article_id},
    )
    findings = response.get_json()["findings"]
    assert [
        (f["field"], f["kind"], f["severity"], f["value"], f["index"], f["where"])
        for f in findings
    ] == [
        ("attachment", "phone", "confirm", "138****5678", 0, "page:2"),
        ("attachment", "word", "block", BLOCKED, 0, "page:3"),
    ]
    assert re.search(r"报名表\.pdf\W.*\b2\b", findings[0]["field_label"])
    assert PHONE not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name, data",
    [
        ("名单.xlsx", "bomb"),
        ("通知.pdf", "cut"),
    ],
)
def test_an_unreadable_attachment_is_a_hint_not_a_500(
    app, editor_client, make_article, section, name, data
):
    from tests.documents import make_pdf, make_zip_bomb_xlsx

    data = make_zip_bomb_xlsx(300) if data == "bomb" else make_pdf(["通知"])[:400]
    article_id = make_article(
        status=Status.DRAFT, published_at=None, section_id=section
    )
    attach(editor_client, article_id, name, data)
    response = editor_client.post(
        "/editor/check", json={"body_html": "<p>x</p>", "article_id": article_id}
    )
    [finding] = response.get_json()["findings"]
    assert finding["kind"] == "attachment_unreadable"
    assert finding["severity"] == "hint"
    assert finding["source"] == name and name in finding["excerpt"]
    # A hint does not stop publishing.
    response = editor_client.post(
        f"/editor/articles/{article_id}/edit",
        data=form_data(section, "<p>x</p>", "publish", version="1"),
    )
    assert response.status_code == 302
    assert only_article(app).status == Status.PUBLISHED


# --- Live posts where nothing is reviewed ---------------------------------------------


def live_body(app, article_id):
    with app.app_context():
        return db.session.get(Article, article_id).body_html


def held(app, upload_id):
    from models import Upload

    with app.app_context():
        return db.session.get(Upload, upload_id).held


def test_a_live_edit_with_personal_data_is_not_saved_until_confirmed(
    app, editor_client, make_article, section
):
    # No review levels here: saving a live post publishes the edit at once.
    article_id = make_article(section_id=section, body_html="<p>旧的正文</p>")
    edit = f"/editor/articles/{article_id}/edit"
    body = f"<p>获奖学生身份证号 {ID_NUMBER}</p>"
    data = form_data(section, body, "save", version="1")
    response = editor_client.post(edit, data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert live_body(app, article_id) == "<p>旧的正文</p>"  # readers keep it
    assert ID_NUMBER in page.split("<textarea", 1)[1]  # nothing typed is lost
    assert "440304********5614" in page
    assert 'id="compliance-confirm" hidden' not in page

    response = editor_client.post(
        edit,
        data=data | {"compliance_confirm": "1", "compliance_reason": "家长同意公示"},
    )
    assert response.status_code == 302
    assert ID_NUMBER in live_body(app, article_id)
    [target] = audit(app, "article.compliance_confirmed")
    assert target == f"article {article_id}: 家长同意公示 | 440304********5614"


def test_a_live_edit_with_a_blocked_word_is_not_saved(
    app, editor_client, make_article, section
):
    article_id = make_article(section_id=section, body_html="<p>旧的正文</p>")
    data = form_data(section, f"<p>{BLOCKED}</p>", "save", version="1")
    response = editor_client.post(f"/editor/articles/{article_id}/edit", data=data)
    assert response.status_code == 422
    assert "一鼓作气" in response.get_data(as_text=True)
    assert live_body(app, article_id) == "<p>旧的正文</p>"


def reader_gets(app, upload_id) -> int:
    """The status a reader (no login) gets for the attachment."""
    response = app.test_client().get(f"/attachments/{upload_id}")
    response.close()
    return response.status_code


def test_a_sheet_with_an_id_number_added_to_a_live_post_waits_for_a_confirmed_save(
    app, editor_client, make_article, section
):
    from tests.documents import ID_MASKED, class_list_xlsx

    article_id = make_article(section_id=section)
    response = editor_client.post(
        "/editor/uploads/attachment",
        data={
            "file": (__import__("io").BytesIO(class_list_xlsx()), "奖学金名单.xlsx"),
            "article_id": str(article_id),
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    upload = response.get_json()
    assert upload["held"] is True and "奖学金名单.xlsx" in upload["note"]
    assert reader_gets(app, upload["id"]) == 404

    edit = f"/editor/articles/{article_id}/edit"
    data = form_data(section, "<p>名单见附件。</p>", "save", version="1")
    assert editor_client.post(edit, data=data).status_code == 422
    assert held(app, upload["id"])

    response = editor_client.post(
        edit, data=data | {"compliance_confirm": "1", "compliance_reason": "公示名单"}
    )
    assert response.status_code == 302
    assert not held(app, upload["id"])
    assert reader_gets(app, upload["id"]) == 200
    [target] = audit(app, "article.compliance_confirmed")
    assert target == f"article {article_id}: 公示名单 | {ID_MASKED}"
