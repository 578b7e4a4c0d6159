"""flask import-wordpress: a school's WordPress export, imported for real."""

import hashlib
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from models import Article, LegacyUrl, Origin, Section, Status, Upload, db
from newsroom import thumbnails
from tests.conftest import article_titled, rows, section_named
from tests.import_data import PERMALINK, wp_uploads, write_wxr

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


@pytest.fixture
def export(tmp_path) -> Path:
    return write_wxr(tmp_path / "school.WordPress.2024-03-28.xml")


@pytest.fixture
def old_site(tmp_path) -> Path:
    return wp_uploads(tmp_path / "wp-uploads")


@pytest.fixture
def run_import(runner, export, old_site):
    def run(*extra, path=None):
        args = ["import-wordpress", str(path or export), "--uploads", str(old_site)]
        result = runner.invoke(args=[*args, *extra])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.output
        )
        return result

    return run


def counts() -> tuple[int, int, int, int, int]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Article, Section, Upload, Origin, LegacyUrl)
    )


def test_export_becomes_sections_posts_photos_and_attachments(app, run_import):
    result = run_import()
    assert result.exit_code == 0, result.output
    assert "Sections: 4 imported, 1 skipped." in result.output
    assert "Posts: 6 imported, 1 skipped." in result.output
    assert "skipped 1: status «trash» is not imported" in result.output
    assert "Attachments: 1 imported." in result.output
    assert "2024/03/missing.jpg (post 11 «开学典礼隆重举行»)" in result.output
    with app.app_context():
        news = section_named("新闻中心")
        campus = section_named("校园动态")
        assert news.parent_id is None and campus.parent_id == news.id
        assert campus.slug == "xiaoyuan"
        # A third level is filed into its level-2 ancestor.
        assert section_named("班级风采") is None
        assert article_titled("三年级主题班会").section_id == campus.id

        opening = article_titled("开学典礼隆重举行")
        assert opening.status == Status.PUBLISHED and opening.pinned
        assert opening.author_name == "张三老师"  # a byline, no account
        assert opening.views == 345
        assert opening.published_at == datetime(2024, 3, 1, 0, 0)
        assert opening.summary == "新学期开始了。"
        assert opening.excerpt == "新学期开始了。"
        assert opening.channel_id == news.id
        assert opening.cover is not None and opening.cover.kind == "image"
        assert opening.picture_id == opening.cover_id  # lists show it
        body = opening.body_html
        assert f'<img src="/uploads/{opening.cover.stored_name}"' in body
        plan = db.session.scalar(sa.select(Upload).where(Upload.kind == "attachment"))
        assert plan.original_name == "plan.pdf" and plan.article_id == opening.id
        assert f'href="/attachments/{plan.id}"' in body
        # Not copied, so not shown: a remote image would be blocked (CSP).
        assert "missing.jpg" not in body and "<img" in body
        assert "<script" not in body

        # No GMT date: 09:30 in Shanghai is 01:30 UTC.
        assert article_titled("三年级主题班会").published_at == datetime(
            2024, 3, 2, 1, 30
        )
        assert (
            article_titled("三年级主题班会").body_html == "<p>第一段</p><p>第二段</p>"
        )
        assert article_titled("三年级主题班会").author_name == "德育处"
        assert article_titled("草稿：运动会方案").status == Status.DRAFT
        assert article_titled("内部通知").status == Status.DRAFT
        scheduled = article_titled("期末考试安排")
        assert scheduled.is_scheduled and not scheduled.is_public
        assert article_titled("学校简介").section.name == "页面"
        assert article_titled("删掉的文章") is None
        assert article_titled("首页") is None
        assert all(
            a.created_by_id is None for a in db.session.scalars(sa.select(Article))
        )


def test_photos_are_reencoded_without_their_gps_position(app, run_import):
    run_import()
    with app.app_context():
        images = db.session.scalars(sa.select(Upload).where(Upload.kind == "image"))
        folder = Path(app.config["UPLOAD_FOLDER"])
        for upload in images:
            with Image.open(folder / upload.stored_name) as image:
                assert image.size == (800, 600)
                assert not image.getexif()
            # The editor's pipeline made the list and share thumbnails too.
            for variant in thumbnails.PHOTO_VARIANTS:
                name = thumbnails.name_of(upload.stored_name, variant)
                assert (thumbnails.folder() / name).is_file()


def test_a_second_run_updates_and_duplicates_nothing(app, run_import, tmp_path):
    run_import()
    with app.app_context():
        before = counts()
        opening_id = article_titled("开学典礼隆重举行").id
    again = run_import()
    assert "Posts: 6 unchanged, 1 skipped." in again.output
    assert "Images: 3 unchanged" in again.output
    with app.app_context():
        assert counts() == before
    changed = write_wxr(tmp_path / "changed.xml", opening_title="开学典礼（更新）")
    result = run_import(path=changed)
    assert "Posts: 1 updated, 5 unchanged, 1 skipped." in result.output
    with app.app_context():
        assert counts() == before
        assert db.session.get(Article, opening_id).title == "开学典礼（更新）"


def test_a_post_deleted_here_since_is_imported_again(app, run_import, client):
    run_import()
    with app.app_context():
        db.session.delete(article_titled("三年级主题班会"))
        db.session.commit()
    result = run_import()
    assert "Posts: 1 imported, 5 unchanged, 1 skipped." in result.output
    with app.app_context():
        new_id = article_titled("三年级主题班会").id
    response = client.get("/?p=12")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/articles/{new_id}"


def test_without_the_upload_folder_every_file_is_listed(app, runner, export):
    result = runner.invoke(args=["import-wordpress", str(export)])
    assert result.exit_code == 0, result.output
    assert "failed 4: file no --uploads folder given" in result.output
    for name in ("photo.jpg", "plan.pdf", "missing.jpg"):
        assert f"2024/03/{name}" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Upload.id))) == 0
        assert article_titled("开学典礼隆重举行").cover_id is None


def test_a_file_the_upload_checks_refuse_is_reported(app, run_import, tmp_path):
    body = (
        '<a href="/wp-content/uploads/2024/03/notes.exe">notes</a>'
        '<img src="/wp-content/uploads/2024/03/broken.jpg">'
    )
    extra = f"""<item><title>病毒</title><content:encoded><![CDATA[{body}]]>
      </content:encoded><wp:post_id>40</wp:post_id><wp:status>publish</wp:status>
      <wp:post_type>post</wp:post_type></item>"""
    result = run_import(path=write_wxr(tmp_path / "exe.xml", extra_items=extra))
    assert "Posts: 7 imported, 1 skipped." in result.output
    assert "Images: 1 imported, 2 unchanged, 2 failed." in result.output
    assert "failed 1: broken.jpg: This image is damaged or incomplete" in result.output
    # An .exe is not even tried: links to it stay as they were (cleaned).
    with app.app_context():
        assert "notes.exe" in article_titled("病毒").body_html
        assert (
            db.session.scalar(
                sa.select(sa.func.count(Upload.id)).where(Upload.kind == "attachment")
            )
            == 1
        )


HOSTILE = {
    "entity bomb": """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss><channel><title>&d;</title></channel></rss>""",
    "external entity": """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>
<wp:wxr_version>1.2</wp:wxr_version><item><title>&secret;</title>
<wp:post_type>post</wp:post_type><wp:status>publish</wp:status></item>
</channel></rss>""",
    "broken XML": """<?xml version="1.0"?><rss><channel><item><title>开学
</channel></rss>""",
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_or_broken_files_fail_clearly_and_import_nothing(
    app, runner, tmp_path, kind
):
    path = tmp_path / "export.xml"
    path.write_text(HOSTILE[kind], encoding="utf-8")
    result = runner.invoke(args=["import-wordpress", str(path)])
    assert result.exit_code == 1
    assert "Nothing was imported." in result.output
    assert "Traceback" not in result.output and "root:" not in result.output
    if kind == "broken XML":
        assert "not well-formed XML (line 2" in result.output
    else:
        assert "declares entities or a DTD" in result.output
    with app.app_context():
        assert counts() == (0, 0, 0, 0, 0)


def test_xml_that_is_not_a_wordpress_export_is_refused(app, runner, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text("<rss><channel><title>x</title></channel></rss>")
    result = runner.invoke(args=["import-wordpress", str(path)])
    assert result.exit_code == 1
    assert "not a WordPress export (WXR)" in result.output


def _site_digest(app) -> str:
    """What the site's database holds, as one hash: the file's bytes on
    SQLite (its log folded in), every table's rows on PostgreSQL."""
    with app.app_context():
        url = db.engine.url
        if url.get_backend_name() == "postgresql":
            digest = hashlib.sha256()
            with db.engine.connect() as connection:
                for table in sorted(sa.inspect(connection).get_table_names()):
                    rows = connection.exec_driver_sql(
                        f'SELECT * FROM "{table}" ORDER BY 1'
                    ).all()
                    digest.update(repr((table, rows)).encode())
            db.engine.dispose()
            return digest.hexdigest()
        db.engine.dispose()
    with sqlite3.connect(url.database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return hashlib.sha256(Path(url.database).read_bytes()).hexdigest()


def test_dry_run_prints_the_report_and_writes_nothing(app, run_import):
    uploads = Path(app.config["UPLOAD_FOLDER"])
    before = _site_digest(app)
    result = run_import("--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written." in result.output
    assert "Posts: 6 imported, 1 skipped." in result.output
    assert "Images: 1 imported" in result.output
    assert _site_digest(app) == before
    assert list(uploads.iterdir()) == []
    with app.app_context():
        # On PostgreSQL the scratch copy was a database of its own: gone.
        if db.engine.url.get_backend_name() == "postgresql":
            scratch = db.engine.url.database[:30] + "_dryrun_"
            names = rows("SELECT datname FROM pg_database")
            assert not [n for (n,) in names if n.startswith(scratch)]
    # The same run for real does change it: the check above can fail.
    run_import()
    assert _site_digest(app) != before


def test_imported_posts_show_at_once_in_cached_pages_and_feeds(app, client, run_import):
    assert "开学典礼隆重举行" not in client.get("/").get_data(as_text=True)
    assert "开学典礼隆重举行" not in client.get("/feed.xml").get_data(as_text=True)
    run_import()
    home = client.get("/").get_data(as_text=True)
    assert "开学典礼隆重举行" in home
    assert "期末考试安排" not in home  # scheduled
    assert "开学典礼隆重举行" in client.get("/feed.xml").get_data(as_text=True)
    assert "开学典礼隆重举行" in client.get("/sections/xiaoyuan").get_data(as_text=True)


def test_old_wordpress_addresses_lead_to_the_imported_pages(app, client, run_import):
    run_import()
    with app.app_context():
        opening = article_titled("开学典礼隆重举行")
        page_id = article_titled("学校简介").id
        cover = opening.cover.stored_name
        plan = db.session.scalar(
            sa.select(Upload.id).where(Upload.kind == "attachment")
        )
    expected = {
        "/?p=11": f"/articles/{opening.id}",
        "/index.php?p=11&utm_source=wechat": f"/articles/{opening.id}",
        "/?page_id=20": f"/articles/{page_id}",
        "/?cat=3": "/sections/xiaoyuan",
        "/?cat=4": "/sections/xiaoyuan",  # the folded third level
        "/category/news/": "/sections/news",
        "/category/news/xiaoyuan/banji/": "/sections/xiaoyuan",
        PERMALINK: f"/articles/{opening.id}",
        "/2024/03/01/%E5%BC%80%E5%AD%A6%E5%85%B8%E7%A4%BC/": f"/articles/{opening.id}",
        "/wp-content/uploads/2024/03/photo.jpg": f"/uploads/{cover}",
        "/wp-content/uploads/2024/03/photo-300x225.jpg": f"/uploads/{cover}",
        "/wp-content/uploads/2024/03/plan.pdf": f"/attachments/{plan}",
    }
    for old, new in expected.items():
        response = client.get(old)
        assert response.status_code == 301, old
        assert response.headers["Location"] == new, old
    assert client.get("/?p=11", follow_redirects=True).status_code == 200
    # Unknown old ids: the home page as usual, and a plain 404 elsewhere.
    assert client.get("/?p=999").status_code == 200
    assert client.get("/plus/view.php?aid=11").status_code == 404
    assert client.post("/?p=11").status_code == 405  # old addresses are GET only


def _extra_post(post_id: int, title: str, body: str) -> str:
    return f"""<item><title>{title}</title><content:encoded><![CDATA[{body}]]>
      </content:encoded><wp:post_id>{post_id}</wp:post_id>
      <wp:status>publish</wp:status><wp:post_type>post</wp:post_type>
      <category domain="category" nicename="tongzhi">tongzhi</category></item>"""


def test_captions_become_figures_and_other_shortcodes_are_reported(
    app, run_import, tmp_path
):
    body = (
        '[caption id="attachment_10" align="aligncenter" width="300"]'
        '<img src="/wp-content/uploads/2024/03/photo.jpg" alt="合影"> 全班合影'
        "[/caption]"
        '[gallery ids="1,2,3"]'
        "[embed]https://v.qq.com/x/page/abc.html[/embed]"
    )
    extra = _extra_post(41, "春游合影", body)
    result = run_import(path=write_wxr(tmp_path / "sc.xml", extra_items=extra))
    assert "left in the text as they are: [gallery]" in result.output
    with app.app_context():
        html = article_titled("春游合影").body_html
    assert '<figure><img src="/uploads/' in html
    assert "<figcaption>全班合影</figcaption></figure>" in html
    assert '<a href="https://v.qq.com/x/page/abc.html"' in html
    assert "[caption" not in html and "[embed" not in html


def test_a_body_cannot_reach_files_outside_the_upload_folder(
    app, run_import, tmp_path, old_site
):
    (tmp_path / "secret.jpg").write_bytes((old_site / "2024/03/photo.jpg").read_bytes())
    body = '<img src="/wp-content/uploads/../secret.jpg">'
    extra = _extra_post(42, "越界", body)
    result = run_import(path=write_wxr(tmp_path / "up.xml", extra_items=extra))
    assert "../secret.jpg (post 42" in result.output
    with app.app_context():
        names = set(db.session.scalars(sa.select(Upload.original_name)))
    assert "secret.jpg" not in names


def test_images_on_other_sites_are_removed_and_reported(app, run_import, tmp_path):
    body = (
        "<p>运动会现场</p>"
        '<p><img src="https://pic.example.com/a.jpg" alt="跑道"></p>'
        '<p><img src=" https://pic.example.com/b.jpg"></p>'
    )
    extra = _extra_post(43, "外站图片", body)
    result = run_import(path=write_wxr(tmp_path / "ext.xml", extra_items=extra))
    assert "skipped 2: on another site: removed from the post" in result.output
    assert "https://pic.example.com/a.jpg (post 43" in result.output
    with app.app_context():
        html = article_titled("外站图片").body_html
    assert html == "<p>运动会现场</p>"


def test_editors_can_edit_imported_posts(app, run_import, editor_client):
    run_import()
    with app.app_context():
        opening = article_titled("开学典礼隆重举行")
    response = editor_client.get(f"/editor/articles/{opening.id}/edit")
    assert response.status_code == 200
    assert "开学典礼隆重举行" in response.get_data(as_text=True)
    dashboard = editor_client.get("/editor/").get_data(as_text=True)
    assert "开学典礼隆重举行" in dashboard


def test_imported_posts_are_found_by_search_and_only_the_public_ones(
    client, run_import
):
    run_import()
    page = client.get("/search", query_string={"q": "开学"}).get_data(as_text=True)
    assert "<mark>开学</mark>典礼隆重举行" in page
    # Imported but scheduled: in no result until its time.
    page = client.get("/search", query_string={"q": "期末"}).get_data(as_text=True)
    assert "期末考试安排" not in page
