"""flask import-dedecms: a DedeCMS database in the MariaDB at 127.0.0.1:3306.

The tables are created by the tests, under a prefix of their own per run (so
parallel runs never meet), with the encodings old DedeCMS sites really have:
arctype in GBK, archives labelled latin1 but holding GBK and UTF-8 bytes,
addonarticle in UTF-8. They are dropped afterwards.
"""

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from models import Article, Section, Status, Upload, db
from operations.importers.dedecms import decode
from tests.conftest import article_titled, section_named
from tests.import_data import PDF, old_uploads, photo_bytes

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
DB_URL = "mysql://root@127.0.0.1:3306/test"
PUBDATE = int(datetime(2024, 3, 28, 2, 0, tzinfo=UTC).timestamp())  # 10:00 北京
DRAFT_DATE = int(datetime(2024, 4, 1, 0, 0, tzinfo=UTC).timestamp())

TABLES = """
CREATE TABLE {p}arctype (
  id smallint unsigned NOT NULL AUTO_INCREMENT, reid smallint unsigned NOT NULL
  DEFAULT 0, topid smallint unsigned NOT NULL DEFAULT 0, sortrank smallint
  unsigned NOT NULL DEFAULT 50, typename char(30) NOT NULL DEFAULT '',
  typedir char(60) NOT NULL DEFAULT '', isdefault smallint NOT NULL DEFAULT 0,
  defaultname char(15) NOT NULL DEFAULT 'index.html', issend smallint NOT NULL
  DEFAULT 0, channeltype smallint DEFAULT 1, ispart smallint NOT NULL DEFAULT 0,
  namerule char(50) NOT NULL DEFAULT '', namerule2 char(50) NOT NULL DEFAULT '',
  description char(150) NOT NULL DEFAULT '', PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=gbk;
CREATE TABLE {p}archives (
  id mediumint unsigned NOT NULL DEFAULT 0, typeid smallint unsigned NOT NULL
  DEFAULT 0, typeid2 varchar(90) NOT NULL DEFAULT '0', sortrank int unsigned NOT
  NULL DEFAULT 0, flag set('c','h','p','f','s','j','a','b') DEFAULT NULL,
  ismake smallint NOT NULL DEFAULT 0, channel smallint NOT NULL DEFAULT 1,
  arcrank smallint NOT NULL DEFAULT 0, click mediumint unsigned NOT NULL DEFAULT
  0, money smallint NOT NULL DEFAULT 0, title varchar(255) NOT NULL DEFAULT '',
  shorttitle char(36) NOT NULL DEFAULT '', color char(7) NOT NULL DEFAULT '',
  writer char(20) NOT NULL DEFAULT '', source char(30) NOT NULL DEFAULT '',
  litpic char(100) NOT NULL DEFAULT '', pubdate int unsigned NOT NULL DEFAULT 0,
  senddate int unsigned NOT NULL DEFAULT 0, mid mediumint unsigned NOT NULL
  DEFAULT 0, keywords char(30) NOT NULL DEFAULT '', description varchar(255) NOT
  NULL DEFAULT '', filename varchar(40) NOT NULL DEFAULT '', dutyadmin mediumint
  unsigned NOT NULL DEFAULT 0, weight int NOT NULL DEFAULT 0, PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE {p}addonarticle (
  aid mediumint unsigned NOT NULL DEFAULT 0, typeid smallint unsigned NOT NULL
  DEFAULT 0, body mediumtext, redirecturl varchar(255) NOT NULL DEFAULT '',
  templet varchar(30) NOT NULL DEFAULT '', userip char(15) NOT NULL DEFAULT '',
  PRIMARY KEY (aid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE {p}sysconfig (
  aid smallint unsigned NOT NULL DEFAULT 0, varname varchar(20) NOT NULL DEFAULT
  '', info varchar(100) NOT NULL DEFAULT '', groupid smallint NOT NULL DEFAULT 1,
  type varchar(10) NOT NULL DEFAULT 'string', value text, PRIMARY KEY (varname)
) ENGINE=InnoDB DEFAULT CHARSET=gbk
"""

TYPES = [
    # id, reid, topid, typename, typedir, namerule
    (1, 0, 0, "新闻中心", "{cmspath}/a/news", "{typedir}/{Y}/{M}{D}/{aid}.html"),
    (2, 1, 1, "学校要闻", "{cmspath}/a/news/yaowen", "{typedir}/{Y}{M}{D}/{aid}.html"),
    (3, 2, 1, "班级动态", "{cmspath}/a/news/yaowen/banji", "{typedir}/{aid}.html"),
    (4, 0, 0, "通知公告", "{cmspath}/a/tongzhi", "{typedir}/{pinyin}.html"),
]

BODY = (
    "<p>全体师生参加开学典礼。</p>"
    '<p><img src="/uploads/allimg/240328/1-24032Q00000.jpg" alt="" /></p>'
    '<p><a href="http://www.school.cn/uploads/soft/240328/计划.pdf">下载计划</a></p>'
    '<p><img src="/uploads/allimg/240328/gone.jpg" /></p>'
    "<script>alert(1)</script>"
)

# id, typeid, flag, channel, arcrank, click, title (bytes as stored), writer,
# source, litpic, pubdate, filename, body
ARCHIVES = [
    (
        1,
        2,
        "h,p",
        1,
        0,
        1234,
        "开学典礼隆重举行".encode("gbk"),
        "教务处".encode("gbk"),
        "校办".encode("gbk"),
        "/uploads/allimg/240328/1-24032Q00000.jpg",
        PUBDATE,
        "",
        BODY,
    ),
    (
        2,
        4,
        None,
        1,
        -1,
        5,
        "期中考试安排".encode(),
        "教务处".encode(),
        b"",
        "",
        DRAFT_DATE,
        "",
        "<p>考试安排见附件。</p>",
    ),
    (
        3,
        3,
        "c",
        1,
        0,
        7,
        "三年级一班春游".encode("gbk"),
        b"",
        b"",
        "",
        PUBDATE,
        "chunyou",
        "<p>春游。</p>",
    ),
    (
        4,
        1,
        None,
        1,
        0,
        0,
        b"\xff\xfe\x80 broken",
        b"",
        b"",
        "",
        PUBDATE,
        "",
        "<p>x</p>",
    ),
    (
        5,
        1,
        None,
        2,
        0,
        0,
        "校园风光图集".encode("gbk"),
        b"",
        b"",
        "",
        PUBDATE,
        "",
        None,
    ),
]


def _mariadb():
    pymysql = pytest.importorskip("pymysql")
    try:
        return pymysql.connect(
            **MARIADB,
            database="test",
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=3,
        )
    except pymysql.MySQLError as error:
        pytest.skip(
            "No MariaDB/MySQL at 127.0.0.1:3306 (user root, no password, database "
            f"test): the DedeCMS import tests need one ({error})."
        )


@pytest.fixture
def dede(tmp_path):
    """A DedeCMS database under a fresh prefix; yields the prefix."""
    connection = _mariadb()
    prefix = f"t{secrets.token_hex(4)}_"
    cursor = connection.cursor()
    try:
        for statement in TABLES.format(p=prefix).split(";"):
            cursor.execute(statement)
        cursor.executemany(
            f"INSERT INTO {prefix}arctype (id, reid, topid, typename, typedir,"
            " namerule) VALUES (%s, %s, %s, %s, %s, %s)",
            TYPES,
        )
        for row in ARCHIVES:
            *archive, body = row
            cursor.execute(
                f"INSERT INTO {prefix}archives (id, typeid, flag, channel, arcrank,"
                " click, title, writer, source, litpic, pubdate, senddate, filename)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*archive[:10], archive[10], archive[10], archive[11]),
            )
            if body is not None:
                cursor.execute(
                    f"INSERT INTO {prefix}addonarticle (aid, typeid, body)"
                    " VALUES (%s, %s, %s)",
                    (row[0], row[1], body),
                )
        cursor.executemany(
            f"INSERT INTO {prefix}sysconfig (varname, value) VALUES (%s, %s)",
            [
                ("cfg_basehost", "http://www.school.cn"),
                ("cfg_cmspath", ""),
                ("cfg_medias_dir", "/uploads"),
            ],
        )
        yield prefix
    finally:
        for table in ("arctype", "archives", "addonarticle", "sysconfig"):
            cursor.execute(f"DROP TABLE IF EXISTS {prefix}{table}")
        connection.close()


@pytest.fixture
def uploads(tmp_path):
    return old_uploads(
        tmp_path / "dede-uploads",
        {
            "allimg/240328/1-24032Q00000.jpg": photo_bytes((20, 120, 40)),
            "soft/240328/计划.pdf": PDF,
        },
    )


@pytest.fixture
def run_import(runner, dede, uploads):
    def run(*extra):
        result = runner.invoke(
            args=[
                "import-dedecms",
                "--db",
                DB_URL,
                "--prefix",
                dede,
                "--uploads",
                str(uploads),
                *extra,
            ]
        )
        assert result.exit_code == 0, result.output
        return result

    return run


def test_dedecms_site_is_imported_over_a_real_connection(app, run_import):
    result = run_import()
    assert "Connected to test: 5 archives." in result.output
    assert "Sections: 3 imported, 1 skipped." in result.output
    assert "Posts: 4 imported, 1 skipped." in result.output
    assert "skipped 1: not an article (DedeCMS model 2)" in result.output
    assert "Images: 1 imported, 1 unchanged, 1 failed." in result.output
    assert "Attachments: 1 imported." in result.output
    assert "allimg/240328/gone.jpg (archive 1" in result.output
    assert "archives.title of archive 4: neither UTF-8 nor GBK" in result.output
    with app.app_context():
        news = section_named("新闻中心")
        yaowen = section_named("学校要闻")
        assert news.parent_id is None and yaowen.parent_id == news.id
        assert yaowen.slug == "yaowen"

        opening = article_titled("开学典礼隆重举行")  # GBK bytes in a latin1 column
        assert opening is not None
        assert opening.author_name == "教务处" and opening.source == "校办"
        assert opening.views == 1234 and opening.pinned
        assert opening.status == Status.PUBLISHED
        assert opening.published_at == datetime(2024, 3, 28, 2, 0)
        assert opening.section_id == yaowen.id
        assert opening.cover is not None
        assert f'<img src="/uploads/{opening.cover.stored_name}"' in opening.body_html
        plan = db.session.scalar(sa.select(Upload).where(Upload.kind == "attachment"))
        assert plan.original_name == "计划.pdf"
        assert f'href="/attachments/{plan.id}"' in opening.body_html
        assert "gone.jpg" not in opening.body_html  # not copied: not shown
        assert "<script" not in opening.body_html

        exam = article_titled("期中考试安排")  # UTF-8 bytes in the same latin1 column
        assert exam.status == Status.DRAFT and exam.author_name == "教务处"
        trip = article_titled("三年级一班春游")
        assert trip.section_id == yaowen.id and trip.pinned  # level 3 folded
        assert section_named("班级动态") is None
        assert article_titled("校园风光图集") is None


def test_a_second_run_duplicates_nothing(app, run_import):
    run_import()
    with app.app_context():
        before = [
            db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Article, Section, Upload)
        ]
    again = run_import()
    assert "Posts: 4 unchanged, 1 skipped." in again.output
    with app.app_context():
        after = [
            db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Article, Section, Upload)
        ]
    assert after == before


def test_old_dedecms_addresses_lead_to_the_imported_pages(app, client, run_import):
    result = run_import()
    assert "{typedir}/{pinyin}.html were not kept" in result.output
    with app.app_context():
        opening = article_titled("开学典礼隆重举行").id
        trip = article_titled("三年级一班春游").id
    day = datetime.fromtimestamp(PUBDATE, ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    expected = {
        "/plus/view.php?aid=1": f"/articles/{opening}",
        f"/a/news/yaowen/{day}/1.html": f"/articles/{opening}",
        "/A/News/Yaowen/20240328/1.html": f"/articles/{opening}",
        "/a/news/yaowen/banji/chunyou.html": f"/articles/{trip}",
        "/plus/list.php?tid=2": "/sections/yaowen",
        "/plus/list.php?tid=3": "/sections/yaowen",
        "/a/news/": "/sections/news",
        "/a/news/index.html": "/sections/news",
    }
    for old, new in expected.items():
        response = client.get(old)
        assert response.status_code == 301, old
        assert response.headers["Location"] == new, old


def test_dry_run_writes_nothing(app, run_import):
    result = run_import("--dry-run")
    assert "Dry run: nothing was written." in result.output
    assert "Posts: 4 imported, 1 skipped." in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Article.id))) == 0


def test_a_wrong_prefix_or_database_fails_clearly(runner, dede):
    result = runner.invoke(args=["import-dedecms", "--db", DB_URL, "--prefix", "zz_"])
    assert result.exit_code == 1
    assert "has no table zz_arctype" in result.output
    result = runner.invoke(
        args=["import-dedecms", "--db", "mysql://root@127.0.0.1:1/test"]
    )
    assert result.exit_code == 1
    assert "Cannot connect to the DedeCMS database test on 127.0.0.1:1" in result.output
    result = runner.invoke(args=["import-dedecms", "--db", "postgres://x/y"])
    assert "--db must look like mysql://" in result.output
    result = runner.invoke(args=["import-dedecms", "--db", DB_URL, "--prefix", "a;b"])
    assert "--prefix may only hold" in result.output


def mysql_latin1(data: bytes) -> str:
    """bytes as MySQL's latin1 reads them: cp1252, its five holes kept as is."""
    out = []
    for byte in data:
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


@pytest.mark.parametrize(
    ("raw", "declared", "text"),
    [
        ("开学典礼".encode("gbk"), "gbk", "开学典礼"),
        ("开学典礼".encode("gbk"), "latin1", "开学典礼"),
        ("开学典礼".encode(), "latin1", "开学典礼"),
        ("开学典礼".encode(), "utf8mb4", "开学典礼"),
        # UTF-8 bytes once read through a latin1 connection, stored as UTF-8.
        (mysql_latin1("开学典礼".encode()).encode(), "utf8", "开学典礼"),
        (mysql_latin1("教务处".encode("gbk")).encode(), "utf8", "教务处"),
        (b"plain ascii", "latin1", "plain ascii"),
    ],
)
def test_chinese_comes_through_whatever_the_encoding(raw, declared, text):
    assert decode(raw, declared) == (text, True)


def test_undecodable_bytes_are_flagged():
    text, ok = decode(b"\xff\xfe\x80", "latin1")
    assert not ok and "\ufffd" in text
