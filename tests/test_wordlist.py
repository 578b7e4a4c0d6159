"""The word list admin page (/admin/words) and the starter list migration."""

import re

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from models import AuditEvent, WordRule, db
from review import compliance
from tests.conftest import school_at


def rules(app):
    with app.app_context():
        return [
            (r.term, r.replacement, r.severity, r.exceptions)
            for r in db.session.scalars(sa.select(WordRule).order_by(WordRule.id))
        ]


def table_of(response) -> str:
    return (
        response.get_data(as_text=True).split('id="word-table"')[1].split("</table>")[0]
    )


def add(client, **fields):
    data = {"term": "", "replacement": "", "severity": "hint", "exceptions": ""}
    return client.post("/admin/words", data=data | fields)


def test_admin_adds_edits_searches_and_deletes(app, admin_client):
    response = add(
        admin_client,
        term="按装",
        replacement="安装",
        severity="block",
        exceptions="按装订",
    )
    assert response.status_code == 302
    assert rules(app) == [("按装", "安装", "block", "按装订")]
    add(admin_client, term="再接再励", replacement="再接再厉")

    table = table_of(admin_client.get("/admin/words?q=再接"))
    assert "再接再厉" in table and "按装" not in table
    table = table_of(admin_client.get("/admin/words"))
    assert "按装订" in table and "禁止" in table

    with app.app_context():
        rule_id = db.session.scalar(sa.select(WordRule.id).filter_by(term="按装"))
    response = admin_client.post(
        f"/admin/words/{rule_id}",
        data={"term": "按装", "replacement": "安装", "severity": "hint"},
    )
    assert response.status_code == 302
    assert rules(app)[0] == ("按装", "安装", "hint", "")

    admin_client.post(f"/admin/words/{rule_id}/delete")
    assert [r[0] for r in rules(app)] == ["再接再励"]
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "login",
        "word_rule_created",
        "word_rule_created",
        "word_rule_updated",
        "word_rule_deleted",
    ]
    audit_page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "从词库删除了词语" in audit_page


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"term": "  "}, "该字段是必填字段"),
        ({"term": "错" * 51}, "50"),
        ({"term": "按装", "replacement": "按装"}, "建议替换词与词语相同"),
        ({"term": "按装", "exceptions": "装订"}, "「装订」不是包含该词语的更长词语"),
        ({"term": "按装", "severity": "nonsense"}, "不是有效的选择"),
    ],
)
def test_friendly_validation(app, admin_client, fields, message):
    response = add(admin_client, **fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page, re.findall(r'class="a-error"[^>]*>([^<]*)', page)
    assert rules(app) == []


def test_duplicates_are_refused_kindly(app, admin_client):
    add(admin_client, term="按装", replacement="安装")
    response = add(admin_client, term="按装", replacement="安装")
    assert response.status_code == 422
    assert "词库里已经有这个词语" in response.get_data(as_text=True)
    assert len(rules(app)) == 1
    # Editing another term into a duplicate is refused too.
    add(admin_client, term="按排", replacement="安排")
    with app.app_context():
        other = db.session.scalar(sa.select(WordRule.id).filter_by(term="按排"))
    response = admin_client.post(
        f"/admin/words/{other}", data={"term": "按装", "severity": "hint"}
    )
    assert response.status_code == 422
    assert [r[0] for r in rules(app)] == ["按装", "按排"]


@pytest.mark.parametrize("role", ["author", "editor"])
def test_only_admins(app, login, role):
    client = login(role)
    assert client.get("/admin/words").status_code == 403
    assert add(client, term="按装").status_code == 403
    assert rules(app) == []


@pytest.mark.csrf
def test_adding_needs_the_csrf_token(app, client, editor):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)[1]
    client.post(
        "/login",
        data={"username": "admin", "password": editor["password"], "csrf_token": token},
    )
    response = add(client, term="按装")
    assert response.status_code == 400
    assert rules(app) == []


def test_migration_loads_the_starter_list_into_an_existing_school(tmp_path):
    app = school_at(
        tmp_path,
        "0009",
        "INSERT INTO section (id, name, slug, position, parent_id) VALUES"
        " (1, '新闻', 'news', 0, NULL)",
    )
    with app.app_context():
        upgrade()
        starter = db.session.scalars(sa.select(WordRule)).all()
        assert len(starter) >= 100
        by_term = {rule.term: rule for rule in starter}
        assert by_term["再接再励"].replacement == "再接再厉"
        assert by_term["一股作气"].replacement == "一鼓作气"
        assert by_term["按装"].exceptions == "按装订"
        assert {rule.severity for rule in starter} == {"hint"}
        # No term is its own replacement, and none is flagged in its right form.
        matcher = compliance.matcher_from_db()
        for rule in starter:
            assert rule.term != rule.replacement
            assert matcher.find(rule.replacement, "t") == [], rule.replacement
        assert [f.value for f in matcher.find("请按装订线剪开，空调按装好了", "t")] == [
            "按装"
        ]
        db.engine.dispose()


def test_a_long_list_pages_and_keeps_the_search(app, admin_client):
    with app.app_context():
        db.session.add_all(
            WordRule(term=f"错词{n:03d}", replacement=f"正词{n:03d}", severity="hint")
            for n in range(130)
        )
        db.session.commit()
    first = admin_client.get("/admin/words?q=错词").get_data(as_text=True)
    assert re.search(r'rel="next" href="/admin/words\?page=2&amp;q=', first)
    assert 'rel="prev"' not in first
    second = admin_client.get("/admin/words?page=2&q=错词").get_data(as_text=True)
    assert re.search(r'rel="prev" href="/admin/words\?page=1&amp;q=', second)
    assert "错词129" in table_of(admin_client.get("/admin/words?page=2&q=错词"))
