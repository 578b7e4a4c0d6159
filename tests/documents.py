"""Real attached documents for tests, built in memory: a PDF with a text
layer, a .docx, a two-sheet .xlsx, and hostile ones (a zip bomb, a cut PDF)."""

from __future__ import annotations

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
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, xref)
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
    """An .xlsx whose one sheet unpacks to `megabytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"/>',
        )
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"0" * (1024 * 1024)
            for _ in range(megabytes):
                fh.write(block)
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
