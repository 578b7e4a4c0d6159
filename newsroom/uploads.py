"""Decide what an uploaded file is and turn it into bytes that are safe to serve.

Pure functions, no app or database: storage.py keeps the bytes, the views
call these. A file's type is decided from its content (Pillow decoding it,
or its magic bytes), never from the client's Content-Type; the type served
later comes from fixed maps here.

Photo policy (children's privacy): every image is decoded and re-encoded, so
nothing but pixels survives. EXIF (with GPS position, camera serial, time),
XMP, IPTC, comments and PNG text chunks are dropped. An embedded colour
profile is converted to sRGB and then dropped too, so colours stay right
without carrying the profile. Animated GIF and WebP keep their first frame
only: the site publishes photos, and decoding every frame of an animation
multiplies the memory and CPU cost of an upload. Such GIFs are stored as PNG,
which keeps the first frame lossless.
"""

from __future__ import annotations

import functools
import io
import re
import secrets
import threading
import unicodedata
import zipfile
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from flask import has_app_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

if TYPE_CHECKING:
    from PIL import Image


def N_(msgid: str) -> str:
    """Mark msgid for extraction (a default pybabel keyword); UploadError
    translates it when it is shown."""
    return msgid


def translate(msgid: str, **params) -> str:
    """gettext(msgid) % params inside an app context, plain English outside."""
    if has_app_context():
        return gettext(msgid, **params)
    return msgid % params if params else msgid


class UploadError(ValueError):
    """A refused upload. str() is the message for the user: translated when
    an app context is active, plain English otherwise (tests, CLI)."""

    def __init__(self, msgid: str, **params):
        self.msgid = msgid
        self.params = params
        super().__init__(msgid % params if params else msgid)

    @property
    def message(self):
        """The message as a lazy string, for templates and flash()."""
        return _l(self.msgid, **self.params)

    def __str__(self) -> str:
        # "actual" names a file's real type with a label marked N_() below.
        params = dict(self.params)
        if isinstance(params.get("actual"), str):
            params["actual"] = translate(params["actual"])
        return translate(self.msgid, **params)


MSG_IMAGE_TYPE = N_(
    "This file type is not allowed: %(name)s. Allowed images: JPEG, PNG, GIF, WebP."
)
MSG_IMAGE_HEIC = N_(
    "HEIC photos (iPhone) are not supported. Please upload a JPEG: on the "
    "iPhone choose Settings > Camera > Formats > Most Compatible, or send "
    "the photo to the computer as JPEG."
)
MSG_IMAGE_CORRUPT = N_(
    "This image is damaged or incomplete and cannot be read. Please save it "
    "again and upload it once more."
)
MSG_IMAGE_TOO_BIG = N_(
    "This image has too many pixels: the limit is %(megapixels)s megapixels "
    "(a 48-megapixel phone photo is fine). Please make it smaller and upload "
    "it again: on a computer, open it in Paint, choose Resize and set the "
    "width to 4000 pixels, then save; on a phone, send it to yourself in "
    "WeChat without «Original» and upload the copy you receive."
)
MSG_IMAGE_BUSY = N_(
    "The server is busy with other large photos. Please upload this one "
    "again in a minute."
)
MSG_ATTACHMENT_TYPE = N_(
    "This file type is not allowed: %(name)s. Allowed attachments: PDF, Word, "
    "Excel, PowerPoint, WPS, OpenDocument, TXT and ZIP."
)
MSG_ATTACHMENT_MISMATCH = N_(
    "This file is named %(ext)s but its content is %(actual)s. Please upload "
    "the original file."
)
MSG_EMPTY = N_("The file is empty.")


class ProcessedImage(NamedTuple):
    data: bytes
    ext: str  # without dot: "jpg", "png", "webp"
    content_type: str
    width: int
    height: int


class AttachmentInfo(NamedTuple):
    ext: str  # without dot, lower case
    content_type: str
    size: int


# Refuse images above this many pixels before decoding them: what a phone
# camera produces (12 MP is the norm, 48 and 50 MP modes exist) and no more.
# A JPEG is decoded at a reduced scale (see _decode), but a PNG or WebP is
# decoded whole at 3-4 bytes a pixel, so this caps one decode near 200 MB.
# Pillow's own decompression-bomb guard (about 89 MP) never fires first.
MAX_IMAGE_PIXELS = 50_000_000
# Decodes running at once in one server process; further uploads wait their
# turn, so a burst of large photos is slower instead of exhausting memory.
# (Measured in bench/RESULTS.md, «Image uploads».)
MAX_PARALLEL_DECODES = 2
DECODE_WAIT_SECONDS = 120.0
_decode_slots = threading.BoundedSemaphore(MAX_PARALLEL_DECODES)
DEFAULT_MAX_SIDE = 1600
JPEG_QUALITY = 85
WEBP_QUALITY = 85

# Pillow format -> (output format, ext, content type).
IMAGE_OUTPUTS = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "PNG": ("PNG", "png", "image/png"),
    "GIF": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}

# Names an image may arrive with; a refused file that claims one of them is
# described by its content instead ("plain text"), not by its false name.
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "jpe", "png", "gif", "webp"})

# ext -> (content family checked by magic bytes, content type we serve).
ATTACHMENT_TYPES = {
    "pdf": ("pdf", "application/pdf"),
    "doc": ("ole", "application/msword"),
    "xls": ("ole", "application/vnd.ms-excel"),
    "ppt": ("ole", "application/vnd.ms-powerpoint"),
    # WPS Office's own formats: OLE2 containers like the old Office ones.
    "wps": ("ole", "application/vnd.ms-works"),
    "et": ("ole", "application/vnd.ms-excel"),
    "dps": ("ole", "application/vnd.ms-powerpoint"),
    "docx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "pptx": (
        "ooxml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    "odt": ("odf", "application/vnd.oasis.opendocument.text"),
    "ods": ("odf", "application/vnd.oasis.opendocument.spreadsheet"),
    "odp": ("odf", "application/vnd.oasis.opendocument.presentation"),
    "zip": ("zip", "application/zip"),
    # The charset is added by _text_content_type(): teachers save .txt files
    # from Notepad as UTF-8 or as GBK (GB18030), and a wrong charset shows
    # mojibake when a phone opens the file in the browser.
    "txt": ("text", "text/plain"),
    # A class list exported as CSV: previewed as a table (newsroom/previews.py).
    "csv": ("text", "text/csv"),
}

# The part that makes a zip an Office Open XML document of each kind.
OOXML_MAIN_PARTS = {
    "docx": "word/document.xml",
    "xlsx": "xl/workbook.xml",
    "pptx": "ppt/presentation.xml",
}

PDF_MAGIC = b"%PDF-"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

MAX_NAME_LENGTH = 200  # Upload.original_name is String(255)

# (magic test, label) used only to name a refused file's real type.
_SNIFFERS = [
    (lambda head: head.startswith(PDF_MAGIC), "PDF"),
    (lambda head: head.startswith(OLE_MAGIC), N_("an old Office/WPS document")),
    (lambda head: head.startswith(ZIP_MAGIC), N_("a ZIP archive")),
    (lambda head: head.startswith(b"\xff\xd8\xff"), N_("a JPEG image")),
    (lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"), N_("a PNG image")),
    (lambda head: head[:6] in (b"GIF87a", b"GIF89a"), N_("a GIF image")),
    (lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP", N_("a WebP image")),
    (lambda head: head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"), "HEIC"),
    (lambda head: head[4:12] in (b"ftypavif", b"ftypavis"), "AVIF"),
    (lambda head: head.startswith(b"BM"), "BMP"),
    (lambda head: head[:4] in (b"II*\x00", b"MM\x00*"), "TIFF"),
    (lambda head: head.startswith(b"8BPS"), N_("a Photoshop file")),
    # Word clip art and pasted drawings.
    (lambda head: head[:4] == b"\x01\x00\x00\x00" and head[40:44] == b" EMF", "EMF"),
    (lambda head: head.startswith(b"\xd7\xcd\xc6\x9a"), "WMF"),
    (lambda head: head.startswith(b"MZ"), N_("a Windows program (.exe)")),
    (lambda head: head.startswith(b"\x7fELF"), N_("a program")),
    (lambda head: re.search(rb"<svg[\s>]", head[:2048], re.I) is not None, "SVG"),
    (
        lambda head: (
            re.match(rb"\s*<(!doctype|html|head|body|script)", head, re.I) is not None
        ),
        "HTML",
    ),
    (lambda head: re.match(rb"\s*<\?xml", head) is not None, "XML"),
]


def _sniff(head: bytes) -> str | None:
    head = head.removeprefix(b"\xef\xbb\xbf")
    for test, label in _SNIFFERS:
        if test(head):
            return label
    return None


def _read_all(stream: BinaryIO) -> bytes:
    if hasattr(stream, "seek"):
        try:
            stream.seek(0)
        except (OSError, ValueError):
            pass
    data = stream.read()
    if hasattr(stream, "seek"):
        try:
            stream.seek(0)  # let the caller read it again
        except (OSError, ValueError):
            pass
    return data


def _ext_of(filename: str) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    return name.rsplit(".", 1)[1].strip().lower() if "." in name else ""


# --- images -------------------------------------------------------------------


def process_image(
    stream: BinaryIO,
    max_side: int = DEFAULT_MAX_SIDE,
    filename: str | None = None,
) -> ProcessedImage:
    """Decode an uploaded image and return it re-encoded, upright, at most
    max_side pixels on its long side and without any metadata.

    filename is optional and only used to name a refused type in the message.
    """
    from PIL import Image  # loaded by the first upload, not by every server process

    data = _read_all(stream)
    if not data:
        raise UploadError(MSG_EMPTY)
    image = _open_image(data, filename)
    output_format, ext, content_type = IMAGE_OUTPUTS[image.format]
    if not _decode_slots.acquire(timeout=DECODE_WAIT_SECONDS):
        raise UploadError(MSG_IMAGE_BUSY)
    try:
        image = _decode(image, output_format, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_big() from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise UploadError(MSG_IMAGE_CORRUPT) from error
    finally:
        _decode_slots.release()
    try:
        out = io.BytesIO()
        if output_format == "JPEG":
            image.save(
                out,
                "JPEG",
                quality=JPEG_QUALITY,
                optimize=True,
                progressive=True,
            )
        elif output_format == "WEBP":
            image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
        else:
            image.save(out, "PNG", optimize=True)
    except (OSError, ValueError) as error:
        raise UploadError(MSG_IMAGE_CORRUPT) from error
    return ProcessedImage(out.getvalue(), ext, content_type, *image.size)


def _decode(image: Image.Image, output_format: str, max_side: int) -> Image.Image:
    """Decode, make upright and shrink to max_side: the memory-hungry part."""
    from PIL import Image, ImageOps

    if image.format == "JPEG":
        # libjpeg can decode at 1/2, 1/4 or 1/8 scale: ask for the smallest
        # that is still at least the final size, so a 48 MP photo is decoded
        # as 2000 x 1500 (12 MB) instead of 8000 x 6000 (192 MB).
        image.draft("RGB", _fitted_size(image.size, max_side))
    image.load()  # decode now, so truncated or corrupt data fails here
    image = _to_srgb(image)
    image = _normalise_mode(image, output_format, max_side)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # Turned upright only now: exif_transpose() copies the image, which is
    # cheap at 1600 pixels and was 200 MB at full size. thumbnail() bounds
    # both sides, so turning it afterwards keeps it within max_side.
    image = ImageOps.exif_transpose(image)
    # Nothing from the original file may be written back.
    image.info = {}
    return image


def _fitted_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """size scaled down (never up) so its long side is at most max_side."""
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _open_image(data: bytes, filename: str | None) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_OUTPUTS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_big() from error
    except UnidentifiedImageError as error:
        label = _sniff(data[:4096])
        if label == "HEIC":
            raise UploadError(MSG_IMAGE_HEIC) from error
        if label in ("a JPEG image", "a PNG image", "a GIF image", "a WebP image"):
            # The right magic bytes but Pillow cannot parse the header.
            raise UploadError(MSG_IMAGE_CORRUPT) from error
        ext = _ext_of(filename or "")
        if not label and ext and ext not in IMAGE_EXTENSIONS:
            label = f".{ext}"
        raise UploadError(
            MSG_IMAGE_TYPE, name=label or _describe_unknown(data)
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UploadError(MSG_IMAGE_CORRUPT) from error
    width, height = image.size
    if width < 1 or height < 1:
        raise UploadError(MSG_IMAGE_CORRUPT)
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_big()
    return image


def _too_big() -> UploadError:
    return UploadError(MSG_IMAGE_TOO_BIG, megapixels=MAX_IMAGE_PIXELS // 1_000_000)


@functools.cache
def _srgb():
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert from an embedded colour profile (e.g. iPhone Display P3) to
    sRGB, the space browsers assume once the profile is gone."""
    from PIL import ImageCms

    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, _srgb(), outputMode=output_mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile is not worth refusing a photo for.
        return image
    converted.info = dict(image.info)  # exif_transpose still needs the EXIF
    converted.info.pop("icc_profile", None)
    return converted


def _normalise_mode(
    image: Image.Image, output_format: str, max_side: int
) -> Image.Image:
    if output_format == "JPEG":
        if image.mode in ("RGB", "L"):
            return image
        return _convert_shrinking(image, "RGB", max_side)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return _convert_shrinking(image, "RGBA" if has_alpha else "RGB", max_side)


def _convert_shrinking(image: Image.Image, mode: str, max_side: int) -> Image.Image:
    """image.convert(mode), already halved (or more) when it is far larger
    than max_side: the same first step thumbnail() takes (reducing_gap=2).

    A paletted 48 MP PNG is 48 MB decoded but 192 MB once converted to RGB
    (Pillow keeps 4 bytes a pixel); converting and reducing it band by band
    never holds that full-size copy.
    """
    from PIL import Image

    width, height = image.size
    fitted = _fitted_size(image.size, max_side)
    factor = int(min(width / fitted[0], height / fitted[1]) / 2)
    if factor < 2:
        return image.convert(mode)
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * 128
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))
        out.paste(band.convert(mode).reduce(factor), (0, top // factor))
    out.info = dict(image.info)
    return out


# --- attachments ----------------------------------------------------------------


def check_attachment(filename: str, stream: BinaryIO) -> AttachmentInfo:
    """Check that an attachment's extension is allowed and that its content
    is of that kind; return the extension, the content type to serve it with
    and its size. The stream is left at its start."""
    ext = _ext_of(filename)
    if ext not in ATTACHMENT_TYPES:
        raise UploadError(
            MSG_ATTACHMENT_TYPE,
            name=f".{ext}" if ext else (clean_original_name(filename) or "?"),
        )
    family, content_type = ATTACHMENT_TYPES[ext]
    data = _read_all(stream)
    if not data:
        raise UploadError(MSG_EMPTY)
    if not _content_matches(ext, family, data):
        actual = _sniff(data[:4096]) or _describe_unknown(data)
        raise UploadError(MSG_ATTACHMENT_MISMATCH, ext=f".{ext}", actual=actual)
    if family == "text":
        content_type = _text_content_type(content_type, data)
    return AttachmentInfo(ext, content_type, len(data))


def _text_content_type(content_type: str, data: bytes) -> str:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"{content_type}; charset=gb18030"
    return f"{content_type}; charset=utf-8"


def _content_matches(ext: str, family: str, data: bytes) -> bool:
    if family == "pdf":
        return data.startswith(PDF_MAGIC)
    if family == "ole":
        return data.startswith(OLE_MAGIC)
    if family == "text":
        return _is_text(data)
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if family == "ooxml":
                return "[Content_Types].xml" in names and OOXML_MAIN_PARTS[ext] in names
            if family == "odf":
                mimetype = archive.read("mimetype") if "mimetype" in names else b""
                return mimetype.startswith(b"application/vnd.oasis.opendocument")
            return True
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError):
        return False


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def _describe_unknown(data: bytes) -> str:
    if _is_text(data[:4096]):
        return N_("plain text")
    return N_("an unknown format")


# --- names and sizes ---------------------------------------------------------------


def random_name(ext: str) -> str:
    """A fresh unguessable file name for storage, like "9f86d0...c3.jpg"."""
    ext = ext.lower().lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,8}", ext):
        raise ValueError(f"bad extension: {ext!r}")
    return f"{secrets.token_hex(16)}.{ext}"


def clean_original_name(name: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Make a client's file name safe to show and to offer as a download name.

    Keeps Chinese and other letters (werkzeug's secure_filename would drop
    them), removes any directory part (/ or \\), control and formatting
    characters (a right-to-left override can disguise "gpj.exe" as
    "exe.jpg"), and limits the length while keeping the extension.
    """
    name = re.split(r"[\\/]", name or "")[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        " " if char in "\t\n\r" or unicodedata.category(char).startswith("Z") else char
        for char in name
        if char in "\t\n\r" or not unicodedata.category(char).startswith("C")
    )
    name = " ".join(name.split())
    # Windows drops trailing dots and spaces; a name of only dots means nothing.
    name = name.strip(" .")
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = stem[: max_length - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:max_length].rstrip(" .")
    return name or "file"
