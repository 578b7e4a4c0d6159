"""Full-text search of readers' posts, for Chinese words of one and two characters.

SQLite's FTS5 has no Chinese word breaker, and its trigram tokenizer cannot
match the one- and two-character words Chinese readers type (开学, 招生). So
the text is tokenised here, after NFKC + casefold (full-width ＰＰＴ is PPT):
- CJK runs become overlapping bigrams (开学典礼 -> 开学 学典 典礼) in the
  `*_bi` columns, and single characters in the `*_uni` columns;
- Latin and digit runs become words, in the `*_uni` columns.
FTS5's unicode61 tokenizer then only splits the prepared text at spaces. A
query term of one CJK character matches the unigrams, one of two or more a
phrase of consecutive bigrams, and a mixed term (2026年, 9月1日) a phrase of
its parts; several terms must all match. Every token is quoted, so nothing a
reader types is FTS syntax.

The index (search_fts) is contentless, to stay small; search_doc keeps the
plain text that was indexed, which removing a row needs (SQLite before 3.43
deletes contentless rows only given their old values) and snippets use. Only
published, not-trashed posts are indexed; scheduled ones are filtered out at
query time by Article.visible_clause(), so nothing unpublished is ever found.

A post's attachments are part of its document: after the post's own text,
each attachment readers can fetch (not one held for review) adds a part
ATTACHMENT_MARK + name + "\n" + its text (newsroom/doctext.py's, read once
and kept beside the upload), at most ATTACHMENT_CHARS characters of each and
ATTACHMENTS_CHARS in all. So a name (报名表) or a word inside a PDF finds the
post, and parts() tells the results page which attachment matched.

The index follows every change to articles and their attachments in the same
transaction, through SQLAlchemy session events like cachestate's, so no view
has to remember.
PostgreSQL gets PostgresBackend: the same tokens, as text, with a GIN index
on the set of them (see there). Other databases get LikeBackend: correct but
slow (a scan of every post), and no index to keep.

Changing the tokeniser changes what `remove` must delete: ship a migration
that calls rebuild() with it.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
import unicodedata
import weakref
from dataclasses import dataclass, field

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from core import sitedata, sites
from models import (
    Article,
    Base,
    Status,
    Upload,
    bulk_change_target,
    current_site_id,
    utcnow,
)

MAX_QUERY_CHARS = 100
MAX_TERMS = 8
# At most this many matching posts, the newest, are ranked (see Fts5Backend).
CANDIDATES = 1000
# Title matches weigh more than body matches (bm25 column weights).
TITLE_WEIGHT = 8.0
SNIPPET_CHARS = 110
# Attachment text indexed per file and per post: enough for a notice, a
# registration form or a list; a 300-page report is found by its beginning.
ATTACHMENT_CHARS = 20_000
ATTACHMENTS_CHARS = 50_000
# Starts an attachment's part of the indexed text (not a letter or digit, so
# the tokens never see it; never in text a teacher typed).
ATTACHMENT_MARK = "\x1e"

FTS_TABLE = "search_fts"
# The post's section as a token ("s12"), so that filters are index lookups.
FTS_COLUMNS = ("title_uni", "title_bi", "body_uni", "body_bi", "sections")
# Between two CJK runs in a bigram column, so that 开学。学校 cannot match 开学校.
_RUN_BREAK = "0"

# Plain text that was indexed, per article: a regular table (in the models'
# metadata, so migrations and create_all() agree), with no foreign key: rows
# leave through remove(), which must also delete them from search_fts.
search_doc = sa.Table(
    "search_doc",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("section_id", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False, default=""),
    sa.Column("body", sa.Text, nullable=False, default=""),
)
CREATE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    + ", ".join(FTS_COLUMNS)
    + ", content='', tokenize='unicode61 remove_diacritics 0')"
)
sa.event.listen(
    search_doc, "after_create", sa.DDL(CREATE_FTS).execute_if(dialect="sqlite")
)
# PostgreSQL's search_fts (see PostgresBackend): the set of each post's
# tokens in a tsvector with a GIN index, and the token sequences of each
# column, padded with spaces (" 开 学 "), so that a phrase is a substring.
PG_INDEX = f"{FTS_TABLE}_lexemes"
CREATE_PG = (
    f"CREATE TABLE IF NOT EXISTS {FTS_TABLE} (id integer PRIMARY KEY,"
    " lexemes tsvector NOT NULL, title_uni text NOT NULL, title_bi text NOT NULL,"
    " body_uni text NOT NULL, body_bi text NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {FTS_TABLE} USING gin (lexemes)",
)
for _statement in CREATE_PG:
    sa.event.listen(
        search_doc, "after_create", sa.DDL(_statement).execute_if(dialect="postgresql")
    )
for _dialect in ("sqlite", "postgresql"):
    sa.event.listen(
        search_doc,
        "before_drop",
        sa.DDL(f"DROP TABLE IF EXISTS {FTS_TABLE}").execute_if(dialect=_dialect),
    )


def is_index_table(name: str) -> bool:
    """search_fts and its shadow tables (SQLite), or search_fts (PostgreSQL):
    made by SQL, not by the models, and rebuilt, never copied."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")


# --- Tokens --------------------------------------------------------------------

_CJK = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0003ffff"
)
# A CJK run, or a run of other letters and digits (\w without "_").
_PART = re.compile(f"([{_CJK}]+)|((?:(?![{_CJK}])[^\\W_])+)")
_WORD_CHAR = f"(?:(?![{_CJK}])[^\\W_])"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def normalize(text: str) -> str:
    """Full-width and half-width alike, case folded: what is indexed and searched."""
    return unicodedata.normalize("NFKC", text).casefold()


def clean_query(raw: str | None) -> str:
    """The query as typed, safe to show and bounded: no control characters,
    no lone surrogates, at most MAX_QUERY_CHARS."""
    text = _UNSAFE.sub(" ", raw or "")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def _parts(normalized: str):
    """(is_cjk, text) for each CJK run and each Latin/digit word, in order."""
    for match in _PART.finditer(normalized):
        cjk, word = match.groups()
        yield (True, cjk) if cjk else (False, word)


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def document_tokens(text: str) -> tuple[str, str]:
    """The (unigram, bigram) column values for a text."""
    uni: list[str] = []
    bi: list[str] = []
    for is_cjk, part in _parts(normalize(text)):
        if not is_cjk:
            uni.append(part)
            continue
        uni.extend(part)
        if len(part) > 1:
            if bi:
                bi.append(_RUN_BREAK)
            bi.extend(_bigrams(part))
    return " ".join(uni), " ".join(bi)


def _phrase(tokens) -> str:
    # Tokens hold letters and digits only (see _PART), so no quote can occur.
    return '"' + " ".join(tokens) + '"'


@dataclass(frozen=True)
class Term:
    """One space-separated word of the query."""

    parts: tuple[tuple[bool, str], ...]

    def clauses(self) -> list[tuple[str, tuple[str, ...]]]:
        """("uni" or "bi", a phrase of tokens) that must all occur, each in
        the title's or the body's columns of that kind."""
        if len(self.parts) == 1:
            is_cjk, text = self.parts[0]
            if is_cjk and len(text) > 1:
                return [("bi", tuple(_bigrams(text)))]
            return [("uni", (text,))]
        # Mixed (2026年, 9月1日): the exact sequence of its parts, narrowed
        # by the bigrams of its longer CJK runs, which are rarer.
        units = []
        for is_cjk, text in self.parts:
            units.extend(text if is_cjk else [text])
        clauses = [("uni", tuple(units))]
        clauses += [
            ("bi", tuple(_bigrams(text)))
            for is_cjk, text in self.parts
            if is_cjk and len(text) > 1
        ]
        return clauses

    def match(self) -> str:
        """This term as an FTS5 expression."""
        columns = {"uni": "{title_uni body_uni}: ", "bi": "{title_bi body_bi}: "}
        clauses = [columns[kind] + _phrase(tokens) for kind, tokens in self.clauses()]
        if len(self.parts) == 1:
            return clauses[0]
        return " AND ".join(f"({clause})" for clause in clauses)

    def pattern(self) -> str:
        """A regular expression finding this term in normalised plain text."""
        pieces = []
        for is_cjk, text in self.parts:
            if is_cjk:
                pieces.append(re.escape(text))
            else:
                # Whole words, as the index matches them: "ppt" not in "ppts".
                pieces.append(f"(?<!{_WORD_CHAR}){re.escape(text)}(?!{_WORD_CHAR})")
        # Between parts the index saw no letters or digits; the text may have
        # spaces or punctuation there (2026 年).
        return r"[\W_]*".join(pieces)


@dataclass(frozen=True)
class Query:
    """A parsed query: terms that must all match."""

    text: str
    terms: tuple[Term, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.terms)

    def match(self) -> str:
        return " AND ".join(f"({term.match()})" for term in self.terms)

    def highlighter(self) -> re.Pattern | None:
        if not self.terms:
            return None
        # Longest first, so that 运动会 wins over 运动 where both match.
        patterns = sorted(
            (term.pattern() for term in self.terms), key=len, reverse=True
        )
        return re.compile("|".join(f"(?:{p})" for p in patterns))


def parse(raw: str | None) -> Query:
    """Terms of a query; at most MAX_TERMS, duplicates dropped."""
    text = clean_query(raw)
    terms: list[Term] = []
    for word in normalize(text).split():
        parts = tuple(_parts(word))
        term = Term(parts)
        if parts and term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return Query(text=text, terms=tuple(terms))


# --- Snippets ------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _fold(char: str) -> str:
    return normalize(char)


_changing_lock = threading.Lock()


def _changing() -> re.Pattern:
    """The characters of the BMP that folding changes (built once, ~30 ms).

    Astral characters are taken as unchanged here: only a highlight could be
    misplaced by one, and everything is escaped whatever the offsets.
    """
    # One thread builds it; 32 threads of a busy server building it at once
    # held their first searches for seconds.
    with _changing_lock:
        return _build_changing()


@functools.cache
def _build_changing() -> re.Pattern:
    ranges, first, last = [], None, None
    for code in range(0x10000):
        # normalize(), not _fold(): 63,000 cached entries would cost 2 MB.
        if 0xD800 <= code < 0xE000 or normalize(chr(code)) == chr(code):
            continue
        if last is not None and code == last + 1:
            last = code
            continue
        if first is not None:
            ranges.append((first, last))
        first = last = code
    ranges.append((first, last))
    parts = (
        re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
        for a, b in ranges
    )
    return re.compile("[" + "".join(parts) + "]")


class _Folded:
    """text folded character by character, and the way back to its offsets.

    Folding keeps the length of nearly every character; a few grow (… is
    ...), so offsets are corrected only at those. Only the characters that
    change are visited in Python: a 5,000-character post costs little.
    """

    def __init__(self, text: str):
        changing = _changing()
        self.text = changing.sub(lambda match: _fold(match.group()), text)
        # For each growing character: where it starts folded, where it came
        # from, and how long it is folded.
        self.starts: list[int] = []
        self.origins: list[int] = []
        self.lengths: list[int] = []
        if len(self.text) == len(text) and not _shrinking(text):
            return
        shift = 0
        for match in changing.finditer(text):
            length = len(_fold(match.group()))
            if length != 1:
                self.starts.append(match.start() + shift)
                self.origins.append(match.start())
                self.lengths.append(length)
                shift += length - 1

    def origin(self, index: int) -> int:
        """The offset in the original text of folded character `index`."""
        k = bisect.bisect_right(self.starts, index) - 1
        if k < 0:
            return index
        if index < self.starts[k] + self.lengths[k]:
            return self.origins[k]
        return self.origins[k] + 1 + (index - self.starts[k] - self.lengths[k])


def _shrinking(text: str) -> bool:
    """Whether a character of text folds to nothing (lengths could cancel out)."""
    return any(not _fold(char) for char in set(_changing().findall(text)))


def _spans(text: str, query: Query) -> list[tuple[int, int]]:
    """Where the query's terms occur in text, as (start, end) in text."""
    pattern = query.highlighter()
    if pattern is None or not text:
        return []
    folded = _Folded(text)
    spans = []
    for match in pattern.finditer(folded.text):
        if match.end() > match.start():
            start = folded.origin(match.start())
            end = folded.origin(match.end() - 1) + 1
            spans.append((start, end))
    return spans


def _marked(text: str, spans, start: int = 0, end: int | None = None) -> Markup:
    end = len(text) if end is None else end
    out, position = [], start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        out.append(escape(text[position:span_start]))
        out.append(Markup("<mark>%s</mark>") % text[span_start:span_end])
        position = span_end
    out.append(escape(text[position:end]))
    return Markup("").join(out)


def highlight(text: str, query: Query) -> Markup:
    """The whole text, escaped, with every term in <mark>."""
    return _marked(text or "", _spans(text or "", query))


def snippet(text: str, query: Query, length: int = SNIPPET_CHARS) -> Markup:
    """About `length` characters of text around the first match, terms marked."""
    text = text or ""
    spans = _spans(text, query)
    start = 0
    if spans:
        start = max(0, spans[0][0] - length // 4)
    end = min(len(text), start + length)
    if end - start < length:
        start = max(0, end - length)
    body = _marked(text, spans, start, end)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return Markup(prefix) + body + Markup(suffix)


MAX_ATTACHMENTS_SHOWN = 3


def result_text(text: str, query: Query) -> tuple[Markup, list[Markup]]:
    """A hit's snippet and the names of the attachments that matched (terms
    marked). The snippet comes from the post's own text unless only an
    attachment's text matched: then from that attachment's."""
    own, *attached = parts(text)
    matched = [
        part
        for part in attached
        if _spans(part.name, query) or _spans(part.text, query)
    ][:MAX_ATTACHMENTS_SHOWN]
    source = own.text
    if matched and not _spans(own.text, query):
        in_text = [part for part in matched if _spans(part.text, query)]
        if in_text:
            source = in_text[0].text
    return snippet(source, query), [highlight(part.name, query) for part in matched]


# --- Backends ------------------------------------------------------------------


@dataclass
class Hit:
    id: int
    # Plain text (summary, body, author) for the snippet.
    text: str


def indexed_text(
    title: str, summary: str | None, body_html: str, author: str
) -> tuple[str, str]:
    """The (title, body) plain text a post is found by."""
    from newsroom.sanitize import html_to_text  # loads bleach: only when writing

    parts = [(summary or "").strip(), html_to_text(body_html or ""), author or ""]
    return title or "", "\n".join(part for part in parts if part)


def with_attachments(body: str, attachments: list[tuple[str, str]]) -> str:
    """The post's indexed text followed by its attachments' names and text."""
    parts, room = [body], ATTACHMENTS_CHARS
    for name, text in attachments:
        # No control characters: PostgreSQL's text refuses NUL.
        text = " ".join(_UNSAFE.sub(" ", text).split())[: min(ATTACHMENT_CHARS, room)]
        room -= len(text)
        parts.append(f"{ATTACHMENT_MARK}{_UNSAFE.sub(' ', name)}\n{text}")
    return "\n".join(parts)


@dataclass(frozen=True)
class Part:
    """A piece of a hit's text: the post's own (name "") or an attachment's."""

    name: str
    text: str


def parts(text: str) -> list[Part]:
    """The post's own text, then each attachment's (see with_attachments)."""
    own, *attached = (text or "").split(ATTACHMENT_MARK)
    found = [Part("", own.rstrip("\n"))]
    for piece in attached:
        name, _, body = piece.partition("\n")
        found.append(Part(name, body.rstrip("\n")))
    return found


def _attachment_texts(connection: sa.Connection, ids) -> dict[int, list]:
    """(name, text) of the attachments readers get, per article id."""
    from flask import current_app, has_app_context

    from newsroom import doctext  # parses in a sandbox: only when writing

    if not _has_attachment_columns(connection):
        return {}
    rows = connection.execute(
        sa.select(Upload.article_id, Upload.stored_name, Upload.original_name)
        .where(
            Upload.article_id.in_(ids),
            Upload.kind == "attachment",
            Upload.held.is_(False),
        )
        .order_by(Upload.id)
    ).all()
    folder = None
    if rows and has_app_context():
        from pathlib import Path

        folder = Path(current_app.config["UPLOAD_FOLDER"])
    found: dict[int, list] = {}
    for article_id, stored_name, name in rows:
        text = ""
        if folder is not None:
            text = doctext.text_for_file(folder, stored_name, name).text
        found.setdefault(article_id, []).append((name, text))
    return found


def _has_attachment_columns(connection: sa.Connection) -> bool:
    # Migration 0008 rebuilds the index with this code on a database that is
    # still at 0008, before uploads could be held (0012): its posts are
    # indexed without attachments then, and with them by migration 0014.
    columns = connection.info.get("schoolnews.upload_columns")
    if columns is None:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("upload")}
        if "held" in columns:  # the current schema: no need to look again
            connection.info["schoolnews.upload_columns"] = columns
    return "held" in columns


def _filters(sections: list[int] | None):
    clauses = [Article.visible_clause()]
    if sections is not None:
        clauses.append(Article.section_id.in_(sections))
    return clauses


_indexable = (
    sa.select(
        Article.id,
        Article.section_id,
        Article.title,
        Article.summary,
        Article.body_html,
        Article.author_name,
    )
    .where(Article.status == Status.PUBLISHED, Article.deleted_at.is_(None))
    .order_by(Article.id)
)


def _docs(connection: sa.Connection, rows) -> list[dict]:
    """The indexed documents of these _indexable rows, attachments included."""
    rows = list(rows)
    attached = _attachment_texts(connection, [row.id for row in rows]) if rows else {}
    docs = []
    for row in rows:
        title, body = indexed_text(
            row.title, row.summary, row.body_html, row.author_name
        )
        if row.id in attached:
            body = with_attachments(body, attached[row.id])
        docs.append(
            {"id": row.id, "section_id": row.section_id, "title": title, "body": body}
        )
    return docs


class _Backend:
    """The interface: index, remove, rebuild, search, count.

    `sections` limits a search to posts filed in these section ids (a
    channel passes its own and its sub-sections').
    """

    name = ""

    def index(self, connection: sa.Connection, ids) -> None:
        """Make the index hold exactly the readable ones of these articles."""

    def remove(self, connection: sa.Connection, ids) -> None:
        """Take these articles out of the index."""

    def rebuild(self, connection: sa.Connection, batch: int = 500) -> int:
        """Empty the index and fill it from every readable post; the count."""
        return 0

    def _matching(self, query: Query, sections) -> sa.Select:
        raise NotImplementedError

    def search(
        self, session: Session, query: Query, *, offset=0, limit=20, sections=None
    ) -> list[Hit]:
        """One page of visible matching posts, best first."""
        raise NotImplementedError

    def count(
        self, session: Session, query: Query, *, sections=None, limit=None
    ) -> int:
        """How many visible posts match; at most `limit`."""
        if not query:
            return 0
        matching = self._matching(query, sections)
        if limit is not None:
            matching = matching.limit(limit)
        total = sa.select(sa.func.count()).select_from(matching.subquery())
        return session.scalar(total)


_FTS_INSERT = sa.text(
    f"INSERT INTO {FTS_TABLE} (rowid, {', '.join(FTS_COLUMNS)})"
    f" VALUES (:rowid, {', '.join(':' + c for c in FTS_COLUMNS)})"
)
# A contentless table forgets a row only when told its old tokens.
_FTS_DELETE = sa.text(
    f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {', '.join(FTS_COLUMNS)})"
    f" VALUES ('delete', :rowid, {', '.join(':' + c for c in FTS_COLUMNS)})"
)


def _section_token(section_id) -> str:
    return f"s{section_id}"


def _fts_values(doc) -> dict:
    title_uni, title_bi = document_tokens(doc["title"])
    body_uni, body_bi = document_tokens(doc["body"])
    return {
        "rowid": doc["id"],
        "title_uni": title_uni,
        "title_bi": title_bi,
        "body_uni": body_uni,
        "body_bi": body_bi,
        "sections": _section_token(doc["section_id"]),
    }


class _IndexBackend(_Backend):
    """A backend with an index of search_doc's documents to keep: index,
    remove and rebuild, over each backend's _insert, _delete and _clear."""

    def _insert(self, connection: sa.Connection, docs: list[dict]) -> None:
        raise NotImplementedError

    def _delete(self, connection: sa.Connection, docs: list[dict]) -> None:
        raise NotImplementedError

    def _clear(self, connection: sa.Connection) -> None:
        raise NotImplementedError

    def _rebuilt(self, connection: sa.Connection) -> None:
        """Called once a rebuild has inserted every document."""

    def _indexed(self, connection: sa.Connection, ids) -> dict[int, dict]:
        rows = connection.execute(sa.select(search_doc).where(search_doc.c.id.in_(ids)))
        return {row.id: dict(row._mapping) for row in rows}

    def index(self, connection: sa.Connection, ids) -> None:
        ids = sorted(set(ids))
        if not ids:
            return
        old = self._indexed(connection, ids)
        rows = connection.execute(_indexable.where(Article.id.in_(ids))).all()
        new = {doc["id"]: doc for doc in _docs(connection, rows)}
        stale = [doc for i, doc in old.items() if new.get(i) != doc]
        self._delete(connection, stale)
        self._insert(connection, [doc for i, doc in new.items() if old.get(i) != doc])

    def remove(self, connection: sa.Connection, ids) -> None:
        ids = sorted(set(ids))
        if ids:
            self._delete(connection, list(self._indexed(connection, ids).values()))

    def rebuild(self, connection: sa.Connection, batch: int = 500) -> int:
        self._clear(connection)
        count, rows = 0, []
        for row in connection.execute(_indexable).yield_per(batch):
            rows.append(row)
            if len(rows) == batch:
                self._insert(connection, _docs(connection, rows))
                count, rows = count + len(rows), []
        self._insert(connection, _docs(connection, rows))
        self._rebuilt(connection)
        return count + len(rows)

    def _page(self, session: Session, candidates, order, offset, limit) -> list[Hit]:
        """One page of the candidates, ranked by `order` (column name, True
        for descending), with their text."""

        def by(table):
            return [
                table.c[name].desc() if down else table.c[name] for name, down in order
            ]

        page = (
            sa.select(candidates).order_by(*by(candidates)).limit(limit).offset(offset)
        ).subquery()
        # The text is read for this page's rows only, after the ranking.
        rows = session.execute(
            sa.select(page.c.id, search_doc.c.body)
            .join(search_doc, search_doc.c.id == page.c.id)
            .order_by(*by(page))
        ).all()
        return [Hit(row.id, row.body) for row in rows]


class Fts5Backend(_IndexBackend):
    """SQLite FTS5 over self-made unigram and bigram tokens.

    A word in half of 100,000 posts matches 50,000 rows, and ranking them all
    takes hundreds of milliseconds. So only the newest CANDIDATES matching
    posts (by id: the order they were written in) are ranked; fewer matches
    are all ranked. Reading them newest first needs no sort: FTS5 hands out
    rows in id order. The section filter is a token in the index, so a small
    section inside a common word's matches is found without reading them all.
    """

    name = "fts5"

    def _delete(self, connection: sa.Connection, docs: list[dict]) -> None:
        if docs:
            connection.execute(_FTS_DELETE, [_fts_values(doc) for doc in docs])
            ids = [doc["id"] for doc in docs]
            connection.execute(sa.delete(search_doc).where(search_doc.c.id.in_(ids)))

    def _insert(self, connection: sa.Connection, docs: list[dict]) -> None:
        if docs:
            connection.execute(sa.insert(search_doc), docs)
            connection.execute(_FTS_INSERT, [_fts_values(doc) for doc in docs])

    def _clear(self, connection: sa.Connection) -> None:
        connection.execute(
            sa.text(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('delete-all')")
        )
        connection.execute(sa.delete(search_doc))

    def _matching(self, query: Query, sections) -> sa.Select:
        expression = query.match()
        if sections is None and sites.several_sites():
            # One index for every school: limited to this school's sections
            # in the index, a search reads its own matches, not all schools'.
            sections = list(sitedata.current().by_id)  # kept per process
        if sections is not None:
            tokens = " OR ".join(_phrase([_section_token(s)]) for s in sections)
            expression = f"({expression}) AND ({{sections}}: ({tokens or '0'}))"
        fts = sa.table(FTS_TABLE, sa.column("rowid"))
        match = sa.text(f"{FTS_TABLE} MATCH :match").bindparams(match=expression)
        return (
            sa.select(Article.id)
            .select_from(fts)
            .join(Article, Article.id == fts.c.rowid)
            .where(match, *_filters(sections))
            .order_by(fts.c.rowid.desc())
        )

    def search(
        self, session: Session, query: Query, *, offset=0, limit=20, sections=None
    ) -> list[Hit]:
        if not query:
            return []
        weights = f"{TITLE_WEIGHT}, {TITLE_WEIGHT}, 1.0, 1.0, 0.0"
        candidates = (
            self._matching(query, sections)
            .add_columns(
                sa.literal_column(f"bm25({FTS_TABLE}, {weights})").label("score"),
                Article.published_at,
            )
            .limit(CANDIDATES)
            .subquery()
        )
        # bm25 is lower for better matches.
        order = (("score", False), ("published_at", True), ("id", True))
        return self._page(session, candidates, order, offset, limit)


# --- PostgreSQL ----------------------------------------------------------------

# Lexemes longer than this are refused by PostgreSQL; a word that long (a
# pasted code, say) is stored as _PG_GAP, which keeps its place in a phrase.
_PG_MAX_LEXEME_BYTES = 2046
# Never a token (tokens are letters and digits): stands for a run break and
# for a word too long to be a lexeme.
_PG_GAP = "|"
# The post's section as a lexeme ("§12"): never a token of text.
_SECTION_MARK = "§"


@functools.cache
def _pg_fts() -> sa.TableClause:
    # PostgreSQL's types, imported on PostgreSQL only (about 2 MB).
    from sqlalchemy.dialects.postgresql import TSVECTOR

    return sa.table(
        FTS_TABLE,
        sa.column("id", sa.Integer),
        sa.column("lexemes", TSVECTOR),
        sa.column("title_uni", sa.Text),
        sa.column("title_bi", sa.Text),
        sa.column("body_uni", sa.Text),
        sa.column("body_bi", sa.Text),
    )


def _pg_lexeme_ok(token: str) -> bool:
    return len(token.encode()) <= _PG_MAX_LEXEME_BYTES


def _pg_sequence(tokens: list[str]) -> str:
    """A column's tokens as stored: padded with spaces, gaps for words too
    long to be lexemes."""
    kept = [token if _pg_lexeme_ok(token) else _PG_GAP for token in tokens]
    return " " + " ".join(kept) + " " if kept else " "


def _trigrams(bigrams: list[str]) -> list[str]:
    """The three-character words of a bigram column: abc from ab bc, never
    across a break."""
    pairs = zip(bigrams, bigrams[1:], strict=False)
    return [a + b[1] for a, b in pairs if _PG_GAP not in (a, b)]


def _pg_values(doc) -> dict:
    values = {"id": doc["id"]}
    lexemes = {f"{_SECTION_MARK}{doc['section_id']}"}
    for column in ("title", "body"):
        uni, bi = (text.split() for text in document_tokens(doc[column]))
        # "0" is a word in uni, a break in bi.
        bi = [token if token != _RUN_BREAK else _PG_GAP for token in bi]
        values[f"{column}_uni"] = _pg_sequence(uni)
        values[f"{column}_bi"] = _pg_sequence(bi)
        lexemes.update(uni, bi, _trigrams(bi))
    lexemes.discard(_PG_GAP)
    values["lexemes"] = " ".join(
        _pg_quote(lexeme) for lexeme in lexemes if _pg_lexeme_ok(lexeme)
    )
    return values


def _pg_quote(lexeme: str) -> str:
    # Tokens hold letters and digits only: no quote or backslash to escape.
    return "'" + lexeme + "'"


class PostgresBackend(_IndexBackend):
    """PostgreSQL: the same tokens as Fts5Backend, in a GIN index.

    search_fts holds each post's tokens as a tsvector (a set: no positions,
    no parser, no dictionary, each token as it is), with the three-character
    words of its CJK runs too, and its token sequences as text. The GIN index
    finds the posts holding every token of the query exactly: a word of one,
    two or three characters (学, 开学, 运动会) is one lexeme. A longer phrase
    (开学典礼: its three-character words) is then checked as a substring of
    its padded sequence (" 开学 学典 典礼 "), newest first, until CANDIDATES
    are found. Substrings, not tsvector positions, because those stop at
    16,383 and 256 per word, and an attachment's text goes further.

    Matching posts are read newest first as in Fts5Backend: through the
    primary key for a common word (the planner knows each lexeme's share),
    through the GIN index for a rare one.

    Ranking: the matched clauses in the title first (FTS5's bm25 weighs the
    title TITLE_WEIGHT times the body, so there too title matches come
    first), then newer posts; FTS5 also orders equal titles by how often the
    body holds the words, which PostgreSQL does not read.
    """

    name = "postgresql"

    def _insert(self, connection: sa.Connection, docs: list[dict]) -> None:
        if docs:
            connection.execute(sa.insert(search_doc), docs)
            connection.execute(sa.insert(_pg_fts()), [_pg_values(doc) for doc in docs])

    def _delete(self, connection: sa.Connection, docs: list[dict]) -> None:
        if docs:
            ids = [doc["id"] for doc in docs]
            connection.execute(sa.delete(_pg_fts()).where(_pg_fts().c.id.in_(ids)))
            connection.execute(sa.delete(search_doc).where(search_doc.c.id.in_(ids)))

    def _clear(self, connection: sa.Connection) -> None:
        # Filling the table and then building the index is several times
        # faster than keeping the index up to date row by row.
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        connection.exec_driver_sql(f"TRUNCATE {FTS_TABLE}, search_doc")

    def _rebuilt(self, connection: sa.Connection) -> None:
        connection.exec_driver_sql(CREATE_PG[1])
        # The planner's share of each lexeme (common words by the primary key)
        # and the posts' statistics: a site just copied over has none, and
        # without them a common word's plan is ten times slower.
        connection.exec_driver_sql(f"ANALYZE {FTS_TABLE}, article")

    @staticmethod
    def _lexemes(kind: str, phrase: tuple[str, ...]) -> tuple[list[str], bool]:
        """The lexemes a clause needs, and whether they say it all (else the
        phrase is checked)."""
        if kind == "bi" and len(phrase) > 1:
            return _trigrams(list(phrase)), len(phrase) == 2
        return list(phrase), len(phrase) == 1

    def _plan(self, query: Query, sections):
        """(the tsquery, or None if nothing can match; per clause its kind,
        its padded phrase and whether the lexemes say it all)."""
        lexemes, clauses = [], []
        for term in query.terms:
            for kind, phrase in term.clauses():
                needed, exact = self._lexemes(kind, phrase)
                if not all(_pg_lexeme_ok(lexeme) for lexeme in needed):
                    return None, []  # never stored whole, so never found
                lexemes += [_pg_quote(x) for x in needed if _pg_quote(x) not in lexemes]
                clauses.append((kind, " " + " ".join(phrase) + " ", exact))
        tsquery = " & ".join(lexemes)
        if sections is not None:
            if not sections:
                return None, []
            marks = (_pg_quote(f"{_SECTION_MARK}{s}") for s in sections)
            tsquery += " & (" + " | ".join(marks) + ")"
        return tsquery, clauses

    def _statement(self, query: Query, sections, sql):
        """(the driver SQL, its parameters) of `sql` (_pg_search or
        _pg_count) for this query, or None if nothing can match."""
        tsquery, clauses = self._plan(query, sections)
        if tsquery is None:
            return None
        shape = tuple((kind, exact) for kind, _padded, exact in clauses)
        params = {f"p{i}": padded for i, (_k, padded, _e) in enumerate(clauses)}
        params.update(
            tsquery=tsquery,
            published=Status.PUBLISHED,
            now=utcnow(),
            site=current_site_id(),
        )
        if sections is not None:
            params["sections"] = list(sections)
        return sql(shape, sections is not None), params

    def search(
        self, session: Session, query: Query, *, offset=0, limit=20, sections=None
    ) -> list[Hit]:
        statement = self._statement(query, sections, _pg_search) if query else None
        if statement is None:
            return []
        sql, params = statement
        params.update(candidates=CANDIDATES, limit=limit, offset=offset)
        return [Hit(row_id, body) for row_id, body in _pg_rows(session, sql, params)]

    def count(
        self, session: Session, query: Query, *, sections=None, limit=None
    ) -> int:
        statement = self._statement(query, sections, _pg_count) if query else None
        if statement is None:
            return 0
        sql, params = statement
        params["limit"] = limit  # LIMIT NULL is no limit
        return _pg_rows(session, sql, params)[0][0]


# PostgresBackend's statements, as driver SQL (psycopg's %(name)s): the
# SQLAlchemy constructs of these cost more to build and compile per search
# (about 1 ms) than the fast queries take to run, which SQLite, in the
# process, does not pay. One text per query shape, built once (its clauses'
# kinds, whether their lexemes say it all, and whether sections filter).


def _pg_rows(session: Session, sql: str, params: dict) -> list[tuple]:
    """The rows of a statement below, run on the session's connection and
    never prepared: psycopg prepares a statement after five runs on a
    connection, and PostgreSQL may then plan it once for every value. No
    plan fits both a word in most posts (read newest first by the primary
    key) and a rare one (the GIN index): 运动会's total took 620 ms, not 46,
    on the plan of a rare word."""
    driver = session.connection().connection.driver_connection
    return driver.execute(sql, params, prepare=False).fetchall()


# Article.visible_clause(), in SQL, on the acting site (core/sites.py: the
# ORM's site filter does not reach the driver's own statements).
_PG_VISIBLE = (
    "a.status = %(published)s AND a.published_at IS NOT NULL"
    " AND a.published_at <= %(now)s AND a.deleted_at IS NULL"
    " AND a.site_id = %(site)s"
)


def _pg_matching(shape: tuple[tuple[str, bool], ...], sections: bool) -> str:
    """FROM ... ORDER BY: the matching posts newest first, as `a` (article)
    and `o` (search_fts, with the columns the checks and the score read).

    The matches are sorted apart (OFFSET 0 keeps the planner from merging
    that subquery), so that the checks and the join run on the newest first
    and stop at the LIMIT the statements add; the long columns are only read
    for checks."""
    kinds = sorted({kind for kind, _exact in shape})
    columns = [f"title_{kind}" for kind in kinds]
    columns += sorted({f"body_{kind}" for kind, exact in shape if not exact})
    where = []
    for i, (kind, exact) in enumerate(shape):
        if not exact:
            where.append(
                f"(strpos(o.title_{kind}, %(p{i})s) > 0"
                f" OR strpos(o.body_{kind}, %(p{i})s) > 0)"
            )
    where.append(_PG_VISIBLE)
    if sections:
        where.append("a.section_id = ANY(%(sections)s)")
    return (
        f"FROM (SELECT id, {', '.join(columns)} FROM {FTS_TABLE}"
        " WHERE lexemes @@ CAST(%(tsquery)s AS tsquery)"
        " ORDER BY id DESC OFFSET 0) AS o"
        " JOIN article AS a ON a.id = o.id"
        f" WHERE {' AND '.join(where)} ORDER BY o.id DESC"
    )


@functools.lru_cache(maxsize=256)  # shapes a reader can type: many
def _pg_search(shape: tuple[tuple[str, bool], ...], sections: bool) -> str:
    """One page of the newest CANDIDATES matches, ranked (see
    PostgresBackend), with each hit's text, read for the page's rows only."""
    score = " + ".join(
        f"(strpos(o.title_{kind}, %(p{i})s) > 0)::int"
        for i, (kind, _exact) in enumerate(shape)
    )
    order = ("score DESC", "published_at DESC", "id DESC")
    return (
        "SELECT p.id, d.body FROM ("
        f"SELECT id, score, published_at FROM (SELECT a.id, {score} AS score,"
        f" a.published_at {_pg_matching(shape, sections)} LIMIT %(candidates)s)"
        f" AS c ORDER BY {', '.join(order)} LIMIT %(limit)s OFFSET %(offset)s)"
        " AS p JOIN search_doc AS d ON d.id = p.id"
        f" ORDER BY {', '.join('p.' + column for column in order)}"
    )


@functools.lru_cache(maxsize=256)  # shapes a reader can type: many
def _pg_count(shape: tuple[tuple[str, bool], ...], sections: bool) -> str:
    return (
        "SELECT count(*) FROM (SELECT a.id"
        f" {_pg_matching(shape, sections)} LIMIT %(limit)s) AS m"
    )


class LikeBackend(_Backend):
    """Any database: LIKE over the article columns. Slow: it reads every post.

    Case-insensitive as the database's ILIKE is, full-width forms not
    folded, newest first: enough to keep a site working on a database with
    no backend of its own. Nothing to index.
    """

    name = "like"

    def _matching(self, query: Query, sections) -> sa.Select:
        stmt = sa.select(Article.id).where(*_filters(sections))
        columns = (
            Article.title,
            Article.summary,
            Article.excerpt,
            Article.body_html,
            Article.author_name,
        )
        for word in query.text.split()[:MAX_TERMS]:
            found = (column.icontains(word, autoescape=True) for column in columns)
            stmt = stmt.where(sa.or_(*found))
        return stmt

    def search(
        self, session: Session, query: Query, *, offset=0, limit=20, sections=None
    ) -> list[Hit]:
        if not query:
            return []
        stmt = (
            self._matching(query, sections)
            .add_columns(
                Article.title, Article.summary, Article.body_html, Article.author_name
            )
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [Hit(row.id, indexed_text(*row[1:])[1]) for row in session.execute(stmt)]


def backend_for(bind) -> _Backend:
    """The backend for a connection, engine or session's database."""
    connect = bind
    if hasattr(bind, "get_bind"):  # a session, scoped or not
        connect, bind = bind.connection, bind.get_bind()
    elif isinstance(bind, sa.Engine):
        connect = bind.connect
    backend = _BACKENDS.get(bind.dialect.name, _LIKE)
    if backend is _BACKENDS["postgresql"] and not _has_pg_index(bind, connect):
        return _LIKE
    return backend


# Engines known to have PostgreSQL's search_fts.
_pg_indexed: weakref.WeakSet = weakref.WeakSet()


def _has_pg_index(bind, connect) -> bool:
    """Whether search_fts exists: not on a database still before migration
    0017 (its posts are found by LIKE until it runs)."""
    engine = bind.engine
    if engine in _pg_indexed:
        return True
    if isinstance(connect, sa.Connection):
        found = sa.inspect(connect).has_table(FTS_TABLE)
    elif connect is bind.connect:  # an engine: a connection of its own
        with connect() as connection:
            found = sa.inspect(connection).has_table(FTS_TABLE)
    else:
        found = sa.inspect(connect()).has_table(FTS_TABLE)
    if found:
        _pg_indexed.add(engine)
    return found


_LIKE = LikeBackend()
_BACKENDS = {"sqlite": Fts5Backend(), "postgresql": PostgresBackend()}


def index(connection: sa.Connection, ids) -> None:
    backend_for(connection).index(connection, ids)


def remove(connection: sa.Connection, ids) -> None:
    backend_for(connection).remove(connection, ids)


def rebuild(connection: sa.Connection) -> int:
    return backend_for(connection).rebuild(connection)


def search(session: Session, query: Query, **kwargs) -> list[Hit]:
    return backend_for(session).search(session, query, **kwargs)


def count(session: Session, query: Query, **kwargs) -> int:
    return backend_for(session).count(session, query, **kwargs)


# --- Following changes ---------------------------------------------------------

_PENDING = "search.pending"
_FIELDS = (
    "title",
    "summary",
    "body_html",
    "author_name",
    "section_id",
    "status",
    "deleted_at",
)


def _pending(session: Session) -> set[int]:
    return session.info.setdefault(_PENDING, set())


_UPLOAD_FIELDS = ("article_id", "held", "original_name", "kind")


def _note_attachment(session: Session, upload: Upload, changed: bool) -> None:
    """An attachment added, removed or changed: its post's document changes."""
    if not changed:
        attrs = sa.inspect(upload).attrs
        if not any(
            getattr(attrs, name).history.has_changes() for name in _UPLOAD_FIELDS
        ):
            return
    history = sa.inspect(upload).attrs.article_id.history
    for article_id in (*history.deleted, upload.article_id):
        if article_id is not None:
            _pending(session).add(article_id)


@sa.event.listens_for(Session, "after_flush")
def _note_flushed_articles(session: Session, flush_context) -> None:
    for obj in session.new:
        if isinstance(obj, Article) and obj.status == Status.PUBLISHED:
            _pending(session).add(obj.id)
        elif isinstance(obj, Upload) and obj.kind == "attachment":
            _note_attachment(session, obj, changed=True)
    for obj in session.deleted:
        if isinstance(obj, Article):
            _pending(session).add(obj.id)
        elif isinstance(obj, Upload) and obj.kind == "attachment":
            _note_attachment(session, obj, changed=True)
    for obj in session.dirty:
        if isinstance(obj, Upload):
            _note_attachment(session, obj, changed=False)
        elif isinstance(obj, Article):
            attrs = sa.inspect(obj).attrs
            if any(getattr(attrs, name).history.has_changes() for name in _FIELDS):
                _pending(session).add(obj.id)


def _touches_attachments(statement) -> bool:
    """A DELETE, or an UPDATE of what the index reads (attachments released
    from review, say); not one of the preview's state, say."""
    values = getattr(statement, "_values", None)  # an UPDATE's SET clause
    if not getattr(statement, "is_update", False) or not values:
        return True
    names = {getattr(column, "key", column) for column in values}
    return bool(names & set(_UPLOAD_FIELDS))


@sa.event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    target = bulk_change_target(state)
    if target is Article:
        ids = sa.select(Article.__table__.c.id)
    elif target is Upload and _touches_attachments(state.statement):
        table = Upload.__table__
        ids = sa.select(table.c.article_id).where(
            table.c.kind == "attachment", table.c.article_id.is_not(None)
        )
    else:
        return
    # The rows are found before the statement runs: a DELETE leaves none.
    where = state.statement.whereclause
    if where is not None:
        ids = ids.where(where)
    _pending(state.session).update(state.session.connection().scalars(ids))


@sa.event.listens_for(Session, "before_commit")
def _index_before_commit(session: Session) -> None:
    session.flush()
    ids = session.info.pop(_PENDING, None)
    if ids:
        index(session.connection(), ids)


@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
