"""The compliance check's core: personal data, the word list, links and alt text."""

import time

import pytest

from review import compliance
from review.compliance import BLOCK, CONFIRM, HINT, Rule, WordMatcher, check_fields

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

VALID_ID = "440304200802295614"
VALID_ID_X = "11010519491231002X"
CARD_16 = "6217000000000006"
CARD_19 = "6228480402564890018"


def kinds(findings):
    return [(f.kind, f.value) for f in findings]


def personal(text):
    return kinds(compliance.find_personal_data(text, "body"))


# --- ID numbers -------------------------------------------------------------------


@pytest.mark.parametrize("number", [VALID_ID, VALID_ID_X, VALID_ID_X.lower()])
def test_valid_id_numbers_are_found_and_masked(number):
    assert personal(f"学生身份证号{number}，请核对") == [
        ("id_number", number[:6].upper() + "********" + number[-4:].upper())
    ]


@pytest.mark.parametrize(
    "number",
    [
        "440304200802295615",  # wrong check digit
        "110105194912310021",  # X expected
        "110105200002301237",  # right check digit for 30 February
        "440304210802295612",  # born in 2108
        "000304200802295614",  # no such province
    ],
)
def test_invalid_id_numbers_are_not_flagged(number):
    assert compliance.id_number_valid(number) is False
    assert personal(f"编号{number}") == []


def test_id_number_inside_a_longer_digit_run_is_not_flagged():
    assert personal(f"订单号9{VALID_ID}7") == []


# --- Bank cards -------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, masked",
    [
        (CARD_16, "6217********0006"),
        (CARD_19, "6228***********0018"),
        ("6217 0000 0000 0006", "6217********0006"),
    ],
)
def test_luhn_valid_cards_are_found(written, masked):
    assert personal(f"请汇款至 {written} 账户") == [("bank_card", masked)]


def test_luhn_invalid_cards_and_long_runs_are_not_flagged():
    assert personal("卡号 6217000000000007") == []  # Luhn fails
    assert personal(f"流水号 12{CARD_16}") == []  # part of a longer run


def test_a_valid_id_number_is_not_also_a_card():
    # 18 digits that pass both checks are reported once, as an ID number.
    found = personal(f"证件 {VALID_ID}")
    assert [kind for kind, _ in found] == ["id_number"]


# --- Phones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678"]
)
def test_mobile_numbers_are_found_and_masked(written):
    assert personal(f"联系电话：{written}。") == [("phone", "138****5678")]


@pytest.mark.parametrize(
    "text",
    [
        "学号 213812345678",  # longer digit run
        "编号 138123456789",
        "办公室电话 010-62345678",  # landline
        "传真 0755-83123456",
        "12812345678",  # no such mobile prefix
    ],
)
def test_other_numbers_are_not_phones(text):
    assert personal(text) == []


def test_excerpt_masks_the_number_and_its_neighbours():
    found = compliance.find_personal_data(f"张三身份证{VALID_ID}手机13812345678", "b")
    assert [f.kind for f in found] == ["id_number", "phone"]
    # Neither number shows in full in the other's context.
    assert found[0].excerpt == "张三身份证440304********5614手机******…"
    assert found[1].excerpt == "…******手机138****5678"
    assert all(f.severity == CONFIRM for f in found)


# --- Word list --------------------------------------------------------------------

RULES = [
    Rule("按装", "安装", HINT, ("按装订",)),
    Rule("按排", "安排", HINT, ("按排名", "按排序")),
    Rule("再接再励", "再接再厉", BLOCK),
    Rule("一股作气", "一鼓作气", HINT),
    Rule("ass", "", BLOCK),
]


def words(text):
    return [
        (f.value, f.suggestion, f.severity) for f in WordMatcher(RULES).find(text, "t")
    ]


def test_wrong_terms_are_found_with_their_replacement():
    assert words("空调按装完毕，同学们再接再励，一股作气！") == [
        ("按装", "安装", HINT),
        ("再接再励", "再接再厉", BLOCK),
        ("一股作气", "一鼓作气", HINT),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "请按装订线剪下回执。",  # 按 + 装订线
        "成绩按排名先后公布。",  # 按 + 排名
        "名单按排序规则整理。",
        "同学们再接再厉，一鼓作气。",  # the right words
        "Our class is in the classroom, pass it on.",  # Latin: whole words only
    ],
)
def test_correct_text_is_not_flagged(text):
    assert words(text) == []


def test_latin_terms_match_as_words_any_case():
    assert words("an ASS here") == [("ASS", "", BLOCK)]


def test_a_skipped_exception_does_not_hide_a_later_match():
    assert words("按装订线折好后按装到墙上") == [("按装", "安装", HINT)]


def test_ten_thousand_characters_against_a_thousand_rules_is_fast():
    rules = [Rule(f"错词{i:04d}", f"正词{i:04d}") for i in range(1000)]
    matcher = WordMatcher(rules)
    text = ("学校举行运动会，同学们积极参加，成绩优异。" * 500)[:10_000] + "错词0999"
    started = time.perf_counter()
    found = matcher.find(text, "body")
    elapsed = time.perf_counter() - started
    assert [f.value for f in found] == ["错词0999"]
    assert elapsed < 0.5, elapsed  # milliseconds in practice; generous for CI


# --- HTML, links, images, positions --------------------------------------------------


def test_body_positions_count_text_node_characters():
    html = "<p>第一段&amp;</p><p>电话 <b>13812345678</b></p>"
    [finding] = check_fields(body_html=html)
    # Text nodes: "第一段&" (4) + "电话 " (3): the phone starts at 7.
    assert (finding.field, finding.offset, finding.length) == ("body", 7, 11)


def test_numbers_in_different_paragraphs_do_not_join():
    assert check_fields(body_html="<p>1381234</p><p>5678</p>") == []


def test_images_without_alt_text_are_hints():
    found = check_fields(
        body_html='<p><img src="/uploads/a.jpg">'
        '<img src="/uploads/b.jpg" alt="操场"></p>'
    )
    assert [(f.kind, f.severity, f.value) for f in found] == [
        ("image_alt", HINT, "a.jpg")
    ]


def test_site_links_are_checked_by_the_given_function():
    asked = []

    def problems(paths):
        asked.append(sorted(paths))
        return {"/articles/9": "missing"}

    found = check_fields(
        body_html='<a href="/articles/9">旧闻</a> <a href="https://example.org/x">外站</a>'
        ' <a href="http://school.test/sections/news">新闻</a>',
        link_problems=problems,
        own_hosts=["school.test"],
    )
    assert asked == [["/articles/9", "/sections/news"]]
    assert [(f.kind, f.value, f.suggestion) for f in found] == [
        ("link", "/articles/9", "missing")
    ]


def test_all_fields_and_attachment_names_are_checked():
    found = check_fields(
        title="再接再励",
        summary="电话13812345678",
        body_html="<p>一股作气</p>",
        attachments=["报名表.docx", f"{VALID_ID_X}.pdf"],
        words=WordMatcher(RULES),
    )
    assert [(f.field, f.kind, f.index) for f in found] == [
        ("title", "word", 0),
        ("summary", "phone", 0),
        ("body", "word", 0),
        ("attachment", "id_number", 1),
    ]
    assert compliance.blocking(found)[0].value == "再接再励"


def test_a_term_inside_a_phone_number_is_shown_masked():
    """An admin's term that happens to be part of a number (a blocked hotline,
    say) must not print the number the phone finding masks."""
    found = check_fields(
        title="",
        summary="",
        body_html="<p>家长电话13812345678，请勿外传。</p>",
        attachments=[],
        words=WordMatcher([Rule("电话1381234", "", BLOCK)]),
    )
    assert sorted(f.kind for f in found) == ["phone", "word"]
    for finding in found:
        assert "1381234" not in finding.value + finding.excerpt, finding
    word = next(f for f in found if f.kind == "word")
    assert word.value == "电话*******" and word.severity == BLOCK


def test_an_attachments_text_is_checked_place_by_place():
    sheet = compliance.AttachmentText(
        "名单.xlsx",
        segments=(
            ("cell:名单!A2", "张三"),
            ("cell:名单!C2", VALID_ID_X),
            ("cell:名单!D2", "13812345678"),
            ("cell:说明!A1", "同学们再接再励"),
        ),
    )
    found = check_fields(
        body_html="<p>名单见附件</p>",
        attachments=[sheet],
        words=WordMatcher(RULES),
    )
    assert [(f.kind, f.severity, f.source, f.where, f.value) for f in found] == [
        ("id_number", CONFIRM, "名单.xlsx", "cell:名单!C2", "110105********002X"),
        ("phone", CONFIRM, "名单.xlsx", "cell:名单!D2", "138****5678"),
        ("word", BLOCK, "名单.xlsx", "cell:说明!A1", "再接再励"),
    ]
    assert {f.field for f in found} == {"attachment"}
    assert found[0].line() == (
        "id_number\tconfirm\t名单.xlsx cell:名单!C2\t110105********002X"
    )


def test_an_attachment_lists_its_worst_findings_and_counts_the_rest():
    cells = tuple((f"cell:S!A{n}", f"一股作气 {n}") for n in range(1, 31))
    cells += (("cell:S!B40", VALID_ID),)
    found = check_fields(
        attachments=[compliance.AttachmentText("a.xlsx", segments=cells)],
        words=WordMatcher(RULES),
    )
    kinds = [f.kind for f in found]
    assert len(found) == compliance.MAX_ATTACHMENT_FINDINGS + 1
    assert "id_number" in kinds  # personal data goes before mere hints
    assert found[-1].kind == compliance.MORE and found[-1].value == "11"


@pytest.mark.parametrize(
    "text, kind, suggestion",
    [
        (
            compliance.AttachmentText("a.pdf", problem="encrypted"),
            "unreadable",
            "encrypted",
        ),
        (compliance.AttachmentText("a.pdf", truncated=True), "partly_read", ""),
    ],
)
def test_an_unread_attachment_is_a_hint(text, kind, suggestion):
    [finding] = check_fields(attachments=[text])
    assert finding.kind == f"attachment_{kind}" and finding.severity == HINT
    assert (finding.source, finding.suggestion) == ("a.pdf", suggestion)
