import io
import zipfile

import pytest
from PIL import Image

from newsroom.docx_import import DocxResult, docx_to_html
from newsroom.uploads import UploadError, process_image

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml"
CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels"
    ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="xml" ContentType="application/xml"/>
  <Default Extension="png" ContentType="image/png"/>
  <Default Extension="emf" ContentType="image/x-emf"/>
  <Override PartName="/word/document.xml" ContentType="{_MAIN}.document.main+xml"/>
  <Override PartName="/word/styles.xml" ContentType="{_MAIN}.styles+xml"/>
  <Override PartName="/word/numbering.xml" ContentType="{_MAIN}.numbering+xml"/>
</Types>"""

PACKAGE_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PKG_REL}">
  <Relationship Id="rId1" Type="{REL}/officeDocument" Target="word/document.xml"/>
</Relationships>"""

DOCUMENT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{PKG_REL}">
  <Relationship Id="rId1" Type="{REL}/styles" Target="styles.xml"/>
  <Relationship Id="rId2" Type="{REL}/numbering" Target="numbering.xml"/>
  <Relationship Id="rId5" Type="{REL}/image" Target="media/image1.png"/>
  <Relationship Id="rId6" Type="{REL}/image" Target="media/image2.emf"/>
</Relationships>"""

# Chinese Word gives built-in styles numeric ids but English names.
STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="{W}">
  <w:style w:type="paragraph" w:default="1" w:styleId="a">
    <w:name w:val="Normal"/>
  </w:style>
  <w:style w:type="paragraph" w:styleId="a3"><w:name w:val="Title"/></w:style>
  <w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/></w:style>
  <w:style w:type="paragraph" w:styleId="2"><w:name w:val="heading 2"/></w:style>
</w:styles>"""

NUMBERING = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:numbering xmlns:w="{W}">
  <w:abstractNum w:abstractNumId="0">
    <w:lvl w:ilvl="0">
      <w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/>
    </w:lvl>
  </w:abstractNum>
  <w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>
</w:numbering>"""


def paragraph(text, style=None, run_props="", num=False):
    props = ""
    if style or num:
        props = "<w:pPr>"
        if style:
            props += f'<w:pStyle w:val="{style}"/>'
        if num:
            props += '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'
        props += "</w:pPr>"
    run_props = f"<w:rPr>{run_props}</w:rPr>" if run_props else ""
    return f"<w:p>{props}<w:r>{run_props}<w:t>{text}</w:t></w:r></w:p>"


GRID_SPAN_2 = '<w:gridSpan w:val="2"/>'


def cell(text, extra=""):
    return f"<w:tc><w:tcPr>{extra}</w:tcPr>{paragraph(text)}</w:tc>"


def drawing(rel_id, alt):
    return f"""<w:p><w:r><w:drawing>
  <wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">
    <wp:extent cx="952500" cy="952500"/>
    <wp:docPr id="1" name="图片 1" descr="{alt}"/>
    <a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">
      <a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">
        <pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">
          <pic:nvPicPr>
            <pic:cNvPr id="0" name="image1.png"/><pic:cNvPicPr/>
          </pic:nvPicPr>
          <pic:blipFill><a:blip r:embed="{rel_id}"/></pic:blipFill>
          <pic:spPr/>
        </pic:pic>
      </a:graphicData>
    </a:graphic>
  </wp:inline>
</w:drawing></w:r></w:p>"""


def document_xml(with_emf=False):
    body = "".join(
        [
            paragraph("春季运动会通知", style="a3"),
            paragraph("一、活动安排", style="1"),
            paragraph("具体时间", style="2"),
            '<w:p><w:r><w:t xml:space="preserve">请各班 </w:t></w:r>'
            "<w:r><w:rPr><w:b/></w:rPr><w:t>准时</w:t></w:r>"
            "<w:r><w:rPr><w:i/></w:rPr><w:t>到场</w:t></w:r>"
            '<w:r><w:rPr><w:u w:val="single"/></w:rPr><w:t>签到</w:t></w:r></w:p>',
            paragraph("开幕式", num=True),
            paragraph("田径比赛", num=True),
            "<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>"
            f"<w:tr>{cell('项目表头', GRID_SPAN_2)}</w:tr>"
            f"<w:tr>{cell('跳远')}{cell('初二（5）班')}</w:tr></w:tbl>",
            drawing("rId5", "运动会照片"),
            drawing("rId6", "剪贴画") if with_emf else "",
            paragraph("详见 https://www.example.edu.cn/sports"),
        ]
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>{body}</w:body>'
        "</w:document>"
    )


def png_bytes():
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (0, 102, 204)).save(out, "PNG")
    return out.getvalue()


def make_docx(with_emf=False, extra_parts=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("word/_rels/document.xml.rels", DOCUMENT_RELS)
        archive.writestr("word/document.xml", document_xml(with_emf))
        archive.writestr("word/styles.xml", STYLES)
        archive.writestr("word/numbering.xml", NUMBERING)
        archive.writestr("word/media/image1.png", png_bytes())
        if with_emf:
            emf = b"\x01\x00\x00\x00" + b"\x00" * 36 + b" EMF" + b"\x00" * 40
            archive.writestr("word/media/image2.emf", emf)
        for name, data in (extra_parts or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def saved_images():
    """A save_image callback that runs the real image pipeline."""
    saved = []

    def save_image(data, content_type):
        image = process_image(io.BytesIO(data))
        saved.append((data, content_type, image))
        return f"/uploads/{len(saved):032x}.{image.ext}"

    save_image.saved = saved
    return save_image


def test_docx_becomes_clean_html(saved_images):
    result = docx_to_html(io.BytesIO(make_docx()), saved_images)
    assert isinstance(result, DocxResult)
    html = result.html
    assert "<h2>春季运动会通知</h2>" in html
    assert "<h2>一、活动安排</h2>" in html
    assert "<h3>具体时间</h3>" in html
    assert "<h1" not in html
    assert "<strong>准时</strong>" in html
    assert "<em>到场</em>" in html
    assert "<u>签到</u>" in html
    assert "<ol><li>开幕式</li><li>田径比赛</li></ol>" in html
    assert "<table>" in html
    assert '<td colspan="2"><p>项目表头</p></td>' in html
    assert "<td><p>跳远</p></td>" in html
    # Word's displayed size (952500 EMU = 100 px) survives as the width.
    assert (
        '<img alt="运动会照片" src="/uploads/00000000000000000000000000000001.png" '
        'width="100">'
    ) in html
    assert (
        '<a href="https://www.example.edu.cn/sports" rel="noopener noreferrer">' in html
    )
    assert result.messages == []


def test_embedded_image_reaches_the_callback_as_real_bytes(saved_images):
    docx_to_html(io.BytesIO(make_docx()), saved_images)
    [(data, content_type, processed)] = saved_images.saved
    assert content_type == "image/png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (32, 24)
    assert (processed.width, processed.height) == (32, 24)


def test_refused_image_is_left_out_with_a_message(saved_images):
    result = docx_to_html(io.BytesIO(make_docx(with_emf=True)), saved_images)
    assert len(saved_images.saved) == 1
    assert result.html.count("<img") == 1
    assert "剪贴画" not in result.html
    assert len(result.messages) == 1
    assert result.messages[0] == (
        "An image in the document was left out: This file type is not allowed: "
        "EMF. Allowed images: JPEG, PNG, GIF, WebP."
    )


def test_embedded_style_map_is_ignored(saved_images):
    evil_map = "p => script:fresh"
    docx = make_docx(extra_parts={"mammoth/style-map": evil_map})
    html = docx_to_html(io.BytesIO(docx), saved_images).html
    assert "<script" not in html
    assert "春季运动会通知" in html


def never_called(data, content_type):
    raise AssertionError("no image expected")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "save it as a Word"),
        (b"%PDF-1.7 not a docx", "not a Word document"),
        (b"<html><body>hello</body></html>", "not a Word document"),
        (b"PK\x03\x04broken zip", "not a Word document"),
        (b"", "not a Word document"),
    ],
)
def test_non_docx_is_refused(data, fragment):
    with pytest.raises(UploadError) as caught:
        docx_to_html(io.BytesIO(data), never_called)
    assert fragment in str(caught.value)


def test_zip_without_document_part_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UploadError, match="not a Word document"):
        docx_to_html(io.BytesIO(out.getvalue()), never_called)


def test_zip_bomb_is_refused(monkeypatch):
    from newsroom import docx_import

    monkeypatch.setattr(docx_import, "MAX_UNCOMPRESSED_SIZE", 10_000)
    docx = make_docx(extra_parts={"word/media/big.bin": b"\x00" * 20_000})
    with pytest.raises(UploadError, match="too large"):
        docx_to_html(io.BytesIO(docx), never_called)
