"""The reader's blueprints: public pages, search, feeds, old links."""
