"""Thumbnails of uploaded images at the sizes the reader's pages show.

Each is a file beside the original, uploads/thumbs/<stem>-<variant>.<ext>,
where <stem> is the original's random stored name without its extension.
Photos get theirs when they are uploaded (storage.save_image), so a list shows
a 240-pixel crop instead of the 1600-pixel original scaled down by the phone.
Uploads from before thumbnails existed (an upgraded site, a restored backup,
which holds originals only) get each one on its first request
(newsroom/views/files.py `thumbnail`); when the original is missing or cannot be
decoded that request is redirected to the original, so a reader's page shows
what it showed before rather than a broken picture. Deleting an upload
deletes its thumbnails (storage.files_of).

Thumbnails are made from the stored original, which the upload pipeline has
already re-encoded upright, in sRGB and without any metadata; they are
written with no metadata either.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from flask import current_app, url_for

from core import siteurl
from newsroom.uploads import DECODE_WAIT_SECONDS, IMAGE_OUTPUTS, _decode_slots

if TYPE_CHECKING:
    from PIL import Image

    from models import Upload


class Variant(NamedTuple):
    width: int
    height: int
    ext: str
    content_type: str
    square_icon: bool = False  # fitted whole into a transparent square


# Photos are cropped to 3:2 at 1x and 2x the sizes the pages show them:
# list thumbnails 120-150 CSS pixels wide, picture-news tiles up to 480,
# and 960 for the big tile on high-DPI phones and for share previews.
PHOTO_VARIANTS = ("240", "480", "960")
# The school's logo as the site's icon.
ICON_VARIANTS = ("icon32", "icon180", "favicon")
VARIANTS = {
    "240": Variant(240, 160, "jpg", "image/jpeg"),
    "480": Variant(480, 320, "jpg", "image/jpeg"),
    "960": Variant(960, 640, "jpg", "image/jpeg"),
    "icon32": Variant(32, 32, "png", "image/png", True),
    "icon180": Variant(180, 180, "png", "image/png", True),  # apple-touch-icon
    "favicon": Variant(48, 48, "ico", "image/x-icon", True),
}
JPEG_QUALITY = 80
SHARE_VARIANT = "960"

_NAME_RE = re.compile(r"(?P<stem>[0-9a-f]{16,64})-(?P<variant>[a-z0-9]{1,8})\.[a-z]+")


def folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "thumbs"


def name_of(stored_name: str, variant: str) -> str:
    stem = stored_name.rpartition(".")[0]
    return f"{stem}-{variant}.{VARIANTS[variant].ext}"


def parse_name(name: str) -> tuple[str, str] | None:
    """(stem, variant) of a thumbnail's file name, or None for anything else."""
    match = _NAME_RE.fullmatch(name)
    if not match or match["variant"] not in VARIANTS:
        return None
    if name != f"{match['stem']}-{match['variant']}.{VARIANTS[match['variant']].ext}":
        return None
    return match["stem"], match["variant"]


def url(upload: Upload | None, variant: str, external: bool = False) -> str | None:
    """The thumbnail's URL (made on first request if missing); None if no image."""
    if upload is None or upload.kind != "image":
        return None
    name = name_of(upload.stored_name, variant)
    if external:
        return siteurl.absolute_url("files.thumbnail", name=name)
    return url_for("files.thumbnail", name=name)


def render(image: Image.Image, variant: str) -> bytes:
    """One thumbnail of a decoded image, encoded."""
    from PIL import Image, ImageOps

    spec = VARIANTS[variant]
    if spec.square_icon:
        image = image.convert("RGBA")
        image.thumbnail((spec.width, spec.height), Image.Resampling.LANCZOS)
        square = Image.new("RGBA", (spec.width, spec.height), (255, 255, 255, 0))
        square.paste(
            image,
            ((spec.width - image.width) // 2, (spec.height - image.height) // 2),
        )
        out = io.BytesIO()
        if spec.ext == "ico":
            square.save(out, "ICO", sizes=[(16, 16), (32, 32), (48, 48)])
        else:
            square.save(out, "PNG", optimize=True)
        return out.getvalue()
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # A transparent PNG (a drawing, a logo) on white, as the page shows it.
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    # A little above the middle: people's faces are in the upper half of
    # most school photos.
    cropped = ImageOps.fit(
        image,
        (spec.width, spec.height),
        Image.Resampling.LANCZOS,
        centering=(0.5, 0.4),
    )
    out = io.BytesIO()
    cropped.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def make(upload: Upload, variants: Iterable[str], data: bytes | None = None) -> bool:
    """Write these thumbnails of upload (data: its bytes, else read from disk).

    False, with nothing written, if the original is missing, cannot be
    decoded or the server is busy decoding other images.
    """
    from PIL import Image

    variants = list(variants)
    try:
        if data is None:
            data = (
                Path(current_app.config["UPLOAD_FOLDER"]) / upload.stored_name
            ).read_bytes()
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_OUTPUTS))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return False
    if not _decode_slots.acquire(timeout=DECODE_WAIT_SECONDS):
        return False
    try:
        # A stored original is at most 1600 pixels: cheap to decode whole.
        image.load()
        encoded = {variant: render(image, variant) for variant in variants}
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        current_app.logger.warning("no thumbnail for upload %s", upload.stored_name)
        return False
    finally:
        _decode_slots.release()
    target = folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for variant, content in encoded.items():
            _write_atomically(target / name_of(upload.stored_name, variant), content)
    except OSError:  # a full disk must not turn a reader's page into a 500
        current_app.logger.warning(
            "could not write thumbnails of %s", upload.stored_name
        )
        return False
    return True


def paths(stored_name: str) -> list[Path]:
    """Where every possible thumbnail of an upload would be (storage.files_of)."""
    target = folder()
    return [target / name_of(stored_name, variant) for variant in VARIANTS]


def _write_atomically(path: Path, content: bytes) -> None:
    # Two readers may ask for the same missing thumbnail at once: each writes
    # its own temporary file and renames it, so nobody sees half a file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(temporary, path)
    except OSError:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
