"""Hold the one HTML policy of the site: clean_html(), html_to_text(), summarize().

Every piece of rich text that reaches a reader (the Jodit editor, a Word or WPS
paste, a .docx import) goes through clean_html() before it is stored, and only
its output may be marked |safe in a template.

bleach is unmaintained (deprecated upstream since 2023): it still works and its
allowlist approach is sound, but no new parser bugs will be fixed. The
Content-Security-Policy header (no inline script, no foreign script origins) is
the second wall, so one sanitizer bug alone must not become an XSS. Everything
that knows about bleach lives in this module: swapping the sanitizer (to nh3,
justhtml or whatever comes next) means rewriting this file against the tests in
tests/test_sanitize.py and nothing else.

The pipeline is: parse once with html5lib (through bleach's shim) -> rewrite
the tree (drop dangerous subtrees and comments, undo Word/WPS markup, rename a
few tags) -> bleach's sanitizer filter (tags, attributes, URL protocols, CSS)
-> bleach's linkifier (bare URLs, rel on every link) -> serialize.
"""

from __future__ import annotations

import functools
import re
import threading
from html import escape as escape_html
from html import unescape as unescape_html
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urljoin
from xml.etree import ElementTree

from newsroom import figures

# What Jodit 4 and mammoth produce, minus anything that can run code, load
# content from elsewhere, submit data or take over the page. h1 is left out on
# purpose: the article title is the page's only h1, so body h1s become h2.
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "div", "span",
        "h2", "h3", "h4", "h5", "h6",
        "strong", "b", "em", "i", "u", "s", "sub", "sup", "mark",
        "blockquote", "pre", "code",
        "ul", "ol", "li",
        "a", "img", "figure", "figcaption",
        "table", "caption", "colgroup", "col",
        "thead", "tbody", "tfoot", "tr", "th", "td",
    }
)  # fmt: skip

# No id anywhere and no class but the photo grid's fixed ones (figures.py):
# they could clobber the site's own CSS hooks and named DOM globals. No lang,
# dir or data-*: Word fills them with noise. "style" is allowed everywhere
# because the CSS allowlist below is what keeps it tight.
ALLOWED_ATTRIBUTES = {
    "*": frozenset({"style"}),
    "div": frozenset({"class"}),
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "width", "height", "title"}),
    "ol": frozenset({"start"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "td": frozenset({"colspan", "rowspan"}),
    # scope lets screen readers announce header cells (WCAG 1.3.1).
    "th": frozenset({"colspan", "rowspan", "scope"}),
}

# Attributes whose value must match a pattern, so that odd values cannot
# break the layout or smuggle anything in.
ATTRIBUTE_VALUE_PATTERNS = {
    "width": re.compile(r"\d{1,5}%?"),
    "height": re.compile(r"\d{1,5}%?"),
    "colspan": re.compile(r"[1-9]\d{0,2}"),
    "rowspan": re.compile(r"[1-9]\d{0,3}"),
    "span": re.compile(r"[1-9]\d{0,2}"),
    "start": re.compile(r"-?\d{1,6}"),
    "scope": re.compile(r"row|col|rowgroup|colgroup", re.IGNORECASE),
    "class": re.compile("|".join(sorted(map(re.escape, figures.GRID_CLASSES)))),
}

# Link targets: web, e-mail and phone only. Relative URLs (no scheme) are
# allowed by bleach's check and point inside the site.
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "tel"})

# Images may only come from the web or from this site's own uploads; data:
# URIs are refused because they bypass the upload pipeline (size limits,
# metadata stripping) and bloat the database.
IMAGE_SRC_RE = re.compile(r"(?:https?://[^\s/]|/uploads/)[^\s]*", re.IGNORECASE)

# The font sizes and line heights the editor's toolbar offers (static/js/editor.js
# reads them from the page, so toolbar and policy are one list). Any other size,
# from Word, WPS or a web page, becomes the nearest one of these.
FONT_SIZES_PX = (12, 14, 16, 18, 20, 24, 28, 32)
LINE_HEIGHTS = (1, 1.2, 1.5, 1.8, 2, 2.5)
# The editor's indent button adds this much left margin per step (2em at 16px:
# two Chinese characters).
INDENT_STEP_PX = 32

# CSS lengths in px, for bounds and for mapping onto the sets above. Viewport
# units are absent on purpose: content must not grow past the article column.
_PX_PER_UNIT = {
    "px": 1.0,
    "pt": 4 / 3,
    "pc": 16.0,
    "em": 16.0,
    "rem": 16.0,
    "ex": 8.0,
    "cm": 96 / 2.54,
    "mm": 96 / 25.4,
    "in": 96.0,
}
_FONT_SIZE_KEYWORDS = {
    "x-small": 10, "small": 13, "medium": 16, "large": 18,
    "x-large": 24, "xx-large": 32,
}  # fmt: skip
_BORDER_STYLES = frozenset({"solid", "dashed", "dotted", "double", "none", "hidden"})
_BORDER_WIDTH_KEYWORDS = {"thin": 1, "medium": 2, "thick": 3}

ALLOWED_CSS_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
ALLOWED_CSS_ANGLE_UNITS = frozenset({"deg"})
# Elements dropped together with everything inside them. For script, style,
# xml, title and the like, stripping only the tag would leave their source
# code as visible text.
DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "xml", "title", "head", "meta", "link", "base",
        "template", "noscript", "noembed", "noframes", "iframe", "frame",
        "frameset", "object", "embed", "applet", "param", "svg", "math",
        "textarea", "select", "option", "optgroup", "datalist", "button",
        "input", "keygen", "plaintext", "xmp", "audio", "video", "source",
        "track", "canvas", "map", "area", "portal", "dialog",
    }
)  # fmt: skip

# Tags rewritten to an allowed equivalent before sanitizing.
RENAME_TAGS = {
    "h1": "h2",  # the article title is the page's h1
    "b": "strong",
    "i": "em",
    "strike": "s",
    "del": "s",
    "center": "div",
    "section": "div",
    "article": "div",
    "header": "div",
    "footer": "div",
    "main": "div",
    "aside": "div",
    "address": "div",
    "dl": "div",
    "dt": "p",
    "dd": "p",
}

# Tags whose markup is noise but whose text must stay: Word's <font>, <o:p>
# and smart tags such as <st1:chsdate> (any tag with a namespace prefix).
UNWRAP_TAGS = frozenset({"font", "form", "label", "fieldset", "legend", "picture"})

# Links are only ever followed in the same tab, and never tell the target
# where the reader came from.
LINK_REL = "noopener noreferrer"

# Tags whose text is code or already a link: no autolinking inside.
LINKIFY_SKIP_TAGS = frozenset({"pre", "code"})

# Bare URLs become links only with an explicit scheme or a "www." prefix:
# bleach's default also links "main.py" or "setup.sh" (.py and .sh are TLDs).
# Only ASCII counts as part of a URL, so Chinese text and full-width
# punctuation right after a URL ("详见https://a.cn/x，谢谢") end it.
_URL_CHARS = r"[A-Za-z0-9!#$%&*+,\-./:;=?@\[\]_~()]"
_URL_LAST_CHAR = r"[A-Za-z0-9#$%&*+\-/=@\[\]_~]"
URL_RE = re.compile(
    rf"""
    (?<![A-Za-z0-9.@/_\-])
    (?:
        https?://[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?
      | www\.(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{{2,63}}(?![A-Za-z0-9\-])
    )
    (?::\d{{1,5}})?
    (?:[/?#](?:{_URL_CHARS}*{_URL_LAST_CHAR})?)?
    """,
    re.IGNORECASE | re.VERBOSE,
)

_WORD_LIST_RE = re.compile(r"mso-list\s*:\s*l(\d+)\s+level(\d+)", re.IGNORECASE)
_WORD_LIST_MARKER_RE = re.compile(r"mso-list\s*:\s*ignore", re.IGNORECASE)
# "1." "(2)" "a)" "iv." "三、" are numbered; "·", "§", "o" and the like are
# bullets.
_ORDERED_MARKER_RE = re.compile(
    r"[(（]?(?:\d+|[a-z]|[ivxlcdm]+|[一二三四五六七八九十百]+)[.)）、．]",
    re.IGNORECASE,
)
_INLINE_FORMATTING = frozenset({"span", "strong", "em", "u", "s", "sub", "sup", "mark"})
_ALIGN_VALUES = frozenset({"left", "right", "center", "justify"})
_VALIGN_VALUES = frozenset({"top", "middle", "bottom", "baseline"})


def _meaningful(tokens):
    return [t for t in tokens if t.type not in ("whitespace", "comment")]


def _is_color_token(token) -> bool:
    if token.type == "hash":
        return bool(re.fullmatch(r"[0-9a-fA-F]{3,8}", token.value))
    if token.type == "ident":
        return token.lower_value not in ("inherit", "initial", "unset", "revert")
    if token.type != "function" or token.lower_name not in ALLOWED_CSS_FUNCTIONS:
        return False
    for arg in _meaningful(token.arguments):
        if arg.type in ("number", "percentage"):
            if arg.value < 0:
                return False
        elif arg.type == "dimension":
            if arg.lower_unit not in ALLOWED_CSS_ANGLE_UNITS or arg.value < 0:
                return False
        elif not (arg.type == "literal" and arg.value in (",", "/")):
            return False
    return True


def _px(token) -> float | None:
    """A length token in px; None if it is not a plain length."""
    if token.type == "number" and token.value == 0:
        return 0.0
    if token.type == "dimension" and token.lower_unit in _PX_PER_UNIT:
        return token.value * _PX_PER_UNIT[token.lower_unit]
    return None


def _nearest(value: float, choices) -> float:
    return min(choices, key=lambda choice: (abs(choice - value), choice))


def _number_text(value: float) -> str:
    return f"{value:g}"


# Each rule takes the value's tokens (whitespace and comments removed) and
# returns the value to keep, normalised, or None to drop the declaration.


def _keywords(*allowed, many=False):
    allowed = frozenset(allowed)

    def rule(tokens):
        if not tokens or (len(tokens) > 1 and not many):
            return None
        if all(t.type == "ident" and t.lower_value in allowed for t in tokens):
            return " ".join(t.lower_value for t in tokens)
        return None

    return rule


def _color(tokens):
    import tinycss2  # loaded by clean_css already; see there

    if len(tokens) == 1 and _is_color_token(tokens[0]):
        return tinycss2.serialize(tokens).strip()
    return None


def _length(minimum, maximum, *, percent=False, auto=False):
    """One plain length within [minimum, maximum] px, kept as written."""

    def rule(tokens):
        if len(tokens) != 1:
            return None
        token = tokens[0]
        if auto and token.type == "ident" and token.lower_value == "auto":
            return "auto"
        if percent and token.type == "percentage":
            return token.serialize() if 0 <= token.value <= 100 else None
        px = _px(token)
        if px is None or not minimum <= px <= maximum:
            return None
        return token.serialize()

    return rule


def _font_size(tokens):
    """Map a size onto the nearest of FONT_SIZES_PX (Word's 三号 16pt = 20px)."""
    if len(tokens) != 1:
        return None
    token = tokens[0]
    if token.type == "dimension" and token.lower_unit == "pt" and token.value <= 12:
        # Word's and WPS's body text (五号 10.5pt, 小四 12pt): pasted text
        # should read like typed text, in the site's body size.
        return None
    if token.type == "ident":
        px = _FONT_SIZE_KEYWORDS.get(token.lower_value)
    elif token.type == "percentage":
        px = token.value * 16 / 100
    else:
        px = _px(token)
    if not px or px <= 0:
        return None
    return f"{_nearest(px, FONT_SIZES_PX)}px"


def _line_height(tokens):
    """Map a ratio, a percentage or a length (over a 16px line) onto LINE_HEIGHTS."""
    if len(tokens) != 1:
        return None
    token = tokens[0]
    if token.type == "number":
        ratio = token.value
    elif token.type == "percentage":
        ratio = token.value / 100
    else:
        px = _px(token)
        ratio = px / 16 if px else None
    if not ratio or ratio <= 0:
        return None
    return _number_text(_nearest(ratio, LINE_HEIGHTS))


def _border(tokens):
    """Width, style and colour of a table border, width rounded to 1-3px."""
    if len(tokens) == 1 and tokens[0].type == "ident":
        if tokens[0].lower_value in ("none", "hidden"):
            return "none"
    width = style = color = None
    for token in tokens:
        if token.type == "ident" and token.lower_value in _BORDER_STYLES:
            style = token.lower_value
        elif token.type == "ident" and token.lower_value in _BORDER_WIDTH_KEYWORDS:
            width = _BORDER_WIDTH_KEYWORDS[token.lower_value]
        elif _px(token) is not None:
            width = min(3, max(1, round(_px(token)))) if _px(token) else 0
        elif _is_color_token(token) and color is None:
            import tinycss2  # loaded by clean_css already; see there

            color = tinycss2.serialize([token]).strip()
        else:
            return None
    if style in (None, "none", "hidden") or width == 0:
        return "none"
    parts = [f"{width if width is not None else 1}px", style]
    if color:
        parts.append(color)
    return " ".join(parts)


def _font_weight(tokens):
    if len(tokens) == 1 and tokens[0].type == "number":
        value = tokens[0].value
        if tokens[0].is_integer and 100 <= value <= 900 and value % 100 == 0:
            return str(tokens[0].int_value)
        return None
    return _keywords("bold", "normal", "bolder", "lighter")(tokens)


_INDENT_MAX_PX = 20 * INDENT_STEP_PX

# Everything the toolbar can produce, and the layout-neutral formatting that
# Word and WPS bring. Anything positional (position, top, z-index, transform,
# display other than block...) is out, so pasted content cannot cover the page
# or hide text.
CSS_RULES = {
    "text-align": _keywords("left", "right", "center", "justify"),
    "text-decoration": _keywords("underline", "line-through", "none", many=True),
    "text-decoration-line": _keywords("underline", "line-through", "none", many=True),
    # Chinese paragraphs indent their first line by 2em; Word's hanging
    # indents are a negative first line under a left margin.
    "text-indent": _length(-8 * 16, 8 * 16),
    "font-weight": _font_weight,
    "font-style": _keywords("italic", "normal", "oblique"),
    "font-size": _font_size,
    "line-height": _line_height,
    "color": _color,
    "background-color": _color,
    "width": _length(0, 3000, percent=True, auto=True),
    "height": _length(0, 3000, auto=True),
    "vertical-align": _keywords("top", "middle", "bottom", "baseline"),
    "border-collapse": _keywords("collapse", "separate"),
    "border": _border,
    "border-top": _border,
    "border-right": _border,
    "border-bottom": _border,
    "border-left": _border,
    "border-color": _color,  # the table cell menu's border colour
    "padding-left": _length(0, _INDENT_MAX_PX),  # the indent button in cells
    "margin-left": _length(0, _INDENT_MAX_PX, auto=True),  # the indent button
    "margin-right": _keywords("auto"),  # with margin-left: auto, a centred image
    "display": _keywords("block"),  # a centred image
    "list-style-type": _keywords(
        "disc",
        "circle",
        "square",
        "decimal",
        "lower-alpha",
        "upper-alpha",
        "lower-roman",
        "upper-roman",
        "lower-latin",
        "upper-latin",
        "cjk-ideographic",
        "none",
    ),
    "float": _keywords("left", "right", "none"),  # the image's alignment
}
ALLOWED_CSS_PROPERTIES = frozenset(CSS_RULES)


def clean_css(style: str) -> str:
    """Return the declarations of style that the policy keeps, normalised."""
    # Imported here, not at the top: reader-only server processes never clean
    # styles and stay 2-3 MB smaller without it.
    import tinycss2

    kept = {}  # property -> value; the last one wins, as in a browser
    for declaration in tinycss2.parse_declaration_list(
        style, skip_comments=True, skip_whitespace=True
    ):
        if declaration.type != "declaration":
            continue
        name = declaration.lower_name
        tokens = _meaningful(declaration.value)
        # Word shades table cells with the "background" shorthand; keep it
        # only when it is nothing but a colour.
        if name == "background" and _color(tokens):
            name = "background-color"
        rule = CSS_RULES.get(name)
        value = rule(tokens) if rule else None
        if value:
            kept.pop(name, None)
            kept[name] = value
    return "; ".join(f"{name}: {value}" for name, value in kept.items())


def is_safe_image_src(src: str) -> bool:
    """Tell whether an <img src> value is acceptable (http(s) or /uploads/)."""
    return bool(IMAGE_SRC_RE.fullmatch(src.strip()))


# What browsers ignore inside a URL scheme: ASCII whitespace and controls,
# plus invisible Unicode characters that could hide "javascript:".
_URL_IGNORED_CHARS_RE = re.compile(
    r"[\x00-\x20\x7f-\xa0\u200b-\u200f\u2028\u2029\ufeff]+"
)
_URL_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):", re.IGNORECASE)


def is_safe_href(href: str) -> bool:
    """Tell whether a link target uses an allowed scheme or none (relative)."""
    # bleach checks this too; decoding every entity form the way a browser
    # does (including "&colon;" and references without ";") is a second
    # check that does not depend on bleach's own entity table.
    decoded = _URL_IGNORED_CHARS_RE.sub("", unescape_html(href))
    match = _URL_SCHEME_RE.match(decoded)
    return match is None or match.group(1).lower() in ALLOWED_PROTOCOLS


def _allow_attribute(tag, name, value):
    if (
        name not in ALLOWED_ATTRIBUTES.get(tag, ())
        and name not in ALLOWED_ATTRIBUTES["*"]
    ):
        return False
    if tag == "img" and name == "src":
        return is_safe_image_src(value)
    if name == "href":
        return is_safe_href(value)
    pattern = ATTRIBUTE_VALUE_PATTERNS.get(name)
    if pattern is not None:
        return bool(pattern.fullmatch(value.strip()))
    return True


def _set_link_rel(attrs, new=False):
    if (None, "href") not in attrs:
        # An <a> whose href was refused (or a Word bookmark) is not a link;
        # returning None makes the linkifier keep only its text.
        return None
    attrs[(None, "rel")] = LINK_REL
    attrs.pop((None, "target"), None)
    return attrs


# html5lib parsers keep state while parsing, so each thread (waitress serves
# requests from a thread pool) gets its own.
_local = threading.local()


@functools.cache
def _bleach() -> SimpleNamespace:
    """bleach and html5lib, loaded by the first clean_html().

    Server processes that only serve readers never clean HTML: loading them
    lazily keeps about 3 MB out of each of those processes.
    """
    from bleach import html5lib_shim
    from bleach.css_sanitizer import CSSSanitizer
    from bleach.linkifier import LinkifyFilter
    from bleach.sanitizer import BleachSanitizerFilter

    class StrictCSSSanitizer(CSSSanitizer):
        """Keep what CSS_RULES allows: no url(), no strings, no functions but
        colour ones, sizes from the toolbar's sets, lengths within bounds."""

        def __init__(self):
            super().__init__(
                allowed_css_properties=ALLOWED_CSS_PROPERTIES,
                allowed_svg_properties=frozenset(),
            )

        def sanitize_css(self, style):
            return clean_css(style)

    return SimpleNamespace(
        shim=html5lib_shim,
        Sanitizer=BleachSanitizerFilter,
        Linkify=LinkifyFilter,
        css_sanitizer=StrictCSSSanitizer(),
        walker=html5lib_shim.getTreeWalker("etree"),
    )


def _parser():
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _bleach().shim.BleachHTMLParser(
            tags=None,  # parse everything; the tree rewrite and filter decide
            strip=False,
            consume_entities=False,
            namespaceHTMLElements=False,
        )
        _local.parser = parser
    return parser


def _serializer():
    return _bleach().shim.BleachHTMLSerializer(
        quote_attr_values="always",
        omit_optional_tags=False,
        escape_lt_in_attrs=True,
        resolve_entities=False,
        sanitize=False,
        alphabetical_attributes=False,
    )


# html5lib checks the stack of open elements for every block start tag, so
# parsing costs depth x tags: 5,000 nested <div>s take seconds, a megabyte of
# them hangs a worker. Real documents (Word pastes included) stay far below
# this depth; deeper input is kept as plain text.
MAX_NESTING = 100


def clean_html(html: str) -> str:
    """Return html reduced to the site's allowlist, with bare URLs linked."""
    if not html:
        return ""
    if _nesting_depth(html) > MAX_NESTING:
        return f"<p>{escape_html(_rough_text(html))}</p>"
    dom = _parser().parseFragment(html)
    _rewrite_tree(dom)
    bleach = _bleach()
    stream = bleach.Sanitizer(
        source=bleach.walker(dom),
        allowed_tags=ALLOWED_TAGS,
        attributes=_allow_attribute,
        allowed_protocols=ALLOWED_PROTOCOLS,
        strip_disallowed_tags=True,
        strip_html_comments=True,
        css_sanitizer=bleach.css_sanitizer,
    )
    stream = bleach.Linkify(
        source=stream,
        callbacks=[_set_link_rel],
        skip_tags=LINKIFY_SKIP_TAGS,
        parse_email=False,
        url_re=URL_RE,
    )
    return _serializer().render(stream).strip()


# --- tree rewrite -----------------------------------------------------------

# What the URL standard strips from both ends of a URL: C0 controls and space.
_URL_TRIM = "".join(map(chr, range(0x21)))


def _local_name(tag):
    if not isinstance(tag, str):
        return None  # comments and processing instructions
    if tag.startswith("{"):
        # Foreign (SVG/MathML) elements carry their namespace.
        return "\0foreign"
    return tag.lower()


def _remove(parent, child):
    """Remove child from parent, keeping the text that follows it."""
    _append_text_before(parent, child, child.tail)
    parent.remove(child)


def _append_text_before(parent, child, text):
    if not text:
        return
    index = list(parent).index(child)
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        previous = parent[index - 1]
        previous.tail = (previous.tail or "") + text


def _unwrap(parent, child, parents):
    """Replace child by its content."""
    index = list(parent).index(child)
    _append_text_before(parent, child, child.text)
    grandchildren = list(child)
    tail = child.tail
    parent.remove(child)
    for offset, grandchild in enumerate(grandchildren):
        parent.insert(index + offset, grandchild)
        parents[grandchild] = parent
    if grandchildren:
        last = grandchildren[-1]
        last.tail = (last.tail or "") + (tail or "")
    elif tail:
        if index == 0:
            parent.text = (parent.text or "") + tail
        else:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + tail


def _fold_presentational_attributes(element, tag):
    """Move align/valign/bgcolor (Word, WPS, old editors) into style."""
    extra = []
    align = (element.get("align") or "").strip().lower()
    if align in _ALIGN_VALUES and tag != "img":
        extra.append(f"text-align: {align}")
    valign = (element.get("valign") or "").strip().lower()
    if valign in _VALIGN_VALUES:
        extra.append(f"vertical-align: {valign}")
    bgcolor = (element.get("bgcolor") or "").strip()
    if bgcolor:
        extra.append(f"background-color: {bgcolor}")
    if tag == "center":
        extra.append("text-align: center")
    if extra:
        style = element.get("style") or ""
        element.set("style", "; ".join(extra) + "; " + style)


def _rewrite_tree(root):
    """Rewrite the parsed fragment in place before bleach sees it."""
    parents = {child: parent for parent in root.iter() for child in parent}
    # Reversed document order visits every element after its descendants, so
    # unwrapping moves content that is already clean, and no recursion is
    # needed (deeply nested input cannot hit the recursion limit).
    elements = list(root.iter())
    elements.reverse()
    list_levels = {}  # Word list paragraph -> (list id, level)
    list_markers = {}  # Word list paragraph -> marker text ("1.", "·")
    for element in elements:
        parent = parents.get(element)
        if parent is None:
            continue  # the fragment root
        tag = _local_name(element.tag)
        if tag is None or tag in DROP_WITH_CONTENT or tag == "\0foreign":
            _remove(parent, element)
            continue
        style = element.get("style") or ""
        if _WORD_LIST_MARKER_RE.search(style):
            # Word's typed list number or bullet; the list markup replaces it.
            paragraph = parent
            while paragraph is not None and paragraph.tag != "p":
                paragraph = parents.get(paragraph)
            if paragraph is not None:
                list_markers[paragraph] = "".join(element.itertext())
            _remove(parent, element)
            continue
        for name in ("src", "href"):
            value = element.get(name)
            if value is not None and value != value.strip(_URL_TRIM):
                # Browsers ignore spaces and controls around a URL, so the
                # stored value must not: " https://..." is a remote image.
                element.set(name, value.strip(_URL_TRIM))
        if tag == "img" and not is_safe_image_src(element.get("src") or ""):
            # Pasted Word images point at file:///C:/... on the author's PC and
            # data: URIs skip the upload checks; an empty <img> helps no one.
            _remove(parent, element)
            continue
        if tag == "p":
            match = _WORD_LIST_RE.search(style)
            if match:
                list_levels[element] = (match.group(1), int(match.group(2)))
        _fold_presentational_attributes(element, tag)
        if tag in RENAME_TAGS:
            tag = RENAME_TAGS[tag]
            element.tag = tag
        if "style" in element.attrib:
            cleaned = clean_css(element.get("style"))
            if cleaned:
                element.set("style", cleaned)
            else:
                del element.attrib["style"]
        # A span whose only allowed attribute (style) is gone is just noise,
        # and so is formatting around nothing (Word leaves plenty).
        bare_span = tag == "span" and "style" not in element.attrib
        empty_inline = (
            tag in _INLINE_FORMATTING
            and not len(element)
            and not (element.text or "").strip()
        )
        if tag in UNWRAP_TAGS or ":" in tag or bare_span or empty_inline:
            _unwrap(parent, element, parents)
    if list_levels:
        for parent in {parents[p] for p in list_levels if p in parents}:
            _convert_word_lists(parent, list_levels, list_markers)
    # Last, on allowed tags only: photos nested in photos, and text typed
    # into a figure, become siblings (figures.py).
    figures.normalise(root)


def _convert_word_lists(parent, list_levels, list_markers):
    """Turn runs of Word list paragraphs into real nested ul/ol lists."""
    runs = []
    current = []
    previous_list_id = None
    for child in list(parent):
        info = list_levels.get(child)
        if info is None or (current and info[0] != previous_list_id):
            if current:
                runs.append(current)
            current = []
        if info is not None:
            current.append(child)
            previous_list_id = info[0]
            # Text between two list paragraphs ends the list.
            if child.tail and child.tail.strip():
                runs.append(current)
                current = []
    if current:
        runs.append(current)
    for run in runs:
        _build_list(parent, run, list_levels, list_markers)


def _build_list(parent, run, list_levels, list_markers):
    index = list(parent).index(run[0])
    tail = run[-1].tail
    top = None
    stack = []  # (level, list element), innermost last
    depth = 0
    for paragraph in run:
        # Levels are made relative and never skip, so the first item is
        # always at the top and the stack never empties.
        level = max(1, min(list_levels[paragraph][1], depth + 1)) if top else 1
        parent.remove(paragraph)
        marker = list_markers.get(paragraph, "").strip().replace("\xa0", "")
        ordered = bool(_ORDERED_MARKER_RE.match(marker))
        while stack and stack[-1][0] > level:
            stack.pop()
        if not stack or stack[-1][0] < level:
            new_list = ElementTree.Element("ol" if ordered else "ul")
            if stack and len(stack[-1][1]):
                stack[-1][1][-1].append(new_list)
            else:
                top = new_list
            stack.append((level, new_list))
        depth = level
        paragraph.tag = "li"
        paragraph.attrib.clear()
        paragraph.tail = None
        stack[-1][1].append(paragraph)
    top.tail = tail
    parent.insert(index, top)


# --- nesting depth -------------------------------------------------------------

_VOID_TAGS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip
# Tags that close an open one of their kind, so "<p>a<p>b" is not deep.
_SELF_CLOSING_SIBLINGS = frozenset(
    {"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup"}
)


_TAG_RE = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")


def _nesting_depth(html: str) -> int:
    """Estimate how deep html nests, with a regex scan (linear and fast)."""
    if html.count("<") <= MAX_NESTING:
        return 0  # cannot be that deep
    stack = []
    deepest = 0
    for match in _TAG_RE.finditer(html):
        closing, tag = match.group(1), match.group(2).lower()
        if tag in _VOID_TAGS:
            continue
        if closing or tag in _SELF_CLOSING_SIBLINGS:
            # Close the nearest open one of this kind, if it is near the top.
            recent = stack[-8:]
            if tag in recent:
                del stack[len(stack) - len(recent) + _last_index(recent, tag) :]
            if closing:
                continue
        stack.append(tag)
        deepest = max(deepest, len(stack))
        if deepest > MAX_NESTING:
            break  # deep enough to refuse; no need to read further
    return deepest


_HIDDEN_BLOCK_RE = re.compile(
    r"<(script|style|xml|title|template|textarea|noscript|iframe)\b.*?</\1\s*>|<!--.*?-->",
    re.IGNORECASE | re.DOTALL,
)


def _rough_text(html: str) -> str:
    """Text of html by regex: only for input too deep to parse, where being
    fast matters more than being exact (the result is escaped anyway)."""
    text = _HIDDEN_BLOCK_RE.sub(" ", html)
    text = re.sub(r"<[^>]*>?", " ", text)
    return " ".join(unescape_html(text).split())


def _last_index(items, value):
    return len(items) - 1 - items[::-1].index(value)


# --- plain text ---------------------------------------------------------------

_TEXT_SKIP_TAGS = frozenset(
    {"script", "style", "xml", "title", "head", "template", "noscript", "textarea"}
)
_TEXT_BREAK_TAGS = frozenset(
    {
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "table", "tr", "td", "th", "caption", "figure",
        "figcaption", "hr",
    }
)  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in _TEXT_SKIP_TAGS:
            self.skip_depth += 1
        elif tag in _TEXT_BREAK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag in _TEXT_BREAK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in _TEXT_SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _TEXT_BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self.skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Return the visible text of html on one line, whitespace collapsed."""
    if not html:
        return ""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join("".join(extractor.parts).split())


_TRAILING_PUNCTUATION = " ,.;:!?、，。；：！？"


def summarize(html: str, length: int = 120) -> str:
    """Return at most `length` characters of html's text, ending with "…" if cut."""
    text = html_to_text(html)
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    # Chinese can be cut anywhere; Latin words are cut at a space if one is
    # near enough.
    if cut[-1].isascii() and cut[-1].isalnum() and text[length - 1].isalnum():
        space = cut.rfind(" ")
        if space > length // 2:
            cut = cut[:space]
    return cut.rstrip(_TRAILING_PUNCTUATION) + "…"


# --- absolute URLs for other sites ------------------------------------------

# clean_html() output quotes every attribute value with '"' and escapes "<"
# everywhere and '"' inside values, so these patterns find the real start
# tags and attributes, never text that merely looks like them.
_LINKING_TAG_RE = re.compile(r"<(?:a|img)(?:\s+[^\s\"'>/=]+(?:=\"[^\"]*\")?)*\s*/?>")
_URL_ATTRIBUTE_RE = re.compile(r"(\s(?:href|src)=\")([^\"]*)(\")")


def absolute_urls(html: str, base: str) -> str:
    """Return clean_html() output with relative links and images made absolute.

    Feed readers and other sites show a body away from our pages, where
    "/uploads/x.jpg" would point at their own host.
    """

    def attribute(match: re.Match) -> str:
        url = urljoin(base, unescape_html(match[2]))
        return match[1] + escape_html(url, quote=True) + match[3]

    return _LINKING_TAG_RE.sub(
        lambda tag: _URL_ATTRIBUTE_RE.sub(attribute, tag[0]), html
    )
