"""Keep uploaded files on disk under random names, each with its Upload row.

uploads.py decides what a file is and turns it into safe bytes; this module
only stores those bytes, finds them again and deletes them. Rows and files
are kept in step: a file is written before its row is flushed (and removed
again if the flush fails), and a file is removed only after the deletion of
its row has been committed, so a crash can at worst leave an unused file,
never a row pointing at nothing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from models import Article, ArticleDraft, Revision, Status, Upload, db, get_settings
from newsroom import thumbnails
from newsroom.pictures import picture_id_for
from newsroom.preview_files import KINDS as PREVIEW_KINDS
from newsroom.preview_files import derived_dir
from newsroom.uploads import clean_original_name, process_image, random_name

# What uploads.random_name() produces: hex and one short extension. Anything
# else in a URL (dots, slashes, backslashes, "..") never reaches the disk.
STORED_NAME_RE = re.compile(r"[0-9a-f]{16,64}\.[a-z0-9]{1,8}")

# Image URLs as they appear in an article body; see claim_uploads().
_UPLOAD_URL_RE = re.compile(r"/uploads/([0-9a-f]{16,64}\.[a-z0-9]{1,8})")


# Set on the session when an attachment that gets a preview is saved; its
# commit wakes the preview worker (preview_queue.py).
PREVIEW_WAKE = "previews.wake"


# derived_dir(stored_name) is <UPLOAD_FOLDER>/derived/<stored_name>/, the
# folder of everything made from one upload (its preview, its text): files_of()
# names it, so it goes with the upload.


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def is_stored_name(name: str) -> bool:
    return bool(STORED_NAME_RE.fullmatch(name))


def file_path(upload: Upload) -> Path:
    return upload_folder() / upload.stored_name


def save_upload(
    data: bytes,
    *,
    kind: str,
    ext: str,
    content_type: str,
    original_name: str,
    user_id: int | None,
    article_id: int | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Upload:
    """Write data under a fresh random name and add its Upload row (flushed,
    not committed: the caller commits, or rolls back and calls discard())."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        stored_name = random_name(ext)
        path = folder / stored_name
        try:
            # "x" refuses to overwrite: a name collision must never replace
            # somebody else's photo.
            with open(path, "xb") as fh:
                fh.write(data)
            break
        except FileExistsError:
            continue
    upload = Upload(
        kind=kind,
        stored_name=stored_name,
        original_name=original_name[:255],
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        article_id=article_id,
        uploaded_by_id=user_id,
    )
    if kind == "attachment" and ext in PREVIEW_KINDS:
        upload.preview = "pending"
        db.session.info[PREVIEW_WAKE] = True
    db.session.add(upload)
    try:
        db.session.flush()
    except Exception:
        _unlink(path)
        raise
    return upload


def save_image(
    stream: BinaryIO,
    original_name: str,
    *,
    user_id: int | None,
    article_id: int | None = None,
) -> Upload:
    """Re-encode a photo (metadata and GPS stripped) and store it; flushed only.

    Raises uploads.UploadError with a friendly message for anything that is not
    a usable JPEG, PNG, GIF or WebP.
    """
    image = process_image(stream, filename=original_name)
    upload = save_upload(
        image.data,
        kind="image",
        ext=image.ext,
        content_type=image.content_type,
        original_name=clean_original_name(original_name or "image"),
        user_id=user_id,
        article_id=article_id,
        width=image.width,
        height=image.height,
    )
    # Made now, once, at the sizes the pages show; one that fails here is
    # made on its first request instead (see thumbnails.py).
    thumbnails.make(upload, thumbnails.PHOTO_VARIANTS, data=image.data)
    return upload


def discard(uploads: Iterable[Upload]) -> None:
    """Remove the files of uploads whose rows were rolled back."""
    for upload in uploads:
        unlink_files(files_of(upload))


def files_of(upload: Upload) -> list[Path]:
    """Every file kept on disk for the upload: the original, its thumbnails
    and the folder of what was derived from it."""
    return [
        file_path(upload),
        *thumbnails.paths(upload.stored_name),
        derived_dir(upload.stored_name),
    ]


def remove_upload_rows(uploads: Iterable[Upload]) -> list[Path]:
    """Delete the rows without committing; return the files to unlink_files()
    once the caller has committed (a rollback then leaves every file)."""
    uploads = list(uploads)
    if not uploads:
        return []
    paths = [path for upload in uploads for path in files_of(upload)]
    ids = [upload.id for upload in uploads]
    # A cover or logo pointing at a deleted image would break the page.
    db.session.execute(
        sa.update(Article).where(Article.cover_id.in_(ids)).values(cover_id=None)
    )
    shown_by = db.session.execute(
        sa.select(Article.id, Article.body_html).where(Article.picture_id.in_(ids))
    ).all()
    for upload in uploads:
        db.session.delete(upload)
    db.session.flush()
    # Posts that showed a deleted image as their picture fall back to the
    # next choice (a body image that is still there), else none.
    for article_id, body_html in shown_by:
        db.session.execute(
            sa.update(Article)
            .where(Article.id == article_id)
            .values(
                picture_id=picture_id_for(db.session.connection(), None, body_html),
                updated_at=Article.updated_at,  # not an edit
            )
        )
    return paths


def unlink_files(paths: Iterable[Path]) -> None:
    for path in paths:
        _unlink(path)


def delete_uploads(uploads: Iterable[Upload]) -> int:
    """Delete the rows (committing) and then their files; return how many."""
    uploads = list(uploads)
    paths = remove_upload_rows(uploads)
    if not uploads:
        return 0
    db.session.commit()
    unlink_files(paths)
    return len(uploads)


def delete_upload(upload: Upload) -> None:
    delete_uploads([upload])


def delete_article_files(article_id: int) -> int:
    """Delete every image and attachment of an article (emptying the trash).

    Call it before deleting the article row: the foreign key only sets
    Upload.article_id to NULL, which would leave the files behind.
    """
    uploads = db.session.scalars(
        db.select(Upload).where(Upload.article_id == article_id)
    ).all()
    # Teachers copy text between posts: an image another post (including one in
    # the trash or a working copy) still shows is kept, just no longer attached.
    kept = [upload for upload in uploads if _used_elsewhere(upload, article_id)]
    for upload in kept:
        upload.article_id = None
    db.session.commit()
    return delete_uploads(u for u in uploads if u not in kept)


def in_use(upload: Upload) -> bool:
    """Whether a post, working copy, revision or the logo still shows the image."""
    return _used_elsewhere(upload, None)


def _used_elsewhere(upload: Upload, article_id: int | None) -> bool:
    if upload.kind != "image":
        return False
    url_part = f"/uploads/{upload.stored_name}"
    in_article = sa.select(Article.id).where(
        Article.id != (article_id or 0),
        sa.or_(
            Article.body_html.contains(url_part, autoescape=True),
            Article.cover_id == upload.id,
        ),
    )
    in_draft = sa.select(ArticleDraft.id).where(
        ArticleDraft.article_id != (article_id or 0),
        ArticleDraft.body_html.contains(url_part, autoescape=True),
    )
    in_revision = sa.select(Revision.id).where(
        Revision.article_id != (article_id or 0),
        Revision.body_html.contains(url_part, autoescape=True),
    )
    is_logo = get_settings()["logo_id"] == str(upload.id)
    return is_logo or any(
        db.session.scalar(sa.select(sa.exists(query)))
        for query in (in_article, in_draft, in_revision)
    )


def claim_uploads(article: Article, body_html: str, user_id: int) -> int:
    """Link the still-unattached images that body_html shows to article.

    Images pasted into a new post are uploaded before the post has an id;
    claiming them on save lets delete_article_files() find them later. Only
    the user's own unattached uploads are claimed, so a post cannot take
    over another post's images by naming their URLs.
    """
    names = set(_UPLOAD_URL_RE.findall(body_html or ""))
    if not names or article.id is None:
        return 0
    result = db.session.execute(
        sa.update(Upload)
        .where(
            Upload.stored_name.in_(names),
            Upload.article_id.is_(None),
            Upload.uploaded_by_id == user_id,
        )
        .values(article_id=article.id)
        .execution_options(readers_unaffected=article.status != Status.PUBLISHED)
    )
    return result.rowcount or 0


def _unlink(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:
        # A file still open elsewhere (Windows) must not turn a delete into a
        # 500; the row is gone, so the file is simply no longer served.
        current_app.logger.warning("could not remove upload file %s", path)
