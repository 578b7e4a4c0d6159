"""Where teachers write: the editor, posts and their revisions and trash, the
sanitizer every stored body passes, uploads with their storage, thumbnails
and pictures, Word import, fetching remote images, the editor's strings."""

# Wherever posts are written or checked: the ORM events that keep a post's
# derived columns (excerpt, channel, picture), and the compliance check's
# reader of attachments' text (newsroom/doctext.py).
from newsroom import attachment_check, derived  # noqa: E402, F401
