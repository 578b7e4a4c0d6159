"""发稿统计: every figure on the page, in the workbook and in the CSV files."""

import csv
import io
import threading
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa

from core import periods
from models import Article, CacheState, DailyViews, Department, Status, User, db
from reader import viewcount
from stats import charts
from tests.conftest import _login, count_statements, user_id

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


@pytest.fixture
def school(app, make_section, make_article):
    """Two departments, three authors, two sections, posts and views in March 2026.

    Times are UTC; the site is in Asia/Shanghai (UTC+8), so a post at
    2026-02-28 17:00 UTC is published on 2026-03-01 locally.
    """
    news = make_section(name="新闻中心", slug="news")
    school_news = make_section(name="校园动态", slug="campus", parent_id=news)
    research = make_section(name="教学科研", slug="research")
    with app.app_context():
        teaching = Department(name="教务处", position=0)
        moral = Department(name="德育处", position=1)
        empty = Department(name="总务处", position=2)
        db.session.add_all([teaching, moral, empty])
        db.session.flush()
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        users["author"].department_id = teaching.id
        users["editor"].department_id = moral.id
        # admin has no department
        db.session.commit()
        ids = {
            "teaching": teaching.id,
            "moral": moral.id,
            "empty": empty.id,
            "author": users["author"].id,
            "editor": users["editor"].id,
            "admin": users["admin"].id,
        }

    def post(title, by, section, published_at, **fields):
        return make_article(
            title=title,
            created_by_id=ids[by],
            section_id=section,
            published_at=published_at,
            **fields,
        )

    posts = {
        # local 2026-03-01 08:00 (UTC 2026-03-01 00:00 … +8)
        "a1": post("春季开学典礼", "author", school_news, datetime(2026, 2, 28, 17)),
        "a2": post(
            '=HYPERLINK("http://x")教研', "author", research, datetime(2026, 3, 10, 2)
        ),
        "e1": post("德育讲座", "editor", school_news, datetime(2026, 3, 15, 1)),
        # Local 2026-04-01 00:30: April, not March.
        "e2": post("四月活动", "editor", research, datetime(2026, 3, 31, 16, 30)),
        # No account: imported or demo posts.
        "x1": make_article(
            title="导入的文章",
            section_id=research,
            published_at=datetime(2026, 3, 5, 3),
        ),
        # Published in February (local 2026-02-28 23:00): no post in March,
        # but its views in March count.
        "old": post("寒假通知", "admin", research, datetime(2026, 2, 28, 15)),
        # Not counted as published: a draft, one in the trash.
        "draft": post(
            "草稿", "author", research, datetime(2026, 3, 3), status=Status.DRAFT
        ),
        "trash": post(
            "删除的",
            "editor",
            research,
            datetime(2026, 3, 4),
            deleted_at=datetime(2026, 3, 6),
        ),
    }
    views = {
        ("a1", "2026-03-01"): 10,
        ("a1", "2026-03-02"): 5,
        ("a2", "2026-03-10"): 7,
        ("e1", "2026-03-15"): 20,
        ("e1", "2026-03-31"): 1,
        ("e1", "2026-04-01"): 100,  # outside March
        ("x1", "2026-03-05"): 3,
        ("old", "2026-02-28"): 50,  # outside March
        ("old", "2026-03-01"): 4,
        ("trash", "2026-03-04"): 2,  # views happened, the post was trashed later
    }
    with app.app_context():
        for (key, day), number in views.items():
            db.session.add(
                DailyViews(
                    article_id=posts[key], day=date.fromisoformat(day), views=number
                )
            )
        db.session.commit()
    return {"ids": ids, "posts": posts, "sections": (news, school_news, research)}


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


class Tables(HTMLParser):
    """Text of every cell of every table with an id, row by row."""

    def __init__(self, html):
        super().__init__()
        self.tables, self.current, self.row, self.cell = {}, None, None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self.current = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self.current is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None
        elif tag == "tr" and self.row is not None:
            self.current.append(self.row)
            self.row = None
        elif tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


# Expected figures for March 2026 (see the school fixture).
DEPARTMENTS = [
    ["教务处", "2", "22"],
    ["德育处", "1", "23"],
    ["总务处", "0", "0"],
    ["未分配部门", "1", "7"],
]
AUTHORS = [
    ["Author 老师", "教务处", "2", "22"],
    ["Editor 老师", "德育处", "1", "23"],
    ["无账号（导入或演示文章）", "", "1", "3"],
    ["Admin 老师", "", "0", "4"],
]
# A channel's row includes its sections: 新闻中心 holds 校园动态.
SECTIONS = [
    ["新闻中心", "2", "36"],
    ["新闻中心 › 校园动态", "2", "36"],
    ["教学科研", "2", "16"],
]
TOP = [
    ("德育讲座", "Editor 老师", "校园动态", "2026-03-15", 21),
    ("春季开学典礼", "Author 老师", "校园动态", "2026-03-01", 15),
    ('=HYPERLINK("http://x")教研', "Author 老师", "教学科研", "2026-03-10", 7),
    ("寒假通知", "Admin 老师", "教学科研", "2026-02-28", 4),
    ("导入的文章", "教务处", "教学科研", "2026-03-05", 3),
    ("删除的", "Editor 老师", "教学科研", "2026-03-04", 2),
]
DAILY = {
    "2026-03-01": 14,
    "2026-03-02": 5,
    "2026-03-04": 2,
    "2026-03-05": 3,
    "2026-03-10": 7,
    "2026-03-15": 20,
    "2026-03-31": 1,
}


def march_daily():
    return [
        (f"2026-03-{day:02d}", DAILY.get(f"2026-03-{day:02d}", 0))
        for day in range(1, 32)
    ]


def test_the_page_shows_every_figure_of_the_period(app, school, editor_client):
    response = editor_client.get("/admin/stats", query_string=MARCH)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tables = Tables(html).tables
    total = ["合计", "4", "52"]
    assert tables["departments"][1:] == [*DEPARTMENTS, total]
    assert tables["authors"][1:] == [*AUTHORS, ["合计", "", "4", "52"]]
    assert tables["sections"][1:] == [*SECTIONS, total]
    top = [row for row in tables["posts"][1:]]
    assert [row[1].removesuffix(" 回收站中") for row in top] == [t[0] for t in TOP]
    assert [int(row[5]) for row in top] == [t[4] for t in TOP]
    assert [row[4] for row in top] == [t[3] for t in TOP]
    assert "回收站中" in top[5][1]
    assert '<dd id="total-posts">4</dd>' in html
    assert '<dd id="total-views">52</dd>' in html
    assert "2026-03-01 至 2026-03-31" in html
    # The chart's table equivalent holds every day of the period.
    daily = [row for row in tables.get("site-daily-table", [])[1:]]
    assert [(row[0], int(row[1])) for row in daily] == march_daily()
    assert "31 天，共 52 次浏览" in html
    assert "最多的一天是 2026-03-15：20 次" in html


def test_the_workbook_holds_the_same_tables(app, school, editor_client):
    response = editor_client.get("/admin/stats.xlsx", query_string=MARCH)
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "stats-20260301-20260331.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["部门", "作者", "栏目", "阅读排行", "每日浏览"]

    def rows(name):
        sheet = book[name]
        assert sheet["A1"].value == "SchoolNews 发稿统计：2026-03-01 至 2026-03-31"
        return [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]

    def numbers(table):
        return [[int(v) if v.isdigit() else v for v in row] for row in table]

    assert rows("部门") == [
        ["部门", "发布文章", "浏览量"],
        *numbers(DEPARTMENTS),
        ["合计", 4, 52],
    ]
    assert rows("作者") == [
        ["作者", "部门", "发布文章", "浏览量"],
        *numbers(AUTHORS),
        ["合计", "", 4, 52],
    ]
    assert rows("栏目") == [
        ["栏目", "发布文章", "浏览量"],
        *numbers(SECTIONS),
        ["合计", 4, 52],
    ]
    assert rows("阅读排行") == [
        ["排名", "标题", "作者", "栏目", "发布日期", "浏览量"],
        *[[rank, *post] for rank, post in enumerate(TOP, start=1)],
    ]
    assert rows("每日浏览") == [["日期", "浏览量"], *[list(d) for d in march_daily()]]
    # A title that looks like a formula stays text: Excel never runs it.
    cell = book["阅读排行"]["B6"]
    assert cell.value == '=HYPERLINK("http://x")教研' and cell.data_type == "s"


def test_a_channels_row_includes_its_sections(app, school, editor_client, make_article):
    news, campus, _research = school["sections"]
    own = make_article(
        title="频道自己的文章", section_id=news, published_at=datetime(2026, 3, 8, 2)
    )
    with app.app_context():
        db.session.add(DailyViews(article_id=own, day=date(2026, 3, 8), views=9))
        db.session.commit()
    expected = [
        ["新闻中心", "3", "45"],
        ["新闻中心 › 校园动态", "2", "36"],
        ["教学科研", "2", "16"],
        ["合计", "5", "61"],
    ]
    html = editor_client.get("/admin/stats", query_string=MARCH).get_data(as_text=True)
    assert Tables(html).tables["sections"][1:] == expected
    # The page says so next to the table.
    assert 'aria-describedby="sections-note"' in html
    assert 'id="sections-note"' in html
    response = editor_client.get(
        "/admin/stats.csv", query_string={"table": "sections", **MARCH}
    )
    assert read_csv(response)[1:] == expected
    response = editor_client.get("/admin/stats.xlsx", query_string=MARCH)
    sheet = openpyxl.load_workbook(io.BytesIO(response.data))["栏目"]
    assert sheet["A2"].value  # the note under the title
    rows = [list(row) for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert rows == [[name, int(p), int(v)] for name, p, v in expected]


def read_csv(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with it
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    "table, header, expected",
    [
        (
            "departments",
            ["部门", "发布文章", "浏览量"],
            [*DEPARTMENTS, ["合计", "4", "52"]],
        ),
        (
            "authors",
            ["作者", "部门", "发布文章", "浏览量"],
            [*AUTHORS, ["合计", "", "4", "52"]],
        ),
        ("sections", ["栏目", "发布文章", "浏览量"], [*SECTIONS, ["合计", "4", "52"]]),
        (
            "daily",
            ["日期", "浏览量"],
            [[day, str(views)] for day, views in march_daily()],
        ),
    ],
)
def test_each_table_downloads_as_csv(
    app, school, editor_client, table, header, expected
):
    response = editor_client.get(
        "/admin/stats.csv", query_string={"table": table, **MARCH}
    )
    assert (
        f"stats-{table}-20260301-20260331.csv"
        in response.headers["Content-Disposition"]
    )
    assert read_csv(response) == [header, *expected]


def test_csv_cells_that_look_like_formulas_are_neutralised(app, school, editor_client):
    with app.app_context():
        editor = db.session.get(User, school["ids"]["editor"])
        editor.display_name = "@SUM(1+1)"
        db.session.commit()
    response = editor_client.get(
        "/admin/stats.csv", query_string={"table": "posts", **MARCH}
    )
    rows = read_csv(response)
    assert rows[0] == ["排名", "标题", "作者", "栏目", "发布日期", "浏览量"]
    assert rows[1] == ["1", "德育讲座", "'@SUM(1+1)", "校园动态", "2026-03-15", "21"]
    assert rows[3][1] == '\'=HYPERLINK("http://x")教研'
    assert all(
        not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row
    )


@pytest.mark.parametrize(
    "query, message",
    [
        ({"from": "2026-13-01", "to": "2026-12-31"}, "不是日期"),
        ({"from": "2026/03/01", "to": "2026-03-31"}, "不是日期"),
        ({"from": "", "to": "2026-03-31"}, "请填写开始日期"),
        ({"from": "2026-03-01"}, "请填写结束日期"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "结束日期早于开始日期"),
        ({"from": "2026-01-01", "to": "2100-01-01"}, "2100"),
        ({"from": "1999-12-31", "to": "2000-01-05"}, "2000 年"),
        ({"from": "2099-01-01", "to": "2099-01-02"}, "尚无数据"),
        ({"period": "decade"}, "请选择"),
        ({"from": "9" * 40, "to": "2026-03-01"}, "不是日期"),
    ],
)
def test_invalid_periods_get_a_friendly_400(app, editor_client, query, message):
    for url in ("/admin/stats", "/admin/stats.xlsx"):
        response = editor_client.get(url, query_string=query)
        assert response.status_code == 400, url
        assert message in response.get_data(as_text=True), url
    response = editor_client.get(
        "/admin/stats.csv", query_string={"table": "authors", **query}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


# --- Long periods: by month, and by year past five years ----------------------

# Every view of the school fixture, and the years fixture's before it.
ALL_VIEWS = 202 + 4 + 5 + 6 + 2


@pytest.fixture
def years(app, school):
    """The school's views, plus some on 2022-01-15 and 2024-02-29 and around
    the start of July 2021."""
    with app.app_context():
        old = school["posts"]["old"]
        for day, number in (
            ("2021-06-30", 4),
            ("2021-07-01", 5),
            ("2022-01-15", 6),
            ("2024-02-29", 2),
        ):
            db.session.add(
                DailyViews(article_id=old, day=date.fromisoformat(day), views=number)
            )
        db.session.commit()
    return school


def column_sum(rows):
    return sum(int(row[-1]) for row in rows)


def test_a_five_year_period_is_shown_by_month(app, years, editor_client):
    five_years = {"from": "2022-01-01", "to": "2026-12-31"}
    response = editor_client.get("/admin/stats", query_string=five_years)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tables = Tables(html).tables
    months = tables["site-daily-table"][1:]
    assert len(months) == 60
    assert months[0] == ["2022-01", "6"]
    assert months[-1] == ["2026-12", "0"]
    by_month = dict(map(tuple, months))
    assert by_month["2024-02"] == "2"
    assert (by_month["2026-02"], by_month["2026-03"], by_month["2026-04"]) == (
        "50",
        "52",
        "100",
    )
    # Six posts published in the five years; every view from 2022 on.
    views = 202 + 6 + 2
    assert column_sum(months) == views
    assert f'<dd id="total-views">{views}</dd>' in html
    assert '<dd id="total-posts">6</dd>' in html
    for table in ("departments", "authors", "sections"):
        assert tables[table][-1][-2:] == ["6", str(views)], table
    assert column_sum(tables["departments"][1:-1]) == views
    # The exports hold the same months.
    csv_rows = read_csv(
        editor_client.get(
            "/admin/stats.csv", query_string={"table": "daily", **five_years}
        )
    )
    assert csv_rows[1:] == months
    response = editor_client.get("/admin/stats.xlsx", query_string=five_years)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[-1]
    rows = [list(row) for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert rows == [[month, int(number)] for month, number in months]
    assert book["部门"]["C8"].value == views  # the total row


def test_a_period_past_five_years_is_shown_by_year(app, years, editor_client):
    period = {"from": "2021-07-01", "to": "2026-12-31"}
    html = editor_client.get("/admin/stats", query_string=period).get_data(as_text=True)
    rows = Tables(html).tables["site-daily-table"][1:]
    # 2021 holds only the period's days: 1 July, not 30 June.
    assert rows == [
        ["2021", "5"],
        ["2022", "6"],
        ["2023", "0"],
        ["2024", "2"],
        ["2025", "0"],
        ["2026", "202"],
    ]
    assert f'<dd id="total-views">{ALL_VIEWS - 4}</dd>' in html
    whole = {"from": "2000-01-01", "to": "2099-12-31"}
    csv_rows = read_csv(
        editor_client.get("/admin/stats.csv", query_string={"table": "daily", **whole})
    )
    assert len(csv_rows) == 1 + 100
    assert column_sum(csv_rows[1:]) == ALL_VIEWS
    departments = read_csv(
        editor_client.get(
            "/admin/stats.csv", query_string={"table": "departments", **whole}
        )
    )
    assert departments[-1][-1] == str(ALL_VIEWS)


@pytest.mark.parametrize(
    "start, end, unit",
    [
        ("2025-01-01", "2026-01-01", "day"),  # 366 days
        ("2025-01-01", "2026-01-02", "month"),
        ("2021-01-01", "2026-01-04", "month"),  # 5 × 366 days
        ("2021-01-01", "2026-01-05", "year"),
    ],
)
def test_the_unit_follows_the_length_of_the_period(start, end, unit):
    period = periods.Period(date.fromisoformat(start), date.fromisoformat(end))
    assert period.unit == unit
    assert period.buckets[0] == period.start
    assert all(period.bucket(day) == day for day in period.buckets)


def test_a_posts_chart_covers_any_period_by_month_or_year(app, years, editor_client):
    url = f"/editor/articles/{years['posts']['old']}/stats"
    response = editor_client.get(
        url, query_string={"from": "2021-07-01", "to": "2026-12-31"}
    )
    assert response.status_code == 200
    rows = Tables(response.get_data(as_text=True)).tables["post-daily-table"][1:]
    assert [row[0] for row in rows] == ["2021", "2022", "2023", "2024", "2025", "2026"]
    assert rows[:5] == [
        ["2021", "5"],
        ["2022", "6"],
        ["2023", "0"],
        ["2024", "2"],
        ["2025", "0"],
    ]
    html = editor_client.get(
        url, query_string={"from": "2022-01-01", "to": "2026-12-31"}
    ).get_data(as_text=True)
    months = Tables(html).tables["post-daily-table"][1:]
    assert len(months) == 60
    assert months[0] == ["2022-01", "6"] and dict(map(tuple, months))["2024-02"] == "2"
    assert "每月浏览量" in html


def test_an_old_posts_chart_runs_from_its_publication_by_month(
    app, make_article, editor_client
):
    published = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3 * 365)
    article_id = make_article(published_at=published)
    local = published.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    with app.app_context():
        db.session.add(DailyViews(article_id=article_id, day=local, views=7))
        db.session.commit()
    html = editor_client.get(f"/editor/articles/{article_id}/stats").get_data(
        as_text=True
    )
    months = Tables(html).tables["post-daily-table"][1:]
    assert 36 <= len(months) <= 38  # publication month to this month
    assert months[0] == [local.strftime("%Y-%m"), "7"]


def test_an_unknown_csv_table_is_a_friendly_400(editor_client):
    response = editor_client.get(
        "/admin/stats.csv", query_string={"table": "passwords", **MARCH}
    )
    assert response.status_code == 400
    assert "请选择提供的表格" in response.get_data(as_text=True)


def test_the_page_keeps_the_typed_dates_after_an_error(editor_client):
    response = editor_client.get(
        "/admin/stats", query_string={"from": "2026-03-31", "to": "2026-03-01"}
    )
    html = response.get_data(as_text=True)
    assert 'value="2026-03-31"' in html and 'value="2026-03-01"' in html
    assert 'aria-invalid="true"' in html and 'role="alert"' in html


@pytest.mark.parametrize(
    "today, kind, start, end",
    [
        ("2026-03-18", "month", "2026-03-01", "2026-03-18"),
        ("2026-03-18", "last_month", "2026-02-01", "2026-02-28"),
        ("2026-01-05", "last_month", "2025-12-01", "2025-12-31"),
        ("2026-03-18", "year", "2026-01-01", "2026-03-18"),
        # 学期: autumn 1 Sep – 31 Jan, spring 1 Feb – 31 Aug.
        ("2026-03-18", "term", "2026-02-01", "2026-03-18"),
        ("2026-08-20", "term", "2026-02-01", "2026-08-20"),
        ("2026-09-01", "term", "2026-09-01", "2026-09-01"),
        ("2027-01-31", "term", "2026-09-01", "2027-01-31"),
        ("2027-02-01", "term", "2027-02-01", "2027-02-01"),
    ],
)
def test_named_periods(today, kind, start, end):
    period = periods.named_period(kind, date.fromisoformat(today))
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


def test_named_period_links_show_their_figures(app, school, editor_client, monkeypatch):
    monkeypatch.setattr(periods, "today", lambda: date(2026, 4, 10))
    html = editor_client.get("/admin/stats?period=last_month").get_data(as_text=True)
    assert Tables(html).tables["departments"][-1] == ["合计", "4", "52"]
    assert 'href="?period=last_month" aria-current="page"' in html
    html = editor_client.get("/admin/stats?period=month").get_data(as_text=True)
    # April: e2 published, e1's 100 views on 1 April.
    assert Tables(html).tables["departments"][-1] == ["合计", "1", "100"]


def test_the_page_runs_a_fixed_number_of_statements(
    app, school, editor_client, make_article
):
    editor_client.get("/admin/stats", query_string=MARCH)
    with count_statements() as before:
        editor_client.get("/admin/stats", query_string=MARCH)
    for n in range(30):
        make_article(
            title=f"更多{n}",
            section_id=school["sections"][2],
            published_at=datetime(2026, 3, 20),
        )
    # New posts move the cache version: site data is loaded again once.
    editor_client.get("/admin/stats", query_string=MARCH)
    with count_statements() as after:
        editor_client.get("/admin/stats", query_string=MARCH)
    # 10: the cache version, the user, this device's session, the settings
    # (once per version) and the page's six queries.
    assert len(after) == len(before) == 10, after


# --- Counting through the reader's path ---------------------------------------


def reader(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = BROWSER_UA
    return client


def days_of(app, article_id):
    with app.app_context():
        rows = db.session.execute(
            sa.select(DailyViews.day, DailyViews.views)
            .where(DailyViews.article_id == article_id)
            .order_by(DailyViews.day)
        )
        return [(day.isoformat(), views) for day, views in rows]


def test_real_views_land_on_the_sites_local_day(app, make_article, editor_client):
    article_id = make_article(created_by_id=user_id(app, "author"), views=7)
    with_cookie = reader(app)
    with_cookie.get("/")  # has its reader cookie: the counting UPDATE path
    # Two new browsers without cookies, on other addresses: the cookieless path.
    for n, client in enumerate((with_cookie, reader(app), reader(app))):
        response = client.get(
            f"/articles/{article_id}", environ_base={"REMOTE_ADDR": f"10.0.2.{n}"}
        )
        assert response.status_code == 200
    with_cookie.get(f"/articles/{article_id}")  # a repeat: not counted
    reader(app).head(f"/articles/{article_id}")  # HEAD: not counted
    bot = app.test_client()
    bot.get(f"/articles/{article_id}", headers={"User-Agent": "Googlebot/2.1"})
    today = viewcount.local_day(ZoneInfo("Asia/Shanghai"))
    assert days_of(app, article_id) == [(today, 3)]
    with app.app_context():
        assert db.session.get(Article, article_id).views == 10
    # And the page's "this month" shows them.
    html = editor_client.get("/admin/stats?period=month").get_data(as_text=True)
    tables = Tables(html).tables
    assert ["Author 老师", "", "1", "3"] in tables["authors"]
    assert [today, "3"] in tables["site-daily-table"]


@pytest.mark.parametrize(
    "utc, day",
    [
        (datetime(2026, 3, 31, 15, 59, tzinfo=UTC), "2026-03-31"),
        (datetime(2026, 3, 31, 16, 0, tzinfo=UTC), "2026-04-01"),  # Beijing midnight
    ],
)
def test_a_day_is_the_schools_local_date(utc, day):
    assert viewcount.local_day(ZoneInfo("Asia/Shanghai"), utc) == day


def test_counting_does_not_move_the_cache_version(app, make_article):
    article_id = make_article()
    reader(app).get(f"/articles/{article_id}")
    with app.app_context():
        before = db.session.scalar(sa.select(CacheState.version))
    for n in range(3):
        reader(app).get(
            f"/articles/{article_id}", environ_base={"REMOTE_ADDR": f"10.0.3.{n}"}
        )
    with app.app_context():
        assert db.session.scalar(sa.select(CacheState.version)) == before
    assert days_of(app, article_id)[0][1] == 4


def test_concurrent_readers_give_exact_daily_totals(app, make_article):
    article_id = make_article(views=5)
    count = 30
    clients = [reader(app) for _ in range(count)]
    for client in clients[: count // 2]:
        client.get("/")  # half with cookies, half new browsers
    barrier = threading.Barrier(count)
    errors = []

    def view(index):
        try:
            barrier.wait()
            response = clients[index].get(
                f"/articles/{article_id}",
                environ_base={"REMOTE_ADDR": f"10.0.1.{index}"},
            )
            assert response.status_code == 200
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(views for _day, views in days_of(app, article_id)) == count
    with app.app_context():
        assert db.session.get(Article, article_id).views == 5 + count


# --- Who may see what ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/stats",
        "/admin/stats.xlsx?from=2026-03-01&to=2026-03-31",
        "/admin/stats.csv?table=authors&from=2026-03-01&to=2026-03-31",
    ],
)
def test_only_editors_and_admins_see_the_site_statistics(app, url):
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login")
    assert _login(app.test_client(), "author").get(url).status_code == 403
    assert _login(app.test_client(), "editor").get(url).status_code == 200
    assert _login(app.test_client(), "admin").get(url).status_code == 200


def test_an_author_sees_the_daily_views_of_their_own_posts_only(
    app, school, author_client
):
    own, other = school["posts"]["a1"], school["posts"]["e1"]
    response = author_client.get(f"/editor/articles/{own}/stats", query_string=MARCH)
    assert response.status_code == 200
    tables = Tables(response.get_data(as_text=True)).tables
    assert tables["post-daily-table"][1:3] == [
        ["2026-03-01", "10"],
        ["2026-03-02", "5"],
    ]
    assert sum(int(v) for _d, v in tables["post-daily-table"][1:]) == 15
    html = response.get_data(as_text=True)
    assert "31 天，共 15 次浏览" in html
    assert "/admin/stats" not in html.split("</nav>", 1)[1]  # no link to the site's
    assert author_client.get(f"/editor/articles/{other}/stats").status_code == 403
    bad = author_client.get(
        f"/editor/articles/{own}/stats", query_string={"from": "x", "to": "y"}
    )
    assert bad.status_code == 400 and "不是日期" in bad.get_data(as_text=True)


def test_a_posts_chart_starts_at_its_publication_by_default(
    app, make_article, author_client
):
    published = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3)
    article_id = make_article(
        created_by_id=user_id(app, "author"), published_at=published
    )
    reader(app).get(f"/articles/{article_id}")
    html = author_client.get(f"/editor/articles/{article_id}/stats").get_data(
        as_text=True
    )
    rows = Tables(html).tables["post-daily-table"][1:]
    assert len(rows) in (3, 4, 5)  # publication day (local) to today
    assert rows[-1] == [viewcount.local_day(ZoneInfo("Asia/Shanghai")), "1"]


def test_the_edit_page_links_to_the_posts_daily_views(app, school, author_client):
    post = school["posts"]["a1"]
    html = author_client.get(f"/editor/articles/{post}/edit").get_data(as_text=True)
    assert f'href="/editor/articles/{post}/stats"' in html


def test_an_authors_dashboard_shows_their_own_figures(
    app, school, author_client, monkeypatch
):
    monkeypatch.setattr(periods, "today", lambda: date(2026, 3, 20))
    html = author_client.get("/editor/").get_data(as_text=True)
    assert '<dd id="my-posts">2</dd>' in html  # a1 and a2; the draft does not count
    assert '<dd id="my-views">22</dd>' in html  # 15 + 7 in March
    top = html[html.index("本月阅读最多") :]
    assert top.index("春季开学典礼") < top.index("HYPERLINK")
    assert "15 次浏览" in top and "德育讲座" not in top  # someone else's
    assert "全站发稿统计" not in html


def test_an_editors_dashboard_links_to_the_site_statistics(editor_client):
    html = editor_client.get("/editor/").get_data(as_text=True)
    assert 'href="/admin/stats"' in html and "我本月的文章" in html


# --- The chart ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "peak, top", [(0, 1), (1, 1), (3, 5), (7, 10), (14, 20), (20, 20), (119, 200)]
)
def test_the_axis_ends_at_a_round_number(peak, top):
    assert charts.nice_ceiling(peak) == top


def test_bars_are_as_tall_as_their_share_of_the_axis():
    daily = [(date(2026, 3, day), views) for day, views in [(1, 10), (2, 0), (3, 20)]]
    chart = charts.daily_chart(daily)
    assert chart.top == 20 and chart.total == 30
    assert [bar.height for bar in chart.bars] == [150.0, 0.0, 300.0]
    assert chart.peak == (date(2026, 3, 3), 20)
    assert [day for day, _left in chart.labels] == [d for d, _v in daily]


def test_trashed_posts_are_listed_but_not_linked(app, school, editor_client):
    html = editor_client.get("/admin/stats", query_string=MARCH).get_data(as_text=True)
    trashed = school["posts"]["trash"]
    assert "删除的" in html
    assert f"/editor/articles/{trashed}/stats" not in html
    assert f"/editor/articles/{school['posts']['e1']}/stats" in html
