"""Plumbing every part of SchoolNews uses: translations and formats, the
site's calendar, security headers, permissions, the site's settings and
address, the audit log, notifications, error pages, paging and downloads,
static assets, the hot-path connection and the slow lane. Imports no part's
package (import-linter checks it)."""
