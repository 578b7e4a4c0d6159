"""The bureau's statistics of its schools (站群), cell by cell on known data:
the side-by-side table, its workbook, and every school's 栏目更新."""

import io
from datetime import date, datetime

import openpyxl
import pytest
import time_machine

from core.sites import acting_for
from models import Article, DailyViews, Section, Site, Status, db, set_setting
from tests.conftest import PASSWORD
from tests.test_sites import reader, signed_in_bureau

NOW = datetime(2026, 11, 10, 1, 30)  # UTC: 09:30 on 10 November in Beijing
PERIOD = "?from=2026-10-01&to=2026-10-31"


def school(site_id, name, posts):
    """A school with 新闻 (its posts: (UTC time, views on a day)) and an
    empty 通知公告; drafts and posts outside the period as asked."""
    with acting_for(site_id):
        set_setting("school_name", name)
        news = Section(name="新闻", slug="news")
        notices = Section(name="通知公告", slug="notices")
        db.session.add_all([news, notices])
        db.session.flush()
        for published, status, days in posts:
            article = Article(
                title=f"{name}{published:%m%d}",
                section_id=news.id,
                status=status,
                published_at=published,
            )
            db.session.add(article)
            db.session.flush()
            for day, views in days:
                db.session.add(DailyViews(article_id=article.id, day=day, views=views))
        db.session.commit()


@pytest.fixture
def district(app):
    """Three schools and the bureau, seen on 10 November by the bureau's
    administrator (signed in then: a session from the future would end)."""
    with time_machine.travel(NOW, tick=False):
        yield three_schools_and_the_bureau(app)


def three_schools_and_the_bureau(app):
    with app.app_context():
        # Ids from the database's own sequence, as `flask sites add` gets them.
        jia, yi = (
            Site(name="甲", host="jia.example"),
            Site(name="乙", host="yi.example"),
        )
        db.session.add_all([jia, yi])
        db.session.commit()
        school(
            1,
            "第一中学",
            [(datetime(2026, 10, 5, 2), Status.PUBLISHED, [(date(2026, 10, 6), 7)])],
        )
        school(
            jia.id,
            "甲小学",
            [
                (datetime(2026, 10, 5, 2), Status.PUBLISHED, [(date(2026, 10, 6), 5)]),
                (datetime(2026, 10, 20, 2), Status.PUBLISHED, []),
                # Before the period, read in it: its views count, it does not.
                (datetime(2026, 9, 1, 2), Status.PUBLISHED, [(date(2026, 10, 7), 3)]),
                (datetime(2026, 10, 8, 2), Status.DRAFT, []),
                # 1 November, 00:30 in Beijing: after the period.
                (
                    datetime(2026, 10, 31, 16, 30),
                    Status.PUBLISHED,
                    [(date(2026, 11, 1), 9)],
                ),
            ],
        )
        school(
            yi.id,
            "乙中学",
            [(datetime(2026, 10, 10, 2), Status.PUBLISHED, [(date(2026, 10, 11), 4)])],
        )
    return signed_in_bureau(app)


EXPECTED = [
    ["第一中学", "1", "7", "1", "1"],
    ["甲小学", "2", "8", "0", "1"],
    ["乙中学", "1", "4", "1", "1"],
    ["合计", "4", "19", "2", "3"],
]


def cells(html: str, table_id: str) -> list[list[str]]:
    import re

    body = html.split(f'id="{table_id}"')[1].split("</table>")[0].split("<tbody>")[1]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>.*", "", cell).strip() for cell in found])
    return rows


def test_the_bureau_sees_every_schools_figures_side_by_side(app, district):
    page = district.get(f"/jyj/admin/sites/stats{PERIOD}")
    assert page.status_code == 200
    assert cells(page.get_data(as_text=True), "schools") == EXPECTED


def test_the_workbook_holds_the_same_cells_and_every_schools_sections(app, district):
    answer = district.get(f"/jyj/admin/sites/stats.xlsx{PERIOD}")
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    schools, sections = book.worksheets
    rows = [
        [str(c) for c in row] for row in schools.iter_rows(min_row=4, values_only=True)
    ]
    assert rows == EXPECTED
    lines = [row for row in sections.iter_rows(min_row=4, values_only=True)]
    assert [line[0] for line in lines] == ["第一中学"] * 2 + ["甲小学"] * 2 + [
        "乙中学"
    ] * 2
    assert lines[2][1:] == ("新闻", "新闻", 30, "2026-11-01", 9, "正常")
    assert lines[4][1:] == ("新闻", "新闻", 30, "2026-10-10", 31, "超期 1 天")
    assert lines[5][1:] == ("通知公告", "通知公告", 180, "", "", "无文章")


def test_every_schools_quiet_sections_are_listed(app, district):
    page = district.get("/jyj/admin/sites/sections").get_data(as_text=True)
    first = page.split('id="school-1"')[1].split("</section>")[0]
    assert 'data-state="overdue"' in first and 'data-state="empty"' in first
    second = page.split('id="school-2"')[1].split("</section>")[0]
    assert (
        'data-state="overdue"' not in second
        and "新闻" not in second.split("<table")[-1].split("</thead>")[-1]
    )


def test_a_bad_period_keeps_what_was_typed(app, district):
    answer = district.get("/jyj/admin/sites/stats?from=2026-10-31&to=2026-10-01")
    assert answer.status_code == 400
    assert 'value="2026-10-31"' in answer.get_data(as_text=True)
    assert district.get("/jyj/admin/sites/stats.xlsx?from=x").status_code == 400


def test_schools_do_not_have_the_bureaus_statistics(app, district):
    school_admin = reader(app)
    school_admin.post("/login", data={"username": "admin", "password": PASSWORD})
    for path in (
        "/admin/sites/stats",
        "/admin/sites/stats.xlsx",
        "/admin/sites/sections",
    ):
        assert school_admin.get(path).status_code == 404
