"""`flask check-text FILE`: the compliance check from the command line."""

import pytest

from models import WordRule, db
from tests.documents import make_docx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
TEXT = "请家长联系13812345678。本学期同学们再接再励，一股作气。"


@pytest.fixture
def rules(app):
    with app.app_context():
        db.session.add_all(
            [
                WordRule(term="再接再励", replacement="再接再厉", severity="hint"),
                WordRule(term="一股作气", replacement="一鼓作气", severity="block"),
            ]
        )
        db.session.commit()


@pytest.mark.parametrize(
    "name, data",
    [
        ("notice.txt", TEXT.encode()),
        ("notice.txt", TEXT.encode("gb18030")),
        ("notice.html", f"<h2>通知</h2><p>{TEXT}</p>".encode()),
        ("notice.docx", make_docx([TEXT])),
    ],
)
def test_prints_one_line_per_finding_and_fails_on_a_block(
    runner, rules, tmp_path, name, data
):
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["check-text", str(path)])
    lines = result.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["phone", "confirm"],
        ["word", "hint"],
        ["word", "block"],
    ]
    assert "138****5678" in lines[0] and "13812345678" not in result.output
    assert lines[1].endswith("→ 再接再厉")
    assert result.exit_code == 1


def test_exits_0_without_a_block(runner, rules, tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text("同学们再接再厉，一鼓作气，请联系 010-62345678。", encoding="utf-8")
    result = runner.invoke(args=["check-text", str(path)])
    assert result.exit_code == 0
    assert result.stdout == ""


def test_hints_alone_exit_0(runner, rules, tmp_path):
    path = tmp_path / "hint.html"
    path.write_text('<p>再接再励</p><img src="/x.png">', encoding="utf-8")
    result = runner.invoke(args=["check-text", str(path)])
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [
        "word",
        "image_alt",
    ]


@pytest.mark.parametrize(
    "name, data, message",
    [
        (None, None, "No such file"),
        ("fake.docx", b"not a zip", "is not a readable .docx file"),
        ("data.pdf", b"%PDF-1.4", "could not be read: it is damaged"),
        ("slides.pptx", b"PK", "Give a .txt, .html, .docx, .pdf, .xlsx or .csv"),
        ("bad.txt", b"\xff\xfe\xfa\x80\x81", "neither UTF-8 nor GB18030"),
    ],
)
def test_friendly_errors(runner, tmp_path, name, data, message):
    path = tmp_path / (name or "missing.txt")
    if data is not None:
        path.write_bytes(data)
    result = runner.invoke(args=["check-text", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_workbook_is_checked_cell_by_cell(runner, rules, tmp_path):
    from tests.documents import ID_MASKED, ID_NUMBER, class_list_xlsx

    path = tmp_path / "名单.xlsx"
    path.write_bytes(class_list_xlsx())
    result = runner.invoke(args=["check-text", str(path)])
    assert result.stdout.splitlines() == [
        f"id_number\tconfirm\t名单.xlsx cell:名单!C2\t{ID_MASKED}"
    ]
    assert ID_NUMBER not in result.output
    assert result.exit_code == 1  # personal data alone fails


def test_a_pdf_is_checked_page_by_page(runner, rules, tmp_path):
    from tests.documents import make_pdf

    path = tmp_path / "通知.pdf"
    path.write_bytes(make_pdf(["运动会通知", "请同学们再接再励", "电话 13812345678"]))
    result = runner.invoke(args=["check-text", str(path)])
    assert [line.split("\t")[:3] for line in result.stdout.splitlines()] == [
        ["word", "hint", "通知.pdf page:2"],
        ["phone", "confirm", "通知.pdf page:3"],
    ]
    assert result.exit_code == 1
    path.write_bytes(make_pdf(["运动会通知", "请同学们再接再励"]))
    result = runner.invoke(args=["check-text", str(path)])
    assert result.exit_code == 0  # a hint alone passes


def test_a_csv_names_row_and_column(runner, rules, tmp_path):
    path = tmp_path / "名单.csv"
    path.write_bytes("姓名,电话\n张三,13812345678\n".encode("gb18030"))
    result = runner.invoke(args=["check-text", str(path)])
    assert result.stdout.startswith("phone\tconfirm\t名单.csv csv:2:2\t138****5678")
    assert result.exit_code == 1


def test_a_zip_bomb_is_refused_with_a_message(runner, tmp_path):
    from tests.documents import make_zip_bomb_xlsx

    path = tmp_path / "bomb.xlsx"
    path.write_bytes(make_zip_bomb_xlsx(300))
    result = runner.invoke(args=["check-text", str(path)])
    assert result.exit_code == 1
    assert "could not be read: it is too large" in result.output
    assert "Traceback" not in result.output
