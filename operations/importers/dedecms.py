"""Import a DedeCMS (织梦) site from its MySQL/MariaDB database, read live.

What maps to what:
- arctype: a top-level type is a channel, its children sections, deeper
  levels are filed into their level-2 ancestor;
- archives + addonarticle: title, writer → byline (author_name), source,
  click → views, pubdate → published_at (a Unix time, so already UTC),
  description → summary, flag h (头条) or c (推荐) → pinned, arcrank < 0
  (waiting for review, recycle bin) → draft, litpic → cover, body;
  other models (图集, 软件 …) are skipped and counted;
- old addresses: /plus/view.php?aid=ID, /plus/list.php?tid=ID, the type's
  folder (typedir) and the static page each post had, from namerule.

Encodings: old DedeCMS databases are GBK, UTF-8, or GBK/UTF-8 bytes in
columns labelled latin1 (written through a latin1 connection). Every text
column is read as raw bytes (CAST ... AS BINARY) and decoded by decode():
the declared charset first, then the others, keeping the reading with the
most plausible Chinese text; what decodes no way is reported.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from models import Status
from operations.importers.common import Import, Post, SourceError

SOURCE = "dedecms"
PREFIX_RE = re.compile(r"[A-Za-z0-9_]{0,32}")
BATCH = 200
ARTICLE_CHANNEL = 1  # DedeCMS's own article model; 2 is 图集, 3 软件 …
# Columns read when the table has them; the first ones of each are required.
ARCTYPE = (
    ("id", "reid", "typename", "typedir"),
    ("topid", "sortrank", "namerule", "defaultname", "ispart"),
)
ARCHIVES = (
    ("id", "typeid", "title", "pubdate"),
    (
        "channel",
        "flag",
        "arcrank",
        "click",
        "writer",
        "source",
        "litpic",
        "senddate",
        "description",
        "filename",
    ),
)
ADDON = (("aid", "body"), ())
DEFAULT_NAMERULE = "{typedir}/{Y}/{M}{D}/{aid}.html"
# Rules naming the page after the title in pinyin: not rebuilt here.
_PINYIN_RE = re.compile(r"\{(pinyin|py|cc)\}", re.IGNORECASE)


def decode(raw: bytes | None, declared: str | None) -> tuple[str, bool]:
    """Text from a column's raw bytes; False when no encoding fits.

    A UTF-8 or GBK column holds valid bytes of its charset (MySQL saw to
    that), but maybe mojibake: text once read as latin1 and stored again.
    A latin1 column holds whatever bytes the old site sent: GBK or UTF-8.
    """
    if raw is None:
        return "", True
    if isinstance(raw, str):
        return raw, True
    if raw.isascii():
        return raw.decode("ascii"), True
    declared = (declared or "").lower()
    if declared.startswith(("utf8", "utf-8")):
        order = ["utf-8"]
    elif declared.startswith(("gbk", "gb2312", "gb18030")):
        order = ["gb18030"]
    else:
        order = ["utf-8", "gb18030"]
    readings = []  # (plausibility, preference, text): the best one wins
    for encoding in order:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append((_plausibility(text), -len(readings), text))
        again = _as_latin1_bytes(text)
        for encoding2 in ("utf-8", "gb18030") if again else ():
            try:
                fixed = again.decode(encoding2)
            except UnicodeDecodeError:
                continue
            readings.append((_plausibility(fixed), -len(readings), fixed))
    if not readings:
        return raw.decode(order[-1], errors="replace"), False
    return max(readings)[2], True


def _plausibility(text: str) -> float:
    """The share of characters a Chinese school's page is made of."""
    good = sum(
        1
        for char in text
        if char.isascii()
        or "\u4e00" <= char <= "\u9fff"
        or "\u3000" <= char <= "\u303f"
        or "\uff00" <= char <= "\uffef"
        or char in "\u201c\u201d\u2018\u2019\u2026\u2014\u00b7"
    )
    return good / max(1, len(text))


def _as_latin1_bytes(text: str) -> bytes | None:
    """The bytes MySQL's latin1 (cp1252) would have read as text, or None."""
    if all(ord(char) < 128 for char in text):
        return None
    out = bytearray()
    for char in text:
        if ord(char) < 256 and not 0x80 <= ord(char) <= 0x9F:
            out.append(ord(char))
            continue
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) < 256:
                out.append(ord(char))  # the five bytes cp1252 leaves undefined
            else:
                return None
    return bytes(out)


def parse_db_url(url: str) -> dict:
    """mysql://USER:PASS@HOST[:PORT]/DB as pymysql.connect() arguments."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql") or not database:
        raise SourceError(
            "--db must look like mysql://USER:PASSWORD@HOST/DATABASE "
            "(mysql://USER:PASSWORD@HOST:3306/DATABASE for another port)."
        )
    try:
        port = parts.port or 3306
    except ValueError:
        raise SourceError("The port in --db is not a number.") from None
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": port,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": database,
    }


def connect(url: str):
    """A live connection to the old site's database (SourceError if none)."""
    import pymysql  # only the import command needs the driver

    args = parse_db_url(url)
    try:
        return pymysql.connect(
            **args,
            charset="utf8mb4",
            connect_timeout=10,
            read_timeout=120,
            autocommit=True,
        )
    except pymysql.MySQLError as error:
        message = error.args[1] if len(error.args) > 1 else str(error)
        raise SourceError(
            f"Cannot connect to the DedeCMS database {args['database']} on "
            f"{args['host']}:{args['port']} as {args['user']}: {message}"
        ) from None


class Database:
    """The DedeCMS tables of one prefix, read with every text column decoded."""

    def __init__(self, connection, prefix: str, report):
        if not PREFIX_RE.fullmatch(prefix):
            raise SourceError("--prefix may only hold letters, digits and _.")
        self.connection = connection
        self.prefix = prefix
        self.report = report
        self.columns = self._columns()
        for table in ("arctype", "archives", "addonarticle"):
            if self.table(table) not in self.columns:
                raise SourceError(
                    f"The database has no table {self.table(table)}: is this a "
                    f"DedeCMS database, and is its table prefix {prefix!r} "
                    "(--prefix)?"
                )
        self.config = self._config()

    def table(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _query(self, sql: str, args=()):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()

    def _columns(self) -> dict[str, dict[str, str | None]]:
        """table -> {column: declared charset (None for numbers)}."""
        tables: dict[str, dict[str, str | None]] = {}
        for table, column, charset in self._query(
            "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME"
            " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME LIKE %s",
            (self.prefix.replace("_", r"\_") + "%",),
        ):
            tables.setdefault(table, {})[column.lower()] = charset
        return tables

    def _select(self, table: str, wanted, alias: str) -> list[str]:
        """SELECT terms for the columns of table that exist, text as bytes."""
        required, optional = wanted
        have = self.columns[self.table(table)]
        missing = [c for c in required if c not in have]
        if missing:
            raise SourceError(
                f"{self.table(table)} has no column {', '.join(missing)}: "
                "not a DedeCMS table this import knows."
            )
        terms = []
        for column in (*required, *(c for c in optional if c in have)):
            name = f"{alias}.`{column}`"
            if have[column] is not None:
                name = f"CAST({name} AS BINARY)"
            terms.append(f"{name} AS `{alias}_{column}`")
        return terms

    def _decode_row(self, row: dict, where: str) -> dict:
        out = {}
        for key, value in row.items():
            alias, column = key.split("_", 1)
            table = {"t": "arctype", "a": "archives", "b": "addonarticle"}[alias]
            charset = self.columns[self.table(table)].get(column)
            if charset is None or value is None:
                out[column] = value
                continue
            text, ok = decode(value, charset)
            if not ok:
                self.report.undecodable.append(
                    f"{self.table(table)}.{column} of {where}: neither UTF-8 nor "
                    "GBK; kept with � where bytes did not decode"
                )
            out[column] = text
        return out

    def _config(self) -> dict[str, str]:
        config = {"cfg_basehost": "", "cfg_cmspath": "", "cfg_medias_dir": "/uploads"}
        if self.table("sysconfig") in self.columns:
            for name, value in self._query(
                "SELECT varname, CAST(value AS BINARY)"
                f" FROM `{self.table('sysconfig')}`"
                " WHERE varname IN ('cfg_basehost', 'cfg_cmspath', 'cfg_medias_dir')"
            ):
                config[name] = decode(value, "utf8")[0].strip()
        return config

    def types(self) -> list[dict]:
        import pymysql.cursors

        terms = ", ".join(self._select("arctype", ARCTYPE, "t"))
        with self.connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(
                f"SELECT {terms} FROM `{self.table('arctype')}` t ORDER BY t.id"
            )
            return [self._decode_row(r, f"type {r['t_id']}") for r in cursor]

    def count(self) -> int:
        return self._query(f"SELECT COUNT(*) FROM `{self.table('archives')}`")[0][0]

    def posts(self):
        """Every archive with its article body, in batches by id."""
        import pymysql.cursors

        terms = ", ".join(
            self._select("archives", ARCHIVES, "a")
            + self._select("addonarticle", ADDON, "b")
        )
        last = 0
        while True:
            with self.connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute(
                    f"SELECT {terms} FROM `{self.table('archives')}` a"
                    f" LEFT JOIN `{self.table('addonarticle')}` b ON b.aid = a.id"
                    " WHERE a.id > %s ORDER BY a.id LIMIT %s",
                    (last, BATCH),
                )
                rows = cursor.fetchall()
            if not rows:
                return
            for row in rows:
                yield self._decode_row(row, f"archive {row['a_id']}")
            last = rows[-1]["a_id"]


def site_of(database: Database, database_name: str) -> str:
    """The old site as the origin keys name it."""
    host = urlsplit(database.config["cfg_basehost"]).hostname
    return f"{host or database_name}/{database.prefix}"


def import_database(
    database: Database, imp: Import, timezone: ZoneInfo, on_post=lambda: None
) -> None:
    sections, typedirs, namerules = _import_types(database, imp)
    skipped_rules = set()
    for row in database.posts():
        aid = row["id"]
        label = f"archive {aid} «{(row.get('title') or '')[:30]}»"
        channel = row.get("channel", ARTICLE_CHANNEL)
        if channel != ARTICLE_CHANNEL:
            imp.skip_post(f"not an article (DedeCMS model {channel})")
            on_post()
            continue
        section = sections.get(row["typeid"])
        if section is None:
            imp.skip_post("its type (arctype) does not exist")
            on_post()
            continue
        old = [f"/plus/view.php?aid={aid}"]
        static = _static_path(row, typedirs, namerules, timezone)
        if static is not None:
            old.append(static)
        elif _PINYIN_RE.search(namerules.get(row["typeid"]) or ""):
            skipped_rules.add(namerules[row["typeid"]])
        flags = {f.strip() for f in (row.get("flag") or "").split(",")}
        imp.post(
            Post(
                key=f"archive:{aid}",
                title=(row.get("title") or "").strip(),
                body_html=row.get("body") or "",
                section=section,
                status=Status.DRAFT
                if (row.get("arcrank") or 0) < 0
                else Status.PUBLISHED,
                published_at=_utc(row.get("pubdate") or row.get("senddate")),
                summary=row.get("description") or None,
                author_name=row.get("writer") or "",
                source=row.get("source") or None,
                pinned=bool(flags & {"h", "c"}),
                views=max(0, row.get("click") or 0),
                cover_ref=row.get("litpic") or None,
                old_urls=old,
                label=label,
            )
        )
        on_post()
    for rule in sorted(r for r in skipped_rules if r):
        imp.report.notes.append(
            f"Static addresses from the rule {rule} were not kept (they hold "
            "the title in pinyin or a DedeCMS hash); /plus/view.php?aid= "
            "addresses still work."
        )


def _import_types(database: Database, imp: Import):
    """Types as channels and sections; returns {type id: Section}, the
    typedirs and the naming rules."""
    types = {row["id"]: row for row in database.types()}
    cmspath = database.config["cfg_cmspath"].rstrip("/")

    def chain(row) -> list[dict]:
        seen = [row]
        while seen[0]["reid"] in types and types[seen[0]["reid"]] not in seen:
            seen.insert(0, types[seen[0]["reid"]])
        return seen

    sections, typedirs, namerules = {}, {}, {}
    for row in sorted(
        types.values(), key=lambda r: (len(chain(r)), r.get("sortrank", 0), r["id"])
    ):
        tid = row["id"]
        typedir = (row.get("typedir") or "").replace("{cmspath}", cmspath).strip()
        typedirs[tid] = typedir
        namerules[tid] = (row.get("namerule") or DEFAULT_NAMERULE).strip()
        old = [f"/plus/list.php?tid={tid}"]
        if typedir and "://" not in typedir:
            old += [
                typedir + "/",
                f"{typedir}/{row.get('defaultname') or 'index.html'}",
            ]
        path = chain(row)
        if len(path) > 2:
            section = sections[path[1]["id"]]
            imp.fold("section", f"type:{tid}", section, old)
        else:
            section = imp.section(
                f"type:{tid}",
                row.get("typename") or "",
                sections[path[0]["id"]] if len(path) > 1 else None,
                typedir.rstrip("/").rsplit("/", 1)[-1],
                f"dede-{tid}",
                position=row.get("sortrank") or 0,
                old_urls=old,
            )
        sections[tid] = section
    return sections, typedirs, namerules


def _utc(timestamp) -> datetime | None:
    if not timestamp or timestamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):  # a broken row's year 300000
        return None


def _static_path(row, typedirs, namerules, timezone: ZoneInfo) -> str | None:
    """The static page DedeCMS generated for the post (its namerule)."""
    rule = namerules.get(row["typeid"]) or DEFAULT_NAMERULE
    typedir = typedirs.get(row["typeid"], "")
    if "://" in typedir:
        return None
    if row.get("filename"):
        rule = rule.rsplit("/", 1)[0] + f"/{row['filename']}.html"
    elif _PINYIN_RE.search(rule):
        return None
    try:
        when = datetime.fromtimestamp(
            row.get("senddate") or row.get("pubdate") or 0, timezone
        )
    except (ValueError, OverflowError, OSError):
        return None
    values = {
        "typedir": typedir,
        "y": f"{when.year:04d}",
        "m": f"{when.month:02d}",
        "d": f"{when.day:02d}",
        "timestamp": str(int(when.timestamp())),
        "aid": str(row["id"]),
    }
    return re.sub(
        r"\{(\w+)\}",
        lambda m: values.get(m.group(1).lower(), m.group(0)),
        rule,
    )
