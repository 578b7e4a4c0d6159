"""Search: Chinese one- and two-character words, the index following every
change in the same transaction, nothing unpublished ever found, hostile input."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Article, Section, Status, db, utcnow
from reader import search
from tests import dbserver
from tests.conftest import count_statements

# --- helpers -------------------------------------------------------------------


def found(client, q, **args) -> list[int]:
    """The ids of the posts on the results page, in order."""
    response = client.get("/search", query_string={"q": q, **args})
    assert response.status_code == 200, response.status_code
    results = response.text.partition('<ol class="search-results">')[2]
    results = results.partition("</ol>")[0]
    return [int(i) for i in re.findall(r'href="/articles/(\d+)"', results)]


def backend_ids(app, q, backend=None, **filters) -> list[int]:
    with app.app_context():
        chosen = backend or search.backend_for(db.session)
        hits = chosen.search(db.session, search.parse(q), limit=100, **filters)
        return [hit.id for hit in hits]


def index_rows(app) -> dict[int, tuple[str, str]]:
    """What the index holds: article id -> (title, body) as indexed."""
    with app.app_context():
        rows = db.session.execute(sa.select(search.search_doc)).all()
        # FTS5 keeps one row of search_fts_docsize per document.
        table = "search_fts" if dbserver.ON_POSTGRESQL else "search_fts_docsize"
        fts = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        assert fts == len(rows), "search_fts and search_doc disagree"
        return {row.id: (row.title, row.body) for row in rows}


def edit(client, article_id, **fields):
    with client.application.app_context():
        article = db.session.get(Article, article_id)
        data = {
            "title": article.title,
            "section_id": str(article.section_id),
            "author_name": article.author_name,
            "source": "",
            "summary": article.summary or "",
            "body_html": article.body_html,
            "published_at": "",
            "version": str(article.version),
            "action": "save",
        }
    data.update(fields)
    response = client.post(f"/editor/articles/{article_id}/edit", data=data)
    assert response.status_code == 302, response.text
    return response


# --- tokens and queries --------------------------------------------------------


def test_document_tokens_are_unigrams_and_bigrams_of_each_cjk_run():
    uni, bi = search.document_tokens("开学典礼，PPT课件 2026年")
    assert uni.split() == ["开", "学", "典", "礼", "ppt", "课", "件", "2026", "年"]
    # A break between runs: 礼 and 课 were never next to each other.
    assert bi.split() == ["开学", "学典", "典礼", "0", "课件"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("开学", '({title_bi body_bi}: "开学")'),
        ("学", '({title_uni body_uni}: "学")'),
        ("运动会", '({title_bi body_bi}: "运动 动会")'),
        ("ＰＰＴ", '({title_uni body_uni}: "ppt")'),
        ("2026年", '(({title_uni body_uni}: "2026 年"))'),
        (
            "9月1日 开学",
            '(({title_uni body_uni}: "9 月 1 日")) AND ({title_bi body_bi}: "开学")',
        ),
        # FTS syntax typed by a reader is only ever words inside quotes.
        (
            '"NEAR(开学* OR',
            '(({title_uni body_uni}: "near 开 学") AND ({title_bi body_bi}: "开学"))'
            ' AND ({title_uni body_uni}: "or")',
        ),
        ("   ", ""),
        ("%_*^:-()", ""),
    ],
)
def test_queries_become_quoted_fts_expressions(raw, expected):
    assert search.parse(raw).match() == expected


def test_query_is_capped_in_length_and_terms():
    query = search.parse(" ".join(f"词{i}" for i in range(50)))
    assert len(query.terms) == search.MAX_TERMS
    assert len(search.parse("学" * 1000).text) == search.MAX_QUERY_CHARS
    assert search.clean_query("开\x00学\ud800\x1b") == "开 学"


def test_snippet_marks_terms_and_escapes_the_rest():
    text = "通知：<script>请家长</script>于2026 年9月1日送孩子开学。" + "后文" * 100
    html = str(search.snippet(text, search.parse("2026年 开学")))
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<mark>2026 年</mark>" in html and "<mark>开学</mark>" in html
    assert html.endswith("…")


def test_snippet_maps_full_width_text_back_to_the_original():
    html = str(search.highlight("下载ＰＰＴ课件", search.parse("ppt")))
    assert html == "下载<mark>ＰＰＴ</mark>课件"


# --- matching ------------------------------------------------------------------


@pytest.fixture
def corpus(make_article):
    """Published posts, each with the words one query should find."""
    return {
        "opening": make_article(
            title="新学期开学典礼", body_html="<p>2026年9月1日上午举行。</p>"
        ),
        "holiday": make_article(
            title="寒假放假通知", body_html="<p>请下载<b>PPT</b>课件。</p>"
        ),
        "sports": make_article(
            title="秋季运动会",
            body_html="<p>运动 会场布置完毕</p>",
            author_name="体育组",
        ),
        "split": make_article(title="开学。学校", body_html="<p>无关</p>"),
        "fullwidth": make_article(title="ＰＰＴ模板", body_html="<p>Ppts and more</p>"),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("开学", {"opening", "split"}),  # two characters
        ("假", {"holiday"}),  # one character
        ("运动会", {"sports"}),  # a phrase: 运动 会场 does not count
        ("开学校", set()),  # not across a full stop
        ("2026年", {"opening"}),
        ("9月1日", {"opening"}),
        ("ppt", {"holiday", "fullwidth"}),
        ("PPT", {"holiday", "fullwidth"}),
        ("ＰＰＴ", {"holiday", "fullwidth"}),
        ("ppts", {"fullwidth"}),  # whole words
        ("开学 2026年", {"opening"}),  # every term must match
        ("开学 放假", set()),
        ("体育组", {"sports"}),  # the author
        ("模板 PPT", {"fullwidth"}),
    ],
)
def test_search_finds_what_chinese_readers_type(app, client, corpus, q, expected):
    assert set(found(client, q)) == {corpus[name] for name in expected}
    assert set(backend_ids(app, q)) == {corpus[name] for name in expected}


def test_title_matches_rank_first_then_newer_posts(client, make_article):
    now = utcnow()
    older_body = make_article(
        title="通知", body_html="<p>招生</p>", published_at=now - timedelta(days=3)
    )
    newer_body = make_article(
        title="通知", body_html="<p>招生</p>", published_at=now - timedelta(days=1)
    )
    in_title = make_article(
        title="招生简章", body_html="<p>正文</p>", published_at=now - timedelta(days=9)
    )
    assert found(client, "招生") == [in_title, newer_body, older_body]


def test_results_page_highlights_and_never_reflects_raw_input(client, corpus):
    response = client.get("/search", query_string={"q": "开学 <script>x</script>"})
    assert response.status_code == 200
    assert "<script>x" not in response.text
    assert "&lt;script&gt;x&lt;/script&gt;" in response.text  # in the input box
    response = client.get("/search", query_string={"q": "开学"})
    assert "新学期<mark>开学</mark>典礼" in response.text


# --- what is never found -------------------------------------------------------


def test_unpublished_posts_are_never_found_or_counted(app, client, make_article):
    hidden = {
        "草稿": make_article(
            title="草稿独有词甲", status=Status.DRAFT, published_at=None
        ),
        "待审": make_article(title="待审独有词乙", status=Status.PENDING),
        "定时": make_article(
            title="定时独有词丙", published_at=utcnow() + timedelta(days=2)
        ),
        "回收": make_article(title="回收独有词丁", deleted_at=utcnow()),
    }
    make_article(title="公开的独有词")
    for word in ("独有词甲", "独有词乙", "独有词丙", "独有词丁", "草稿", "回收"):
        response = client.get("/search", query_string={"q": word})
        assert response.status_code == 200
        assert found(client, word) == [], word
        assert 'class="search-empty"' in response.text  # "no results", no count
    # "独有词" is in all five titles: only the public one is found and counted.
    response = client.get("/search", query_string={"q": "独有词", "lang": "en"})
    assert "1 post found" in response.text
    assert len(found(client, "独有词")) == 1
    assert not set(found(client, "独有词")) & set(hidden.values())
    # Drafts, pending and trashed posts are not even in the index.
    assert set(index_rows(app)) & set(hidden.values()) == {hidden["定时"]}


def test_a_scheduled_post_is_found_once_due(app, client, make_article):
    article_id = make_article(
        title="元旦汇演", published_at=utcnow() + timedelta(hours=1)
    )
    assert found(client, "汇演") == []
    # Time passes (no save, no event): the index already holds it.
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(Article.__table__)
                .where(Article.__table__.c.id == article_id)
                .values(published_at=utcnow() - timedelta(minutes=1))
            )
    assert found(client, "汇演") == [article_id]


# --- the index follows every change --------------------------------------------


@pytest.fixture
def section_id(make_section):
    return make_section(name="通知公告", slug="notices")


def test_index_follows_the_editor(app, client, login, section_id):
    login("editor")
    response = client.post(
        "/editor/articles/new",
        data={
            "title": "研学旅行安排",
            "section_id": str(section_id),
            "author_name": "教务处",
            "source": "",
            "summary": "",
            "body_html": "<p>高一年级赴科技馆</p>",
            "published_at": "",
            "action": "save",
        },
    )
    article_id = int(response.headers["Location"].split("/")[-2])
    assert found(client, "研学") == []  # a draft

    edit(client, article_id, action="publish")  # publish
    assert found(client, "研学") == [article_id]
    assert found(client, "科技馆") == [article_id]

    edit(client, article_id, body_html="<p>高一年级赴博物馆</p>")  # edit (bulk UPDATE)
    assert found(client, "科技馆") == [] and found(client, "博物馆") == [article_id]

    edit(client, article_id, action="unpublish")  # unpublish
    assert found(client, "研学") == [] and article_id not in index_rows(app)

    edit(client, article_id, action="publish", published_at="2099-01-01T08:00")
    assert found(client, "研学") == []  # scheduled: indexed but not due
    assert article_id in index_rows(app)
    edit(client, article_id, published_at="2020-01-01T08:00")
    assert found(client, "研学") == [article_id]

    client.post(f"/editor/articles/{article_id}/delete")  # trash
    assert found(client, "研学") == [] and article_id not in index_rows(app)
    client.post(f"/editor/articles/{article_id}/restore")  # restore
    assert found(client, "研学") == [article_id]

    client.post(f"/editor/articles/{article_id}/delete")
    client.post(f"/editor/articles/{article_id}/purge", data={"confirm": "yes"})
    with app.app_context():
        assert db.session.get(Article, article_id) is None
    assert index_rows(app) == {}


def test_restoring_a_revision_reindexes(app, client, login, make_article):
    article_id = make_article(title="校园开放日", body_html="<p>第一版书法展</p>")
    login("editor")
    edit(client, article_id, body_html="<p>第二版摄影展</p>")
    assert found(client, "书法") == [] and found(client, "摄影") == [article_id]
    with app.app_context():
        revision_id = db.session.scalar(sa.text("SELECT min(id) FROM revision"))
    client.post(f"/editor/articles/{article_id}/revisions/{revision_id}/restore")
    assert found(client, "书法") == [article_id] and found(client, "摄影") == []


def test_a_rolled_back_change_leaves_the_index_as_it_was(app, client, make_article):
    article_id = make_article(title="期末考试安排", body_html="<p>语文数学</p>")
    before = index_rows(app)
    with app.app_context():
        article = db.session.get(Article, article_id)
        article.title = "改过的标题"
        db.session.flush()
        db.session.execute(
            sa.update(Article)
            .where(Article.id == article_id)
            .values(body_html="<p>物理化学</p>")
        )
        db.session.rollback()
        # The next commit in the same session must not index the old change.
        db.session.add(Section(name="别的栏目", slug="other"))
        db.session.commit()
    assert index_rows(app) == before
    assert found(client, "期末") == [article_id] and found(client, "物理") == []


def test_deleting_through_the_orm_removes_the_post(app, client, make_article):
    article_id = make_article(title="防溺水安全教育")
    with app.app_context():
        db.session.delete(db.session.get(Article, article_id))
        db.session.commit()
    assert found(client, "溺水") == [] and index_rows(app) == {}


def test_reindex_command_rebuilds_a_lost_index(app, client, runner, make_article):
    article_id = make_article(title="家长会通知")
    make_article(title="未发布的家长会", status=Status.DRAFT, published_at=None)
    with app.app_context(), db.engine.begin() as connection:
        if dbserver.ON_POSTGRESQL:
            connection.execute(sa.text("DELETE FROM search_fts"))
        else:
            connection.execute(
                sa.text("INSERT INTO search_fts(search_fts) VALUES ('delete-all')")
            )
        connection.execute(sa.delete(search.search_doc))
    assert found(client, "家长会") == []
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed 1 published posts." in result.output
    assert found(client, "家长会") == [article_id]


# --- hostile input -------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"开学',
        "开学*",
        "*",
        "NEAR(开学 放假)",
        "开学 AND 放假",
        "开学 OR",
        "NOT 开学",
        "-开学",
        "^开学",
        "title_uni:开学",
        "{title_bi}: 开",
        "(((",
        ")",
        "%",
        "_",
        "%_%",
        "   ",
        "\t\n",
        "\x00\x01\x7f",
        "开" * 5000,
        " ".join(["开学"] * 500),
        "a" * 100 + "学",
        "'; DROP TABLE article; --",
        "\u202e\u200b开学\ufeff",
        "𠀀𠀁",  # outside the BMP
    ],
)
def test_hostile_queries_never_error(client, corpus, q):
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query_string",
    [
        "q=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "q=%C0%AF%FF",  # not UTF-8
        "q=开学&section=no-such-section",
        "q=开学&section=",
        "q=开学&q=放假",
        "q=&page=1",
    ],
)
def test_malformed_requests_never_error(client, corpus, query_string):
    assert client.get(f"/search?{query_string}").status_code == 200


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999999999999999999", "3"])
def test_impossible_pages_are_404(client, corpus, page):
    assert client.get(f"/search?q=开学&page={page}").status_code == 404


def test_empty_and_no_result_pages_say_what_to_try(client, corpus):
    empty = client.get("/search?lang=en")
    assert empty.status_code == 200 and "Type one or more words" in empty.text
    none = client.get("/search", query_string={"q": "火星探测", "lang": "en"})
    assert "No posts found for “火星探测”" in none.text
    assert "fewer or shorter words" in none.text


# --- paging and filters --------------------------------------------------------


@pytest.mark.config(ARTICLES_PER_PAGE=5)
def test_results_are_paginated_like_sections(client, make_article):
    now = utcnow()
    ids = [
        make_article(title=f"读书节第{i}期", published_at=now - timedelta(hours=i))
        for i in range(12)
    ]
    assert found(client, "读书节") == ids[:5]
    assert found(client, "读书节", page=2) == ids[5:10]
    assert found(client, "读书节", page=3) == ids[10:]
    page = client.get("/search?q=读书节&page=2&lang=en").text
    assert 'class="pagination"' in page and "Page 2 of 3" in page
    assert "q=%E8%AF%BB%E4%B9%A6%E8%8A%82" in page and 'rel="next"' in page
    assert client.get("/search?q=读书节&page=4").status_code == 404


def test_results_filter_by_channel_or_section(app, client, make_section, make_article):
    channel = make_section(name="新闻中心", slug="news-channel")
    sub = make_section(name="校园动态", slug="campus", parent_id=channel)
    other = make_section(name="教学科研", slug="teaching")
    in_channel = make_article(title="科技节开幕", section_id=channel)
    in_sub = make_article(title="科技节闭幕", section_id=sub)
    elsewhere = make_article(title="科技节教研", section_id=other)
    assert set(found(client, "科技节")) == {in_channel, in_sub, elsewhere}
    assert set(found(client, "科技节", section="news-channel")) == {in_channel, in_sub}
    assert found(client, "科技节", section="campus") == [in_sub]
    assert found(client, "科技节", section="teaching") == [elsewhere]
    page = client.get("/search?q=科技节&section=campus&lang=en").text
    assert '<option value="campus" selected>' in page
    assert "1 post found" in page and "Search all sections" in page


def test_a_very_common_word_ranks_only_its_newest_matches(
    client, make_article, monkeypatch
):
    from reader.views import search as search_views

    monkeypatch.setattr(search, "CANDIDATES", 3)
    monkeypatch.setattr(search_views, "COUNT_LIMIT", 3)
    ids = [make_article(title=f"通知{i}") for i in range(5)]
    page = client.get("/search?q=通知&lang=en").text
    assert "More than 3 posts found" in page and "Add another word" in page
    assert sorted(found(client, "通知")) == ids[-3:]
    assert client.get("/search?q=通知&page=2").status_code == 404


def test_the_count_is_kept_until_the_content_changes(app, client, make_article):
    make_article(title="运动会通知")
    client.get("/search?q=运动会")
    with count_statements() as warm:
        client.get("/search?q=运动会")
    assert not [s for s in warm if "count(" in s.lower()], warm
    make_article(title="运动会成绩")
    response = client.get("/search?q=运动会&lang=en")
    assert "2 posts found" in response.text


# --- the demo, the migration and other databases -------------------------------


@pytest.mark.demo
def test_a_two_character_word_finds_its_one_demo_article(app, client):
    with app.app_context():
        articles = db.session.scalars(
            sa.select(Article).where(Article.visible_clause())
        ).all()
        having = [
            a.id
            for a in articles
            if "开学" in a.title + a.body_html + (a.summary or "") + a.author_name
        ]
    assert len(having) == 1, "the demo should have 开学 in exactly one post"
    assert found(client, "开学") == having
    page = client.get("/search?q=开学").text
    assert "<mark>开学</mark>" in page


def test_like_backend_finds_the_same_simple_words(app, corpus, make_article):
    like = search.LikeBackend()
    make_article(title="草稿开学", status=Status.DRAFT, published_at=None)
    assert set(backend_ids(app, "开学", like)) == {corpus["opening"], corpus["split"]}
    assert set(backend_ids(app, "开学 2026年", like)) == {corpus["opening"]}
    assert backend_ids(app, "100%", like) == []
    with app.app_context():
        assert like.count(db.session, search.parse("开学")) == 2


def test_a_post_moved_to_another_section_is_filtered_there(
    app, client, login, make_section, make_article
):
    first = make_section(name="校园动态", slug="campus")
    second = make_section(name="通知公告", slug="notices")
    article_id = make_article(title="食堂菜谱", section_id=first)
    login("editor")
    edit(client, article_id, section_id=str(second))
    assert found(client, "菜谱", section="campus") == []
    assert found(client, "菜谱", section="notices") == [article_id]


def test_a_channel_filter_follows_a_section_moved_under_it(
    app, client, make_section, make_article
):
    old_channel = make_section(name="新闻中心", slug="news")
    new_channel = make_section(name="德育天地", slug="moral")
    section = make_section(name="主题班会", slug="classes", parent_id=old_channel)
    article_id = make_article(title="班会纪实", section_id=section)
    assert found(client, "班会", section="news") == [article_id]
    with app.app_context():
        db.session.get(Section, section).parent_id = new_channel
        db.session.commit()
    assert found(client, "班会", section="news") == []
    assert found(client, "班会", section="moral") == [article_id]


def test_posts_moved_in_bulk_follow_their_new_section(
    app, client, make_section, make_article
):
    # What deleting a section in the admin does with its posts.
    old = make_section(name="校园快讯", slug="flash")
    new = make_section(name="校园动态", slug="campus")
    article_id = make_article(title="合唱比赛", section_id=old)
    with app.app_context():
        db.session.execute(
            sa.update(Article).where(Article.section_id == old).values(section_id=new)
        )
        db.session.commit()
    assert found(client, "合唱", section="flash") == []
    assert found(client, "合唱", section="campus") == [article_id]


@pytest.mark.parametrize(
    ("text", "q", "expected"),
    [
        ("通知……下载ＰＰＴ课件", "ppt", "通知……下载<mark>ＰＰＴ</mark>课件"),
        ("…ß…开学…", "开学", "…ß…<mark>开学</mark>…"),
        ("面积100㎡的ＰＰＴ", "ppt", "面积100㎡的<mark>ＰＰＴ</mark>"),
        ("Straße开学", "strasse", "<mark>Straße</mark>开学"),
    ],
)
def test_highlights_land_on_the_original_characters(text, q, expected):
    # Folding makes some characters longer (… is ..., ß is ss, ㎡ is m2).
    assert str(search.highlight(text, search.parse(q))) == expected


# --- Attachments ---------------------------------------------------------------


def attach(client, article_id, name, data):
    import io

    response = client.post(
        "/editor/uploads/attachment",
        data={"file": (io.BytesIO(data), name), "article_id": str(article_id)},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    return response.get_json()["id"]


def attachment_lines(client, q) -> list[str]:
    """The «附件：…» lines of the results, as plain text."""
    response = client.get("/search", query_string={"q": q})
    lines = re.findall(r'search-result-attachment">(.*?)</p>', response.text)
    return [re.sub(r"<[^>]+>", "", line) for line in lines]


def test_attachment_names_and_text_find_their_post(app, client, login, make_article):
    from tests.documents import make_docx, make_pdf

    notice = make_article(title="秋季运动会通知", body_html="<p>详见附件。</p>")
    make_article(title="别的文章", body_html="<p>航空</p>")
    login("editor")
    attach(client, notice, "报名表.docx", make_docx(["请填写后交班主任"]))
    pdf = make_pdf(["秋季运动会", "项目：跳高 跳远", "第三页：航模比赛下午举行"])
    attach(client, notice, "2026年秋季运动会报名表.pdf", pdf)

    assert found(client, "报名表") == [notice]
    assert found(client, "航模") == [notice]  # a word on page 3 of the PDF
    assert found(client, "班主任") == [notice]  # a word in the .docx
    # The result says which attachment matched, and shows its text.
    lines = attachment_lines(client, "航模")
    assert len(lines) == 1 and "2026年秋季运动会报名表.pdf" in lines[0]
    page = client.get("/search", query_string={"q": "航模"}).text
    assert "<mark>航模</mark>比赛" in page
    assert len(attachment_lines(client, "报名表")) == 2  # both names match
    assert attachment_lines(client, "运动会通知") == []  # the title matched


def test_removing_an_attachment_takes_its_text_out(app, client, login, make_article):
    from tests.documents import make_pdf

    article_id = make_article(title="放假通知")
    login("editor")
    upload_id = attach(client, article_id, "安排.pdf", make_pdf(["寒假作业清单"]))
    assert found(client, "作业清单") == [article_id]
    response = client.post(
        f"/editor/uploads/{upload_id}/delete", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert found(client, "作业清单") == [] and found(client, "放假") == [article_id]


def test_an_attachment_waiting_for_review_is_not_found(
    app, client, login, make_article
):
    from models import set_setting
    from tests.documents import make_pdf

    article_id = make_article(title="家长会通知")
    with app.app_context():
        set_setting("review_levels", "1")
        db.session.commit()
    login("editor")
    attach(client, article_id, "座位表.pdf", make_pdf(["座位安排"]))
    assert found(client, "座位") == []  # held: readers cannot fetch it yet
    with app.app_context():  # what the chain does when it passes the post
        from review import chain

        chain._unhold(db.session.get(Article, article_id))
        db.session.commit()
    assert found(client, "座位") == [article_id]


def test_reindex_reads_attachments_too(app, client, runner, login, make_article):
    from tests.documents import make_xlsx

    article_id = make_article(title="奖学金公示")
    login("editor")
    # No personal data: such a file would be held from readers (and the index).
    names = make_xlsx({"名单": [["姓名", "班级"], ["李四", "初二(3)班"]]})
    attach(client, article_id, "名单.xlsx", names)
    before = index_rows(app)
    assert "李四" in before[article_id][1]
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM search_doc"))
    assert runner.invoke(args=["reindex"]).exit_code == 0
    assert index_rows(app) == before


def test_attachment_text_is_bounded_and_parts_come_back():
    long = [(f"{n}.pdf", char * 30_000) for n, char in enumerate("甲乙丙丁")]
    own, *attached = search.parts(search.with_attachments("正文", long))
    assert (own.name, own.text) == ("", "正文")
    assert [(p.name, len(p.text)) for p in attached] == [
        ("0.pdf", search.ATTACHMENT_CHARS),
        ("1.pdf", search.ATTACHMENT_CHARS),
        ("2.pdf", search.ATTACHMENTS_CHARS - 2 * search.ATTACHMENT_CHARS),
        ("3.pdf", 0),  # still found by its name
    ]
