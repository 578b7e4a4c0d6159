"""Each migration upgrades a school's existing database in place, keeping its data."""

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from models import db
from tests.conftest import columns, rows, school_at, tables


def test_0002_fills_excerpts_and_channels_of_existing_posts(tmp_path):
    app = school_at(
        tmp_path,
        "0001",
        "INSERT INTO section (id, name, slug, position, parent_id) VALUES"
        " (1, '教学科研', 'teaching', 0, NULL), (2, '教研动态', 'research', 0, 1)",
        "INSERT INTO article (id, title, body_html, summary, author_name,"
        " section_id, status, published_at, pinned, views, version,"
        " created_at, updated_at) VALUES"
        " (1, '教研活动', '<p>本周<strong>语文组</strong>开展教研。</p>',"
        "  NULL, '教务处', 2, 'published', '2026-03-28 08:00:00', 0, 42,"
        "  1, '2026-03-28 08:00:00', '2026-03-28 08:00:00'),"
        " (2, '学校简介', '<p>正文</p>', '自己写的摘要', '办公室', 1,"
        "  'published', '2026-03-01 08:00:00', 1, 7, 1,"
        "  '2026-03-01 08:00:00', '2026-03-01 08:00:00')",
    )
    with app.app_context():
        upgrade()
        assert rows(
            "SELECT id, excerpt, channel_id, views FROM article ORDER BY id"
        ) == [
            (1, "本周语文组开展教研。", 1, 42),
            (2, "自己写的摘要", 1, 7),
        ]
        # And back, for a school that must return to the previous release.
        downgrade(revision="0001")
        assert not {"excerpt", "channel_id"} & columns("article")
        assert rows("SELECT count(*) FROM article") == [(2,)]
        db.engine.dispose()


def test_an_upgraded_site_serves_its_old_posts(tmp_path):
    app = school_at(
        tmp_path,
        "0001",
        "INSERT INTO section (id, name, slug, position)"
        " VALUES (1, '校园新闻', 'news', 0)",
        "INSERT INTO article (id, title, body_html, author_name,"
        " section_id, status, published_at, pinned, views, version,"
        " created_at, updated_at) VALUES"
        " (1, '运动会', '<p>秋季运动会圆满结束</p>', '体育组', 1,"
        " 'published', '2026-10-01 08:00:00', 0, 3, 1,"
        " '2026-10-01 08:00:00', '2026-10-01 08:00:00')",
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone) Mobile/15E148"
    for path in ("/", "/sections/news", "/articles/1"):
        response = client.get(path)
        assert response.status_code == 200 and "运动会" in response.text, path
    assert "秋季运动会圆满结束" in client.get("/sections/news").text
    app.extensions["pagecache"].hot.dispose()
    with app.app_context():
        db.engine.dispose()


def test_0004_demo_loaded_before_origins_existed_can_still_be_cleared(tmp_path):
    from models import Article, Origin, Section, get_settings
    from operations import demo_content, democlear
    from operations.sitetree import DEFAULT_SLUGS

    def quoted(text):
        return "'" + text.replace("'", "''") + "'"

    sections, ids = [], {}
    for position, (slug, name, children) in enumerate(demo_content.SECTIONS):
        ids[slug] = len(ids) + 1
        sections.append(f"({ids[slug]}, {quoted(name)}, '{slug}', {position}, NULL)")
        for child_position, (child, child_name) in enumerate(children):
            ids[child] = len(ids) + 1
            sections.append(
                f"({ids[child]}, {quoted(child_name)}, '{child}', {child_position},"
                f" {ids[slug]})"
            )
    posts = [(slug, title) for slug, title, *_ in demo_content.ARTICLES]
    posts += [(slug, title) for slug, title, *_ in demo_content.HIDDEN_ARTICLES]
    # The demo's posts, by its account (the first admin); then a teacher's post
    # in a section only the demo made.
    posts.append(("classroom", "我的公开课"))
    articles = [
        f"({n}, {quoted(title)}, '<p>正文</p>', '', '', {ids[slug]}, 'published',"
        f" '2026-03-01 08:00:00', 0, 0, 1, '2026-03-01 08:00:00',"
        f" '2026-03-01 08:00:00', {2 if title == '我的公开课' else 1})"
        for n, (slug, title) in enumerate(posts, start=1)
    ]
    settings = [
        f"('{key}', {quoted(value)})" for key, value in demo_content.SETTINGS.items()
    ]
    settings.append("('phone', '0571-1111 2222')")  # staff changed it
    app = school_at(
        tmp_path,
        "0003",
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at) VALUES"
        " (1, 'admin', '管理员', 'x', 'admin', 1, 't', '2026-01-01 00:00:00'),"
        " (2, 'wang', '王老师', 'x', 'author', 1, 't', '2026-01-01 00:00:00')",
        "INSERT INTO section (id, name, slug, position, parent_id) VALUES "
        + ", ".join(sections),
        "INSERT INTO article (id, title, body_html, excerpt, author_name,"
        " section_id, status, published_at, pinned, views, version, created_at,"
        " updated_at, created_by_id) VALUES " + ", ".join(articles),
        "INSERT OR REPLACE INTO setting (key, value) VALUES "
        + ", ".join(settings[:-1]),
        "UPDATE setting SET value = '0571-1111 2222' WHERE key = 'phone'",
    )
    with app.app_context():
        upgrade()
        assert db.session.scalar(sa.select(sa.func.count(Origin.id))) == 0
        with app.test_request_context():
            cleared = democlear.clear()
        titles = db.session.scalars(sa.select(Article.title)).all()
        slugs = set(db.session.scalars(sa.select(Section.slug)))
        settings = get_settings()
        db.session.remove()
        # And back: the accounts survive the column being dropped.
        downgrade(revision="0003")
        assert "origin" not in tables()
        assert "needs_setup" not in columns("user")
        assert rows("SELECT count(*) FROM user") == [(2,)]
        db.engine.dispose()
    assert cleared.posts == len(posts) - 1
    assert titles == ["我的公开课"]
    assert slugs == DEFAULT_SLUGS | {"teaching", "classroom"}
    assert settings["phone"] == "0571-1111 2222"
    assert settings["icp_number"] == "" and settings["school_name"] == "SchoolNews"


def test_0005_fills_the_picture_of_existing_posts(tmp_path):
    posts = [
        # (id, cover_id, body): chosen cover; first own image (after an image
        # from elsewhere); an absolute link to an own image; none at all.
        (1, 2, '<p><img src="/uploads/' + "a" * 32 + '.jpg"></p>'),
        (
            2,
            None,
            '<p><img src="https://example.com/x.jpg"></p>'
            '<p><img alt="运动会" src="/uploads/' + "b" * 32 + '.png"></p>'
            '<p><img src="/uploads/' + "a" * 32 + '.jpg"></p>',
        ),
        (
            3,
            None,
            '<p><img src="http://school.example/uploads/' + "a" * 32 + '.jpg"></p>',
        ),
        (4, None, "<p>只有文字</p>"),
    ]
    app = school_at(
        tmp_path,
        "0004",
        "INSERT INTO section (id, name, slug, position)"
        " VALUES (1, '校园新闻', 'news', 0)",
        "INSERT INTO upload (id, kind, stored_name, original_name, content_type,"
        " size, created_at) VALUES"
        f" (1, 'image', '{'a' * 32}.jpg', 'a.jpg', 'image/jpeg', 1, '2026-01-01'),"
        f" (2, 'image', '{'c' * 32}.jpg', 'c.jpg', 'image/jpeg', 1, '2026-01-01'),"
        f" (3, 'image', '{'b' * 32}.png', 'b.png', 'image/png', 1, '2026-01-01')",
        *(
            "INSERT INTO article (id, title, body_html, author_name, section_id,"
            " status, published_at, pinned, views, version, created_at,"
            f" updated_at, cover_id, excerpt) VALUES ({id_}, '第{id_}篇', '{body}',"
            " '教务处', 1, 'published', '2026-03-01 08:00:00', 0, 0, 1,"
            f" '2026-03-01', '2026-03-01', {cover or 'NULL'}, '')"
            for id_, cover, body in posts
        ),
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT id, picture_id FROM article ORDER BY id") == [
            (1, 2),
            (2, 3),
            (3, 1),
            (4, None),
        ]
        downgrade(revision="0004")
        assert "picture_id" not in columns("article")
        assert rows("SELECT count(*) FROM article") == [(4,)]


def test_0007_adds_old_addresses_to_a_site_with_posts(tmp_path):
    app = school_at(
        tmp_path,
        "0006",
        "INSERT INTO section (id, name, slug, position, parent_id) VALUES"
        " (1, '新闻中心', 'news', 0, NULL)",
        "INSERT INTO article (id, title, body_html, excerpt, author_name,"
        " section_id, channel_id, status, published_at, pinned, views, version,"
        " created_at, updated_at) VALUES (1, '开学典礼', '<p>正文</p>', '正文', '',"
        " 1, 1, 'published', '2026-03-01 08:00:00', 0, 3, 1,"
        " '2026-03-01 08:00:00', '2026-03-01 08:00:00')",
    )
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO legacy_url (path, target_type, target_id, source,"
                    " created_at) VALUES ('/?p=7', 'article', 1, 'wordpress x',"
                    " '2026-03-01 08:00:00')"
                )
            )
        db.engine.dispose()
    response = app.test_client().get("/?p=7")
    assert response.status_code == 301
    assert response.headers["Location"] == "/articles/1"
    assert "开学典礼" in app.test_client().get("/articles/1").get_data(as_text=True)
    with app.app_context():
        downgrade(revision="0006")
        assert "legacy_url" not in tables()
        assert rows("SELECT title FROM article") == [("开学典礼",)]
        db.engine.dispose()


def test_0008_indexes_existing_published_posts_for_search(tmp_path):
    app = school_at(
        tmp_path,
        "0007",
        "INSERT INTO section (id, name, slug, position)"
        " VALUES (1, '通知公告', 'notices', 0)",
        "INSERT INTO article (id, title, body_html, summary, excerpt, author_name,"
        " section_id, channel_id, status, published_at, pinned, views, version,"
        " created_at, updated_at, deleted_at) VALUES"
        " (1, '关于寒假放假安排的通知', '<p>2026年1月20日起<b>放假</b></p>', NULL,"
        "  '', '校长办公室', 1, 1, 'published', '2026-01-10 08:00:00', 0, 0, 1,"
        "  '2026-01-10 08:00:00', '2026-01-10 08:00:00', NULL),"
        " (2, '放假草稿', '<p>放假</p>', NULL, '', '', 1, 1, 'draft', NULL, 0, 0, 1,"
        "  '2026-01-10 08:00:00', '2026-01-10 08:00:00', NULL),"
        " (3, '放假旧闻', '<p>放假</p>', NULL, '', '', 1, 1, 'published',"
        "  '2025-01-10 08:00:00', 0, 0, 1, '2025-01-10 08:00:00',"
        "  '2025-01-10 08:00:00', '2025-02-01 08:00:00')",
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    client = app.test_client()
    for q in ("放假", "寒假", "1月20日", "假"):
        page = client.get("/search", query_string={"q": q}).text
        assert "/articles/1" in page, q
        assert "/articles/2" not in page and "/articles/3" not in page, q
    with app.app_context():
        downgrade(revision="0007")
        assert not {t for t in tables() if t.startswith("search_")}
        db.engine.dispose()
    app.extensions["pagecache"].hot.dispose()


def test_0009_adds_departments_and_daily_views_keeping_users_and_counts(tmp_path):
    app = school_at(
        tmp_path,
        "0008",
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at, needs_setup) VALUES"
        " (1, 'wang', '王老师', 'x', 'author', 1, 't', '2026-01-01 00:00:00', 0)",
        "INSERT INTO section (id, name, slug, position) VALUES (1, '新闻', 'news', 0)",
        "INSERT INTO article (id, title, body_html, excerpt, author_name,"
        " section_id, status, published_at, pinned, views, version, created_at,"
        " updated_at, created_by_id) VALUES (1, '开学', '<p>x</p>', '', '', 1,"
        " 'published', '2026-03-01 08:00:00', 0, 42, 1, '2026-03-01 08:00:00',"
        " '2026-03-01 08:00:00', 1)",
    )
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            row = connection.execute(
                sa.text("SELECT username, department_id FROM user")
            ).one()
            assert tuple(row) == ("wang", None)
            department = (
                "INSERT INTO department (id, name, position) VALUES (1, '教务处', 0)"
            )
            connection.execute(sa.text(department))
            connection.execute(sa.text("UPDATE user SET department_id = 1"))
            connection.execute(
                sa.text(
                    "INSERT INTO article_daily_views (article_id, day, views)"
                    " VALUES (1, '2026-03-02', 3)"
                )
            )
            # The foreign key holds: no user in a department that is not there.
            with pytest.raises(sa.exc.IntegrityError):
                with connection.begin_nested():
                    connection.execute(sa.text("UPDATE user SET department_id = 9"))
            assert connection.scalar(sa.text("SELECT views FROM article")) == 42
        downgrade(revision="0008")
        assert "department_id" not in columns("user")
        assert not {"department", "article_daily_views"} & tables()
        assert rows("SELECT username FROM user") == [("wang",)]
        upgrade()  # and forward again
        db.engine.dispose()


@pytest.mark.parametrize("authors_could, levels", [("1", "0"), ("0", "1"), (None, "1")])
def test_0011_turns_the_old_review_switch_into_review_levels(
    tmp_path, authors_could, levels
):
    setting = (
        [
            "INSERT INTO setting (key, value)"
            f" VALUES ('authors_can_publish', '{authors_could}')"
        ]
        if authors_could is not None
        else []
    )
    app = school_at(
        tmp_path,
        "0010",
        "INSERT INTO section (id, name, slug, position) VALUES (1, '新闻', 'news', 0)",
        "INSERT INTO article (id, title, body_html, excerpt, author_name,"
        " section_id, status, published_at, pinned, views, version, created_at,"
        " updated_at) VALUES (1, '开学', '<p>x</p>', '', '', 1, 'pending', NULL,"
        " 0, 7, 1, '2026-03-01 08:00:00', '2026-03-01 08:00:00')",
        *setting,
    )
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            settings = dict(
                connection.execute(sa.text("SELECT key, value FROM setting")).all()
            )
            assert settings["review_levels"] == levels
            assert "authors_can_publish" not in settings
            row = connection.execute(
                sa.text(
                    "SELECT title, status, views, review_level, photographer,"
                    " reviewed_by FROM article"
                )
            ).one()
            assert tuple(row) == ("开学", "pending", 7, 0, "", "")
            connection.execute(
                sa.text(
                    "INSERT INTO review_event (created_at, article_id, article_title,"
                    " department, author, user_name, level, decision, reason,"
                    " version_hash) VALUES ('2026-03-02 08:00:00', 1, '开学', '', '',"
                    " '', 0, 'submit', '', '')"
                )
            )
        # The ledger refuses changes in an upgraded database too.
        with db.engine.connect() as connection:
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text("DELETE FROM review_event"))
        downgrade(revision="0010")
        with db.engine.connect() as connection:
            settings = dict(
                connection.execute(sa.text("SELECT key, value FROM setting")).all()
            )
            assert settings["authors_can_publish"] == ("1" if levels == "0" else "0")
            assert "review_event" not in sa.inspect(connection).get_table_names()
        upgrade()
        db.engine.dispose()


def test_0012_gives_every_live_text_one_baseline_ledger_line(tmp_path):
    """After the upgrade `flask check-ledger` finds nothing: each post online
    (with its cover and attachment) is explained by one line, drafts by none."""
    from models import Article
    from review import chain

    app = school_at(
        tmp_path,
        "0011",
        "INSERT INTO section (id, name, slug, position)"
        " VALUES (1, '通知', 'notices', 0)",
        "INSERT INTO upload (id, kind, stored_name, original_name, content_type,"
        " size, created_at) VALUES"
        f" (2, 'image', '{'c' * 32}.jpg', 'c.jpg', 'image/jpeg', 1, '2026-09-01'),"
        f" (3, 'attachment', '{'d' * 32}.pdf', '报名表.pdf', 'application/pdf', 9,"
        " '2026-09-01')",
        "INSERT INTO article (id, title, body_html, summary, author_name,"
        " section_id, status, published_at, pinned, views, version, created_at,"
        " updated_at, excerpt, cover_id) VALUES"
        " (1, '报名通知', '<p>请下载报名表</p>', '报名', '教务处', 1, 'published',"
        " '2026-09-01 08:00:00', 0, 12, 3, '2026-09-01', '2026-09-01', '', 2),"
        " (2, '草稿', '<p>未完成</p>', NULL, '教务处', 1, 'draft', NULL, 0, 0, 1,"
        " '2026-09-02', '2026-09-02', '', NULL)",
        "UPDATE upload SET article_id = 1",
    )
    with app.app_context():
        upgrade()
        assert rows(
            "SELECT article_id, decision, level, final, user_id FROM review_event"
        ) == [(1, "baseline", 0, 1, None)]
        assert chain.unexplained_texts() == []
        live = chain.live_version(db.session.get(Article, 1))
        assert live.attachments == ((3, "报名表.pdf"),) and live.cover_id == 2
        assert "review_version" in tables()
        assert {"review_writers"} <= columns("article")
        assert rows("SELECT held FROM upload ORDER BY id") == [(0,), (0,)]
        db.session.remove()
        downgrade(revision="0011")
        assert "review_version" not in tables()
        assert "held" not in columns("upload")
        # The ledger is append-only: its lines stay.
        assert rows("SELECT decision FROM review_event") == [("baseline",)]
        upgrade()
        db.engine.dispose()


def test_0013_adds_robots_e_mail_and_the_outbox_keeping_people(tmp_path):
    app = school_at(
        tmp_path,
        "0012",
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at, needs_setup, byline) VALUES"
        " (1, 'wang', '王老师', 'x', 'author', 1, 't', '2026-01-01 00:00:00', 0, '')",
        "INSERT INTO department (id, name, position) VALUES (1, '教务处', 0)",
        "INSERT INTO review_group (id, name, position) VALUES (1, '宣传办', 0)",
        "INSERT INTO department_head (department_id, user_id) VALUES (1, 1)",
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT username, email FROM user") == [("wang", None)]
        assert rows("SELECT name, robot_url FROM department") == [("教务处", "")]
        assert rows("SELECT name, robot_url FROM review_group") == [("宣传办", "")]
        with db.engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE department SET robot_url = 'dingtalk://abc'")
            )
            connection.execute(
                sa.text(
                    "INSERT INTO notification (created_at, target, recipient, event,"
                    " title, body, status, attempts, next_attempt_at, claim,"
                    " last_error) VALUES ('2026-12-06 08:00:00', 'department:1', '',"
                    " 'waiting', '等待初审：开学', '', 'pending', 0,"
                    " '2026-12-06 08:00:00', '', '')"
                )
            )
            connection.execute(
                sa.text("INSERT INTO setting (key, value) VALUES ('smtp_host', 'mx')")
            )
        downgrade(revision="0012")
        assert "email" not in columns("user")
        assert "robot_url" not in columns("department") | columns("review_group")
        assert "notification" not in tables()
        assert rows("SELECT key FROM setting WHERE key LIKE 'smtp%'") == []
        assert rows("SELECT department_id, user_id FROM department_head") == [(1, 1)]
        upgrade()  # and forward again
        db.engine.dispose()


def test_0014_queues_previews_of_existing_attachments_keeping_uploads(tmp_path):
    app = school_at(
        tmp_path,
        "0013",
        "INSERT INTO upload (id, kind, stored_name, original_name, content_type,"
        " size, created_at, held) VALUES"
        " (1, 'attachment', 'aaaaaaaaaaaaaaaa.pdf', '通知.pdf', 'application/pdf',"
        " 10, '2026-01-01 00:00:00', 0),"
        " (2, 'attachment', 'bbbbbbbbbbbbbbbb.xlsx', '名单.xlsx', 'application/x',"
        " 10, '2026-01-01 00:00:00', 0),"
        " (3, 'attachment', 'cccccccccccccccc.doc', '旧.doc', 'application/msword',"
        " 10, '2026-01-01 00:00:00', 0),"
        " (4, 'image', 'dddddddddddddddd.jpg', '照片.jpg', 'image/jpeg',"
        " 10, '2026-01-01 00:00:00', 0)",
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT original_name, preview, preview_note FROM upload") == [
            ("通知.pdf", "pending", ""),
            ("名单.xlsx", "pending", ""),
            ("旧.doc", "", ""),  # no previews of old Office files
            ("照片.jpg", "", ""),
        ]
        downgrade(revision="0013")
        assert "preview" not in columns("upload")
        assert rows("SELECT original_name FROM upload") == [
            ("通知.pdf",),
            ("名单.xlsx",),
            ("旧.doc",),
            ("照片.jpg",),
        ]
        upgrade()  # and forward again
        db.engine.dispose()


def test_0019_makes_the_school_site_one_owning_every_row(tmp_path):
    app = school_at(
        tmp_path,
        "0018",
        "INSERT INTO setting (key, value) VALUES ('school_name', '城关第一中学'),"
        " ('phone', '0571-1234')",
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at, needs_setup, byline) VALUES"
        " (1, 'wang', '王老师', 'x', 'author', 1, 't', '2026-01-01 00:00:00', 0, '')",
        "INSERT INTO department (id, name, position) VALUES (1, '教务处', 0)",
        "INSERT INTO section (id, name, slug, position) VALUES (1, '新闻', 'news', 0)",
        "INSERT INTO article (id, title, body_html, author_name, section_id,"
        " channel_id, status, published_at, pinned, views, version, created_at,"
        " updated_at, excerpt) VALUES (1, '开学典礼', '<p>正文</p>', '王老师', 1, 1,"
        " 'published', '2026-09-01 08:00:00', 0, 9, 1, '2026-09-01 08:00:00',"
        " '2026-09-01 08:00:00', '正文')",
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT id, name, host, path_prefix FROM site") == [
            (1, "城关第一中学", "", "")
        ]
        owned = ("setting", "user", "department", "section", "article", "word_rule")
        for table in owned:
            assert {site for (site,) in rows(f'SELECT site_id FROM "{table}"')} == {1}
        assert rows("SELECT title, views FROM article") == [("开学典礼", 9)]
        # Slugs, names and setting keys are now unique within a site.
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO site (id, name, host, path_prefix,"
                    " bureau, active, created_at) VALUES (2, '二中', 'b.cn', '', false,"
                    " true, '2026-12-01')"
                )
            )
            for statement in (
                "INSERT INTO section (name, slug, position, site_id)"
                " VALUES ('新闻', 'news', 0, 2)",
                "INSERT INTO setting (key, value, site_id) VALUES ('phone', '2', 2)",
                "INSERT INTO department (name, position, site_id)"
                " VALUES ('教务处', 0, 2)",
            ):
                connection.execute(sa.text(statement))
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO section (name, slug, position,"
                    " site_id) VALUES ('又一个', 'news', 0, 2)"
                )
            )
        # The previous release holds one school: going back with two is refused.
        with pytest.raises(SystemExit):
            downgrade(revision="0018")
        with db.engine.begin() as connection:
            for table in ("section", "setting", "department"):
                connection.execute(sa.text(f"DELETE FROM {table} WHERE site_id = 2"))
            connection.execute(sa.text("DELETE FROM site WHERE id = 2"))
        downgrade(revision="0018")
        assert "site" not in tables() and "site_id" not in columns("article")
        assert rows("SELECT value FROM setting WHERE key = 'phone'") == [("0571-1234",)]
        assert rows("SELECT title, views FROM article") == [("开学典礼", 9)]
        upgrade()
        assert rows("SELECT slug, site_id FROM section") == [("news", 1)]
        db.engine.dispose()


def test_0020_gives_the_logs_of_an_existing_school_to_its_site(tmp_path):
    app = school_at(
        tmp_path,
        "0019",
        "INSERT INTO review_event (created_at, article_id, article_title,"
        " department, author, user_name, level, decision, reason, version_hash,"
        " final) VALUES ('2026-11-01 08:00:00', 7, '开学典礼', '教务处', '王老师',"
        " '李主任', 1, 'approve', '', 'abc', 1)",
        "INSERT INTO login_attempt (username, ip, created_at, pending)"
        " VALUES ('wang', '10.0.0.9', '2026-11-01 08:00:00', 0)",
    )
    with app.app_context():
        upgrade()
        assert rows("SELECT article_title, site_id FROM review_event") == [
            ("开学典礼", 1)
        ]
        assert rows("SELECT username, site_id FROM login_attempt") == [("wang", 1)]
        # Still append-only: the column was added without copying the table.
        with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE review_event SET site_id = 2"))
        downgrade(revision="0019")
        assert "site_id" not in columns("review_event") | columns("audit_event")
        assert rows("SELECT article_title FROM review_event") == [("开学典礼",)]
        upgrade()
        db.engine.dispose()


def test_0021_leads_the_listing_indexes_with_the_site(tmp_path):
    article = (
        "INSERT INTO article (id, title, body_html, author_name, section_id,"
        " channel_id, status, published_at, pinned, views, version, created_at,"
        " updated_at, excerpt, site_id) VALUES ({id}, '{title}', '<p>正文</p>',"
        " '王老师', {site}, {site}, 'published', '2026-09-0{id} 08:00:00', 0, 9, 1,"
        " '2026-09-01 08:00:00', '2026-09-01 08:00:00', '正文', {site})"
    )
    app = school_at(
        tmp_path,
        "0020",
        "INSERT INTO site (id, name, host, path_prefix, bureau, active, created_at)"
        " VALUES (2, '二中', 'b.cn', '', 0, 1, '2026-12-01')",
        "INSERT INTO section (id, name, slug, position, site_id) VALUES"
        " (1, '新闻', 'news', 0, 1), (2, '新闻', 'news', 0, 2)",
        article.format(id=1, title="一中开学", site=1),
        article.format(id=2, title="二中开学", site=2),
        article.format(id=3, title="一中运动会", site=1),
    )
    listing = {
        "ix_article_order": ["pinned", "published_at", "status", "deleted_at"],
        "ix_article_section_order": [
            "section_id",
            "pinned",
            "published_at",
            "status",
            "deleted_at",
        ],
        "ix_article_channel_order": [
            "channel_id",
            "pinned",
            "published_at",
            "status",
            "deleted_at",
        ],
        "ix_article_picture_order": ["published_at", "status", "deleted_at"],
    }

    def indexes():
        with db.engine.connect() as connection:
            found = sa.inspect(connection).get_indexes("article")
        return {i["name"]: i["column_names"] for i in found if i["name"] in listing}

    with app.app_context():
        upgrade()
        assert indexes() == {name: ["site_id", *cols] for name, cols in listing.items()}
        assert rows("SELECT id, title, site_id FROM article ORDER BY id") == [
            (1, "一中开学", 1),
            (2, "二中开学", 2),
            (3, "一中运动会", 1),
        ]
        # The home page's list, as the reader asks for it: one range of the
        # site's posts, read in order from the index (no sort).
        from core.sites import acting_for
        from reader.listings import visible_ids

        sent = []

        def keep(_conn, _cursor, statement, parameters, _context, _many):
            sent.append((statement, parameters))

        sa.event.listen(db.engine, "before_cursor_execute", keep)
        try:
            with acting_for(1):
                ids = db.session.scalars(visible_ids().limit(10)).all()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", keep)
        assert ids == [3, 1]
        statement, parameters = sent[-1]
        with db.engine.connect() as connection:
            plan = " ".join(
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            )
        assert "INDEX ix_article_order (site_id=?" in plan, plan
        # Ties on published_at are put in id order as they come (the "right
        # part"); the site's posts as a whole are never sorted.
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
        db.session.remove()
        downgrade(revision="0020")
        assert indexes() == {name: [*cols, "site_id"] for name, cols in listing.items()}
        assert rows("SELECT count(*) FROM article") == [(3,)]
        upgrade()
        db.engine.dispose()


def test_0022_lets_one_person_belong_to_several_schools(tmp_path):
    user = (
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at, site_id) VALUES ({id}, '{name}',"
        " '老师', 'x', 'editor', 1, 't', '2026-09-01', {site})"
    )
    app = school_at(
        tmp_path,
        "0021",
        "INSERT INTO site (id, name, host, path_prefix, bureau, active, created_at)"
        " VALUES (2, '二中', 'b.cn', '', 0, 1, '2026-12-01')",
        "INSERT INTO department (id, name, position, site_id)"
        " VALUES (1, '教务处', 0, 1)",
        user.format(id=1, name="wang", site=1),
        user.format(id=2, name="li", site=2),
        "UPDATE user SET department_id = 1 WHERE id = 1",
    )
    member = (
        "INSERT INTO user (id, username, display_name, password_hash, role,"
        " active, session_token, created_at, site_id, login_id) VALUES"
        " ({id}, '{name}', '老师', '', 'author', 1, '', '2026-09-01', {site}, {login})"
    )
    with app.app_context():
        upgrade()
        assert rows(
            "SELECT id, username, site_id, department_id, login_id"
            " FROM user ORDER BY id"
        ) == [(1, "wang", 1, 1, None), (2, "li", 2, None, None)]
        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                member.format(id=3, name="wang", site=2, login=1)
            )
        # A name has one home row in the installation, and is once per site.
        for clash in (
            member.format(id=4, name="wang", site=2, login=1),
            user.format(id=4, name="wang", site=2).replace("'x'", "'y'"),
        ):
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
                connection.exec_driver_sql(clash)
        with db.engine.connect() as connection:
            # The columns' foreign keys kept their form (not table constraints).
            create = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'user'"
            ).scalar()
            assert "department_id INTEGER" in create and "uq_user_site_id" in create
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        db.session.remove()
        with pytest.raises(SystemExit):  # flask-migrate's way of refusing
            downgrade(revision="0021")
        assert "login_id" in columns("user")
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM user WHERE id = 3")
        downgrade(revision="0021")
        assert "login_id" not in columns("user")
        assert rows("SELECT id, username, department_id FROM user ORDER BY id") == [
            (1, "wang", 1),
            (2, "li", None),
        ]
        upgrade()
        db.engine.dispose()
