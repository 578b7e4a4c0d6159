"""栏目更新: which sections have gone without new posts (stats/freshness.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from models import AuditEvent, Section, Status, db
from tests.conftest import count_statements

# 2026-11-10 09:30 in Beijing; the site's days follow Asia/Shanghai (UTC+8).
NOW = datetime(2026, 11, 10, 1, 30)


def at(text: str) -> datetime:
    """A UTC time as the database stores it (naive)."""
    return datetime.fromisoformat(text)


@pytest.fixture
def clock():
    with time_machine.travel(NOW.replace(tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def school(app, clock, make_section, make_article):
    """Known sections and posts; each comment says what the report must find."""
    news = make_section(name="新闻中心", slug="news", position=0)
    campus = make_section(name="校园动态", slug="campus", parent_id=news, position=0)
    research = make_section(
        name="教研动态", slug="research", parent_id=news, position=1
    )
    quiet = make_section(name="德育之窗", slug="moral", parent_id=news, position=2)
    notices = make_section(name="通知公告", slug="notices", position=1)
    about = make_section(name="学校简介", slug="about", position=2)
    weekly = make_section(name="每周食谱", slug="menu", position=3)
    with app.app_context():
        db.session.get(Section, about).update_days = 0
        db.session.get(Section, weekly).update_days = 7
        db.session.commit()
    # 校园动态: newest public post 2026-11-09 17:00 UTC = 11-10 in Beijing.
    make_article(section_id=campus, published_at=at("2026-10-01 02:00"))
    make_article(section_id=campus, published_at=at("2026-11-09 17:00"))
    # 教研动态: 2026-10-11 local, 30 days ago: exactly its period, still ok;
    # a newer draft, a post waiting for review, a trashed one and one
    # scheduled for tomorrow do not count.
    make_article(section_id=research, published_at=at("2026-10-11 03:00"))
    make_article(section_id=research, status=Status.DRAFT, published_at=None)
    make_article(section_id=research, status=Status.PENDING, published_at=None)
    make_article(
        section_id=research,
        published_at=at("2026-11-08 03:00"),
        deleted_at=at("2026-11-09 03:00"),
    )
    make_article(section_id=research, published_at=at("2026-11-11 03:00"))
    # 德育之窗: only a draft, so no posts; 通知公告: 181 days, one past 180.
    make_article(section_id=quiet, status=Status.DRAFT, published_at=None)
    make_article(section_id=notices, published_at=at("2026-05-13 02:00"))
    # 学校简介: never checked, however old; 每周食谱: 8 days, one past 7.
    make_article(section_id=about, published_at=at("2020-09-01 02:00"))
    make_article(section_id=weekly, published_at=at("2026-11-02 02:00"))
    return {"campus": campus, "notices": notices, "weekly": weekly}


EXPECTED = [
    # channel, section, period, default?, latest, idle, state
    ["新闻中心", "校园动态", 30, True, "2026-11-10", 0, "ok"],
    ["新闻中心", "教研动态", 30, True, "2026-10-11", 30, "ok"],
    ["新闻中心", "德育之窗", 30, True, None, None, "empty"],
    ["通知公告", "通知公告", 180, True, "2026-05-13", 181, "overdue"],
    ["学校简介", "学校简介", 0, False, "2020-09-01", 2261, "unchecked"],
    ["每周食谱", "每周食谱", 7, False, "2026-11-02", 8, "overdue"],
]


def test_the_report_is_right_cell_by_cell(app, school):
    from stats import freshness

    with app.test_request_context():
        report = freshness.build_report()
    assert report.today.isoformat() == "2026-11-10"
    got = [
        [
            row.channel,
            row.name,
            row.days,
            row.by_default,
            row.latest.isoformat() if row.latest else None,
            row.idle,
            row.state,
        ]
        for row in report.rows
    ]
    assert got == EXPECTED
    assert (report.count("overdue"), report.count("empty"), report.count("ok")) == (
        2,
        1,
        2,
    )


def test_a_post_today_brings_an_overdue_section_back(app, school, make_article):
    from stats import freshness

    make_article(section_id=school["notices"], published_at=NOW - timedelta(hours=1))
    with app.test_request_context():
        rows = {row.name: row for row in freshness.build_report().rows}
    assert (rows["通知公告"].idle, rows["通知公告"].state) == (0, "ok")


def test_the_page_shows_every_row_with_its_state(school, editor_client):
    response = editor_client.get("/admin/stats/sections")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<dd id="count-overdue">2</dd>' in page
    assert '<dd id="count-empty">1</dd>' in page
    assert f'id="section-{school["notices"]}" data-state="overdue"' in page
    assert "超期 1 天" in page  # 通知公告, 181 days against 180
    assert "无文章" in page  # 德育之窗
    assert "不检查" in page  # 学校简介
    assert page.index("校园动态") < page.index("德育之窗") < page.index("每周食谱")
    # The statistics page links here.
    assert "/admin/stats/sections" in editor_client.get("/admin/stats").text


def test_authors_and_visitors_are_kept_out(app, school, author_client):
    assert author_client.get("/admin/stats/sections").status_code == 403
    assert author_client.get("/admin/stats/sections.xlsx").status_code == 403
    response = app.test_client().get("/admin/stats/sections")
    assert response.status_code == 302 and "/login" in response.location


def test_the_workbook_holds_the_same_rows_and_is_audited(app, school, editor_client):
    response = editor_client.get("/admin/stats/sections.xlsx")
    assert response.status_code == 200
    assert "section-updates-20261110.xlsx" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "2026-11-10" in values[0][0]
    assert values[2] == [
        "频道",
        "栏目",
        "更新周期（天）",
        "最近发布",
        "距今天数",
        "状态",
    ]
    body = [[cell if cell is not None else "" for cell in row] for row in values[3:]]
    assert [row[:5] for row in body] == [
        [c, s, days, latest or "", "" if idle is None else idle]
        for c, s, days, _, latest, idle, _ in EXPECTED
    ]
    assert [row[5] for row in body] == [
        "正常",
        "正常",
        "无文章",
        "超期 1 天",
        "不检查",
        "超期 1 天",
    ]
    with app.app_context():
        exported = db.session.scalars(
            sa.select(AuditEvent.target).where(AuditEvent.action == "stats_exported")
        ).all()
    assert exported == ["section-updates-20261110.xlsx"]


def test_the_page_runs_a_fixed_number_of_statements(
    school, editor_client, make_section, make_article
):
    editor_client.get("/admin/stats/sections")
    with count_statements() as before:
        editor_client.get("/admin/stats/sections")
    for n in range(20):
        section = make_section(name=f"新栏目{n}")
        make_article(section_id=section, published_at=NOW - timedelta(days=n))
    editor_client.get("/admin/stats/sections")
    with count_statements() as after:
        editor_client.get("/admin/stats/sections")
    # The cache version, the user, this device's session, the newest post
    # per section and the sections: however many sections there are.
    assert len(after) == len(before) <= 6, after


def test_an_admin_sets_a_sections_period(app, school, admin_client):
    section_id = school["campus"]
    page = admin_client.get(f"/admin/sections/{section_id}").text
    assert "更新周期" in page and "每周" in page
    form = {
        "name": "校园动态",
        "slug": "campus",
        "parent_id": "0",
        "position": "0",
        "update_days": "0",
    }
    with app.app_context():
        form["parent_id"] = str(db.session.get(Section, section_id).parent_id)
    response = admin_client.post(f"/admin/sections/{section_id}", data=form)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Section, section_id).update_days == 0
    # Back to the default by name.
    admin_client.post(f"/admin/sections/{section_id}", data={**form, "update_days": ""})
    with app.app_context():
        assert db.session.get(Section, section_id).update_days is None


@pytest.mark.parametrize("value", ["abc", "45", "-1"])
def test_a_period_not_offered_is_refused_and_nothing_changes(
    app, school, admin_client, value
):
    section_id = school["weekly"]
    form = {
        "name": "改了名字",
        "slug": "menu",
        "parent_id": "0",
        "position": "3",
        "update_days": value,
    }
    response = admin_client.post(f"/admin/sections/{section_id}", data=form)
    assert response.status_code == 200
    assert "请从提供的更新周期中选择" in response.text
    # The typed name stays in the form, and nothing was saved.
    assert "改了名字" in response.text
    with app.app_context():
        section = db.session.get(Section, section_id)
        assert (section.name, section.update_days) == ("每周食谱", 7)


def test_a_new_section_takes_a_period(app, admin_client):
    response = admin_client.post(
        "/admin/sections",
        data={
            "name": "家长学校",
            "slug": "parents",
            "parent_id": "0",
            "update_days": "90",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        section = db.session.scalar(sa.select(Section).where(Section.slug == "parents"))
        assert section.update_days == 90


def test_0018_gives_existing_sections_the_default_and_is_undone(tmp_path):
    from flask_migrate import downgrade, upgrade

    from stats import freshness
    from tests.conftest import _close, columns, rows, school_at

    app = school_at(
        tmp_path,
        "0017",
        "INSERT INTO section (id, name, slug, position, parent_id) VALUES"
        " (1, '通知公告', 'notices', 0, NULL), (2, '校园新闻', 'news', 1, NULL)",
    )
    with app.app_context():
        upgrade(revision="0018")
        assert rows("SELECT id, name, update_days FROM section ORDER BY id") == [
            (1, "通知公告", None),
            (2, "校园新闻", None),
        ]
        upgrade()
        with app.test_request_context():
            report = freshness.build_report()
        assert [(row.name, row.days, row.state) for row in report.rows] == [
            ("通知公告", 180, "empty"),
            ("校园新闻", 30, "empty"),
        ]
        downgrade(revision="0017")
        assert "update_days" not in columns("section")
        assert rows("SELECT name FROM section ORDER BY id") == [
            ("通知公告",),
            ("校园新闻",),
        ]
    _close(app)
