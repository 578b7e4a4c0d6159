"""The reader's pages: home, sections, articles, visibility, paging, layout."""

import re
from datetime import timedelta

import pytest

from models import Status, Upload, db, set_setting, utcnow

HIDDEN_KINDS = {
    "draft": {"status": Status.DRAFT, "published_at": None},
    "pending": {"status": Status.PENDING, "published_at": None},
    "scheduled": {"published_at": "future"},
    "trashed": {"deleted_at": "now"},
}


def hidden_fields(kind):
    fields = dict(HIDDEN_KINDS[kind])
    if fields.get("published_at") == "future":
        fields["published_at"] = utcnow() + timedelta(days=1)
    if fields.get("deleted_at") == "now":
        fields["deleted_at"] = utcnow()
    return fields


def ago(**delta):
    return utcnow() - timedelta(**delta)


def text(response):
    return response.get_data(as_text=True)


def positions(html, *needles):
    return [html.index(needle) for needle in needles]


@pytest.fixture
def tree(make_section):
    """A channel 教学科研 with two sub-sections, and a second channel."""
    channel = make_section(name="教学科研", slug="teaching", position=1)
    research = make_section(name="教研动态", slug="research", parent_id=channel)
    classroom = make_section(
        name="课堂教学", slug="classroom", parent_id=channel, position=1
    )
    other = make_section(name="学校概况", slug="about", position=0)
    return {
        "channel": channel,
        "research": research,
        "classroom": classroom,
        "other": other,
    }


# Home page


def test_home_lists_pinned_posts_before_the_channels(client, tree, make_article):
    make_article(
        title="普通新闻", section_id=tree["research"], published_at=ago(hours=1)
    )
    make_article(
        title="置顶通知",
        section_id=tree["other"],
        pinned=True,
        published_at=ago(days=9),
    )
    html = text(client.get("/"))
    assert html.index("置顶通知") < html.index("普通新闻")


def test_home_shows_each_channel_with_its_sub_sections_posts(
    client, tree, make_article
):
    make_article(title="教研新闻", section_id=tree["research"])
    make_article(title="概况介绍", section_id=tree["other"])
    html = text(client.get("/"))
    assert 'href="/sections/teaching"' in html
    assert "教研新闻" in html and "概况介绍" in html


def test_home_limits_each_channel_to_its_latest_posts(client, tree, make_article):
    for n in range(8):
        make_article(
            title=f"教研新闻{n}号",
            section_id=tree["research"],
            views=0,
            published_at=ago(days=n),
        )
    html = text(client.get("/"))
    block = html[html.index(f'id="channel-{tree["channel"]}"') :]
    block = block[: block.index("</section>")]
    assert "教研新闻0号" in block and "教研新闻5号" in block
    assert "教研新闻6号" not in block


def test_home_most_read_lists_top_ten_by_views(client, make_article):
    for n in range(12):
        make_article(title=f"热门{n:02d}", views=100 + n)
    response = client.get("/?lang=en")
    html = text(response)
    most_read = html[html.index("Most read") :]
    assert most_read.index("热门11") < most_read.index("热门10")
    assert "热门01" not in most_read.split("</ol>")[0]
    assert "热门02" in most_read.split("</ol>")[0]


# Section pages


def test_channel_page_includes_its_sub_sections_posts(client, tree, make_article):
    make_article(title="子栏目文章", section_id=tree["research"])
    make_article(title="频道自己的文章", section_id=tree["channel"])
    make_article(title="别的频道文章", section_id=tree["other"])
    response = client.get("/sections/teaching")
    html = text(response)
    assert response.status_code == 200
    assert "子栏目文章" in html and "频道自己的文章" in html
    assert "别的频道文章" not in html


def test_channel_page_links_its_sub_sections(client, tree):
    html = text(client.get("/sections/teaching"))
    main = html[html.index("<main") :]
    assert 'href="/sections/research"' in main
    assert 'href="/sections/classroom"' in main


def test_sub_section_page_lists_only_its_own_posts(client, tree, make_article):
    make_article(title="教研文章", section_id=tree["research"])
    make_article(title="课堂文章", section_id=tree["classroom"])
    html = text(client.get("/sections/research"))
    assert "教研文章" in html and "课堂文章" not in html


def test_section_lists_pinned_first_then_newest(client, tree, make_article):
    section = tree["research"]
    make_article(title="旧文章", section_id=section, published_at=ago(days=3))
    make_article(title="新文章", section_id=section, published_at=ago(days=1))
    make_article(
        title="置顶旧文", section_id=section, published_at=ago(days=30), pinned=True
    )
    html = text(client.get("/sections/research"))
    assert positions(html, "置顶旧文", "新文章", "旧文章") == sorted(
        positions(html, "置顶旧文", "新文章", "旧文章")
    )


def test_unknown_section_is_404(client):
    assert client.get("/sections/no-such-section").status_code == 404


def test_empty_section_first_page_is_fine(client, tree):
    assert client.get("/sections/classroom").status_code == 200


@pytest.fixture
def paged_section(app, tree, make_article):
    app.config["ARTICLES_PER_PAGE"] = 20
    for n in range(21):
        make_article(
            title=f"分页文章{n:02d}",
            section_id=tree["research"],
            published_at=ago(hours=n + 1),
        )
    return "/sections/research"


def test_second_page_holds_the_oldest_post(client, paged_section):
    first = text(client.get(paged_section))
    second = client.get(f"{paged_section}?page=2")
    assert second.status_code == 200
    assert "分页文章20" in text(second) and "分页文章20" not in first
    assert "分页文章00" in first and "分页文章00" not in text(second)
    assert f'href="{paged_section}?page=2"' in first


@pytest.mark.parametrize("page", ["3", "0", "-1", "abc", "1.5", "99999999999999999999"])
def test_page_out_of_range_or_invalid_is_404(client, paged_section, page):
    assert client.get(f"{paged_section}?page={page}").status_code == 404


def test_page_size_comes_from_config(app, client, tree, make_article):
    app.config["ARTICLES_PER_PAGE"] = 2
    for n in range(3):
        make_article(title=f"小分页{n}", section_id=tree["research"])
    assert client.get("/sections/research?page=2").status_code == 200
    assert client.get("/sections/research?page=3").status_code == 404


# Article page


@pytest.fixture
def article_id(tree, make_article):
    return make_article(
        title="我校举行春季田径运动会",
        body_html="<p>本网讯 4月12日，<strong>运动会</strong>开幕。</p><p>第二段。</p>",
        author_name="体育组 王老师",
        source="体育组",
        section_id=tree["research"],
        views=41,
        published_at=ago(days=2),
    )


def test_article_shows_title_meta_line_and_body(client, article_id):
    response = client.get(f"/articles/{article_id}?lang=en")
    html = text(response)
    assert response.status_code == 200
    assert re.search(r"<h1[^>]*>我校举行春季田径运动会</h1>", html)
    assert "Author:" in html and "体育组 王老师" in html
    assert "Views:" in html and "Date:" in html
    assert re.search(r"Date:</span> <time datetime=\"\d{4}-\d{2}-\d{2}\"", html)
    assert "Source:" in html
    assert "<strong>运动会</strong>" in html


def test_article_without_source_has_no_source_label(client, make_article):
    article_id = make_article(source=None)
    assert "Source:" not in text(client.get(f"/articles/{article_id}?lang=en"))


def test_article_title_tag_names_article_and_school(app, client, article_id):
    with app.app_context():
        set_setting("school_name", "阳光实验中学")
        db.session.commit()
    html = text(client.get(f"/articles/{article_id}"))
    assert "<title>我校举行春季田径运动会 - 阳光实验中学</title>" in html


def test_article_meta_description_is_derived_from_body(client, article_id):
    html = text(client.get(f"/articles/{article_id}"))
    assert '<meta name="description" content="本网讯 4月12日，运动会开幕。' in html
    assert '<meta property="og:title" content="我校举行春季田径运动会">' in html


def test_article_meta_description_prefers_summary(client, make_article):
    article_id = make_article(summary="一句话摘要", body_html="<p>正文</p>")
    html = text(client.get(f"/articles/{article_id}"))
    assert '<meta name="description" content="一句话摘要">' in html
    assert '<meta property="og:description" content="一句话摘要">' in html


def test_long_body_description_is_cut_short(client, make_article):
    article_id = make_article(body_html="<p>" + "长" * 500 + "</p>")
    html = text(client.get(f"/articles/{article_id}"))
    description = re.search(r'<meta name="description" content="([^"]*)"', html)[1]
    assert 10 < len(description) <= 121


def test_article_has_absolute_canonical_link(client, article_id):
    html = text(client.get(f"/articles/{article_id}"))
    assert (
        f'<link rel="canonical" href="http://localhost/articles/{article_id}">' in html
    )


def test_article_breadcrumb_ends_with_its_section(client, article_id):
    html = text(client.get(f"/articles/{article_id}?lang=en"))
    crumb = html[
        html.index('class="breadcrumb"') : html.index(
            "</nav>", html.index('class="breadcrumb"')
        )
    ]
    assert "Current location:" in crumb
    assert positions(crumb, ">Home<", ">教学科研<", ">教研动态<") == sorted(
        positions(crumb, ">Home<", ">教学科研<", ">教研动态<")
    )
    assert 'href="/sections/teaching"' in crumb
    assert 'href="/sections/research"' in crumb


@pytest.mark.parametrize(
    "slug, links, current, absent",
    [
        ("research", ['href="/sections/teaching">教学科研</a>'], "教研动态", None),
        ("teaching", [], "教学科研", "research"),  # home, then the channel
    ],
)
def test_section_breadcrumb_ends_with_the_section_as_current(
    client, tree, slug, links, current, absent
):
    html = text(client.get(f"/sections/{slug}?lang=en"))
    crumb = html[html.index('class="breadcrumb"') :]
    crumb = crumb[: crumb.index("</nav>")]
    assert 'href="/">Home</a>' in crumb
    for link in links:
        assert link in crumb
    assert f'<span aria-current="page">{current}</span>' in crumb
    assert absent is None or absent not in crumb


def test_unknown_article_is_404(client):
    assert client.get("/articles/999999").status_code == 404


def test_article_previous_and_next_stay_in_its_section(client, tree, make_article):
    section = tree["research"]
    older = make_article(
        title="上一篇文章", section_id=section, published_at=ago(days=3)
    )
    current = make_article(
        title="当前文章", section_id=section, published_at=ago(days=2)
    )
    newer = make_article(
        title="下一篇文章", section_id=section, published_at=ago(days=1)
    )
    make_article(
        title="别的栏目", section_id=tree["classroom"], published_at=ago(days=2)
    )
    html = text(client.get(f"/articles/{current}"))
    assert f'href="/articles/{older}" rel="prev"' in html
    assert f'href="/articles/{newer}" rel="next"' in html
    assert "别的栏目" not in html


def test_article_lists_its_attachments_with_sizes(app, client, article_id):
    with app.app_context():
        db.session.add(
            Upload(
                kind="attachment",
                stored_name="a1b2c3.pdf",
                original_name="运动会秩序册.pdf",
                content_type="application/pdf",
                size=3 * 1024**3,
                article_id=article_id,
            )
        )
        db.session.commit()
    html = text(client.get(f"/articles/{article_id}?lang=en"))
    assert "Attachments" in html
    # The same formatter as the upload answer: GB, not "3072.0 MB".
    assert "运动会秩序册.pdf" in html and "(3 GB)" in html


def test_attachment_links_to_its_download(app, client, article_id):
    with app.app_context():
        upload = Upload(
            kind="attachment",
            stored_name="d4e5f6.docx",
            original_name="报名表.docx",
            content_type="application/octet-stream",
            size=1500,
            article_id=article_id,
        )
        db.session.add(upload)
        db.session.commit()
        upload_id = upload.id
    html = text(client.get(f"/articles/{article_id}"))
    assert f'<a href="/attachments/{upload_id}" download>报名表.docx</a>' in html
    assert "(1.5 KB)" in html


def image_upload(app, stored_name="c0ffee.jpg"):
    with app.app_context():
        upload = Upload(
            kind="image",
            stored_name=stored_name,
            original_name="校门.jpg",
            content_type="image/jpeg",
            size=1000,
        )
        db.session.add(upload)
        db.session.commit()
        return upload.id


def test_article_cover_is_the_share_preview_image(app, client, make_article):
    cover_id = image_upload(app)
    article_id = make_article(cover_id=cover_id)
    html = text(client.get(f"/articles/{article_id}"))
    # Its 960 x 640 thumbnail: a JPEG of known size, whatever was uploaded.
    assert (
        '<meta property="og:image"'
        ' content="http://localhost/uploads/thumbs/c0ffee-960.jpg">' in html
    )
    assert '<meta property="og:image:width" content="960">' in html
    assert '<meta property="og:image:height" content="640">' in html


def test_article_without_cover_has_no_share_image(client, article_id):
    assert "og:image" not in text(client.get(f"/articles/{article_id}"))


def test_logo_is_shown_in_the_header(app, client):
    logo_id = image_upload(app, "1090.png")
    with app.app_context():
        set_setting("logo_id", str(logo_id))
        db.session.commit()
    html = text(client.get("/"))
    assert 'class="brand-logo" src="/uploads/1090.png"' in html


def test_article_without_attachments_has_no_attachment_list(client, article_id):
    assert "Attachments" not in text(client.get(f"/articles/{article_id}?lang=en"))


# Visibility: drafts, pending, scheduled and trashed posts stay hidden


@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_hidden_article_page_is_404(client, make_article, kind):
    article_id = make_article(title="看不见的文章", **hidden_fields(kind))
    assert client.get(f"/articles/{article_id}").status_code == 404


@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_hidden_article_is_absent_from_lists(client, tree, make_article, kind):
    make_article(title="看得见的文章", section_id=tree["research"])
    make_article(
        title="看不见的文章",
        section_id=tree["research"],
        pinned=True,
        views=10_000,
        **hidden_fields(kind),
    )
    for url in ["/", "/sections/research", "/sections/teaching"]:
        html = text(client.get(url))
        assert "看得见的文章" in html, url
        assert "看不见的文章" not in html, url


@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_hidden_article_does_not_count_for_paging(
    app, client, tree, make_article, kind
):
    app.config["ARTICLES_PER_PAGE"] = 1
    make_article(section_id=tree["research"])
    make_article(section_id=tree["research"], **hidden_fields(kind))
    assert client.get("/sections/research?page=2").status_code == 404


@pytest.mark.parametrize("kind", HIDDEN_KINDS)
def test_hidden_article_is_skipped_by_previous_and_next(
    client, tree, make_article, kind
):
    section = tree["research"]
    make_article(title="更早的文章", section_id=section, published_at=ago(days=5))
    make_article(
        title="隐藏的中间文章",
        section_id=section,
        **{"published_at": ago(days=4), **hidden_fields(kind)},
    )
    current = make_article(
        title="当前文章", section_id=section, published_at=ago(days=3)
    )
    html = text(client.get(f"/articles/{current}"))
    assert "更早的文章" in html
    assert "隐藏的中间文章" not in html


# Layout


def test_nav_lists_channels_in_order_with_their_sub_sections(client, tree):
    html = text(client.get("/"))
    nav = html[
        html.index('class="main-nav"') : html.index(
            "</nav>", html.index('class="main-nav"')
        )
    ]
    assert nav.index("学校概况") < nav.index("教学科研")
    assert nav.index("教研动态") < nav.index("课堂教学")
    assert "<summary" in nav  # the phone toggle works without JavaScript


def test_header_and_footer_show_the_school_settings(app, client):
    with app.app_context():
        for key, value in {
            "school_name": "阳光实验中学",
            "phone": "010-6288 1234",
            "address": "北京市海淀区阳光路 88 号",
            "icp_number": "京ICP备12345678号-1",
            "footer_text": "立德树人",
        }.items():
            set_setting(key, value)
        db.session.commit()
    html = text(client.get("/"))
    assert html.count("010-6288 1234") >= 2  # header and footer
    assert 'href="tel:010-62881234"' in html
    assert "北京市海淀区阳光路 88 号" in html and "立德树人" in html
    assert 'href="https://beian.miit.gov.cn/"' in html
    assert "京ICP备12345678号-1" in html


def test_layout_has_skip_link_landmarks_and_language(client):
    html = text(client.get("/?lang=en"))
    assert '<html lang="en">' in html
    assert 'href="#main"' in html and 'id="main"' in html
    for landmark in ("<header", "<nav", "<main", "<footer"):
        assert landmark in html
    assert "?lang=zh_Hans_CN" in html


def test_default_language_is_chinese(client):
    assert '<html lang="zh-CN">' in text(client.get("/"))


def test_language_switch_keeps_the_page(client, tree):
    html = text(client.get("/sections/research?page=1"))
    assert 'href="/sections/research?page=1&amp;lang=en"' in html


def test_logo_is_not_rendered_for_a_missing_upload(app, client):
    with app.app_context():
        set_setting("logo_id", "12345")
        db.session.commit()
    response = client.get("/")
    assert response.status_code == 200
    assert "brand-logo" not in text(response)


def test_not_found_page_uses_the_site_layout(client, tree):
    response = client.get("/no/such/page?lang=en")
    html = text(response)
    assert response.status_code == 404
    assert "Page not found" in html
    assert 'class="main-nav"' in html and "<footer" in html
    assert "教学科研" in html  # the navigation still helps the reader on
    assert 'href="/"' in html


def test_server_error_page_uses_the_site_layout(app, tree):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    response = app.test_client().get("/boom?lang=en")
    html = text(response)
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert 'class="main-nav"' in html and "教学科研" in html
    assert "a bug" not in html


def test_reader_pages_send_no_inline_script(client, article_id):
    for url in ["/", "/sections/research", f"/articles/{article_id}", "/missing"]:
        html = text(client.get(url))
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, url
