"""Old sites' addresses (models.LegacyUrl): one spelling for each, and lookups.

WordPress answers `/?p=12` and `/index.php?p=12` alike, both with any number
of tracking arguments; DedeCMS servers were often IIS, which ignores case. So
an address is kept as its decoded, lower-case path without a trailing slash,
plus only the query arguments that name an item on those sites.
"""

from urllib.parse import parse_qsl, unquote, urlsplit

import sqlalchemy as sa

from models import LegacyUrl, db

# The arguments that identify a post, page, category or file on the old sites.
ID_ARGS = ("p", "page_id", "cat", "aid", "tid")
# The home page answers these only by redirecting (reader/views/legacy.py).
HOME_ARGS = frozenset({"p", "page_id", "cat"})
MAX_LENGTH = 500  # LegacyUrl.path


def normalise(path: str, args=()) -> str:
    """The stored spelling of a path (decoded or not) and its query arguments.

    args is a mapping or a list of (name, value) pairs.
    """
    path = unquote(path or "/").strip().lower()
    while "//" in path:
        path = path.replace("//", "/")
    if not path.startswith("/"):
        path = "/" + path
    if path.endswith("/index.php"):
        path = path[: -len("index.php")]
    path = path.rstrip("/") or "/"
    pairs = args.items() if hasattr(args, "items") else args
    kept = sorted((name, value.strip()) for name, value in pairs if name in ID_ARGS)
    query = "&".join(f"{name}={value}" for name, value in kept)
    return f"{path}?{query}" if query else path


def normalise_url(url: str) -> str:
    """normalise() of a full or relative URL as an old site printed it."""
    parts = urlsplit(url.strip())
    return normalise(parts.path, parse_qsl(parts.query))


def remember(path: str, target_type: str, target_id: int, source: str) -> bool:
    """Send the old address path (normalised) to the target from now on.

    False if another import already sends it elsewhere: the first keeps it.
    """
    if target_type not in LegacyUrl.TARGET_TYPES:
        raise ValueError(target_type)
    if len(path) > MAX_LENGTH:
        return False
    row = db.session.scalar(sa.select(LegacyUrl).where(LegacyUrl.path == path))
    if row is None:
        db.session.add(
            LegacyUrl(
                path=path,
                target_type=target_type,
                target_id=target_id,
                source=source,
            )
        )
        return True
    if row.source != source and (row.target_type, row.target_id) != (
        target_type,
        target_id,
    ):
        return False
    row.target_type, row.target_id = target_type, target_id
    return True


def find(path: str) -> LegacyUrl | None:
    if len(path) > MAX_LENGTH:
        return None
    return db.session.scalar(sa.select(LegacyUrl).where(LegacyUrl.path == path))
