"""The review ledger (审核台账): the admins' page and workbook, built from events
made through the real review flow, at known times."""

import io
from datetime import datetime

import openpyxl
import pytest
import sqlalchemy as sa

from models import Department, ReviewEvent, db
from review import chain, ledger
from tests import test_review as review_flow
from tests.conftest import form_data, get_article, shown_version

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

# The review tests' school (教务处 and its head, 宣传办, 校领导; three levels).
school = review_flow.school
approve, as_user = review_flow.approve, review_flow.as_user
make_user, write_post = review_flow.make_user, review_flow.write_post

OCTOBER = {"month": "2026-10"}
ID_NUMBER = "11010519491231002X"


class Clock:
    """chain.utcnow at set times: the ledger's times are the test's to choose."""

    def __init__(self, monkeypatch):
        self.now = datetime(2026, 9, 1)
        monkeypatch.setattr(chain, "utcnow", lambda: self.now)

    def at(self, text):
        self.now = datetime.fromisoformat(text)


@pytest.fixture
def month_of_reviews(app, client, school, monkeypatch):
    """Four posts around the September/October boundary (times in UTC):

    A (教务处): submitted 09-30 15:00 (Beijing 23:00, September), passed level 1
      at 09-30 17:00 (Beijing 10-01 01:00, October), returned at level 2,
      resubmitted with an ID number, passed all three levels, confirmed.
    B (教务处): submitted and passed level 1; waits for level 2.
    C (no department): published past the chain by the editor; its title
      looks like a formula.
    D (德育处, no head): returned at level 1 by the admin.
    """
    clock = Clock(monkeypatch)
    section = school["section"]
    with app.app_context():
        db.session.add(Department(name="德育处"))
        db.session.commit()
    make_user(app, "moral", department="德育处")

    clock.at("2026-09-30 15:00")
    as_user(client, "teacher")
    a = write_post(client, section, title="运动会通知")
    clock.at("2026-09-30 17:00")
    as_user(client, "head")
    assert approve(client, a).status_code == 302
    clock.at("2026-10-02 02:00")
    as_user(client, "office")
    client.post(
        f"/editor/review/{a}/return",
        data={"reason": "日期写错了", "version": shown_version(client.application, a)},
    )
    clock.at("2026-10-03 01:00")
    as_user(client, "teacher")
    response = client.post(
        f"/editor/articles/{a}/edit",
        data=form_data(
            section,
            action="submit",
            title="运动会通知",
            version=str(get_article(app, a).version),
            body_html=f"<p>报名学生身份证号 {ID_NUMBER}</p>",
        ),
    )
    assert response.status_code == 302
    clock.at("2026-10-03 02:00")
    as_user(client, "head")
    approve(client, a, note="可以")
    clock.at("2026-10-04 03:00")
    as_user(client, "office")
    approve(client, a)
    clock.at("2026-10-05 04:00")
    as_user(client, "leader")
    response = approve(
        client, a, compliance_confirm="1", compliance_reason="已获家长同意"
    )
    assert response.status_code == 302
    assert get_article(app, a).is_public

    clock.at("2026-10-10 01:00")
    as_user(client, "teacher")
    b = write_post(client, section, title="家长会安排")
    clock.at("2026-10-10 02:00")
    as_user(client, "head")
    approve(client, b)

    clock.at("2026-10-20 06:00")
    as_user(client, "editor")
    response = client.post(
        "/editor/articles/new",
        data=form_data(
            section, action="publish", title="=1+1 停课", bypass_reason="停课紧急通知"
        ),
    )
    assert response.status_code == 302
    c = int(response.headers["Location"].split("/")[-2])

    clock.at("2026-10-21 08:00")
    as_user(client, "moral")
    d = write_post(client, section, title="德育简报")
    clock.at("2026-10-21 09:00")
    as_user(client, "admin")
    client.post(
        f"/editor/review/{d}/return",
        data={
            "reason": "照片缺少说明",
            "version": shown_version(client.application, d),
        },
    )
    client.post("/logout")
    return {"a": a, "b": b, "c": c, "d": d}


def events_on_page(html):
    return html.count('<tr class="a-ledger-')


# --- the page ---------------------------------------------------------------


def test_a_month_of_events_with_the_summary(client, month_of_reviews):
    as_user(client, "admin")
    response = client.get("/admin/review-ledger", query_string=OCTOBER)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # A's September submission (23:00 in Beijing) is not October's; its level-1
    # approval at 17:00 UTC on 30 September (01:00 on 1 October) is.
    assert events_on_page(html) == 12
    assert "12 条记录，涉及 4 篇文章。" in html
    totals = {
        "submit": 3,
        "approve": 5,
        "return": 2,
        "bypass": 1,
        "confirm": 1,
    }
    for decision, number in totals.items():
        assert f'<dd id="total-{decision}">{number}</dd>' in html
    assert "2026-10-01 01:00" in html and "2026-09-30 23:00" not in html
    assert "日期写错了" in html and "照片缺少说明" in html and "停课紧急通知" in html
    a = month_of_reviews["a"]
    assert f'href="/editor/review/{a}"' in html
    # Level names and decisions in Chinese; the short version hash.
    assert "初审" in html and "复审" in html and "终审" in html
    assert "退回" in html and "通过" in html
    with client.application.app_context():
        first = db.session.scalar(
            sa.select(ReviewEvent.version_hash).where(ReviewEvent.article_id == a)
        )
    # The short version, the whole hash on hover.
    assert f'<code title="{first}">{first[:8]}</code>' in html


def test_september_holds_only_the_event_before_midnight_in_beijing(
    client, month_of_reviews
):
    as_user(client, "admin")
    html = client.get("/admin/review-ledger?month=2026-09").get_data(as_text=True)
    assert events_on_page(html) == 1
    assert "2026-09-30 23:00" in html and "运动会通知" in html
    assert '<dd id="total-submit">1</dd>' in html


def test_the_default_month_is_this_month_in_beijing(app, client, school):
    # Made with the real clock: whatever the date, it is this month's.
    as_user(client, "teacher")
    write_post(client, school["section"], title="本月的稿件")
    as_user(client, "admin")
    html = client.get("/admin/review-ledger").get_data(as_text=True)
    assert events_on_page(html) == 1 and "本月的稿件" in html
    with app.test_request_context():
        month = ledger.this_month().strftime("%Y-%m")
    assert f'value="{month}"' in html


def test_the_forms_empty_fields_mean_no_filter(client, month_of_reviews):
    as_user(client, "admin")
    html = client.get(
        "/admin/review-ledger?month=2026-10&department=&article="
    ).get_data(as_text=True)
    assert events_on_page(html) == 12


def test_filters_by_department_and_post(app, client, month_of_reviews):
    as_user(client, "admin")
    html = client.get(
        "/admin/review-ledger", query_string={**OCTOBER, "department": "教务处"}
    ).get_data(as_text=True)
    assert events_on_page(html) == 9  # A's 7 and B's 2
    assert "德育简报" not in html and "停课" not in html
    with app.app_context():
        moral = db.session.scalar(
            sa.select(Department.id).where(Department.name == "德育处")
        )
    html = client.get(
        "/admin/review-ledger", query_string={**OCTOBER, "department": str(moral)}
    ).get_data(as_text=True)
    assert events_on_page(html) == 2 and "德育简报" in html
    assert "<option selected>德育处</option>" in html

    a = month_of_reviews["a"]
    # A post without a month: its whole history, September included.
    html = client.get(f"/admin/review-ledger?article={a}").get_data(as_text=True)
    assert events_on_page(html) == 8 and "2026-09-30 23:00" in html
    html = client.get(f"/admin/review-ledger?article={a}&month=2026-09").get_data(
        as_text=True
    )
    assert events_on_page(html) == 1


def test_the_ledger_pages_keep_the_filters(client, month_of_reviews, monkeypatch):
    monkeypatch.setattr(ledger, "PER_PAGE", 5)
    as_user(client, "admin")
    html = client.get("/admin/review-ledger", query_string=OCTOBER).get_data(
        as_text=True
    )
    assert events_on_page(html) == 5
    assert 'href="/admin/review-ledger?page=2&amp;month=2026-10"' in html
    html = client.get("/admin/review-ledger?month=2026-10&page=3").get_data(
        as_text=True
    )
    assert events_on_page(html) == 2 and "照片缺少说明" in html
    assert client.get("/admin/review-ledger?page=x").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2026-13", "«2026-13» 不是月份"),
        ("month=Oct", "«Oct» 不是月份"),
        ("month=1999-12", "请选择 2000 年以后的月份"),
        ("month=2999-01", "这个月还没有开始"),
        ("department=不存在", "没有名为«不存在»的部门"),
        ("department=99999", "没有名为«99999»的部门"),
        ("article=abc", "«abc» 不是文章编号"),
        ("article=0", "«0» 不是文章编号"),
        ("article=99999999999999999999999", "不是文章编号"),
        ("article=424242", "审核台账中没有第 424242 号文章的记录"),
    ],
)
def test_bad_input_is_a_friendly_400(client, school, query, message):
    as_user(client, "admin")
    for url in ("/admin/review-ledger", "/admin/review-ledger.xlsx"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query)
        assert message in response.get_data(as_text=True), (url, query)
    # The page keeps the input in its form.
    html = client.get(f"/admin/review-ledger?{query}").get_data(as_text=True)
    assert 'role="alert"' in html and 'aria-invalid="true"' in html


# --- the workbook -------------------------------------------------------------


def open_workbook(client, query):
    response = client.get("/admin/review-ledger.xlsx", query_string=query)
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "private, no-store"
    return response, openpyxl.load_workbook(io.BytesIO(response.data))


def sheet_rows(sheet):
    """{header: value} per data row (row 3 has the headers)."""
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    headers = rows[0]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:]]


def test_the_workbook_has_a_row_per_post_with_every_level(client, month_of_reviews):
    as_user(client, "admin")
    response, book = open_workbook(client, OCTOBER)
    assert "review-ledger-202610.xlsx" in response.headers["Content-Disposition"]
    assert book.sheetnames == ["文章", "记录"]
    posts = book["文章"]
    assert posts["A1"].value == "SchoolNews 审核台账：2026-10"
    rows = sheet_rows(posts)
    ids = month_of_reviews
    assert [row["文章编号"] for row in rows] == [ids["a"], ids["b"], ids["c"], ids["d"]]
    a, b, c, d = rows

    # A: October's cycle begins at the resubmission; every level in it.
    assert (a["标题"], a["部门"], a["作者"]) == ("运动会通知", "教务处", "teacher老师")
    assert (a["提交时间"], a["本期提交次数"]) == ("2026-10-03 09:00", 1)
    assert (
        a["初审：审核人"],
        a["初审：时间"],
        a["初审：结果"],
        a["初审：理由或备注"],
    ) == (
        "head老师",
        "2026-10-03 10:00",
        "通过",
        "可以",
    )
    assert (a["复审：审核人"], a["复审：时间"], a["复审：结果"]) == (
        "office老师",
        "2026-10-04 11:00",
        "通过",
    )
    assert (a["终审：审核人"], a["终审：时间"], a["终审：结果"]) == (
        "leader老师",
        "2026-10-05 12:00",
        "通过",
    )
    assert a["确认发布个人信息"].startswith("leader老师 2026-10-05 12:00: ")
    assert "已获家长同意" in a["确认发布个人信息"]
    assert a["未经审核直接发布：操作人"] is None
    assert a["结果"] == "已发布"

    # B waits for level 2.
    assert b["初审：审核人"] == "head老师" and b["复审：审核人"] is None
    assert b["结果"] == "待审核（复审）"

    # C: published past the chain; a formula-looking title stays text.
    assert (c["未经审核直接发布：操作人"], c["未经审核直接发布：时间"]) == (
        "Editor 老师",
        "2026-10-20 14:00",
    )
    assert c["未经审核直接发布：理由"] == "停课紧急通知"
    assert c["部门"] is None and c["提交时间"] is None
    assert c["结果"] == "已发布"
    cell = posts.cell(row=6, column=2)
    assert cell.value == "=1+1 停课" and cell.data_type == "s"

    # D: returned at level 1 by the admin, with the reason.
    assert (d["部门"], d["初审：审核人"], d["初审：结果"], d["初审：理由或备注"]) == (
        "德育处",
        "Admin 老师",
        "退回",
        "照片缺少说明",
    )
    assert d["结果"] == "已退回"

    # The second sheet: every event as recorded, in order.
    events = sheet_rows(book["记录"])
    assert len(events) == 12
    assert [e["审核结果"] for e in events[:2]] == ["通过", "退回"]
    assert (events[0]["时间"], events[0]["审核级别"]) == ("2026-10-01 01:00", "初审")
    assert events[1]["理由或备注"] == "日期写错了"
    assert all(len(e["版本哈希"]) == 64 for e in events)

    # The post's row names its latest event's version in short; that event's
    # whole hash is on the second sheet.
    assert len(a["版本"]) == 8
    assert [e["版本哈希"] for e in events if e["文章编号"] == ids["a"]][-1].startswith(
        a["版本"]
    )


def test_the_workbook_columns_fit_names_and_wrap_long_reasons(client, month_of_reviews):
    as_user(client, "admin")
    _response, book = open_workbook(client, OCTOBER)

    def widths(sheet):
        headers = next(sheet.iter_rows(min_row=3, max_row=3))
        return {
            cell.value: sheet.column_dimensions[cell.column_letter].width
            for cell in headers
        }

    posts, events = widths(book["文章"]), widths(book["记录"])
    # "teacher老师" and "Editor 老师" are 13 and 11 wide, a Chinese character
    # counting two: names stay on one line.
    for column in ("作者", "初审：审核人", "复审：审核人", "未经审核直接发布：操作人"):
        assert posts[column] >= 13, column
    assert events["审核人"] >= 13 and events["作者"] >= 13
    assert posts["初审：时间"] >= len("2026-10-03 10:00")
    assert 8 <= posts["版本"] < 16
    # The whole hash fits on one line; long reasons wrap instead of
    # stretching the sheet.
    assert events["版本哈希"] >= 64
    # (XlsxWriter stores a width with its cell padding: 48 is 48.71.)
    assert max(posts.values()) < 49


def test_the_workbook_of_september_and_of_a_department(client, month_of_reviews):
    as_user(client, "admin")
    _response, book = open_workbook(client, {"month": "2026-09"})
    (a,) = sheet_rows(book["文章"])
    assert (a["提交时间"], a["初审：审核人"], a["结果"]) == (
        "2026-09-30 23:00",
        None,
        "待审核（初审）",
    )
    _response, book = open_workbook(client, {**OCTOBER, "department": "德育处"})
    assert [row["标题"] for row in sheet_rows(book["文章"])] == ["德育简报"]
    # A post without a month: its whole history, both submissions counted.
    a_id = month_of_reviews["a"]
    response, book = open_workbook(client, {"article": a_id})
    assert f"review-ledger-post{a_id}.xlsx" in response.headers["Content-Disposition"]
    assert book["文章"]["A1"].value == f"SchoolNews 审核台账：第 {a_id} 号文章"
    (a,) = sheet_rows(book["文章"])
    assert (a["本期提交次数"], a["提交时间"], a["结果"]) == (
        2,
        "2026-10-03 09:00",
        "已发布",
    )
    assert len(sheet_rows(book["记录"])) == 8
    _response, book = open_workbook(client, {"month": "2026-08"})
    assert sheet_rows(book["文章"]) == [] and sheet_rows(book["记录"]) == []


# --- who may see it, and that it cannot change -------------------------------------


@pytest.mark.parametrize("role", ["author", "editor"])
def test_authors_and_editors_are_refused(client, school, role):
    as_user(client, role)
    for url in ("/admin/review-ledger", "/admin/review-ledger.xlsx?month=2026-10"):
        assert client.get(url).status_code == 403
    html = client.get("/editor/").get_data(as_text=True)
    assert "/admin/review-ledger" not in html


def test_anonymous_users_are_sent_to_log_in(client):
    for url in ("/admin/review-ledger", "/admin/review-ledger.xlsx"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_admins_reach_it_from_the_nav_and_the_review_history(client, month_of_reviews):
    as_user(client, "admin")
    html = client.get("/editor/").get_data(as_text=True)
    assert 'href="/admin/review-ledger">审核台账</a>' in html
    a = month_of_reviews["a"]
    html = client.get(f"/editor/review/{a}").get_data(as_text=True)
    assert f'href="/admin/review-ledger?article={a}"' in html
    as_user(client, "editor")
    html = client.get(f"/editor/review/{a}").get_data(as_text=True)
    assert "/admin/review-ledger" not in html


def test_the_ledger_has_no_route_that_changes_it(app, client, month_of_reviews):
    rules = [r for r in app.url_map.iter_rules() if "review-ledger" in r.rule]
    assert len(rules) == 2
    assert all(r.methods - {"HEAD", "OPTIONS"} == {"GET"} for r in rules)
    as_user(client, "admin")
    for rule in rules:
        assert client.post(rule.rule).status_code == 405
        assert client.delete(rule.rule).status_code == 405


def test_the_orm_cannot_change_an_event_either(app, month_of_reviews):
    with app.app_context():
        event = db.session.scalar(sa.select(ReviewEvent).limit(1))
        event.reason = "改过"
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.scalar(sa.select(ReviewEvent).limit(1)))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(ReviewEvent.id))) == 13
