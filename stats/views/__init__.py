"""The statistics blueprint: the site's figures and a post's views."""
