"""Plumbing every part of SchoolNews uses: translations, security headers,
permissions, the site's settings and address, the audit log, notifications,
error pages and paging, static assets, the hot-path connection and the slow lane.
Depends only on models; no part's package is imported from here."""
