"""Plug newsroom/doctext.py into the compliance check: review sits below
newsroom and cannot import it, so the check asks this reader for the text of
each attachment (read once, then kept beside the upload)."""

import newsroom.doctext as doctext
from review import compliance


def attachment_text(upload) -> compliance.AttachmentText:
    """An Upload row's name and text for the check."""
    text = doctext.text_for(upload)
    return compliance.AttachmentText(
        name=upload.original_name,
        segments=text.segments,
        problem=text.problem,
        truncated=text.truncated,
    )


compliance.read_attachments_with(attachment_text)
