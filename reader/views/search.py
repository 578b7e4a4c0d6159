"""Blueprint "search": /search?q=… over readers' posts (see search.py).

Not kept by the page cache (q is not a cacheable argument); a page runs a
fixed number of statements: the ranked page of ids with their text, the
articles, and the total, which is counted once per content version.
"""

from collections import OrderedDict

from flask import Blueprint, abort, current_app, g, render_template, request

from core import sitedata
from core.paging import GivenPage, page_number
from models import db
from reader import listings, pages, search

bp = Blueprint("search", __name__)
bp.before_request(pages.read_cache_version)

# Only the newest this many matches are ranked (search.CANDIDATES): a word
# in 50,000 posts is counted and paged up to here ("more than 1,000").
COUNT_LIMIT = search.CANDIDATES
# Totals remembered per content version and process.
COUNT_CACHE_SIZE = 256


def _filter_section(slug: str | None):
    """The section or channel chosen in the filter, or None for all."""
    if not slug:
        return None
    return sitedata.current().by_slug.get(slug)


def _sections(section) -> list[int] | None:
    """The section ids a filter covers: a channel holds its sub-sections' posts."""
    if section is None:
        return None
    return [section.id, *(child.id for child in section.children)]


def _total(query: search.Query, section) -> int:
    key = (query.match(), section.id if section else None)
    version, totals = current_app.extensions.get("search_totals", (None, None))
    if version != g.cache_version:
        totals = OrderedDict()
        current_app.extensions["search_totals"] = (g.cache_version, totals)
    if key in totals:
        totals.move_to_end(key)
        return totals[key]
    total = search.count(
        db.session, query, limit=COUNT_LIMIT + 1, sections=_sections(section)
    )
    totals[key] = total
    while len(totals) > COUNT_CACHE_SIZE:
        totals.popitem(last=False)
    return total


@bp.get("/search")
def results():
    query = search.parse(request.args.get("q"))
    section = _filter_section(request.args.get("section"))
    number = page_number()
    per_page = current_app.config["ARTICLES_PER_PAGE"]
    hits, total = [], 0
    if query:
        total = _total(query, section)
        last_page = max(1, -(-min(total, COUNT_LIMIT) // per_page))
        if number > last_page:
            abort(404)
        hits = search.search(
            db.session,
            query,
            offset=(number - 1) * per_page,
            limit=per_page,
            sections=_sections(section),
        )
    articles = listings.load_articles(hit.id for hit in hits)
    texts = {hit.id: hit.text for hit in hits}
    results = [
        (article, search.highlight(article.title, query))
        + search.result_text(texts[article.id], query)
        for article in articles
    ]
    page = GivenPage(number, per_page, results, min(total, COUNT_LIMIT))
    return render_template(
        "reader/search.html",
        query=query,
        q=query.text,
        section=section,
        page=page,
        total=total,
        more=total > COUNT_LIMIT,
        count_limit=COUNT_LIMIT,
    )
