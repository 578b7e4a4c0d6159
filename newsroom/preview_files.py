"""Where an attachment's preview lives and what readers are told about it.

Everything made from an upload goes into <UPLOAD_FOLDER>/derived/<stored_name>/
(storage deletes that folder with the upload); the preview is its "preview"
sub-folder: preview.json (the manifest), page-N.jpg of a PDF, document.html
and img-N.* of a Word file, sheet-N.html of a spreadsheet, and thumb.jpg, the
first page's thumbnail (a Word file's or a sheet's only when a font with
Chinese characters was found to draw it).
Reader pages use this module; making previews (previews.py, preview_queue.py)
is the editor side's business.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

# Attachment extension -> kind of preview.
KINDS = {"pdf": "pdf", "docx": "docx", "xlsx": "sheet", "csv": "sheet"}

# Upload.preview
PENDING, WORKING, READY, FAILED = "pending", "working", "ready", "failed"

# Upload.preview_note of a failed preview: why.
ENCRYPTED = "encrypted"
BROKEN = "broken"
TOO_BIG = "too_big"

NOTES = {
    ENCRYPTED: _l("This file is protected by a password, so it cannot be shown here."),
    TOO_BIG: _l("This file is too large or too complex to be shown here."),
    BROKEN: _l("This file is damaged or in a form that cannot be shown here."),
}

PREVIEW_DIR = "preview"
MANIFEST = "preview.json"
THUMB = "thumb.jpg"


def derived_dir(stored_name: str) -> Path:
    """The folder of everything made from one upload (its preview, its text)."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / "derived" / stored_name


def kind_of(upload) -> str | None:
    """The kind of preview an upload gets (KINDS), else None."""
    if upload.kind != "attachment":
        return None
    return KINDS.get(upload.stored_name.rsplit(".", 1)[-1])


def note(upload) -> str:
    return NOTES.get(upload.preview_note, NOTES[BROKEN])


def folder(upload) -> Path:
    return derived_dir(upload.stored_name) / PREVIEW_DIR


def url_prefix(stored_name: str) -> str:
    # Under /uploads/: the sanitizer lets a .docx's images link only there.
    return f"/uploads/derived/{stored_name}/{PREVIEW_DIR}/"


def thumb_url(upload) -> str | None:
    """The first page's thumbnail of a ready preview, None if there is none
    (a preview made without a font for it, or before thumbnails were drawn)."""
    if upload.preview != READY or not (folder(upload) / THUMB).is_file():
        return None
    return url_prefix(upload.stored_name) + THUMB


def manifest(upload) -> dict | None:
    """What the ready preview holds (previews.make's result), else None."""
    if upload.preview != READY:
        return None
    try:
        return json.loads((folder(upload) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def part(upload, name: str) -> str:
    """The text of one of the preview's HTML files ("" if it is gone)."""
    try:
        return (folder(upload) / name).read_text(encoding="utf-8")
    except OSError:
        return ""
