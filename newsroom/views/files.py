"""Blueprint "files": photo, attachment and .docx uploads, and serving them.

The /editor/uploads endpoints are called with fetch() from the editor and
always answer JSON, errors included ({"error": "<friendly message>"}), so the
page can show the message and keep the teacher's text.
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from core import sitedata, sites
from core.errors import csrf_json_error, json_error, too_large_message
from core.i18n import display_size
from core.permissions import Refused, can_edit
from models import Article, Status, Upload, current_site_id, db, parse_id
from newsroom import articles, preview_files, storage, thumbnails
from newsroom.docx_import import docx_to_html
from newsroom.uploads import (
    UploadError,
    check_attachment,
    clean_original_name,
)
from review import chain, compliance

bp = Blueprint("files", __name__)

# Stored names are random and never reused, so a browser may keep an image
# forever.
IMAGE_MAX_AGE = 365 * 24 * 3600

# Directly opened uploads get a document that can do nothing at all, in case
# a browser ever decides to render one as something other than an image.
UPLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

SERVED_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@bp.errorhandler(Refused)
def refused(error: Refused):
    # Raised here with a message ready to show (never an Action name).
    return json_error(str(error), error.status)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    # The editor sends files with fetch() and shows this message as is, so
    # it answers JSON whatever the Accept header says.
    return json_error(too_large_message(), 413)


@bp.errorhandler(CSRFError)
def csrf_error(error):
    # Only routes of this blueprint get here, with JSON whatever the Accept
    # header; worded for an upload (views.editor.csrf_error says "save").
    message = _(
        "Your session has expired or the page is too old. Log in again in "
        "another window, then upload the file again."
    )
    return csrf_json_error(message)


# --- uploads from the editor -------------------------------------------------


@bp.post("/editor/uploads/image")
@login_required
def upload_image():
    article = _article_from_form(required=False)
    file = _uploaded_file()
    try:
        upload = storage.save_image(
            file.stream,
            file.filename or "",
            user_id=current_user.id,
            article_id=article.id if article else None,
        )
    except UploadError as error:
        raise Refused(str(error), 400) from error
    _commit_or_discard([upload])
    return jsonify(
        id=upload.id,
        url=_image_url(upload),
        width=upload.width,
        height=upload.height,
    )


@bp.post("/editor/uploads/attachment")
@login_required
def upload_attachment():
    article = _article_from_form(required=True)
    file = _uploaded_file()
    name = clean_original_name(file.filename or "")
    try:
        info = check_attachment(name, file.stream)
    except UploadError as error:
        raise Refused(str(error), 400) from error
    file.stream.seek(0)
    before = chain.text_hash(article)
    upload = storage.save_upload(
        file.stream.read(),
        kind="attachment",
        ext=info.ext,
        content_type=info.content_type,
        original_name=name,
        user_id=current_user.id,
        article_id=article.id,
    )
    # A file added to a live post is new text for readers: it waits for the
    # chain like any edit (see articles.gate).
    upload.held = articles.holds_edit(current_user, article, articles.Action.SAVE)
    db.session.flush()
    # Where nothing is reviewed, a file added to a live post is published at
    # once: one the check would stop waits for a save that confirms it.
    needs_a_look = (
        article.status == Status.PUBLISHED
        and not upload.held
        and _stopped_by_check(upload)
    )
    upload.held = upload.held or needs_a_look
    chain.changed_since(article, before, current_user)
    if article.status == Status.PUBLISHED and not upload.held:
        chain.record_publish(article, current_user, name)
    _commit_or_discard([upload])
    note = ""
    if needs_a_look:
        note = _(
            "Readers do not get %(name)s yet: the check found personal data or "
            "words that may not be published in it. Run the check, then save the "
            "post with the confirmation and a reason, or remove the file.",
            name=name,
        )
    elif upload.held:
        note = _(
            "Readers get %(name)s once the post passes review: "
            "submit the post when you are done.",
            name=name,
        )
    return jsonify(
        id=upload.id,
        name=upload.original_name,
        size=display_size(upload.size),
        url=url_for("files.attachment", upload_id=upload.id),
        held=upload.held,
        note=note,
    )


def _stopped_by_check(upload: Upload) -> bool:
    """Whether publishing this file would need a confirmation or is refused."""
    findings = compliance.check_post("", "", "", compliance.attachment_texts([upload]))
    return bool(
        compliance.blocking(findings) or compliance.needing_confirmation(findings)
    )


@bp.post("/editor/uploads/<int:upload_id>/delete")
@login_required
def delete_upload(upload_id: int):
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        raise Refused(_("This file does not exist any more."), 404)
    if not _may_delete(upload):
        raise Refused(_("You are not allowed to delete this file."), 403)
    article = db.session.get(Article, upload.article_id) if upload.article_id else None
    if article is None:
        storage.delete_upload(upload)
        return jsonify(ok=True)
    before, name = chain.text_hash(article), upload.original_name
    paths = storage.remove_upload_rows([upload])
    db.session.flush()
    db.session.refresh(article)
    chain.changed_since(article, before, current_user)
    if article.status == Status.PUBLISHED:
        # Readers lose the file (or cover) now; the ledger says who took it off.
        chain.record_removal(article, current_user, name)
    db.session.commit()
    storage.unlink_files(paths)
    return jsonify(ok=True)


@bp.post("/editor/uploads/docx")
@login_required
def import_docx():
    article = _article_from_form(required=False)
    file = _uploaded_file()
    saved: list[Upload] = []

    def save_image(data: bytes, content_type: str) -> str:
        # Embedded photos are photos like any other: re-encoded, metadata
        # (GPS included) stripped. content_type is Word's claim, not trusted.
        upload = storage.save_image(
            io.BytesIO(data),
            f"{clean_original_name(file.filename)} #{len(saved) + 1}",
            user_id=current_user.id,
            article_id=article.id if article else None,
        )
        saved.append(upload)
        return _image_url(upload)

    try:
        result = docx_to_html(file.stream, save_image)
    except UploadError as error:
        _rollback_and_discard(saved)
        raise Refused(str(error), 400) from error
    except Exception:
        _rollback_and_discard(saved)
        current_app.logger.exception("docx import failed")
        raise Refused(
            _("This Word file could not be read. Is it a .docx document?"), 400
        ) from None
    _commit_or_discard(saved)
    # docx_to_html() has run the HTML through sanitize.clean_html() already.
    return jsonify(html=result.html, messages=list(result.messages))


# --- serving -------------------------------------------------------------------


@bp.get("/uploads/<stored_name>")
def upload(stored_name: str):
    # The name is checked before it goes near the file system, and only files
    # with a row are served: nothing else in the folder is reachable.
    if not storage.is_stored_name(stored_name):
        raise NotFound()
    row = db.session.scalar(
        db.select(Upload).where(
            Upload.stored_name == stored_name, Upload.kind == "image"
        )
    )
    if row is None:
        row = _bureau_image(stored_name)
    if row is None:
        raise NotFound()
    content_type = row.content_type
    if content_type not in SERVED_IMAGE_TYPES:
        content_type = "application/octet-stream"
    response = _send(row, mimetype=content_type, max_age=IMAGE_MAX_AGE)
    response.cache_control.immutable = True
    return response


def _bureau_image(stored_name: str) -> Upload | None:
    """A photo of the bureau's (站群): its posts go to the schools' sites with
    their photos, so every school's address serves them too."""
    bureau = sites.bureau_site_id()
    if bureau is None or bureau == current_site_id():
        return None
    return db.session.scalar(
        db.select(Upload)
        .where(
            Upload.site_id == bureau,
            Upload.stored_name == stored_name,
            Upload.kind == "image",
        )
        .execution_options(all_sites=True)
    )


@bp.get("/uploads/thumbs/<name>")
def thumbnail(name: str):
    # A thumbnail on disk is served without a query: it exists only while
    # its upload does (storage.files_of names both for deletion).
    parsed = thumbnails.parse_name(name)
    if parsed is None:
        raise NotFound()
    stem, variant = parsed
    if not (thumbnails.folder() / name).is_file():
        row = _image_by_stem(stem)
        if row is None:
            raise NotFound()
        if not thumbnails.make(row, [variant]):
            # Missing or undecodable original: the page shows the original's
            # URL instead (a broken picture at worst, as before thumbnails).
            response = redirect(_image_url(row))
            response.cache_control.max_age = 300
            return response
    response = send_from_directory(
        thumbnails.folder(),
        name,
        conditional=True,
        mimetype=thumbnails.VARIANTS[variant].content_type,
        max_age=IMAGE_MAX_AGE,
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = UPLOAD_CSP
    return response


# Not fingerprinted (browsers and crawlers ask for this fixed path), so a
# changed logo shows within a day; pages link the logo's immutable icon URLs.
FAVICON_MAX_AGE = 24 * 3600


@bp.get("/favicon.ico")
def favicon():
    """The school's logo as an icon, else the bundled default icon."""
    logo = sitedata.current().logo
    if logo is not None:
        name = thumbnails.name_of(logo.stored_name, "favicon")
        if (thumbnails.folder() / name).is_file() or thumbnails.make(logo, ["favicon"]):
            response = send_from_directory(
                thumbnails.folder(), name, conditional=True, mimetype="image/x-icon"
            )
        else:
            logo = None
    if logo is None:
        response = send_from_directory(
            current_app.static_folder,
            "favicon.ico",
            conditional=True,
            mimetype="image/x-icon",
        )
    response.cache_control.no_cache = None
    response.cache_control.public = True
    response.cache_control.max_age = FAVICON_MAX_AGE
    return response


@bp.get("/attachments/<int:upload_id>")
def attachment(upload_id: int):
    row = db.session.get(Upload, upload_id)
    if row is None or row.kind != "attachment" or not _may_download(row):
        raise NotFound()
    response = _send(row, mimetype=row.content_type)
    response.headers["Content-Disposition"] = content_disposition(row)
    # The article may be unpublished later: shared caches must not keep it.
    response.cache_control.private = True
    return response


# A name old browsers can take as it is: no quotes, backslashes, controls.
_PLAIN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,150}")


def content_disposition(row: Upload) -> str:
    """attachment; filename="<ASCII>"; filename*=UTF-8''<the real name>.

    Browsers that read filename* save the real name. Old in-app browsers take
    the ASCII one: an ASCII name as it is, else attachment-<id>.<ext>, never
    what is left of a Chinese name once its characters are dropped
    («2026年秋季运动会报名表.pdf» is not «2026.pdf»).
    """
    name = row.original_name
    ext = row.stored_name.rsplit(".", 1)[-1]  # ours: checked at upload
    fallback = name
    if not _PLAIN_NAME_RE.fullmatch(name) or not name.lower().endswith(f".{ext}"):
        fallback = f"attachment-{row.id}.{ext}"
    return (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


# What a preview folder holds that may be served (its HTML parts and JSON are
# read by the preview page, never sent as they are).
_DERIVED_FILE_RE = re.compile(
    r"(?:page-\d{1,3}|thumb|img-\d{1,4})\.(?:jpg|png|gif|webp)"
)
DERIVED_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
}
DERIVED_MAX_AGE = 24 * 3600


@bp.get("/uploads/derived/<stored_name>/preview/<name>")
def preview_file(stored_name: str, name: str):
    """A page image, thumbnail or picture of an attachment's preview, to
    whoever may download the attachment."""
    if not (storage.is_stored_name(stored_name) and _DERIVED_FILE_RE.fullmatch(name)):
        raise NotFound()
    row = db.session.scalar(
        db.select(Upload).where(
            Upload.stored_name == stored_name, Upload.kind == "attachment"
        )
    )
    if row is None or row.preview != preview_files.READY or not _may_download(row):
        raise NotFound()
    response = send_from_directory(
        preview_files.folder(row),
        name,
        conditional=True,
        mimetype=DERIVED_TYPES[name.rsplit(".", 1)[1]],
        max_age=DERIVED_MAX_AGE,
    )
    # Private, like the download: the post may be unpublished later.
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = UPLOAD_CSP
    return response


# --- helpers -------------------------------------------------------------------


def _uploaded_file():
    file = request.files.get("file")
    if file is None or not file.filename:
        raise Refused(_("Please choose a file to upload."), 400)
    return file


def _article_from_form(required: bool) -> Article | None:
    raw = request.form.get("article_id", "").strip()
    if not raw:
        if required:
            raise Refused(_("Save the post once before adding attachments."), 400)
        return None
    article_id = parse_id(raw)
    if article_id is None:
        raise Refused(_("This post does not exist."), 400)
    article = db.session.get(Article, article_id)
    if article is None:
        raise Refused(_("This post does not exist."), 404)
    if not can_edit(current_user, article):
        raise Refused(_("You are not allowed to add files to this post."), 403)
    return article


def _may_delete(upload: Upload) -> bool:
    if upload.article_id is not None:
        article = db.session.get(Article, upload.article_id)
        return article is not None and can_edit(current_user, article)
    return current_user.can_review or upload.uploaded_by_id == current_user.id


def _may_download(upload: Upload) -> bool:
    article = db.session.get(Article, upload.article_id) if upload.article_id else None
    # A file added to a live post is the readers' only once the chain passes it.
    if article is not None and article.is_public and not upload.held:
        return True
    if not current_user.is_authenticated:
        return False
    if article is not None:
        # Reviewers open the files before deciding (a head reads 报名表.pdf).
        return (
            can_edit(current_user, article)
            or current_user.can_review
            or chain.may_review(current_user, article)
        )
    return current_user.can_review or upload.uploaded_by_id == current_user.id


def _image_by_stem(stem: str) -> Upload | None:
    # A range on the unique stored_name index: "<stem>." up to "<stem>/".
    return db.session.scalar(
        db.select(Upload).where(
            Upload.stored_name > f"{stem}.",
            Upload.stored_name < f"{stem}/",
            Upload.kind == "image",
        )
    )


def _image_url(upload: Upload) -> str:
    return url_for("files.upload", stored_name=upload.stored_name)


def _send(row: Upload, mimetype: str, **kwargs):
    response = send_from_directory(
        storage.upload_folder(),
        row.stored_name,
        conditional=True,
        mimetype=mimetype,
        **kwargs,
    )
    # Werkzeug appends "; charset=utf-8" to any text/* mimetype, even one that
    # already names its charset: the stored type is sent exactly as decided
    # at upload time.
    response.headers["Content-Type"] = mimetype
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = UPLOAD_CSP
    return response


def _commit_or_discard(uploads: list[Upload]) -> None:
    try:
        db.session.commit()
    except Exception:
        _rollback_and_discard(uploads)
        raise


def _rollback_and_discard(uploads: list[Upload]) -> None:
    db.session.rollback()
    storage.discard(uploads)
