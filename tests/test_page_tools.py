"""The article page's tools: font size, print, back to top, QR code for phones."""

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import segno
import tinycss2
import zxingcpp
from PIL import Image

from models import Status
from reader.qrsvg import QUIET_ZONE
from tests.test_feeds import HIDDEN, hidden_fields

SVG = "{http://www.w3.org/2000/svg}"
SITE_CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "site.css"
# The article body's own rules, shared with the editor (linked after site.css).
BODY_CSS = SITE_CSS.with_name("body.css")


@pytest.fixture
def article_id(make_article):
    return make_article(title="运动会通知", body_html="<p>正文</p>" * 40)


def page_html(client, article_id) -> str:
    response = client.get(f"/articles/{article_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- Markup -------------------------------------------------------------------------


def test_font_size_buttons_are_labelled_toggle_buttons(client, article_id):
    html = page_html(client, article_id)
    group = re.search(
        r'<div class="tool-group js-only" role="group" '
        r'aria-labelledby="font-size-label">(.*?)</div>',
        html,
        re.S,
    )
    assert group, html
    assert '<span class="tool-label" id="font-size-label">字号：</span>' in group[1]
    buttons = re.findall(
        r'<button type="button" class="tool-button" data-font-size="(\w+)" '
        r'aria-pressed="(true|false)">([^<]+)</button>',
        group[1],
    )
    assert buttons == [
        ("large", "false", "大"),
        ("medium", "true", "中"),
        ("small", "false", "小"),
    ]


def test_print_button_back_to_top_and_print_address(app, client, article_id):
    html = page_html(client, article_id)
    assert re.search(
        r'<button type="button" class="[^"]*" data-print>打印本页</button>', html
    )
    # Back to top works without JavaScript: a link to the page's top.
    assert '<body id="top">' in html
    assert re.search(r'<a class="back-to-top" href="#top">.*返回顶部</a>', html)
    address = re.search(r'<p class="print-only print-address">(.*?)</p>', html)
    assert (
        address[1] == f"本文地址： http://localhost/articles/{article_id} · SchoolNews"
    )


def test_tools_need_no_inline_script(client, article_id):
    html = page_html(client, article_id)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all(' src="' in attrs and not body for attrs, body in scripts)
    # prefs.js runs before the first paint: in <head>, neither defer nor async.
    head = html.split("</head>", 1)[0]
    prefs = re.search(
        r'<script src="/static/js/prefs\.[0-9a-f]{10}\.js"></script>', head
    )
    assert prefs


def test_qr_code_is_a_disclosure_with_alt_text(client, article_id):
    html = page_html(client, article_id)
    details = re.search(r'<details class="share-qr">(.*?)</details>', html, re.S)
    assert details
    assert '<summary class="tool-button">分享到手机</summary>' in details[1]
    img = re.search(r"<img ([^>]+)>", details[1])[1]
    assert f'src="/articles/{article_id}/qr.svg"' in img
    assert 'loading="lazy"' in img and 'width="164" height="164"' in img
    assert f'alt="本页地址的二维码：http://localhost/articles/{article_id}"' in img


def test_preview_shows_no_qr_code_of_an_unpublished_post(editor_client, make_article):
    draft = make_article(status=Status.DRAFT, published_at=None)
    html = editor_client.get(f"/editor/articles/{draft}/preview").get_data(as_text=True)
    assert 'class="page-tools"' in html
    assert "share-qr" not in html


# --- The QR code --------------------------------------------------------------------


def svg_modules(svg: bytes) -> tuple[int, set[tuple[int, int]]]:
    """The symbol's size and its dark modules, read back from the SVG path."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    _x, _y, width, height = map(int, root.get("viewBox").split())
    assert width == height
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke")]
    x = y = 0.0
    dark = set()
    for command, a, b in re.findall(
        r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d")
    ):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # a horizontal run of dark modules on row y
            dark.update((int(y), int(x) + i) for i in range(int(a)))
            x += float(a)
    return width, dark


def decode(size: int, dark: set[tuple[int, int]]) -> list[str]:
    """Draw the modules as a phone camera would see them and decode them."""
    scale = 6
    image = Image.new("L", (size * scale, size * scale), 255)
    for row, col in dark:
        image.paste(0, (col * scale, row * scale, (col + 1) * scale, (row + 1) * scale))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_qr_code_encodes_the_articles_address(client, article_id):
    response = client.get(f"/articles/{article_id}/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.cache_control.public
    assert response.cache_control.max_age >= 30 * 24 * 3600
    url = f"http://localhost/articles/{article_id}"
    size, dark = svg_modules(response.data)
    expected = segno.make(url, error="m", micro=False)
    assert size == len(expected.matrix) + 2 * QUIET_ZONE
    assert dark == {
        (r + QUIET_ZONE, c + QUIET_ZONE)
        for r, row in enumerate(expected.matrix)
        for c, value in enumerate(row)
        if value
    }
    assert decode(size, dark) == [url]


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_qr_code_behind_a_proxy_has_the_https_address(client, article_id):
    response = client.get(
        f"/articles/{article_id}/qr.svg", headers={"X-Forwarded-Proto": "https"}
    )
    assert decode(*svg_modules(response.data)) == [
        f"https://localhost/articles/{article_id}"
    ]


@pytest.mark.parametrize("kind", HIDDEN)
def test_no_qr_code_for_a_post_readers_cannot_see(client, make_article, kind):
    hidden = make_article(**hidden_fields(kind))
    assert client.get(f"/articles/{hidden}/qr.svg").status_code == 404


def test_no_qr_code_for_a_missing_post(client):
    assert client.get("/articles/999999/qr.svg").status_code == 404


# --- The stylesheet -------------------------------------------------------------------


def css_rules(rules, media=None):
    """(media, selector, {property: value}) for every style rule."""
    for rule in rules:
        if rule.type == "at-rule" and rule.lower_at_keyword == "media":
            inner = tinycss2.parse_rule_list(rule.content, True, True)
            yield from css_rules(inner, tinycss2.serialize(rule.prelude).strip())
        elif rule.type == "qualified-rule":
            declarations = {
                d.lower_name: tinycss2.serialize(d.value).strip()
                for d in tinycss2.parse_declaration_list(rule.content, True, True)
                if d.type == "declaration"
            }
            for selector in tinycss2.serialize(rule.prelude).split(","):
                yield media, selector.strip(), declarations


@pytest.fixture(scope="module")
def site_css():
    """The rules of the article page's stylesheets."""
    text = SITE_CSS.read_text() + BODY_CSS.read_text()
    sheet = tinycss2.parse_stylesheet(text, True, True)
    return list(css_rules(sheet))


def test_print_stylesheet_hides_navigation_and_tools(site_css):
    hidden = {
        selector
        for media, selector, declarations in site_css
        if media == "print" and declarations.get("display", "").startswith("none")
    }
    for part in (
        ".topbar",
        ".main-nav",
        ".site-header form",
        ".site-footer",
        ".breadcrumb",
        ".page-tools",
        ".back-to-top-line",
        ".prev-next",
    ):
        assert part in hidden, part
    shown = [
        d
        for media, selector, d in site_css
        if media == "print" and selector == ".print-only"
    ]
    assert shown and shown[0]["display"].startswith("block")
    # Screen: the address line is for paper only.
    assert (None, ".print-only", {"display": "none"}) in site_css
    # Link addresses are not printed after the links.
    assert not any("attr(href)" in d.get("content", "") for _m, _s, d in site_css)


def test_font_size_classes_change_the_article_body(site_css):
    sizes = {
        selector: declarations["font-size"]
        for media, selector, declarations in site_css
        if media is None
        and selector.endswith(".article-body")
        and "font-size" in declarations
    }
    assert sizes == {
        ".article-body": "17px",
        ".font-large .article-body": "20px",
        ".font-small .article-body": "15px",
    }


def test_qr_code_is_hidden_on_phones(site_css):
    assert ("(max-width: 759px)", ".share-qr", {"display": "none"}) in site_css
