"""Drawn first-page thumbnails of Word files and sheets.

A PDF's thumbnail is its first page as Chrome's engine renders it
(previews._pdf). Nothing here can render a .docx or .xlsx (no LibreOffice),
so their thumbnail is drawn with Pillow from what the preview already read:
a white A4 page with the document's first lines (a title larger and bold,
lines wrapped inside page margins, an early picture), or the top-left cells
of the first sheet as a grid. Same name, size and JPEG as a PDF's, so the
attachment list shows them alike.

Runs inside the preview's sandbox (previews.make). Chinese needs a font from
the system (thumb_fonts.py); without one, or if drawing fails, there is no
thumbnail and the list shows the generic icon.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from newsroom import thumb_fonts

WIDTH = 240  # px, as a PDF's thumbnail (previews.THUMB_WIDTH)
HEIGHT = round(WIDTH * 842 / 595)  # an A4 page, as a PDF's of one
SCALE = 2  # drawn twice as large, then shrunk: smoother small text
QUALITY = 75
NAME = "thumb.jpg"

INK = (34, 34, 34)
GRID = (190, 196, 204)
HEADER = (238, 240, 243)
MUTED = (110, 116, 124)

MAX_HTML = 100_000  # characters of the document read: far more than a page
MAX_BLOCKS = 80

log = logging.getLogger(__name__)


def save(image, out: Path) -> None:
    from PIL import Image

    image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS).save(
        out / NAME, "JPEG", quality=QUALITY
    )


def _canvas():
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), "white")
    return image, ImageDraw.Draw(image)


# --- Word --------------------------------------------------------------------------


def document(html: str, out: Path, url_prefix: str, fonts: list | None) -> bool:
    """Draw the first page of a .docx from its preview HTML into out; False
    when there is no font for it (or drawing failed): no thumbnail."""
    found = thumb_fonts.find(fonts)
    if found is None:
        return False
    try:
        image = _page(_blocks(html[:MAX_HTML]), found, out, url_prefix)
        save(image, out)
    except Exception:  # a thumbnail is a nicety: never the preview's failure
        log.warning("no thumbnail drawn for %s", out, exc_info=True)
        return False
    return True


class _Block:
    def __init__(self, kind: str, prefix: str = ""):
        self.kind = kind  # "heading", "para", "row" or "image"
        self.text = prefix
        self.bold_chars = 0
        self.src = ""
        self.width = 0

    @property
    def bold(self) -> bool:
        visible = len(self.text.replace(" ", ""))
        return self.kind == "heading" or (visible > 0 and self.bold_chars >= visible)


class _Enough(Exception):
    pass


class _BlockParser(HTMLParser):
    """The blocks of the sanitized HTML, in order: headings, paragraphs and
    list items, table rows (cells side by side), pictures."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.current: _Block | None = None
        self.strong = 0
        self.table = 0
        self.lists: list[list] = []  # [ordered, count] per open list

    def _start(self, kind: str, prefix: str = "") -> None:
        self._end()
        if len(self.blocks) >= MAX_BLOCKS:
            raise _Enough
        self.current = _Block(kind, prefix)

    def _end(self) -> None:
        if self.current is not None and self.current.text.strip():
            self.current.text = " ".join(self.current.text.split())
            self.blocks.append(self.current)
        self.current = None

    def handle_starttag(self, tag, attrs):
        if tag in ("strong", "b"):
            self.strong += 1
        elif tag == "table":
            self._end()
            self.table += 1
        elif tag == "tr":
            self._start("row")
        elif tag in ("td", "th") and self.current is not None:
            if self.current.text.strip():
                self.current.text += "　"  # an ideographic space between cells
        elif self.table:
            return  # paragraphs inside a cell stay in its row
        elif tag in ("ul", "ol"):
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            prefix = "• "
            if self.lists and self.lists[-1][0]:
                self.lists[-1][1] += 1
                prefix = f"{self.lists[-1][1]}. "
            self._start("para", prefix)
        elif tag in ("h2", "h3", "h4", "h5", "h6"):
            self._start("heading")
        elif tag in ("p", "blockquote"):
            self._start("para")
        elif tag == "img":
            self._start("image")
            values = dict(attrs)
            self.current.src = values.get("src") or ""
            self.current.text = "image"  # kept by _end
            width = values.get("width") or ""
            self.current.width = int(width) if width.isdigit() else 0
            self._end()
        elif tag == "br" and self.current is not None:
            self.current.text += "\n"

    def handle_endtag(self, tag):
        if tag in ("strong", "b"):
            self.strong = max(0, self.strong - 1)
        elif tag == "table":
            self._end()
            self.table = max(0, self.table - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag in ("p", "li", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"):
            if not (self.table and tag != "tr"):
                self._end()

    def handle_data(self, data):
        if self.current is None:
            if not data.strip() or self.table:
                return
            self._start("para")
        self.current.text += data
        if self.strong:
            self.current.bold_chars += len(data.replace(" ", ""))


def _blocks(html: str) -> list[_Block]:
    parser = _BlockParser()
    try:
        parser.feed(html)
        parser.close()
    except _Enough:
        pass
    parser._end()
    return parser.blocks


def _page(blocks: list[_Block], fonts, out: Path, url_prefix: str):
    image, draw = _canvas()
    width, height = image.size
    # Word's default margins (3.18 cm left and right, 2.54 cm top and
    # bottom on A4) as parts of the page.
    left, top = round(width * 0.151), round(height * 0.086)
    right, bottom = width - left, height - top
    body = thumb_fonts.load(fonts, 9 * SCALE)
    y = top
    for number, block in enumerate(blocks):
        if block.kind == "image":
            picture = _picture(block, out, url_prefix, right - left, height // 3)
            if picture is None:
                continue
            if y + picture.height > bottom:
                break
            image.paste(picture, (left, y))
            y += picture.height + 4 * SCALE
            continue
        title = number == 0 and block.bold
        size = 15 if title else 12 if block.kind == "heading" else 9
        font = body if size == 9 else thumb_fonts.load(fonts, size * SCALE, True)
        faux_bold = block.bold and size == 9 or (block.bold and not fonts.bold)
        line_height = round(size * SCALE * 1.5)
        lines = wrap(block.text, font, right - left)
        for line in lines:
            if y + line_height > bottom:
                return image
            x = left
            if title:  # a notice's title is centred (通知)
                x = left + (right - left - round(font.getlength(line))) // 2
            draw.text(
                (x, y),
                line,
                font=font,
                fill=INK,
                stroke_width=1 if faux_bold else 0,
                stroke_fill=INK,
            )
            y += line_height
        y += round(size * SCALE * (0.8 if title else 0.4))
    return image


def _picture(block: _Block, out: Path, url_prefix: str, max_width, max_height):
    """An image of the document, already re-encoded into the preview folder
    by previews._docx, fitted to the text column; None if it is not ours."""
    from PIL import Image

    name = block.src[len(url_prefix) :] if block.src.startswith(url_prefix) else ""
    if not re.fullmatch(r"img-\d+\.(?:jpg|png|gif|webp)", name):
        return None
    with Image.open(out / name) as picture:
        picture.seek(0)
        picture = picture.convert("RGB")
    # Word's width is in CSS pixels of a page about 600 px wide between
    # its margins: the same share of this page's column.
    wanted = max_width * min(block.width, 600) / 600 if block.width else max_width
    scale = min(wanted / picture.width, max_height / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


# A Latin word (at most 40 letters: a long URL breaks), a space, or one
# character of any other script.
_TOKEN_RE = re.compile(r"\n|[A-Za-z0-9@#$%&*_+=/\\.,;:!?'\"()\[\]<>-]{1,40} ?| |.")
MAX_LINES = 60  # more than a page holds


def wrap(text: str, font, width: int) -> list[str]:
    """Lines of text no wider than width: Latin words kept whole where they
    fit, Chinese broken between any two characters."""
    lines, line = [], ""
    for token in _TOKEN_RE.findall(text[:3000]):
        if len(lines) > MAX_LINES:
            break
        if token == "\n":
            lines.append(line)
            line = ""
            continue
        if font.getlength(line + token.rstrip()) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = token.lstrip()
        while font.getlength(line.rstrip()) > width and len(line) > 1:
            # A word wider than the line: cut it where it fills the line.
            cut = len(line) - 1
            while cut > 1 and font.getlength(line[:cut]) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


# --- Sheets ------------------------------------------------------------------------

ROW_HEIGHT = 16 * SCALE
HEADER_WIDTH = 16 * SCALE  # the row numbers' column


def sheet(values: dict, merges: list, out: Path, fonts: list | None) -> bool:
    """Draw the top-left cells of a sheet ({(row, col): text}, merged
    ranges as (min_row, min_col, max_row, max_col)) as a grid into out;
    False when there is no font (or drawing failed): no thumbnail."""
    found = thumb_fonts.find(fonts)
    if found is None:
        return False
    try:
        save(_grid(values, merges, found), out)
    except Exception:  # a thumbnail is a nicety: never the preview's failure
        log.warning("no thumbnail drawn for %s", out, exc_info=True)
        return False
    return True


def _grid(values: dict, merges: list, fonts):
    image, draw = _canvas()
    width, height = image.size
    font = thumb_fonts.load(fonts, 10 * SCALE)
    small = thumb_fonts.load(fonts, 7 * SCALE)
    rows = (height - ROW_HEIGHT) // ROW_HEIGHT  # those that fit below the letters
    # Each column as wide as its longest text among the rows shown, within
    # bounds, and as many columns as fit.
    # A title merged across columns does not widen its first one.
    spanning = {(m[0], m[1]) for m in merges if m[3] > m[1]}
    edges = [HEADER_WIDTH]
    col = 1
    while edges[-1] < width and col <= 26:
        texts = [
            values.get((r, col), "")
            for r in range(1, rows + 1)
            if (r, col) not in spanning
        ]
        longest = max((font.getlength(t) for t in texts), default=0)
        edges.append(
            edges[-1] + round(min(max(longest + 6 * SCALE, 28 * SCALE), 90 * SCALE))
        )
        col += 1
    cols = len(edges) - 1

    def box(row, col, last_row=None, last_col=None):
        last_row, last_col = last_row or row, last_col or col
        return (
            edges[col - 1],
            row * ROW_HEIGHT,
            edges[min(last_col, cols)],
            (min(last_row, rows) + 1) * ROW_HEIGHT,
        )

    # The letters above and the numbers beside, as a spreadsheet shows them.
    draw.rectangle((0, 0, width, ROW_HEIGHT), fill=HEADER)
    draw.rectangle((0, 0, HEADER_WIDTH, height), fill=HEADER)
    for c in range(1, cols + 1):
        x0, _, x1, _ = box(1, c)
        _text(draw, chr(64 + c), small, (x0, 0, x1, ROW_HEIGHT), MUTED, centre=True)
    for r in range(1, rows + 1):
        _text(
            draw,
            str(r),
            small,
            (0, r * ROW_HEIGHT, HEADER_WIDTH, (r + 1) * ROW_HEIGHT),
            MUTED,
            centre=True,
        )
    for x in edges:
        draw.line((x, 0, x, height), fill=GRID)
    for r in range(1, rows + 2):
        draw.line((0, r * ROW_HEIGHT, width, r * ROW_HEIGHT), fill=GRID)

    covered = set()
    for min_row, min_col, max_row, max_col in merges:
        if min_row > rows or min_col > cols:
            continue
        area = box(min_row, min_col, max_row, max_col)
        draw.rectangle(area, fill="white", outline=GRID)
        covered.update(
            (r, c)
            for r in range(min_row, min(max_row, rows) + 1)
            for c in range(min_col, min(max_col, cols) + 1)
        )
        text = values.get((min_row, min_col), "")
        _text(draw, text, font, area, INK, centre=True)
    for (r, c), text in values.items():
        if r <= rows and c <= cols and (r, c) not in covered:
            _text(draw, text, font, box(r, c), INK)
    return image


def _text(draw, text, font, area, fill, centre=False) -> None:
    """One line of text inside a cell, cut at its right edge."""
    x0, y0, x1, y1 = area
    room = x1 - x0 - 4 * SCALE
    text = " ".join(str(text)[:200].split())[:60]  # more never fits a cell
    while text and font.getlength(text) > room:
        text = text[:-1]
    if not text:
        return
    x = x0 + 2 * SCALE
    if centre:
        x = x0 + (x1 - x0 - round(font.getlength(text))) // 2
    draw.text((x, (y0 + y1) // 2), text, font=font, fill=fill, anchor="lm")
