"""The text of an attached document, for the compliance check and search.

extract() reads a .pdf (the text layer, page by page), .docx (paragraphs),
.xlsx (every cell of every sheet), .csv (every cell) or .txt (lines) into
segments (where, text): "page:2", "para:5", "cell:名单!C2", "csv:3:2", "line:7".
Parsing always happens in newsroom/sandbox.py's bounded child process
(MEMORY_MB of address space, SECONDS of time); on top of that the work is
cut off after MAX_PAGES pages, MAX_CELLS cells or MAX_CHARS characters (the
result then says truncated), and a zip whose parts would unpack to more
than MAX_UNZIPPED_BYTES is refused before any parser sees it.

A file that cannot be read (broken, encrypted, hostile, too big) gives no
segments and a problem code instead; nothing here raises to the caller.

text_for(upload) keeps the result as JSON in
<UPLOAD_FOLDER>/derived/<stored_name>/text.json, so a post's check, its
review and its search index read each attachment once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Dotted, not "from newsroom import …": newsroom/__init__.py imports this
# module (through attachment_check), and the package must not import itself.
import newsroom.sandbox as sandbox

MEMORY_MB = 512
SECONDS = 20.0
MAX_PAGES = 30
MAX_CELLS = 20_000
# Cells visited, empty ones included: a sheet can claim a huge used range.
MAX_VISITED_CELLS = 200_000
MAX_CHARS = 500_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
EXTENSIONS = frozenset({"pdf", "docx", "xlsx", "csv", "txt"})

# Bumped when the segments change shape: older cached results are read again.
CACHE_VERSION = 1

# Why a document gave no text.
ENCRYPTED = "encrypted"  # a password is needed
BROKEN = "broken"  # not a readable file of its kind
TOO_LARGE = "too_large"  # over a size bound (zip bomb, huge file)
UNBOUNDED = "unbounded"  # the parser ran out of memory or time
MISSING = "missing"  # the stored file is gone

sandbox.preload("newsroom.doctext")


@dataclass(frozen=True)
class DocText:
    segments: tuple[tuple[str, str], ...] = ()
    problem: str = ""  # one of the codes above; "" when read
    truncated: bool = False  # only the first part was read (the bounds above)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.segments)

    def to_json(self) -> dict:
        return {
            "v": CACHE_VERSION,
            "segments": [list(s) for s in self.segments],
            "problem": self.problem,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data) -> DocText | None:
        if not isinstance(data, dict) or data.get("v") != CACHE_VERSION:
            return None
        try:
            segments = tuple((str(w), str(t)) for w, t in data["segments"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(segments, str(data.get("problem", "")), bool(data.get("truncated")))


class _Refused(Exception):
    """Raised in the child: the file is not readable, for this reason."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Bounds:
    """How much of a document is read (passed to the child, so a test or a
    caller may set smaller ones)."""

    pages: int = MAX_PAGES
    cells: int = MAX_CELLS
    visited_cells: int = MAX_VISITED_CELLS
    chars: int = MAX_CHARS
    unzipped_bytes: int = MAX_UNZIPPED_BYTES


@dataclass
class _Collector:
    """Segments within the bounds."""

    bounds: Bounds
    segments: list[tuple[str, str]] = field(default_factory=list)
    chars: int = 0
    truncated: bool = False

    def add(self, where: str, text: str) -> bool:
        """Keep a segment; False once the bound is reached (stop reading)."""
        text = text.strip()
        if not text:
            return True
        room = self.bounds.chars - self.chars
        if room <= 0:
            self.truncated = True
            return False
        if len(text) > room:
            text, self.truncated = text[:room], True
        self.segments.append((where, text))
        self.chars += len(text)
        return not self.truncated


# --- In the sandbox ----------------------------------------------------------------


def _read_pdf(path: str, out: _Collector) -> None:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        message = str(error).lower()
        raise _Refused(ENCRYPTED if "password" in message else BROKEN) from None
    try:
        count = len(document)
        for number in range(min(count, out.bounds.pages)):
            page = document[number]
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n")
            textpage.close()
            page.close()
            if not out.add(f"page:{number + 1}", text):
                return
        out.truncated = count > out.bounds.pages
    finally:
        document.close()


def _check_zip(path: str, bounds: Bounds) -> None:
    """Refuse an Office file that is no zip or whose parts unpack too large."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _Refused(BROKEN) from None
    if total > bounds.unzipped_bytes:
        raise _Refused(TOO_LARGE)


def _read_docx(path: str, out: _Collector) -> None:
    import mammoth

    _check_zip(path, out.bounds)
    try:
        with open(path, "rb") as fh:
            text = mammoth.extract_raw_text(fh).value
    except (KeyError, ValueError, zipfile.BadZipFile, OSError):
        raise _Refused(BROKEN) from None
    # mammoth ends every paragraph (and table cell) with a blank line.
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    for number, paragraph in enumerate(paragraphs, 1):
        if number > out.bounds.cells:
            out.truncated = True
            return
        if not out.add(f"para:{number}", paragraph):
            return


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # 13812345678.0 as typed
    return str(value)


def _read_xlsx(path: str, out: _Collector) -> None:
    import openpyxl
    from openpyxl.utils import get_column_letter

    _check_zip(path, out.bounds)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a malformed workbook
        raise _Refused(BROKEN) from None
    cells = visited = 0
    try:
        for sheet in workbook.worksheets:
            for r, row in enumerate(sheet.iter_rows(values_only=True), 1):
                for c, value in enumerate(row, 1):
                    visited += 1
                    text = _cell_text(value)
                    if text.strip():
                        cells += 1
                        where = f"cell:{sheet.title}!{get_column_letter(c)}{r}"
                        if not out.add(where, text):
                            return
                    if cells >= out.bounds.cells or visited >= out.bounds.visited_cells:
                        out.truncated = True
                        return
    except _Refused:
        raise
    except Exception:
        raise _Refused(BROKEN) from None
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")  # what Chinese Windows saves
        except UnicodeDecodeError:
            raise _Refused(BROKEN) from None


def _read_csv(path: str, out: _Collector) -> None:
    text = _decode(Path(path).read_bytes())
    cells = 0
    try:
        for r, row in enumerate(csv.reader(io.StringIO(text)), 1):
            for c, value in enumerate(row, 1):
                if value.strip():
                    cells += 1
                    if cells > out.bounds.cells:
                        out.truncated = True
                        return
                    if not out.add(f"csv:{r}:{c}", value):
                        return
    except csv.Error:
        raise _Refused(BROKEN) from None


def _read_txt(path: str, out: _Collector) -> None:
    text = _decode(Path(path).read_bytes())
    for number, line in enumerate(text.splitlines(), 1):
        if not out.add(f"line:{number}", line):
            return


_READERS = {
    "pdf": _read_pdf,
    "docx": _read_docx,
    "xlsx": _read_xlsx,
    "csv": _read_csv,
    "txt": _read_txt,
}


def _extract_here(path: str, ext: str, bounds: Bounds) -> dict:
    """The work done in the child: a DocText as JSON."""
    out = _Collector(bounds)
    try:
        _READERS[ext](path, out)
    except _Refused as refused:
        return DocText(problem=refused.problem).to_json()
    return DocText(tuple(out.segments), "", out.truncated).to_json()


# --- In the server ---------------------------------------------------------------


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def extract(path: str | os.PathLike, ext: str, bounds: Bounds | None = None) -> DocText:
    """The text of the file at path, read as a .ext file, or why not."""
    ext = ext.lower().lstrip(".")
    if ext not in EXTENSIONS:
        return DocText()  # nothing to read in it (an image, an old .doc …)
    try:
        size = os.path.getsize(path)
    except OSError:
        return DocText(problem=MISSING)
    if size > MAX_FILE_BYTES:
        return DocText(problem=TOO_LARGE)
    try:
        data = sandbox.run(
            _extract_here,
            str(path),
            ext,
            bounds or Bounds(),
            limits=sandbox.Limits(memory_mb=MEMORY_MB, seconds=SECONDS),
        )
    except sandbox.SandboxError as error:
        return DocText(problem=BROKEN if error.reason == "error" else UNBOUNDED)
    return DocText.from_json(data) or DocText(problem=BROKEN)


def cache_path(upload_folder: Path, stored_name: str) -> Path:
    return upload_folder / "derived" / stored_name / "text.json"


def text_for_file(upload_folder: Path, stored_name: str, original_name: str) -> DocText:
    """The text of a stored upload, read once and then kept beside it."""
    ext = extension(stored_name) or extension(original_name)
    if ext not in EXTENSIONS:
        return DocText()
    cached = cache_path(upload_folder, stored_name)
    try:
        result = DocText.from_json(json.loads(cached.read_text("utf-8")))
    except (OSError, ValueError):
        result = None
    if result is not None:
        return result
    result = extract(upload_folder / stored_name, ext)
    if result.problem == MISSING:
        return result  # the upload may come back (a restore): read it then
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f".text.{secrets.token_hex(6)}.tmp")
        temporary.write_text(json.dumps(result.to_json(), ensure_ascii=False), "utf-8")
        os.replace(temporary, cached)  # never a half-written cache
    except OSError:
        pass  # read again next time
    return result


def text_for(upload) -> DocText:
    """The text of an attachment (an Upload row); needs an app context."""
    from flask import current_app

    folder = Path(current_app.config["UPLOAD_FOLDER"])  # as storage.py keeps it
    return text_for_file(folder, upload.stored_name, upload.original_name)
