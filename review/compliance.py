"""The compliance check (合规检查) run before a post is submitted or published.

It looks at a post's title, summary, body, attachment names and the text of
its attachments (every page, paragraph or cell, as newsroom/doctext.py reads
them) for personal data (身份证号, mobile numbers, bank card numbers), for
wrong or sensitive wording from the school's word list (WordRule), for links
to pages of this site that readers cannot open, and for images without alt
text.

The core (check_fields and the helpers it uses) is pure Python: it takes text
and a compiled word matcher, so the CLI, the editor and a later review step
all run the same code. Only check_article() and matcher_from_db() touch the
database.

Positions: each finding names its field and an offset into that field's
text. For the body the offset counts characters of the HTML's text nodes in
document order (entities decoded, nothing added between blocks), which is
what a browser's TreeWalker over the editor counts too, so the editor can
jump to the place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlsplit

HINT = "hint"  # shown, never blocks
CONFIRM = "confirm"  # personal data: publishing needs a confirmed reason
BLOCK = "block"  # 禁止 word: refuses submit and publish
SEVERITIES = (HINT, CONFIRM, BLOCK)

ID_NUMBER = "id_number"
PHONE = "phone"
BANK_CARD = "bank_card"
WORD = "word"
LINK = "link"
IMAGE_ALT = "image_alt"
# Hints about an attachment's text itself: it could not be read (the problem
# code is in suggestion), only its first part was read, or more findings in
# it than are listed (their count is in value).
UNREADABLE = "attachment_unreadable"
PARTLY_READ = "attachment_partly_read"
MORE = "attachment_more"
PERSONAL_KINDS = (ID_NUMBER, PHONE, BANK_CARD)

CONTEXT_CHARS = 8  # characters of context either side of a finding
# Findings listed per attachment; a class list of 50 pupils would otherwise
# fill the panel with 100 lines saying the same thing.
MAX_ATTACHMENT_FINDINGS = 20


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    field: str  # "title", "summary", "body" or "attachment"
    offset: int  # in the field's text (see the module docstring)
    length: int
    value: str  # what was found, masked when it is personal data
    excerpt: str  # a little context around it, masked
    suggestion: str = ""  # a word rule's replacement, or a link's problem
    index: int = 0  # which attachment, for field "attachment"
    # In an attachment's text: the file's name and the place in it
    # ("page:2", "para:5", "cell:名单!C2", "csv:3:2", "line:7"; see doctext).
    source: str = ""
    where: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def place(self) -> str:
        if self.where:
            return f"{self.source} {self.where}"
        if self.source:
            return self.source
        return f"{self.field}:{self.offset}"

    def line(self) -> str:
        """One line for logs and the CLI: kind, severity, place, masked excerpt."""
        text = f"{self.kind}\t{self.severity}\t{self.place()}\t{self.excerpt}"
        return f"{text}\t→ {self.suggestion}" if self.suggestion else text


@dataclass(frozen=True)
class AttachmentText:
    """An attached file's name and text, as newsroom/doctext.py read it:
    segments (where, text), or a problem code saying why there are none."""

    name: str
    segments: tuple[tuple[str, str], ...] = ()
    problem: str = ""
    truncated: bool = False


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == BLOCK]


def needing_confirmation(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == CONFIRM]


# --- Personal data ----------------------------------------------------------------

# GB 11643-1999: weights of the first 17 digits, and the check character for
# the weighted sum mod 11.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# First two digits: the provinces of GB/T 2260 (and 71/81/82 for Taiwan, Hong
# Kong, Macao as used on residence permits).
ID_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54"
    " 61 62 63 64 65 71 81 82 83".split()
)

# Digits never run on into other digits, not even across one separator, so a
# longer number (an order number, a landline with extension) is not split.
_NOT_AFTER_DIGIT = r"(?<![0-9A-Za-z])(?<![0-9][ -])"
_NOT_BEFORE_DIGIT = r"(?![0-9A-Za-z])(?![ -][0-9])"
ID_RE = re.compile(_NOT_AFTER_DIGIT + r"[1-9]\d{16}[\dXx]" + _NOT_BEFORE_DIGIT)
# 11 digits, optionally written 3-4-4 with spaces or dashes; +86 may precede.
PHONE_RE = re.compile(
    r"(?:(?<=\+86)|(?<=\+86[ -])|" + _NOT_AFTER_DIGIT + ")"
    r"1[3-9]\d(?:[ -]?\d{4}){2}" + _NOT_BEFORE_DIGIT
)
# 16 to 19 digits, optionally in groups separated by single spaces or dashes.
CARD_RE = re.compile(_NOT_AFTER_DIGIT + r"\d(?:[ -]?\d){15,18}" + _NOT_BEFORE_DIGIT)


def _id_shaped(number: str) -> bool:
    """18 characters with a real region and birth date, whatever the check digit."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    if number[:2] not in ID_PROVINCES:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year and born <= date.today()


def id_number_valid(number: str) -> bool:
    """An 18-character 身份证号 with a real region, birth date and check digit."""
    if not _id_shaped(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def mask_phone(digits: str) -> str:
    return digits[:3] + "****" + digits[-4:]


def mask_card(digits: str) -> str:
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


# Numbers of four or more digits (with separators) near a finding.
_NEARBY_DIGITS = re.compile(r"\d(?:[ -]?\d){3,}")


def _context(text: str, start: int, end: int, shown: str) -> str:
    """The finding with a few characters either side, on one line."""
    before = text[max(0, start - CONTEXT_CHARS) : start]
    after = text[end : end + CONTEXT_CHARS]
    # Other numbers next to this one may be personal data too: hidden.
    before, after = (
        _NEARBY_DIGITS.sub(lambda m: re.sub(r"\d", "*", m[0]), s)
        for s in (before, after)
    )
    excerpt = f"{'…' if start > CONTEXT_CHARS else ''}{before}{shown}{after}"
    excerpt += "…" if end + CONTEXT_CHARS < len(text) else ""
    return " ".join(excerpt.split())


def find_personal_data(text: str, field: str, index: int = 0) -> list[Finding]:
    findings = []
    taken: list[tuple[int, int]] = []

    def free(start, end):
        return all(end <= s or start >= e for s, e in taken)

    def add(kind, match, masked):
        taken.append(match.span())
        findings.append(
            Finding(
                kind=kind,
                severity=CONFIRM,
                field=field,
                offset=match.start(),
                length=match.end() - match.start(),
                value=masked,
                excerpt=_context(text, match.start(), match.end(), masked),
                index=index,
            )
        )

    # ID numbers first. An 18-digit number shaped like one (a mistyped ID
    # number) is never taken for a bank card either.
    for match in ID_RE.finditer(text):
        if id_number_valid(match[0]):
            add(ID_NUMBER, match, mask_id(match[0].upper()))
    for match in CARD_RE.finditer(text):
        digits = re.sub(r"[ -]", "", match[0])
        if free(*match.span()) and luhn_valid(digits) and not _id_shaped(digits):
            add(BANK_CARD, match, mask_card(digits))
    for match in PHONE_RE.finditer(text):
        if free(*match.span()):
            add(PHONE, match, mask_phone(re.sub(r"[ -]", "", match[0])))
    return sorted(findings, key=lambda f: f.offset)


# --- Word list ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    term: str
    replacement: str = ""
    severity: str = HINT  # HINT or BLOCK
    # Longer correct words that contain the term, e.g. 按装订线 for 按装.
    exceptions: tuple[str, ...] = ()
    note: str = ""


def split_exceptions(raw: str | None) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[\s,，、;；]+", raw or "") if w)


def _is_latin(term: str) -> bool:
    return term.isascii()


def _trie_pattern(terms: list[str]) -> str:
    """One regex for many literal terms, shaped as a trie.

    Python's re tries alternatives one by one; sharing prefixes makes each
    position cost one branch per character instead of one per term.
    """
    trie: dict = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node: dict) -> str:
        ends = "" in node
        branches = [
            re.escape(char) + build(child)
            for char, child in sorted(node.items())
            if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # A shorter term ends here: the optional group prefers the longer one.
        return f"(?:{body})?" if ends else body

    return build(trie)


class WordMatcher:
    """Finds word-list terms in text; compile once per version of the list."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules = {}
        for rule in rules:
            term = rule.term.strip()
            if term:
                self.rules[term.casefold() if _is_latin(term) else term] = rule
        chinese = [t for t in self.rules if not _is_latin(t)]
        latin = [t for t in self.rules if _is_latin(t)]
        parts = []
        if chinese:
            parts.append(_trie_pattern(chinese))
        if latin:
            # Latin terms match whole words only ("ass" is not in "class").
            parts.append(
                r"(?<![A-Za-z0-9_])(?:" + _trie_pattern(latin) + r")(?![A-Za-z0-9_])"
            )
        self.pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def _excepted(self, text: str, start: int, end: int, rule: Rule) -> bool:
        """The match is part of a longer correct word (an exception or the
        replacement itself overlapping it), so the term is not really there."""
        term = text[start:end]
        for word in (*rule.exceptions, rule.replacement):
            if not word or len(word) <= len(term):
                continue
            at = word.find(term)
            while at != -1:
                begin = start - at
                if begin >= 0 and text[begin : begin + len(word)] == word:
                    return True
                at = word.find(term, at + 1)
        return False

    def find(self, text: str, field: str, index: int = 0) -> list[Finding]:
        if self.pattern is None:
            return []
        findings = []
        position = 0
        while True:
            match = self.pattern.search(text, position)
            if match is None:
                return findings
            start, end = match.span()
            term = match[0]
            rule = self.rules.get(term.casefold() if _is_latin(term) else term)
            if rule is None or self._excepted(text, start, end, rule):
                position = start + 1  # a shorter term may still start later
                continue
            findings.append(
                Finding(
                    kind=WORD,
                    severity=BLOCK if rule.severity == BLOCK else HINT,
                    field=field,
                    offset=start,
                    length=end - start,
                    value=term,
                    excerpt=_context(text, start, end, term),
                    suggestion=rule.replacement,
                    index=index,
                )
            )
            position = end


# --- HTML -----------------------------------------------------------------------------

BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr td th table blockquote pre figure"
    " figcaption section article hr".split()
)


class _BodyParser(HTMLParser):
    """Text of the body with a map back to text-node offsets, links and images."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []  # text with "\n" between blocks
        self.segments: list[tuple[int, int]] = []  # (text start, node offset)
        self.text_length = 0
        self.node_offset = 0
        self.links: list[tuple[str, int]] = []
        self.images: list[tuple[str, int]] = []
        self.skip = 0

    def _break(self):
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
            self.text_length += 1

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self.skip += 1
        if tag in BLOCK_TAGS:
            self._break()
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], self.node_offset))
        if tag == "img" and not (attrs.get("alt") or "").strip():
            self.images.append((attrs.get("src") or "", self.node_offset))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        if tag in BLOCK_TAGS:
            self._break()

    def handle_data(self, data):
        if self.skip:
            return
        self.segments.append((self.text_length, self.node_offset))
        self.parts.append(data)
        self.text_length += len(data)
        self.node_offset += len(data)


@dataclass
class Body:
    text: str
    segments: list[tuple[int, int]]
    links: list[tuple[str, int]]
    images: list[tuple[str, int]]

    def node_offset(self, text_offset: int) -> int:
        """Where a text offset lies counted in text-node characters."""
        found = 0
        for start, node in self.segments:
            if start > text_offset:
                break
            found = node + (text_offset - start)
        return found


def parse_body(html: str) -> Body:
    parser = _BodyParser()
    parser.feed(html or "")
    parser.close()
    return Body("".join(parser.parts), parser.segments, parser.links, parser.images)


def html_to_text(html: str) -> str:
    return parse_body(html).text


# --- Links inside the site ----------------------------------------------------------

ARTICLE_PATH = re.compile(r"^/articles/(\d+)/?$")
SECTION_PATH = re.compile(r"^/sections/([^/]+)/?$")


def internal_path(href: str, own_hosts: Iterable[str] = ()) -> str | None:
    """The path of a link to this site, or None for other sites and mail links."""
    parts = urlsplit(href.strip())
    if parts.scheme and parts.scheme not in ("http", "https"):
        return None
    if parts.netloc and parts.netloc.lower() not in {h.lower() for h in own_hosts}:
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path


# A LinkProblem function gets the site's paths and returns {path: problem}.
LinkProblems = Callable[[list[str]], dict[str, str]]


# --- The whole check --------------------------------------------------------------


def check_fields(
    *,
    title: str = "",
    summary: str = "",
    body_html: str = "",
    attachments: Iterable[str | AttachmentText] = (),
    words: WordMatcher | None = None,
    link_problems: LinkProblems | None = None,
    own_hosts: Iterable[str] = (),
) -> list[Finding]:
    """Check a post's fields; findings come in field order, then by position.

    attachments: names, or AttachmentText to check the files' text too.
    """
    findings: list[Finding] = []
    plain = [("title", title or "", 0), ("summary", summary or "", 0)]
    body = parse_body(body_html)
    for field, text, index in plain:
        findings += _check_text(text, field, index, words)
    for finding in _check_text(body.text, "body", 0, words):
        # Report the body's offset in text-node characters (see docstring).
        start = body.node_offset(finding.offset)
        findings.append(_moved(finding, start))
    for index, attachment in enumerate(attachments):
        if isinstance(attachment, AttachmentText):
            findings += _check_attachment(attachment, index, words)
        else:
            findings += _check_text(attachment or "", "attachment", index, words)

    for src, offset in body.images:
        name = src.rsplit("/", 1)[-1][:60] or "img"
        findings.append(
            Finding(IMAGE_ALT, HINT, "body", offset, 0, name, f"<img {name}>")
        )
    paths = {}
    for href, offset in body.links:
        path = internal_path(href, own_hosts)
        if path is not None:
            paths.setdefault(path, []).append((href, offset))
    if paths and link_problems is not None:
        for path, problem in link_problems(list(paths)).items():
            for href, offset in paths.get(path, ()):
                findings.append(
                    Finding(
                        LINK, HINT, "body", offset, 0, href[:120], href[:120], problem
                    )
                )
    order = {"title": 0, "summary": 1, "body": 2, "attachment": 3}
    # An attachment's findings stay in the order _check_attachment gave.
    return sorted(
        findings,
        key=lambda f: (
            order[f.field],
            f.index,
            0 if f.field == "attachment" else f.offset,
        ),
    )


def _check_attachment(
    attachment: AttachmentText, index: int, words: WordMatcher | None
) -> list[Finding]:
    """The name, then the text place by place; at most
    MAX_ATTACHMENT_FINDINGS listed, blocked words and personal data first."""
    name = attachment.name or ""
    findings = sorted(
        _check_text(name, "attachment", index, words), key=lambda f: f.offset
    )
    found: list[Finding] = []
    for where, text in attachment.segments:
        found += [
            replace(f, source=name, where=where)
            for f in _check_text(text, "attachment", index, words)
        ]
    rank = {BLOCK: 0, CONFIRM: 1, HINT: 2}
    listed = {
        id(f)
        for f in sorted(found, key=lambda f: rank[f.severity])[:MAX_ATTACHMENT_FINDINGS]
    }
    findings += [f for f in found if id(f) in listed]  # in document order

    def note(kind: str, value: str, suggestion: str = "") -> Finding:
        return Finding(
            kind, HINT, "attachment", 0, 0, value, "", suggestion, index, name
        )

    if len(found) > len(listed):
        findings.append(note(MORE, str(len(found) - len(listed))))
    if attachment.problem:
        findings.append(note(UNREADABLE, name, attachment.problem))
    elif attachment.truncated:
        findings.append(note(PARTLY_READ, name))
    return findings


def _moved(finding: Finding, offset: int) -> Finding:
    values = finding.to_dict() | {"offset": offset}
    return Finding(**values)


def _check_text(text: str, field: str, index: int, words: WordMatcher | None):
    found = find_personal_data(text, field, index)
    if words is not None:
        found += [_masked(word, text, found) for word in words.find(text, field, index)]
    return found


def _masked(word: Finding, text: str, personal: list[Finding]) -> Finding:
    """A word-list term that is part of a phone, ID or card number shows
    masked, like the number itself."""
    start, end = word.offset, word.offset + word.length
    if all(end <= p.offset or start >= p.offset + p.length for p in personal):
        return word
    shown = re.sub(r"\d", "*", word.value)
    return replace(word, value=shown, excerpt=_context(text, start, end, shown))


# --- With the database ----------------------------------------------------------------

# Site id -> (key, matcher), each replaced as one object so threads never
# pair a key with another list's matcher.
_cache: dict = {}


def matcher_from_db() -> WordMatcher:
    """The word list's matcher, compiled again only when the list changed.

    The list is the acting school's own terms and, in a 站群, the bureau's
    shared ones (merge_rules). The key is read with one small aggregate
    query: any insert, edit or delete changes the count, the highest id or
    the latest update time.
    """
    import sqlalchemy as sa

    from core import sites
    from models import WordRule, current_site_id, db

    site = current_site_id()
    shared = sites.bureau_site_id()
    owners = sorted({site, shared} - {None})
    mine = WordRule.site_id.in_(owners)
    key = tuple(
        db.session.execute(
            sa.select(
                sa.func.count(WordRule.id),
                sa.func.max(WordRule.id),
                sa.func.max(WordRule.updated_at),
                sa.func.sum(sa.func.length(WordRule.term)),
            )
            .where(mine)
            .execution_options(all_sites=True)
        ).one()
    ) + (tuple(owners), str(db.engine.url))
    cached_key, matcher = _cache.get(site, (None, None))
    if cached_key != key:
        rows = db.session.scalars(
            sa.select(WordRule).where(mine).execution_options(all_sites=True)
        ).all()
        matcher = WordMatcher(merge_rules(rows, shared))
        _cache[site] = (key, matcher)
    return matcher


def merge_rules(rows, shared_site: int | None) -> list[Rule]:
    """One Rule per term. The bureau's shared terms (rows of shared_site)
    hold in every school: a school's own rule for the same term can make it
    stricter (block) but never weaker, and cannot exempt more words."""
    by_term: dict[str, list] = {}
    for row in rows:
        by_term.setdefault(row.term, []).append(row)
    rules = []
    for term, found in by_term.items():
        shared = next((r for r in found if r.site_id == shared_site), None)
        own = next((r for r in found if r.site_id != shared_site), None)
        first = shared or own
        severity = BLOCK if any(r.severity == BLOCK for r in found) else HINT
        rules.append(
            Rule(
                term=term,
                replacement=first.replacement or (own.replacement if own else "") or "",
                severity=severity,
                exceptions=split_exceptions(first.exceptions),
                note=first.note or (own.note if own else "") or "",
            )
        )
    return rules


def site_link_problems(paths: list[str]) -> dict[str, str]:
    """Which of these paths of this site readers cannot open, and why."""
    import sqlalchemy as sa

    from models import Article, Section, db

    article_ids = {}
    slugs = {}
    for path in paths:
        if match := ARTICLE_PATH.match(path):
            article_ids[path] = int(match[1])
        elif match := SECTION_PATH.match(path):
            slugs[path] = match[1]
    problems = {}
    if article_ids:
        ids = set(article_ids.values())
        rows = db.session.execute(
            sa.select(Article.id, Article.visible_clause()).where(Article.id.in_(ids))
        ).all()
        existing = {row[0] for row in rows}
        public = {row[0] for row in rows if row[1]}
        for path, article_id in article_ids.items():
            if article_id not in existing:
                problems[path] = "missing"
            elif article_id not in public:
                problems[path] = "unpublished"
    if slugs:
        known = set(
            db.session.scalars(
                sa.select(Section.slug).where(Section.slug.in_(set(slugs.values())))
            )
        )
        for path, slug in slugs.items():
            if slug not in known:
                problems[path] = "missing"
    return problems


def check_post(
    title: str,
    summary: str | None,
    body_html: str,
    attachments: Iterable[str | AttachmentText] = (),
    own_hosts: Iterable[str] = (),
) -> list[Finding]:
    """The check with the school's word list and site links (needs an app context)."""
    return check_fields(
        title=title,
        summary=summary or "",
        body_html=body_html,
        attachments=attachments,
        words=matcher_from_db(),
        link_problems=site_link_problems,
        own_hosts=own_hosts,
    )


def check_article(article, own_hosts: Iterable[str] = (), text=None) -> list[Finding]:
    """Check a post; text: what is under review instead of the post's own
    (an edit of a published post waiting in review.PendingText)."""
    text = text or article
    return check_post(
        text.title,
        text.summary,
        text.body_html,
        attachment_texts(article.all_attachments),
        own_hosts,
    )


# How the check reads an attached file (an Upload row) into AttachmentText.
# Parsing documents belongs to newsroom (newsroom/doctext.py), a layer above
# this one, so newsroom plugs its reader in (newsroom/attachment_check.py).
_reader: list[Callable[[object], AttachmentText] | None] = [None]
NOT_READ = "not_read"  # no reader plugged in: the text was not checked


def read_attachments_with(reader: Callable[[object], AttachmentText]) -> None:
    _reader[0] = reader


def attachment_texts(uploads: Iterable) -> list[AttachmentText]:
    """The name and text of each attached file (Upload rows), in order."""
    reader = _reader[0]
    if reader is None:
        return [AttachmentText(u.original_name, problem=NOT_READ) for u in uploads]
    return [reader(upload) for upload in uploads]


@dataclass
class Verdict:
    """Whether a submit or publish may go on, given the findings."""

    findings: list[Finding]
    blocked: list[Finding]  # 禁止 terms: never
    unconfirmed: list[Finding]  # personal data without a confirmed reason

    @property
    def ok(self) -> bool:
        return not self.blocked and not self.unconfirmed


def judge(findings: list[Finding], *, publishing: bool, reason: str = "") -> Verdict:
    """A 禁止 term stops both steps. Personal data stops publishing until the
    publisher confirms a reason; at submit the reviewer decides later."""
    unconfirmed = []
    if publishing and not reason.strip():
        unconfirmed = needing_confirmation(findings)
    return Verdict(findings, blocking(findings), unconfirmed)


def confirmation_target(article_id: int, reason: str, findings: list[Finding]) -> str:
    """The audit log line for a confirmed publish: reason and masked values."""
    values = ", ".join(f.value for f in needing_confirmation(findings))
    return f"article {article_id}: {reason.strip()} | {values}"[:200]
