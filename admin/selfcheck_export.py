"""The self-assessment as files for the assessor: a Word document
(python-docx) and an Excel workbook (XlsxWriter), with the page's rows.

python-docx brings lxml; it is imported only when a .docx is asked for, so
server processes do not carry it. Every cell is written as text (the
workbook's with write_string), so nothing in it ever runs as a formula.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from admin.selfcheck import Row, summary
from core.downloads import XLSX
from core.i18n import datetime_filter

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Excel's width units (about one Latin character) for each column.
_WIDTHS = (11, 12, 40, 10, 60, 50)
_HEADER_ROW = 3


@dataclass
class Report:
    school: str
    made_at: datetime
    rows: list[Row]

    @property
    def title(self) -> str:
        return _(
            "%(school)s: self-assessment against GB/T 22239-2019 level 2",
            school=self.school,
        )

    def intro(self) -> str:
        return _(
            "Application layer (7.1.4 computing environment), as this installation "
            "stands at %(when)s.",
            when=datetime_filter(self.made_at),
        )

    def summary_line(self) -> str:
        return "; ".join(f"{label} {count}" for _s, label, count in summary(self.rows))

    def file_name(self, kind: str) -> str:
        return f"dengbao-selfcheck-{self.made_at:%Y%m%d}.{kind}"


def headers() -> list[str]:
    return [
        _("Clause"),
        _("Control"),
        _("Requirement"),
        _("State"),
        _("Evidence"),
        _("What to do"),
    ]


def cells(row: Row) -> list[str]:
    """One row as the files and the page's table show it."""
    return [
        row.clause,
        row.area,
        row.requirement,
        row.state_label,
        "\n".join(row.evidence),
        row.advice,
    ]


def build(kind: str, report: Report) -> tuple[bytes, str, str]:
    """The file's bytes, its type and its name."""
    if kind == "docx":
        return to_docx(report), DOCX, report.file_name("docx")
    return to_xlsx(report), XLSX, report.file_name("xlsx")


def to_xlsx(report: Report) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet(_("Self-assessment"))
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#E8F0F9", "border": 1})
    cell = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    sheet.write_string(0, 0, report.title, title)
    sheet.write_string(1, 0, f"{report.intro()} {report.summary_line()}")
    for column, width in enumerate(_WIDTHS):
        sheet.set_column(column, column, width)
    for column, text in enumerate(headers()):
        sheet.write_string(_HEADER_ROW, column, text, head)
    for number, row in enumerate(report.rows, start=_HEADER_ROW + 1):
        for column, text in enumerate(cells(row)):
            sheet.write_string(number, column, text, cell)
    sheet.freeze_panes(_HEADER_ROW + 1, 0)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(_HEADER_ROW)
    book.close()
    return out.getvalue()


def to_docx(report: Report) -> bytes:
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(9)
    # Chinese text in a Chinese font (Word would otherwise pick one per
    # machine); any font the computer lacks is substituted by Word.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))

    document.add_heading(report.title, level=1)
    document.add_paragraph(report.intro())
    document.add_paragraph(report.summary_line())
    table = document.add_table(rows=1, cols=len(_WIDTHS))
    table.style = "Table Grid"
    for column, text in enumerate(headers()):
        table.rows[0].cells[column].text = text
        for run in table.rows[0].cells[column].paragraphs[0].runs:
            run.bold = True
    for row in report.rows:
        row_cells = table.add_row().cells
        for column, text in enumerate(cells(row)):
            row_cells[column].text = text
    total = sum(_WIDTHS)
    usable = section.page_width - section.left_margin - section.right_margin
    for column, width in enumerate(_WIDTHS):
        for table_cell in table.columns[column].cells:
            table_cell.width = int(usable * width / total)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
