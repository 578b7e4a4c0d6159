"""What the page cache (reader/pagecache.py) and the rest of the app tell each
other through a request: kept here so core's modules can read them without
importing the reader's package."""

# Set by the reader's views, never sent out:
# "<version> <article id or 0> <views at render> <cacheable 0/1>".
# Responses that carry it are compressed by the page cache, not by assets.py.
PAGE_HEADER = "X-SchoolNews-Page"
# The version the middleware already read for this request (saves a query).
VERSION_KEY = "schoolnews.cache_version"
