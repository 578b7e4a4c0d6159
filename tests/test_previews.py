"""Attachment previews: a PDF's pages, a Word document and a workbook's sheets
become a page of the site, made in the background within a memory bound;
hostile files get a note instead, never a 500; previews go with their file."""

import io
import re
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from PIL import Image

from core.sites import acting_for
from models import Article, Site, Status, Upload, db, utcnow
from newsroom import preview_files, preview_queue, preview_thumbs, previews
from tests.conftest import count_statements, user_id
from tests.documents import (
    make_big_csv,
    make_big_xlsx,
    make_drawn_pdf,
    make_encrypted_pdf,
    make_merged_xlsx,
    make_zip_bomb_xlsx,
)
from tests.test_docx_import import (
    CONTENT_TYPES,
    DOCUMENT_RELS,
    NUMBERING,
    PACKAGE_RELS,
    STYLES,
    R,
    W,
    make_docx,
    paragraph,
    png_bytes,
)
from tests.test_files import fetch, upload_attachment

pytestmark = pytest.mark.usefixtures("ledger_checked")

THREE_PAGES = ["Page one\nSports day", "Page two\nTimetable", "Page three\nSign here"]


@pytest.fixture
def post(app, make_article):
    """A published post of the seeded author."""
    return make_article(created_by_id=user_id(app, "author"))


def attach(client, article_id, data, filename) -> int:
    response = upload_attachment(client, data, filename, article_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["id"]


def make_previews(app) -> int:
    with app.app_context():
        return preview_queue.process_pending()


def row(app, upload_id) -> Upload:
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        db.session.expunge(upload)
        return upload


def derived(app, upload_id) -> Path:
    with app.app_context():
        return preview_files.derived_dir(db.session.get(Upload, upload_id).stored_name)


def page_images(html: str) -> list[str]:
    return re.findall(r'<img src="(/uploads/derived/[^"]+/page-\d+\.jpg)"', html)


def test_the_upload_answers_at_once_and_the_preview_follows(app, author_client, post):
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    assert row(app, upload_id).preview == "pending"
    reader = app.test_client()
    waiting = reader.get(f"/attachments/{upload_id}/preview").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in waiting
    assert "预览生成中，本页几秒后自动刷新" in waiting
    article = reader.get(f"/articles/{post}").get_data(as_text=True)
    assert "预览生成中" in article

    assert make_previews(app) == 1
    assert row(app, upload_id).preview == "ready"
    article = reader.get(f"/articles/{post}").get_data(as_text=True)
    assert f'href="/attachments/{upload_id}/preview"' in article
    assert "预览生成中" not in article
    thumb = re.search(r'class="attachment-thumb" src="([^"]+)"', article).group(1)
    response = fetch(reader, thumb)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


def test_a_pdf_becomes_its_pages_as_images(app, author_client, post):
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    make_previews(app)
    reader = app.test_client()
    page = reader.get(f"/attachments/{upload_id}/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    images = page_images(html)
    assert len(images) == 3
    assert "3 / 3" in html
    assert html.count('loading="lazy"') == 2  # the first page comes at once
    first = fetch(reader, images[0])
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(first.data))
    assert image.width == previews.PAGE_WIDTH
    # The blue band drawn at the top of the page is there: a real rendering.
    assert image.convert("RGB").getpixel((image.width // 2, 100))[2] > 150
    assert f'/attachments/{upload_id}"' in html  # the download stays at hand


def test_only_the_first_pages_of_a_long_pdf_are_shown(app, author_client, post):
    pages = [f"Page {n}" for n in range(1, previews.MAX_PAGES + 4)]
    upload_id = attach(author_client, post, make_drawn_pdf(pages), "长文件.pdf")
    make_previews(app)
    html = app.test_client().get(f"/attachments/{upload_id}/preview").get_data(True)
    assert len(page_images(html)) == previews.MAX_PAGES
    assert f"1 / {len(pages)}" in html
    assert "完整内容请下载附件" in html


def test_a_docx_becomes_clean_html_with_its_image_and_table(app, author_client, post):
    upload_id = attach(author_client, post, make_docx(), "运动会通知.docx")
    make_previews(app)
    reader = app.test_client()
    html = reader.get(f"/attachments/{upload_id}/preview").get_data(as_text=True)
    assert '<td colspan="2"><p>项目表头</p></td>' in html
    assert "<strong>准时</strong>" in html
    src = re.search(r'<img alt="运动会照片" src="([^"]+)"', html).group(1)
    assert src.startswith("/uploads/derived/") and src.endswith("/img-1.png")
    image = fetch(reader, src)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (32, 24)


def test_a_workbook_becomes_one_table_per_sheet_with_merged_cells(
    app, author_client, post
):
    upload_id = attach(author_client, post, make_merged_xlsx(), "报名表.xlsx")
    make_previews(app)
    html = app.test_client().get(f"/attachments/{upload_id}/preview").get_data(True)
    assert "<h2>报名</h2>" in html and "<h2>日程</h2>" in html
    assert '<td colspan="3">2026年秋季运动会报名表</td>' in html
    assert '<td rowspan="3">上午</td><td>开幕式</td>' in html
    assert "<td>25%</td>" in html
    # The formatted but empty cell far away adds no rows or columns.
    first_table = html.split("<table>")[1].split("</table>")[0]
    assert first_table.count("<tr>") == 4
    assert "<tr><td>张三</td><td>初二(3)班</td><td>跳远</td></tr>" in first_table


def test_a_large_csv_is_cut_at_the_cell_limit(app, author_client, post):
    upload_id = attach(author_client, post, make_big_csv(2_000, 10), "名单.csv")
    make_previews(app)
    html = app.test_client().get(f"/attachments/{upload_id}/preview").get_data(True)
    assert html.count("<td>") == previews.MAX_CELLS
    assert "<td>r0c0</td>" in html and "r1999c0" not in html
    assert "完整内容请下载附件" in html


# --- thumbnails of the first page ---------------------------------------------------


def docx_of(*paragraphs: str) -> bytes:
    """A .docx whose body is these paragraphs (w:p XML)."""
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>{"".join(paragraphs)}'
        "</w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("word/_rels/document.xml.rels", DOCUMENT_RELS)
        archive.writestr("word/document.xml", document)
        archive.writestr("word/styles.xml", STYLES)
        archive.writestr("word/numbering.xml", NUMBERING)
        archive.writestr("word/media/image1.png", png_bytes())
    return out.getvalue()


def thumbnail_in(html: str) -> str:
    return re.search(r'class="attachment-thumb" src="([^"]+)"', html).group(1)


def dark_pixels(image: Image.Image) -> int:
    """Pixels dark enough to be text, right of and below a sheet's row
    numbers and column letters (a grid's lines are lighter)."""
    cells = image.convert("L").crop((10, 16, image.width, image.height))
    return sum(cells.point(lambda v: v < 160 and 255).histogram()[255:])


def thumbnail_of(app, author_client, post, data, filename) -> Image.Image:
    """Attach the file, make its preview; its thumbnail as the article
    links it."""
    upload_id = attach(author_client, post, data, filename)
    make_previews(app)
    assert row(app, upload_id).preview == "ready"
    reader = app.test_client()
    article = reader.get(f"/articles/{post}").get_data(as_text=True)
    item = article.split(f'href="/attachments/{upload_id}"')[0].rsplit("<li", 1)[1]
    response = fetch(reader, thumbnail_in(item))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert len(response.data) < 60_000  # a small picture beside the name
    return Image.open(io.BytesIO(response.data))


CSV = "姓名,班级,项目\n张三,初二(3)班,跳远\n李四,初二(3)班,100米\n王五,初一(1)班,跳绳\n"


@pytest.mark.parametrize(
    "filename, make",
    [
        ("运动会通知.docx", make_docx),
        ("报名表.xlsx", make_merged_xlsx),
        ("名单.csv", None),
    ],
)
def test_word_files_and_sheets_get_a_drawn_first_page(
    app, author_client, post, filename, make
):
    data = make() if make else CSV.encode()
    image = thumbnail_of(app, author_client, post, data, filename)
    # Drawn as large as a PDF's A4 page's thumbnail, with text on it.
    assert image.size == (previews.THUMB_WIDTH, preview_thumbs.HEIGHT)
    a4 = make_drawn_pdf(["x"], size=(595, 842))
    assert thumbnail_of(app, author_client, post, a4, "a4.pdf").size == image.size
    assert dark_pixels(image) > 300
    article = app.test_client().get(f"/articles/{post}").get_data(as_text=True)
    assert "img/file-" not in article  # no generic icon left
    assert f'{preview_files.THUMB}" width="60" height="80"' in article


def test_chinese_text_is_drawn_not_boxes(app, author_client, post):
    def drawn(*paragraphs):
        data = docx_of(*paragraphs)
        return dark_pixels(thumbnail_of(app, author_client, post, data, "通知.docx"))

    empty = drawn(paragraph(""))
    few = drawn(paragraph("一二一二一二一二一二"))
    many = drawn(paragraph("鬱羅鬱羅鬱羅鬱羅鬱羅"))
    # A font without Chinese draws the same box for every character; real
    # glyphs differ: 鬱 has far more ink than 一.
    assert empty < 20
    assert few > 30
    assert many > 2 * few


def test_a_title_is_drawn_larger_than_the_body(app, author_client, post):
    title = thumbnail_of(
        app, author_client, post, docx_of(paragraph("运动会通知", style="a3")), "t.docx"
    )
    body = thumbnail_of(
        app, author_client, post, docx_of(paragraph("运动会通知")), "b.docx"
    )
    # The same five characters: bigger and bolder as a title.
    assert dark_pixels(title) > 2 * dark_pixels(body)


@pytest.mark.parametrize(
    "fonts",
    [[], ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]],
    ids=["none", "no-chinese"],
)
def test_without_a_chinese_font_the_list_shows_the_generic_icon(
    app, author_client, post, fonts
):
    app.config["PREVIEW_FONTS"] = fonts
    upload_id = attach(author_client, post, make_docx(), "运动会通知.docx")
    sheet_id = attach(author_client, post, make_merged_xlsx(), "报名表.xlsx")
    make_previews(app)
    for uid in (upload_id, sheet_id):
        assert row(app, uid).preview == "ready"  # the preview itself is made
        assert not (derived(app, uid) / "preview" / "thumb.jpg").exists()
    article = app.test_client().get(f"/articles/{post}").get_data(as_text=True)
    assert "img/file-docx" in article and "img/file-sheet" in article
    assert "thumb.jpg" not in article


HOSTILE = {
    "zip bomb": ("炸弹.xlsx", lambda: make_zip_bomb_xlsx(300), "too_big"),
    "truncated": ("通知.pdf", lambda: make_drawn_pdf(THREE_PAGES)[:900], "broken"),
    "password": ("加密.pdf", make_encrypted_pdf, "encrypted"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_files_get_a_note_and_no_preview(app, author_client, post, case):
    filename, data, reason = HOSTILE[case]
    upload_id = attach(author_client, post, data(), filename)
    make_previews(app)
    upload = row(app, upload_id)
    assert (upload.preview, upload.preview_note) == ("failed", reason)
    reader = app.test_client()
    page = reader.get(f"/attachments/{upload_id}/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "此附件无法预览，请下载查看" in html
    with app.app_context():
        assert str(preview_files.NOTES[reason]) in html
    assert 'http-equiv="refresh"' not in html
    article = reader.get(f"/articles/{post}").get_data(as_text=True)
    assert "此附件无法预览" in article
    assert f"/attachments/{upload_id}/preview" not in article
    assert not (derived(app, upload_id) / "preview").exists()
    assert fetch(reader, f"/attachments/{upload_id}").status_code == 200


def test_a_huge_page_is_rendered_within_the_pixel_bound(app, author_client, post):
    upload_id = attach(
        author_client, post, make_drawn_pdf(["huge"], size=(20_000, 20_000)), "巨幅.pdf"
    )
    strip_id = attach(
        author_client, post, make_drawn_pdf(["x"], size=(10, 14_000)), "s.pdf"
    )
    make_previews(app)
    sizes = []
    for uid in (upload_id, strip_id):
        with Image.open(derived(app, uid) / "preview" / "page-1.jpg") as image:
            sizes.append(image.size)
    assert sizes[0] == (previews.PAGE_WIDTH, previews.PAGE_WIDTH)
    width, height = sizes[1]
    assert width * height <= previews.MAX_PAGE_PIXELS
    assert height == previews.MAX_PAGE_SIDE


@pytest.mark.config(PREVIEW_MEMORY_MB=40)
def test_a_conversion_past_the_memory_bound_is_refused_not_fatal(
    app, author_client, post
):
    # A bound far below what a 50,000-cell workbook needs (tens of MB more
    # than the child starts with; a small file may fit in the heap the fork
    # server already holds): the child runs out, by a MemoryError ("too big")
    # or, inside a C library, by a signal ("broken"). Under 500 KB, so the
    # test client keeps the upload in memory.
    workbook = make_big_xlsx(rows=5_000)
    assert len(workbook) < 500 * 1024
    upload_id = attach(author_client, post, workbook, "报名表.xlsx")
    make_previews(app)
    upload = row(app, upload_id)
    assert upload.preview == "failed"
    assert upload.preview_note in ("too_big", "broken")
    page = app.test_client().get(f"/attachments/{upload_id}/preview")
    assert page.status_code == 200
    assert "无法预览" in page.get_data(as_text=True)


def test_the_derived_folder_goes_with_its_attachment(app, author_client, post):
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    make_previews(app)
    folder = derived(app, upload_id)
    (folder / "text.json").write_text("{}")  # what the text extraction keeps
    assert (folder / "preview" / "page-3.jpg").is_file()
    response = author_client.post(
        f"/editor/uploads/{upload_id}/delete", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert not folder.exists()


def test_a_preview_made_while_its_file_was_deleted_leaves_nothing(
    app, author_client, post
):
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    folder = derived(app, upload_id)
    with app.app_context():
        claimed = preview_queue.claim_next()
        from newsroom import storage

        storage.delete_upload(db.session.get(Upload, upload_id))
        assert preview_queue.convert(*claimed) is None
    assert not folder.exists()


def test_a_claim_left_by_a_dead_process_is_taken_again(app, author_client, post):
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        upload.preview, upload.preview_until = "working", utcnow()
        db.session.commit()
        time.sleep(0.01)
        assert preview_queue.process_pending() == 1
    assert row(app, upload_id).preview == "ready"


@pytest.mark.config(PREVIEW_WORKER=True)
def test_the_worker_thread_makes_the_preview_after_the_upload(app, author_client, post):
    upload_id = attach(author_client, post, make_drawn_pdf(["One"]), "通知.pdf")
    deadline = time.monotonic() + 30
    while row(app, upload_id).preview != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
    preview_queue.stop(app)
    assert row(app, upload_id).preview == "ready"


def test_a_drafts_preview_is_for_its_author_only(app, author_client, make_article):
    draft = make_article(
        status=Status.DRAFT,
        published_at=None,
        created_by_id=user_id(app, "author"),
    )
    upload_id = attach(author_client, draft, make_drawn_pdf(THREE_PAGES), "草稿.pdf")
    make_previews(app)
    reader = app.test_client()
    assert reader.get(f"/attachments/{upload_id}/preview").status_code == 404
    html = author_client.get(f"/attachments/{upload_id}/preview").get_data(True)
    images = page_images(html)
    assert len(images) == 3
    assert fetch(author_client, images[0]).status_code == 200
    assert fetch(reader, images[0]).status_code == 404


@pytest.mark.parametrize(
    "name",
    ["preview.json", "sheet-1.html", "text.json", "..%2Fpreview.json", "page-1.svg"],
)
def test_only_images_of_a_preview_are_served(app, author_client, post, name):
    upload_id = attach(author_client, post, make_merged_xlsx(), "报名表.xlsx")
    make_previews(app)
    stored = row(app, upload_id).stored_name
    url = f"/uploads/derived/{stored}/preview/{name}"
    assert fetch(app.test_client(), url).status_code == 404


def test_types_without_previews_keep_only_the_download(app, author_client, post):
    upload_id = attach(author_client, post, b"plain words\n", "说明.txt")
    assert row(app, upload_id).preview == ""
    assert make_previews(app) == 0
    reader = app.test_client()
    assert reader.get(f"/attachments/{upload_id}/preview").status_code == 404
    article = reader.get(f"/articles/{post}").get_data(as_text=True)
    assert f"/attachments/{upload_id}/preview" not in article
    assert "无法预览" not in article


@pytest.mark.parametrize(
    "filename, fallback",
    [
        ("2026年秋季运动会报名表.pdf", "attachment-{id}.pdf"),
        ("report-2026.pdf", "report-2026.pdf"),
        ("report #2.pdf", "attachment-{id}.pdf"),
        ("名单.xlsx", "attachment-{id}.xlsx"),
    ],
)
def test_the_download_keeps_its_name_and_an_honest_ascii_fallback(
    app, author_client, post, filename, fallback, data_for
):
    upload_id = attach(author_client, post, data_for(filename), filename)
    response = fetch(app.test_client(), f"/attachments/{upload_id}")
    disposition = response.headers["Content-Disposition"]
    stored = row(app, upload_id).original_name
    assert disposition == (
        f'attachment; filename="{fallback.format(id=upload_id)}"; '
        f"filename*=UTF-8''{quote(stored, safe='')}"
    )


@pytest.fixture
def data_for():
    def make(filename):
        if filename.endswith(".xlsx"):
            return make_merged_xlsx()
        return make_drawn_pdf(["x"])

    return make


def test_the_preview_page_runs_a_fixed_number_of_statements(app, author_client, post):
    upload_id = attach(author_client, post, make_merged_xlsx(), "报名表.xlsx")
    make_previews(app)
    reader = app.test_client()
    reader.get("/")  # settings and sections cached, as on a warm server
    with count_statements() as seen:
        assert reader.get(f"/attachments/{upload_id}/preview").status_code == 200
    assert len(seen) <= 3, seen


def test_the_editor_lists_each_attachments_preview(app, author_client, post):
    good = attach(author_client, post, make_drawn_pdf(["One"]), "通知.pdf")
    bad = attach(author_client, post, make_encrypted_pdf(), "加密.pdf")
    plain = attach(author_client, post, b"words\n", "说明.txt")
    edit = f"/editor/articles/{post}/edit"
    html = author_client.get(edit).get_data(as_text=True)
    assert html.count("预览生成中") == 2
    make_previews(app)
    html = author_client.get(edit).get_data(as_text=True)
    items = dict(re.findall(r'<li data-id="(\d+)">(.*?)</li>', html, re.DOTALL))
    assert f'href="/attachments/{good}/preview"' in items[str(good)]
    assert "此文件设有密码" in items[str(bad)]
    assert "preview" not in items[str(plain)].lower()


def test_every_schools_attachments_get_their_previews(app, author_client, post):
    """站群: the worker makes the previews of every site's attachments."""
    upload_id = attach(author_client, post, make_drawn_pdf(THREE_PAGES), "通知.pdf")
    with app.app_context():
        db.session.add(Site(id=2, name="第二中学", host="school2.example"))
        db.session.flush()
        for model, key in ((Article, post), (Upload, upload_id)):
            db.session.execute(
                sa.update(model)
                .where(model.id == key)
                .values(site_id=2)
                .execution_options(all_sites=True)
            )
        db.session.commit()
    assert make_previews(app) == 1
    with app.app_context(), acting_for(2):
        upload = db.session.get(Upload, upload_id)
        assert upload.preview == "ready"
        folder = preview_files.derived_dir(upload.stored_name) / "preview"
        assert (folder / "page-1.jpg").is_file()
