"""The ?page=N parameter, shared by every paginated list."""

from flask import abort, request

from models import parse_id

# Larger page numbers cannot exist and would overflow SQLite's integers.
MAX_PAGE = 100_000


def page_number() -> int:
    """?page=N; anything that is not a page that could exist is a 404."""
    number = parse_id(request.args.get("page", "1"))
    if number is None or number > MAX_PAGE:
        abort(404)
    return number
