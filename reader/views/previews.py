"""Blueprint "previews": an attachment shown as a page of the site.

A PDF's pages as images, a Word document as HTML, a spreadsheet's sheets as
tables (made in the background by newsroom/preview_files.py), so a parent in
WeChat's browser reads 通知.pdf or 名单.xlsx without a plugin or another
app. Served like the other reader pages: one statement on a cache miss, and
kept by the page cache until the content version moves on (a preview that
becomes ready moves it, as any change to an upload does).
"""

import sqlalchemy as sa
from flask import Blueprint, abort, render_template
from flask_login import current_user
from markupsafe import Markup

from core import sitedata
from core.permissions import can_edit
from models import Article, Upload, db
from newsroom import preview_files
from reader import pages

bp = Blueprint("previews", __name__)
bp.before_request(pages.read_cache_version)
bp.after_request(pages.mark_cacheable)

# A preview still being made: the page looks again this often (a plain
# <meta> refresh works in every in-app browser).
REFRESH_SECONDS = 5


def get_attachment_or_404(upload_id: int) -> tuple[Upload, Article]:
    row = db.session.execute(
        sa.select(Upload, Article)
        .join(Article, Upload.article_id == Article.id)
        .where(Upload.id == upload_id, Upload.kind == "attachment")
    ).first()
    if row is None:
        abort(404)
    upload, article = row
    if article.is_public and not upload.held:
        return upload, article
    # Staff see the preview of a file they may open before readers do (their
    # pages are never kept by the page cache).
    if current_user.is_authenticated and (
        current_user.can_review or can_edit(current_user, article)
    ):
        return upload, article
    abort(404)


@bp.app_context_processor
def preview_context():
    # For the attachment lists under a post (templates/reader/_attachment.html)
    # and in the editor.
    return {
        "preview_kind": preview_files.kind_of,
        "preview_note": preview_files.note,
        "preview_thumb": preview_files.thumb_url,
    }


@bp.get("/attachments/<int:upload_id>/preview")
def attachment(upload_id: int):
    upload, article = get_attachment_or_404(upload_id)
    if preview_files.kind_of(upload) is None:
        abort(404)  # a type without previews (.doc, .zip …): only the download
    manifest = preview_files.manifest(upload)
    sheets = []
    document = None
    if manifest is not None:
        # Our own output: the sheets' tables are built from escaped cell text,
        # the document's HTML went through sanitize.clean_html().
        if manifest["kind"] == "sheet":
            sheets = [
                (sheet, Markup(preview_files.part(upload, f"sheet-{n}.html")))
                for n, sheet in enumerate(manifest["sheets"], start=1)
            ]
        elif manifest["kind"] == "docx":
            document = Markup(preview_files.part(upload, manifest["html"]))
    return render_template(
        "reader/attachment_preview.html",
        upload=upload,
        article=article,
        section=sitedata.current().by_id.get(article.section_id),
        manifest=manifest,
        sheets=sheets,
        document=document,
        files_url=preview_files.url_prefix(upload.stored_name),
        refresh=REFRESH_SECONDS
        if upload.preview in (preview_files.PENDING, preview_files.WORKING)
        else None,
        note=preview_files.note(upload)
        if upload.preview == preview_files.FAILED
        else None,
    )
