"""Real attached documents for tests and benchmarks, built in memory: PDFs
with a Chinese text layer (make_pdf) or drawn Latin text (make_drawn_pdf), a
password-protected PDF, .docx, .xlsx (two sheets, merged cells, large) and
.csv files, and hostile ones (a zip bomb)."""

from __future__ import annotations

import ctypes
import hashlib
import io
import zipfile

# GB 11643 check digit is valid: 110105 (Beijing Chaoyang), born 1949-10-01.
ID_NUMBER = "11010519491231002X"
ID_MASKED = "110105********002X"
PHONE = "13812345678"


def _pdf_string(text: str) -> str:
    """Text as the 2-byte codes of an Identity-H font whose codes are the
    characters' code points (BMP only), so any Chinese text needs no font."""
    return "<" + "".join(f"{ord(char):04X}" for char in text) + ">"


# Maps every 2-byte code to the same Unicode code point: what text extraction
# reads. No glyphs are embedded, so the pages render blank; only the text
# layer matters here.
_TO_UNICODE = (
    "/CIDInit /ProcSet findresource begin 12 dict begin begincmap"
    " /CMapName /Identity-UCS def /CMapType 2 def"
    " 1 begincodespacerange <0000> <FFFF> endcodespacerange"
    " 1 beginbfrange <0000> <FFFF> <0000> endbfrange"
    " endcmap CMapName currentdict /CMap defineresource pop end end"
)


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one page per string, each line of it on the text layer."""
    objects: list[bytes] = []

    def add(body: str | bytes) -> int:
        objects.append(body.encode("latin-1") if isinstance(body, str) else body)
        return len(objects)

    def stream(data: str) -> bytes:
        raw = data.encode("latin-1")
        return b"<< /Length %d >>\nstream\n" % len(raw) + raw + b"\nendstream"

    catalog = add("")  # filled in below, once the page tree's number is known
    pages_id = add("")
    cmap = add(stream(_TO_UNICODE))
    descendant = add(
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Song"
        " /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        " /FontDescriptor << /Type /FontDescriptor /FontName /Song /Flags 4"
        " /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 880 /Descent -120"
        " /CapHeight 700 /StemV 80 >> /DW 1000 >>"
    )
    font = add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /Song /Encoding /Identity-H"
        f" /DescendantFonts [{descendant} 0 R] /ToUnicode {cmap} 0 R >>"
    )
    kids = []
    for text in pages:
        lines = [
            f"BT /F1 14 Tf 50 {780 - 20 * n} Td {_pdf_string(line)} Tj ET"
            for n, line in enumerate(text.splitlines())
        ]
        content = add(stream("\n".join(lines)))
        kids.append(
            add(
                f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 595 842]"
                f" /Resources << /Font << /F1 {font} 0 R >> >>"
                f" /Contents {content} 0 R >>"
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    objects[pages_id - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}]"
        f" /Count {len(kids)} >>"
    ).encode()
    return _pdf_file(
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", objects, b"/Root %d 0 R" % catalog
    )


def _pdf_file(header: bytes, objects: list[bytes], trailer: bytes) -> bytes:
    """The numbered objects with their cross-reference table and trailer."""
    out = io.BytesIO()
    out.write(header)
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, trailer, xref)
    )
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list]]) -> bytes:
    """A workbook with these sheets, each a list of rows of cell values."""
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
    workbook.close()
    return out.getvalue()


def make_zip_bomb_xlsx(megabytes: int = 300) -> bytes:
    """A well-formed workbook whose one cell holds `megabytes` of zeros: a
    few hundred KB that unpack to far more than any preview may read."""
    import zipfile

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
            "application/vnd.openxmlformats-officedocument.spreadsheetml."
            'worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="名单"'
            ' sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(
                f'<worksheet xmlns="{main}"><sheetData><row r="1"><c r="A1"'
                ' t="inlineStr"><is><t>'.encode()
            )
            block = b"0" * (1024 * 1024)
            for _ in range(megabytes):
                fh.write(block)
            fh.write(b"</t></is></c></row></sheetData></worksheet>")
    return out.getvalue()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def make_docx(paragraphs: list[str]) -> bytes:
    """A minimal .docx with these paragraphs."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
            'openxmlformats.org/package/2006/content-types"><Default Extension="rels"'
            ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/><Override'
            ' PartName="/word/document.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship'
            ' Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        body = "".join(
            f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs
        )
        archive.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return out.getvalue()


def class_list_xlsx() -> bytes:
    """名单.xlsx as schools post it by accident: a 身份证号 on the second sheet."""
    return make_xlsx(
        {
            "说明": [["2026年秋季奖学金名单"], ["请核对"]],
            "名单": [
                ["姓名", "班级", "身份证号"],
                ["张三", "初二(3)班", ID_NUMBER],
                ["李四", "初二(3)班", "待补"],
            ],
        }
    )


def make_drawn_pdf(pages: list[str], size: tuple[float, float] = (595, 842)) -> bytes:
    """A PDF with one page per string: a blue band and the lines in Helvetica
    (so text extraction reads them and the rendered page is not blank)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    width, height = size
    for text in pages:
        page = pdf.new_page(width, height)
        band = raw.FPDFPageObj_CreateNewRect(40, height - 120, width - 80, 60)
        raw.FPDFPageObj_SetFillColor(band, 0, 102, 204, 255)
        raw.FPDFPath_SetDrawMode(band, raw.FPDF_FILLMODE_ALTERNATE, False)
        raw.FPDFPage_InsertObject(page, band)
        for n, line in enumerate(text.splitlines()):
            obj = raw.FPDFPageObj_NewTextObj(pdf, b"Helvetica", 24.0)
            buffer = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
            raw.FPDFText_SetText(
                obj, ctypes.cast(buffer, ctypes.POINTER(raw.FPDF_WCHAR))
            )
            raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 50, height - 180 - 30 * n)
            raw.FPDFPage_InsertObject(page, obj)
        raw.FPDFPage_GenerateContent(page)
        page.close()
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def make_encrypted_pdf(password: str = "secret") -> bytes:
    """A one-page PDF that opens only with this password (40-bit RC4, R2)."""
    user = (password.encode("latin-1") + _PAD)[:32]
    owner_key = hashlib.md5(user).digest()[:5]  # owner password = user password
    owner = _rc4(owner_key, user)
    permissions = -4
    file_id = hashlib.md5(b"schoolnews preview test").digest()
    key = hashlib.md5(
        user + owner + permissions.to_bytes(4, "little", signed=True) + file_id
    ).digest()[:5]
    check = _rc4(key, _PAD)

    def object_key(number: int) -> bytes:
        return hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[:10]

    content = _rc4(object_key(4), b"0 0 1 rg 40 700 500 60 re f")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (owner.hex().encode(), check.hex().encode(), permissions),
    ]
    identity = file_id.hex().encode()
    return _pdf_file(
        b"%PDF-1.4\n",
        objects,
        b"/Root 1 0 R /Encrypt 5 0 R /ID [<%s> <%s>]" % (identity, identity),
    )


def make_merged_xlsx() -> bytes:
    """报名表.xlsx: two sheets, a merged title row and a merged column block."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    first = book.add_worksheet("报名")
    first.merge_range("A1:C1", "2026年秋季运动会报名表")
    first.write_row(1, 0, ["姓名", "班级", "项目"])
    first.write_row(2, 0, ["张三", "初二(3)班", "跳远"])
    first.write_row(3, 0, ["李四", "初二(3)班", "100米"])
    first.write(9, 8, "")  # formatted but empty: trailing, dropped
    second = book.add_worksheet("日程")
    second.merge_range("A1:A3", "上午")
    second.write_row(0, 1, ["开幕式"])
    second.write_row(1, 1, ["田径"])
    second.write_row(2, 1, ["跳绳"])
    second.write(3, 1, 0.25, book.add_format({"num_format": "0%"}))
    book.close()
    return out.getvalue()


def make_big_csv(rows: int = 2_000, columns: int = 10) -> bytes:
    lines = [",".join(f"r{r}c{c}" for c in range(columns)) for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def make_big_xlsx(rows: int = 20_000, columns: int = 10) -> bytes:
    """A large but honest workbook (rows x columns numbers and text)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("成绩")
    for row in range(rows):
        for col in range(columns):
            if col % 2:
                sheet.write_number(row, col, row * col)
            else:
                sheet.write_string(row, col, f"学生{row}-{col}")
    book.close()
    return out.getvalue()
