"""发稿统计 in real Chromium: the charts at 375 and 1280 px, axe clean, and the
table equivalent a screen reader gets."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from models import Article, DailyViews, Department, Section, Status, User, db
from tests.e2e.shots import save_screenshot
from tests.e2e.test_first_run import SIZES, fits_width, problems

pytestmark = pytest.mark.e2e

# A month of a small school: three departments, their teachers' posts, and
# views rising towards a results day.
DEPARTMENTS = ["教务处", "德育处", "总务处"]
TEACHERS = [("author", "教务处"), ("editor", "德育处")]
TITLES = ["期中考试安排", "秋季运动会", "家长会通知", "安全教育周", "食堂菜单更新"]


@pytest.fixture(scope="module")
def school(live_app):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    start = today - timedelta(days=29)
    with live_app.app_context():
        departments = {}
        for position, name in enumerate(DEPARTMENTS):
            departments[name] = Department(name=name, position=position)
        db.session.add_all(departments.values())
        channel = Section(name="新闻中心", slug="news")
        db.session.add(channel)
        db.session.flush()
        campus = Section(name="校园动态", slug="campus", parent_id=channel.id)
        notices = Section(name="通知公告", slug="notices", parent_id=channel.id)
        db.session.add_all([campus, notices])
        db.session.flush()
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        for username, department in TEACHERS:
            users[username].department_id = departments[department].id
        articles = []
        for n, title in enumerate(TITLES):
            published = datetime.combine(
                start + timedelta(days=n * 5), datetime.min.time()
            )
            article = Article(
                title=title,
                body_html="<p>正文</p>",
                author_name="教务处",
                section_id=(campus, notices)[n % 2].id,
                status=Status.PUBLISHED,
                published_at=published,
                created_by_id=users[TEACHERS[n % 2][0]].id,
            )
            db.session.add(article)
            articles.append(article)
        db.session.flush()
        for offset in range(30):
            day = start + timedelta(days=offset)
            for n, article in enumerate(articles):
                if offset >= n * 5:
                    views = (offset - n * 5) * (5 - n) % 37 + 3 * (offset % 7 == 2)
                    if views:
                        db.session.add(
                            DailyViews(article_id=article.id, day=day, views=views)
                        )
                        article.views += views
        db.session.commit()
        return {
            "from": start.isoformat(),
            "to": today.isoformat(),
            "post": articles[0].id,
        }


@pytest.fixture
def sized_page(new_page, request):
    width, height = SIZES[request.param]
    # bypass_csp lets the test inject axe.
    viewport = {"width": width, "height": height}
    return new_page("editor", viewport, bypass_csp=True), request.param


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_the_statistics_page_reads_well_on_a_phone_and_a_desktop(
    school, sized_page, axe
):
    page, size = sized_page
    page.goto(f"/admin/stats?from={school['from']}&to={school['to']}")
    assert page.locator("h1").inner_text() == "发稿统计"
    chart = page.locator("#site-daily-title").locator("xpath=..")
    svg = chart.locator("svg")
    box = svg.bounding_box()
    # The chart fills the width it has and keeps a readable height.
    assert box["width"] > (240 if size == "375" else 900)
    assert box["height"] > 150
    assert svg.locator("rect").count() >= 25  # a bar for each day with views
    # The axis labels stay text-sized on a phone (HTML, not scaled SVG text).
    label_size = page.locator(".chart-x span").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert label_size >= 12
    assert fits_width(page)
    # The summary a screen reader reads, and the same figures as a table.
    assert "30 天" in chart.locator(".chart-summary").inner_text()
    page.click(".chart-data summary")
    rows = page.locator("#site-daily-table tbody tr")
    assert rows.count() == 30
    assert page.locator("#departments tbody tr").first.inner_text().startswith("教务处")
    assert problems(page, axe) == []
    page.click(".chart-data summary")  # closed again for the screenshot
    # A phone's screen shows the chart and the first table; a desktop's the top.
    if size == "375":
        page.locator(".a-totals").evaluate("e => e.scrollIntoView()")
    else:
        page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, f"stats-{size}", full_page=False)


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_a_posts_daily_chart_reads_well_too(school, sized_page, axe):
    page, size = sized_page
    page.goto(f"/editor/articles/{school['post']}/stats")
    assert "期中考试安排" in page.locator("h1").inner_text()
    assert page.locator("#post-daily-title ~ .chart-body svg rect").count() >= 20
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"post-stats-{size}")


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_a_wrong_period_is_explained_on_the_page(school, sized_page, axe):
    page, _size = sized_page
    page.goto("/admin/stats")
    page.fill("#from", "2026-03-31")
    page.fill("#to", "2026-03-01")
    page.click("button:has-text('查看此期间')")
    alert = page.locator("[role=alert]")
    assert alert.inner_text() == "结束日期早于开始日期。"
    assert page.input_value("#from") == "2026-03-31"
    assert fits_width(page)
    assert problems(page, axe) == []


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def test_dates_used_here_are_real(school):
    assert date.fromisoformat(school["from"]) < date.fromisoformat(school["to"])


@pytest.fixture
def admin_page(new_page, request):
    width, height = SIZES[request.param]
    # bypass_csp lets the test inject axe.
    viewport = {"width": width, "height": height}
    return new_page("admin", viewport, bypass_csp=True), request.param


@pytest.mark.parametrize("admin_page", SIZES, indirect=True)
def test_the_departments_page_and_the_dashboard_figures(school, admin_page, axe):
    page, size = admin_page
    page.goto("/admin/departments")
    names = page.locator(".a-department input[name$='-name']")
    assert [names.nth(i).input_value() for i in range(names.count())] == DEPARTMENTS
    # A department with members offers no delete button; an empty one does.
    assert page.locator("#department-1 button.a-danger").count() == 0
    assert page.locator("#department-3 button.a-danger").count() == 1
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"departments-{size}")
    page.goto("/editor/")
    assert page.locator("#my-figures-title").is_visible()
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"dashboard-{size}", full_page=False)


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_the_section_updates_page_reads_well(school, sized_page, axe):
    page, size = sized_page
    page.goto("/admin/stats")
    page.click("#section-updates-link")
    page.wait_for_url("**/admin/stats/sections")
    assert page.locator("h1").inner_text() == "栏目更新"
    rows = page.locator("#sections tbody tr")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-state") == "ok"
    assert "校园动态" in rows.first.inner_text()
    assert page.locator("#count-ok").inner_text() == "2"
    assert fits_width(page)
    assert problems(page, axe) == []
    save_screenshot(page, f"section-updates-{size}")
