"""What makes a response a reader's page for the page cache: the content
version read before anything else, and the header that marks the page
(reader/pagecache.py keeps what carries it). Each reader's blueprint
registers read_cache_version and mark_cacheable."""

from flask import g, request

from core import sitedata
from core.pagemarks import PAGE_HEADER

# Query arguments a cached page may vary by; any other makes it uncached.
CACHEABLE_ARGS = {"page", "lang"}


def read_cache_version():
    # Read before anything else on the page: a change committed while the
    # page renders moves the version on, so the page is never kept as current.
    # Sets g.cache_version (unless the host check already read it).
    sitedata.current()


def mark_cacheable(response):
    if response.status_code == 200 and request.endpoint in PAGE_ENDPOINTS:
        cacheable = CACHEABLE_ARGS.issuperset(request.args.keys())
        response.headers[PAGE_HEADER] = " ".join(
            str(value)
            for value in (
                g.cache_version,
                g.get("page_article_id", 0),
                g.get("page_views", 0),
                int(cacheable),
            )
        )
        response.headers["Cache-Control"] = "no-cache"
    return response


PAGE_ENDPOINTS = {
    "public.home",
    "public.section",
    "public.article",
    "previews.attachment",
    "feeds.site_feed",
    "feeds.section_feed",
    "feeds.sitemap",
    "feeds.sitemap_page",
    "feeds.robots",
}
