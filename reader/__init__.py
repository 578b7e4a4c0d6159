"""What readers see: home, section and article pages, search, feeds and
sitemaps, the page cache with its content version, view counting, QR codes
and redirects from an imported site's old addresses."""
