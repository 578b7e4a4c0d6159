"""Catalogs are complete, compiled and current; the reader's language choice works."""

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LOCALES = ["zh_Hans_CN", "en"]
# Same keywords as the Makefile's `pybabel extract -k _l -k N_`.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
# Every %-conversion, with its name: %(name)s, %d, %%.
CONVERSION = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")


def po_path(locale):
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(path):
    with open(path, "rb") as f:
        return read_po(f)


def entries(catalog):
    return [m for m in catalog if m.id]


def conversions(text):
    """The %-conversions of text as a sorted list; None if a stray % is left."""
    found = [(name or "", kind) for name, kind in CONVERSION.findall(text)]
    if text.count("%") != len(found) + sum(kind == "%" for _, kind in found):
        return None  # a % that Python's %-formatting would choke on
    return sorted(found)


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.fixture(scope="module")
def zh_catalog():
    return read_catalog(po_path("zh_Hans_CN"))


@pytest.fixture(scope="module")
def extracted():
    """Messages in the source now, extracted the way `make translations` does."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault((msgid, context), f"{filename}:{lineno}")
    return found


def test_every_chinese_entry_is_translated_and_not_fuzzy(zh_catalog):
    problems = []
    for message in entries(zh_catalog):
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if not all(s.strip() for s in as_tuple(message.string)):
            problems.append(f"untranslated: {message.id!r}")
    assert entries(zh_catalog), "the Chinese catalog is empty"
    assert problems == []


def test_chinese_catalog_has_one_plural_form(zh_catalog):
    assert zh_catalog.num_plurals == 1
    for message in entries(zh_catalog):
        if message.pluralizable:
            assert len(message.string) == 1, message.id


def test_english_catalog_has_english_plural_rule():
    catalog = read_catalog(po_path("en"))
    assert catalog.num_plurals == 2
    assert catalog.plural_expr == "(n != 1)"


def test_english_catalog_falls_back_to_the_msgids():
    # msgids are English: a msgstr here would only be a stale override.
    catalog = read_catalog(po_path("en"))
    assert [m.id for m in entries(catalog) if any(as_tuple(m.string))] == []


def test_translations_keep_the_placeholders(zh_catalog):
    problems = []
    for message in entries(zh_catalog):
        # Chinese has one form, used for every count: it must fit msgid_plural.
        wanted = conversions(as_tuple(message.id)[-1])
        for text in as_tuple(message.string):
            if text and conversions(text) != wanted:
                problems.append((message.id, text))
    assert problems == []


def lookup(translations, message, n):
    """message's text in translations, the way gettext would answer at run time."""
    if message.pluralizable:
        singular, plural = message.id
        if message.context is None:
            return translations.ngettext(singular, plural, n)
        return translations.npgettext(message.context, singular, plural, n)
    if message.context is None:
        return translations.gettext(message.id)
    return translations.pgettext(message.context, message.id)


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_matches_the_po_file(locale):
    catalog = read_catalog(po_path(locale))
    fresh_mo = io.BytesIO()
    write_mo(fresh_mo, catalog)
    fresh_mo.seek(0)
    fresh = Translations(fresh_mo)
    with open(po_path(locale).with_suffix(".mo"), "rb") as f:
        committed = Translations(f)

    stale = [
        message.id
        for message in entries(catalog)
        if any(
            lookup(committed, message, n) != lookup(fresh, message, n)
            for n in (1, 2, 5)
        )
    ]
    # Fix: pybabel compile -d translations
    assert stale == []


def test_template_lists_every_message_in_the_source(extracted):
    template = read_catalog(TRANSLATIONS / "messages.pot")
    missing = [
        f"{where}: {msgid!r}"
        for (msgid, context), where in extracted.items()
        if template.get(msgid, context) is None
    ]
    # Fix: make translations (extract + update + compile), then translate.
    assert missing == []


def test_every_message_in_the_source_has_a_chinese_translation(zh_catalog, extracted):
    assert len(extracted) > 100  # the extraction really ran over the project
    missing = []
    for (msgid, context), where in extracted.items():
        message = zh_catalog.get(msgid, context)
        if message is None or message.fuzzy or not all(as_tuple(message.string)):
            missing.append(f"{where}: {msgid!r}")
    assert missing == []


def test_home_page_is_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert "首页" in html
    assert '<html lang="zh-CN">' in html
    assert ">Home<" not in html


def test_lang_parameter_switches_to_english_and_is_remembered(client):
    response = client.get("/?lang=en")
    html = response.get_data(as_text=True)
    assert ">Home<" in html
    assert "首页" not in html
    assert '<html lang="en">' in html
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"

    # The next page, without the parameter, stays English through the cookie.
    html = client.get("/").get_data(as_text=True)
    assert ">Home<" in html
    assert '<html lang="en">' in html


def test_lang_parameter_switches_back_to_chinese(client):
    client.get("/?lang=en")
    html = client.get("/?lang=zh_Hans_CN").get_data(as_text=True)
    assert "首页" in html
    assert client.get_cookie("lang").value == "zh_Hans_CN"


def test_unknown_language_falls_back_to_chinese(client):
    response = client.get("/?lang=xx")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "首页" in html
    assert '<html lang="zh-CN">' in html
    assert client.get_cookie("lang") is None


def test_article_date_is_shown_in_shanghai_time(client, make_article):
    # 20:30 UTC on the 27th is already the 28th in Beijing.
    article_id = make_article(published_at=datetime(2024, 3, 27, 20, 30))
    html = client.get(f"/articles/{article_id}").get_data(as_text=True)
    assert "日期：" in html
    # The visible date; machine-readable metadata may keep UTC.
    assert ">2024-03-28</time>" in html
    assert ">2024-03-27</time>" not in html


def test_article_meta_labels_in_english(client, make_article):
    article_id = make_article(source="教务处")
    html = client.get(f"/articles/{article_id}?lang=en").get_data(as_text=True)
    for label in ("Author:", "Source:", "Views:", "Date:"):
        assert label in html


def test_unknown_language_keeps_the_readers_earlier_choice(client):
    client.get("/?lang=en")
    page = client.get("/?lang=xx").get_data(as_text=True)
    assert 'lang="en"' in page


def test_refused_file_names_its_real_type_in_chinese(app):
    from newsroom.uploads import MSG_ATTACHMENT_MISMATCH, UploadError

    error = UploadError(MSG_ATTACHMENT_MISMATCH, ext=".pdf", actual="a PNG image")
    with app.test_request_context("/"):
        message = str(error)
    assert "PNG 图片" in message and ".pdf" in message
    assert "a PNG image" not in message
