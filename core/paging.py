"""The ?page=N parameter, shared by every paginated list."""

from flask import abort, current_app, request
from flask_sqlalchemy.pagination import Pagination

from models import db, parse_id

# Larger page numbers cannot exist and would overflow SQLite's integers.
MAX_PAGE = 100_000


def page_number() -> int:
    """?page=N; anything that is not a page that could exist is a 404."""
    number = parse_id(request.args.get("page", "1"))
    if number is None or number > MAX_PAGE:
        abort(404)
    return number


def paginate(select, per_page: int | None = None, **kwargs) -> Pagination:
    """The ?page=N page of a select; ARTICLES_PER_PAGE rows unless told."""
    return db.paginate(
        select,
        page=page_number(),
        per_page=per_page or current_app.config["ARTICLES_PER_PAGE"],
        error_out=True,
        **kwargs,
    )


class GivenPage(Pagination):
    """A page whose items and total were found some other way (search)."""

    def __init__(self, page: int, per_page: int, items: list, total: int):
        self._given = items
        super().__init__(page=page, per_page=per_page, error_out=False, count=False)
        self.total = total

    def _query_items(self) -> list:
        return self._given

    def _query_count(self) -> int:
        return self.total or 0
