"""newsroom/doctext.py: the text of attached documents, place by place, read
in the sandbox and kept beside the upload; hostile files give no text and say
why, never an exception."""

import json

import pytest

from newsroom import doctext
from tests.documents import (
    ID_NUMBER,
    PHONE,
    class_list_xlsx,
    make_docx,
    make_pdf,
    make_xlsx,
    make_zip_bomb_xlsx,
)


def extract(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return doctext.extract(path, name.rsplit(".", 1)[-1])


def test_a_pdf_gives_the_text_of_each_page(tmp_path):
    pages = ["2026年秋季运动会报名表", "联系电话\n" + PHONE, "第三页 航模比赛"]
    result = extract(tmp_path, "通知.pdf", make_pdf(pages))
    assert result.problem == ""
    assert result.segments == (
        ("page:1", pages[0]),
        ("page:2", pages[1]),
        ("page:3", pages[2]),
    )


def test_every_cell_of_every_sheet_is_read_with_its_place(tmp_path):
    result = extract(tmp_path, "名单.xlsx", class_list_xlsx())
    cells = dict(result.segments)
    assert cells["cell:说明!A1"] == "2026年秋季奖学金名单"
    assert cells["cell:名单!C2"] == ID_NUMBER
    assert cells["cell:名单!A3"] == "李四"
    assert result.problem == "" and not result.truncated


def test_numbers_in_cells_read_as_typed(tmp_path):
    data = make_xlsx({"Sheet1": [["电话", 13812345678], ["金额", 12.5]]})
    cells = dict(extract(tmp_path, "a.xlsx", data).segments)
    assert cells["cell:Sheet1!B1"] == PHONE
    assert cells["cell:Sheet1!B2"] == "12.5"


def test_a_docx_gives_its_paragraphs(tmp_path):
    result = extract(tmp_path, "报名表.docx", make_docx(["报名表", "请于周五前交回"]))
    assert result.segments == (("para:1", "报名表"), ("para:2", "请于周五前交回"))


def test_csv_in_gb18030_and_txt(tmp_path):
    rows = "姓名,电话\n张三,13812345678\n".encode("gb18030")
    assert extract(tmp_path, "a.csv", rows).segments[-1] == ("csv:2:2", PHONE)
    text = extract(tmp_path, "a.txt", "第一行\n\n第三行".encode())
    assert text.segments == (("line:1", "第一行"), ("line:3", "第三行"))


def test_reading_stops_at_the_bounds_and_says_so(tmp_path):
    rows = [[f"r{r}c{c}" for c in range(10)] for r in range(30)]
    path = tmp_path / "big.xlsx"
    path.write_bytes(make_xlsx({"S": rows}))
    result = doctext.extract(path, "xlsx", doctext.Bounds(cells=50))
    assert len(result.segments) == 50 and result.truncated
    assert result.segments[-1] == ("cell:S!J5", "r4c9")
    path = tmp_path / "long.pdf"
    path.write_bytes(make_pdf([f"第{n}页" for n in range(1, 6)]))
    result = doctext.extract(path, "pdf", doctext.Bounds(pages=3))
    assert [w for w, _ in result.segments] == ["page:1", "page:2", "page:3"]
    assert result.truncated
    result = doctext.extract(path, "pdf", doctext.Bounds(chars=5))
    assert result.text == "第1页第2" or result.text == "第1页\n第2"
    assert result.truncated


@pytest.mark.parametrize(
    "name, data, problem",
    [
        ("bomb.xlsx", make_zip_bomb_xlsx(300), doctext.TOO_LARGE),
        ("cut.pdf", make_pdf(["第一页"])[:200], doctext.BROKEN),
        ("fake.xlsx", b"PK\x03\x04 not really a zip", doctext.BROKEN),
        ("fake.docx", b"hello", doctext.BROKEN),
        ("bad.txt", b"\xff\xfe\xfa\x80\x81", doctext.BROKEN),
    ],
)
def test_hostile_or_broken_files_give_no_text_and_say_why(
    tmp_path, name, data, problem
):
    result = extract(tmp_path, name, data)
    assert result.segments == ()
    assert result.problem == problem


def test_a_missing_file_and_other_types(tmp_path):
    assert doctext.extract(tmp_path / "gone.pdf", "pdf").problem == doctext.MISSING
    assert doctext.extract(tmp_path / "photo.jpg", "jpg") == doctext.DocText()


def test_the_text_is_kept_beside_the_upload_and_read_once(tmp_path):
    stored = "0123456789abcdef0123.xlsx"
    (tmp_path / stored).write_bytes(class_list_xlsx())
    first = doctext.text_for_file(tmp_path, stored, "名单.xlsx")
    cache = tmp_path / "derived" / stored / "text.json"
    assert json.loads(cache.read_text("utf-8"))["segments"][0] == [
        "cell:说明!A1",
        "2026年秋季奖学金名单",
    ]
    # The file itself is not read again: the cached text answers.
    (tmp_path / stored).write_bytes(b"changed")
    assert doctext.text_for_file(tmp_path, stored, "名单.xlsx") == first
    # A cache of another format version is read again.
    cache.write_text(json.dumps({"v": 0, "segments": []}), "utf-8")
    assert doctext.text_for_file(tmp_path, stored, "名单.xlsx").problem == (
        doctext.BROKEN
    )
