"""Where teachers write: the editor, posts and their revisions and trash, the
sanitizer every stored body passes, uploads with their storage, thumbnails
and pictures, Word import, fetching remote images, the editor's strings."""

# The ORM events that keep a post's derived columns (excerpt, channel, picture)
# must be in place wherever posts are written.
from newsroom import derived  # noqa: E402, F401
