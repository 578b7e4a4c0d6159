"""Turn an attached document into something any phone's browser shows.

PDF pages become JPEG images (pypdfium2, Chrome's PDF engine), a .docx
becomes sanitized HTML (mammoth, images re-encoded as files), an .xlsx or
.csv becomes HTML tables. Each function here runs inside newsroom/sandbox.py
(a child process with a memory and time bound, see preview_queue.py): it
reads the attachment, writes its files into an empty folder and returns the
manifest that the preview page reads. A file it will not preview ends in
Refused(reason), any other failure in the sandbox's error.

Bounds, whatever the file: the first MAX_PAGES pages, at most MAX_PAGE_PIXELS
per page image; the first MAX_CELLS cells of the sheets (MAX_COLUMNS wide);
a .docx's HTML cut near MAX_HTML_CHARS; zips (.docx, .xlsx) that would unpack
to more than MAX_UNZIPPED_BYTES are refused before any parser sees them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import date, datetime, time
from pathlib import Path

from markupsafe import escape

from newsroom import preview_thumbs, sandbox
from newsroom.preview_files import BROKEN, ENCRYPTED, MANIFEST, TOO_BIG

MAX_PAGES = 30
PAGE_WIDTH = 1080  # px: sharp on phones (375 css px at 3x) and in the column
# A page's image never has more pixels than this (3.3 bytes each while
# rendering): a 20,000 x 20,000-point page, or a 10 x 20,000-point strip,
# is rendered smaller instead of taking gigabytes.
MAX_PAGE_PIXELS = PAGE_WIDTH * PAGE_WIDTH * 3
MAX_PAGE_SIDE = 8_000  # px; JPEG allows 65,500 (a long strip of a page)
THUMB_WIDTH = preview_thumbs.WIDTH  # a .docx's or a sheet's is drawn instead
JPEG_QUALITY = 75
MAX_CELLS = 5_000
MAX_COLUMNS = 60
MAX_HTML_CHARS = 1_000_000
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_CSV_BYTES = 5 * 1024 * 1024  # read of a .csv; the cell limit comes first


class Refused(Exception):
    """This file gets no preview; reason says why (preview_files.NOTES)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def make(
    kind: str, source: str, folder: str, url_prefix: str, fonts: list | None = None
) -> dict:
    """Write the preview of the file at source into folder; its manifest.

    url_prefix is where the folder's files are served (images in a .docx's
    HTML link there); fonts, the PREVIEW_FONTS setting, are where a drawn
    thumbnail's font is looked for (None: the usual places). Runs in the
    sandbox; a refusal comes back as {"refused": reason} so the parent can
    tell it from a crash.
    """
    out = Path(folder)
    try:
        if kind == "pdf":
            manifest = _pdf(Path(source), out)
        elif kind == "docx":
            manifest = _docx(Path(source), out, url_prefix, fonts)
        elif kind == "sheet" and source.endswith(".csv"):
            manifest = _csv(Path(source), out, fonts)
        elif kind == "sheet":
            manifest = _xlsx(Path(source), out, fonts)
        else:
            raise ValueError(f"no preview for {kind}")
    except Refused as refused:
        return {"refused": refused.reason}
    manifest["kind"] = kind
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


# --- PDF ---------------------------------------------------------------------------


def render_scale(width_pt: float, height_pt: float) -> float:
    """The scale for a page: PAGE_WIDTH wide, never above MAX_PAGE_PIXELS
    nor MAX_PAGE_SIDE."""
    width_pt, height_pt = max(width_pt, 1.0), max(height_pt, 1.0)
    return min(
        PAGE_WIDTH / width_pt,
        math.sqrt(MAX_PAGE_PIXELS / (width_pt * height_pt)),
        MAX_PAGE_SIDE / max(width_pt, height_pt),
    )


def _pdf(source: Path, out: Path) -> dict:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(source))
    except pdfium.PdfiumError as error:
        # pdfium names a missing or wrong password in its message.
        if "password" in str(error).lower():
            raise Refused(ENCRYPTED) from None
        raise Refused(BROKEN) from None
    pages = []
    try:
        total = len(document)
        if total == 0:
            raise Refused(BROKEN)
        for index in range(min(total, MAX_PAGES)):
            page = document[index]
            width_pt, height_pt = page.get_size()
            scale = render_scale(width_pt, height_pt)
            image = page.render(scale=scale).to_pil().convert("RGB")
            page.close()
            name = f"page-{index + 1}.jpg"
            image.save(out / name, "JPEG", quality=JPEG_QUALITY, progressive=True)
            pages.append({"name": name, "width": image.width, "height": image.height})
            if index == 0:
                _thumbnail(image, out)
    finally:
        document.close()
    return {"pages": pages, "total_pages": total, "truncated": total > len(pages)}


def _thumbnail(image, out: Path) -> None:
    # The top of the page, at most twice as tall as wide: a long strip of a
    # page must not become a huge thumbnail (crop first, then shrink).
    top = image.crop((0, 0, image.width, min(image.height, image.width * 2)))
    height = max(1, round(top.height * THUMB_WIDTH / top.width))
    top.resize((THUMB_WIDTH, height)).save(
        out / "thumb.jpg", "JPEG", quality=JPEG_QUALITY
    )


# --- Word --------------------------------------------------------------------------


def _docx(source: Path, out: Path, url_prefix: str, fonts: list | None) -> dict:
    from newsroom.docx_import import docx_to_html
    from newsroom.uploads import UploadError, process_image

    _check_zip(source)
    images = 0

    def save_image(data: bytes, content_type: str) -> str:
        nonlocal images
        # Re-encoded like any uploaded photo (metadata stripped, size bounded):
        # what Word embedded is as untrusted as the rest of the file.
        image = process_image(io.BytesIO(data))
        images += 1
        name = f"img-{images}.{image.ext}"
        (out / name).write_bytes(image.data)
        return f"{url_prefix}{name}"

    data = source.read_bytes()
    if len(data) > MAX_UNZIPPED_BYTES:
        raise Refused(TOO_BIG)
    try:
        result = docx_to_html(io.BytesIO(data), save_image)
    except UploadError:
        raise Refused(BROKEN) from None
    html, truncated = result.html, False
    if len(html) > MAX_HTML_CHARS:
        # Cut at the end of a block; the sanitizer closed every element, and
        # the page parses the rest as the browser would.
        cut = html.rfind("</p>", 0, MAX_HTML_CHARS)
        html, truncated = html[: cut + 4 if cut > 0 else MAX_HTML_CHARS], True
        from newsroom.sanitize import clean_html

        html = clean_html(html)
    (out / "document.html").write_text(html, encoding="utf-8")
    preview_thumbs.document(html, out, url_prefix, fonts)
    return {"html": "document.html", "truncated": truncated, "images": images}


def _check_zip(source: Path) -> None:
    """Refuse a zip that unpacks to too much (a zip bomb) before parsing it.

    Python's zipfile never unpacks a member past its declared size, so the
    declared sizes bound what any reader of the file here can get.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Refused(BROKEN) from None
    if len(infos) > 10_000:
        raise Refused(TOO_BIG)
    if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
        raise Refused(TOO_BIG)
    if any(info.flag_bits & 0x1 for info in infos):  # encrypted members
        raise Refused(ENCRYPTED)


# --- Sheets ------------------------------------------------------------------------


class _Budget:
    def __init__(self):
        self.cells = MAX_CELLS
        self.truncated = False


def _xlsx(source: Path, out: Path, fonts: list | None) -> dict:
    _check_zip(source)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Not read-only: merged cells are only known to a loaded sheet. The
        # zip check above bounds what loading it can take.
        book = openpyxl.load_workbook(source, data_only=True, read_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError):
        raise Refused(BROKEN) from None
    budget = _Budget()
    sheets, parts, first = [], [], None
    for sheet in book.worksheets:
        if sheet.sheet_state != "visible":
            continue  # hidden in Excel too
        values, merges = _sheet_cells(sheet)
        html, rows, cols = _table(values, merges, budget)
        sheets.append({"name": sheet.title, "rows": rows, "cols": cols})
        parts.append(html)
        if first is None and values:
            first = values, merges
    if first is not None:
        preview_thumbs.sheet(*first, out, fonts)
    return _write_sheets(out, sheets, parts, budget)


def _sheet_cells(sheet) -> tuple[dict, list]:
    # The cells the file holds, never sheet.iter_rows(): that makes a cell for
    # every position up to max_row x max_column, and a formatted whole column
    # reaches row 1,048,576.
    values = {}
    for (row, col), cell in sheet._cells.items():
        text = _cell_text(cell.value, cell.number_format)
        if text:
            values[row, col] = text
    merges = [
        (r.min_row, r.min_col, r.max_row, r.max_col) for r in sheet.merged_cells.ranges
    ]
    return values, merges


def _cell_text(value, number_format: str = "General") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float):
        if "%" in (number_format or ""):
            return f"{value * 100:.10g}%"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}" if isinstance(value, float) else str(value)
    return str(value).strip()


def _csv(source: Path, out: Path, fonts: list | None) -> dict:
    with open(source, "rb") as fh:
        data = fh.read(MAX_CSV_BYTES + 1)
    budget = _Budget()
    if len(data) > MAX_CSV_BYTES:
        data = data[:MAX_CSV_BYTES]
        data = data[: data.rfind(b"\n") + 1] or data
        budget.truncated = True
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refused(BROKEN)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    values = {}
    for row, cells in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        for col, cell in enumerate(cells, start=1):
            if cell.strip():
                values[row, col] = cell.strip()
        if len(values) > MAX_CELLS:
            budget.truncated = True
            break
    html, rows, cols = _table(values, [], budget)
    if values:
        preview_thumbs.sheet(values, [], out, fonts)
    sheet = {"name": "", "rows": rows, "cols": cols}
    return _write_sheets(out, [sheet], [html], budget)


def _table(values: dict, merges: list, budget: _Budget) -> tuple[str, int, int]:
    """An HTML table of the cells: empty trailing rows and columns dropped,
    merged cells spanning, cut at the budget's cells and MAX_COLUMNS."""
    rows = max((r for r, _ in values), default=0)
    cols = max((c for _, c in values), default=0)
    # A merge reaching further than any value does not make the table larger.
    if cols > MAX_COLUMNS:
        cols, budget.truncated = MAX_COLUMNS, True
    if rows * cols > budget.cells:
        rows, budget.truncated = budget.cells // cols if cols else 0, True
    budget.cells -= rows * cols
    if not rows or not cols:
        return "", 0, 0
    spans, covered = {}, set()
    for min_row, min_col, max_row, max_col in merges:
        if min_row > rows or min_col > cols:
            continue
        max_row, max_col = min(max_row, rows), min(max_col, cols)
        spans[min_row, min_col] = (max_row - min_row + 1, max_col - min_col + 1)
        covered.update(
            (r, c)
            for r in range(min_row, max_row + 1)
            for c in range(min_col, max_col + 1)
            if (r, c) != (min_row, min_col)
        )
    lines = ["<table>"]
    for r in range(1, rows + 1):
        line = ["<tr>"]
        for c in range(1, cols + 1):
            if (r, c) in covered:
                continue
            attrs = ""
            rowspan, colspan = spans.get((r, c), (1, 1))
            if rowspan > 1:
                attrs += f' rowspan="{rowspan}"'
            if colspan > 1:
                attrs += f' colspan="{colspan}"'
            line.append(f"<td{attrs}>{escape(values.get((r, c), ''))}</td>")
        line.append("</tr>")
        lines.append("".join(line))
    lines.append("</table>")
    return "\n".join(lines), rows, cols


def _write_sheets(out: Path, sheets: list, parts: list, budget: _Budget) -> dict:
    for index, html in enumerate(parts, start=1):
        (out / f"sheet-{index}.html").write_text(html, encoding="utf-8")
    return {"sheets": sheets, "truncated": budget.truncated}


sandbox.preload(
    "newsroom.previews", "pypdfium2", "openpyxl", "PIL.Image", "PIL.ImageDraw"
)
