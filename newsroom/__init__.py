"""Where teachers write: the editor, posts and their revisions and trash, the
sanitizer every stored body passes, uploads with their storage, thumbnails
and pictures, Word import, fetching remote images, the editor's strings."""
