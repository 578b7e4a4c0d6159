"""Plug newsroom/doctext.py into the compliance check: review sits below
newsroom and cannot import it, so the check asks this reader for the text of
each attachment (read once, then kept beside the upload)."""

from newsroom import sandbox
from review import compliance

# The reader itself is imported by the sandbox's fork server.
sandbox.preload("newsroom.doctext")


def attachment_text(upload) -> compliance.AttachmentText:
    """An Upload row's name and text for the check."""
    # Imported on the first check, not by every server process (nor by the
    # readers' pages, which never check).
    from newsroom import doctext

    text = doctext.text_for(upload)
    return compliance.AttachmentText(
        name=upload.original_name,
        segments=text.segments,
        problem=text.problem,
        truncated=text.truncated,
    )


compliance.read_attachments_with(attachment_text)
