"""Turn a Word .docx into article HTML with mammoth.

Headings become h2-h6 (the article title is the page's h1), bold, italic,
underline, strike-through, lists and tables are kept, and embedded images
are handed to a callback that stores them and returns their URL. The result
always goes through sanitize.clean_html().
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import BinaryIO, NamedTuple

from newsroom.sanitize import clean_html
from newsroom.uploads import N_, OLE_MAGIC, ZIP_MAGIC, UploadError, translate

MSG_OLD_DOC = N_(
    "This is an old Word (.doc) or WPS (.wps) file. Please open it, save it "
    "as a Word document (.docx) and import that file."
)
MSG_NOT_DOCX = N_("This file is not a Word document (.docx).")
MSG_TOO_BIG = N_("This Word document is too large to import.")
MSG_UNREADABLE = N_("This Word file could not be read. Is it a .docx document?")
MSG_IMAGE_SKIPPED = N_("An image in the document was left out: %(reason)s")
MSG_SOME_FORMATTING_LOST = N_(
    "Some parts of the document could not be converted and were left out or "
    "simplified. Please check the text."
)

# A .docx is a zip; refuse ones that unpack to more than this (zip bombs),
# before mammoth reads them into memory.
MAX_UNCOMPRESSED_SIZE = 100 * 1024 * 1024

# Word stores built-in style names in English whatever the interface language
# ("heading 1" is shown as "标题 1"); WPS and some templates use the shown
# name, so both are mapped. Heading n becomes h(n+1): the article title is h1.
_HEADING_NAMES = ("Heading {n}", "heading {n}", "标题 {n}")


def _build_style_map() -> str:
    lines = []
    for name in ("Title", "title", "标题"):
        lines.append(f"p[style-name='{name}'] => h2:fresh")
    for name in ("Subtitle", "subtitle", "副标题"):
        lines.append(f"p[style-name='{name}'] => h3:fresh")
    for level in range(1, 7):
        tag = f"h{min(level + 1, 6)}"
        lines.append(f"p.Heading{level} => {tag}:fresh")
        for pattern in _HEADING_NAMES:
            name = pattern.format(n=level)
            lines.append(f"p[style-name='{name}'] => {tag}:fresh")
    lines.append("p.Title => h2:fresh")
    # mammoth drops underline by default; teachers use it for emphasis.
    lines.append("u => u")
    lines.append("strike => s")
    return "\n".join(lines)


STYLE_MAP = _build_style_map()

# A picture's displayed size in the document: <wp:extent cx=".." cy=".."/> in
# EMU inside a <w:drawing>, or a width in the style of an old VML <w:pict>.
# mammoth hands images over in document order without their size, so the
# n-th image it converts is the n-th picture found here.
_PICTURE_RE = re.compile(
    r"<w:drawing\b.*?</w:drawing>|<w:pict\b.*?</w:pict>", re.DOTALL
)
_EXTENT_RE = re.compile(r"<wp:extent\b[^>]*\bcx=\"(\d+)\"")
_VML_WIDTH_RE = re.compile(r"\bwidth:\s*([\d.]+)(pt|px|in|cm|mm)\b")
_EMU_PER_PX = 9525
_PX_PER = {"pt": 4 / 3, "px": 1.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}

_IGNORED_WARNINGS = ("Unrecognised", "Image of type")


class DocxResult(NamedTuple):
    html: str
    messages: list[str]


SaveImage = Callable[[bytes, str], str]


def docx_to_html(stream: BinaryIO, save_image: SaveImage) -> DocxResult:
    """Convert a .docx to clean HTML; each embedded image goes to
    save_image(data, content_type), which returns the URL for its src.

    If save_image raises UploadError the image is left out and its message
    added to the result's messages; the rest of the document is kept.
    """
    data = stream.read()
    _check_docx(data)
    messages: list[str] = []
    widths = _picture_widths(data)
    converted = 0

    def convert_image(image):
        nonlocal converted
        width = widths[converted] if converted < len(widths) else None
        converted += 1
        with image.open() as image_stream:
            image_bytes = image_stream.read()
        try:
            src = save_image(image_bytes, image.content_type or "")
        except UploadError as error:
            messages.append(translate(MSG_IMAGE_SKIPPED, reason=str(error)))
            return {}  # an <img> without src, which clean_html() removes
        # The width the teacher gave the picture in Word (the sanitizer keeps
        # the attribute; body.css caps it at the column's width).
        return {"src": src, "width": str(width)} if width else {"src": src}

    try:
        import mammoth  # only Word imports need it; server processes stay small

        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=STYLE_MAP,
            # The document must not choose its own mapping to HTML.
            include_embedded_style_map=False,
            convert_image=mammoth.images.img_element(convert_image),
        )
    except (KeyError, zipfile.BadZipFile, ValueError) as error:
        raise UploadError(MSG_UNREADABLE) from error

    # mammoth warns about every style it has no rule for (they simply become
    # paragraphs) and about image types, which save_image judges; only real
    # losses are worth telling the author about.
    if any(
        not message.message.startswith(_IGNORED_WARNINGS) for message in result.messages
    ):
        messages.append(translate(MSG_SOME_FORMATTING_LOST))
    return DocxResult(clean_html(result.value), messages)


def _picture_widths(data: bytes) -> list[int | None]:
    """The displayed width in px of each picture of the body, in order."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml").decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return []
    widths: list[int | None] = []
    for picture in _PICTURE_RE.finditer(xml):
        text = picture.group(0)
        extent = _EXTENT_RE.search(text)
        vml = _VML_WIDTH_RE.search(text)
        if extent:
            px = int(extent.group(1)) / _EMU_PER_PX
        elif vml:
            px = float(vml.group(1)) * _PX_PER[vml.group(2)]
        else:
            px = 0
        widths.append(round(px) if 0 < px < 100_000 else None)
    return widths


def _check_docx(data: bytes) -> None:
    if data.startswith(OLE_MAGIC):
        raise UploadError(MSG_OLD_DOC)
    if not data.startswith(ZIP_MAGIC):
        raise UploadError(MSG_NOT_DOCX)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(MSG_NOT_DOCX) from error
    names = {info.filename for info in infos}
    if "word/document.xml" not in names:
        raise UploadError(MSG_NOT_DOCX)
    if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED_SIZE:
        raise UploadError(MSG_TOO_BIG)
