"""Jodit's strings that its own Chinese catalogue lacks or gets wrong, through gettext.

Jodit looks its interface strings up by their English text; the editor page
hands it {English: translation} for the UI language (static/js/editor.js passes
it as Jodit's i18n option), so these live in the site's catalogues like every
other visible string and follow the language the user chose.
"""

from __future__ import annotations

from flask_babel import gettext


def N_(msgid: str) -> str:
    """Mark msgid for extraction; translated when the page is rendered."""
    return msgid


JODIT_STRINGS = (
    # The image properties dialog and the image button's URL tab.
    N_("Src"),
    N_("Title"),
    N_("Alternative"),
    N_("Alternative text"),
    N_("Link"),
    N_("URL"),
    N_("Image properties"),
    N_("Advanced"),
    # Jodit's own Chinese reads «线高» (wire height).
    N_("Line height"),
    # The hover button that adds a paragraph before or after a table or image.
    N_("Break"),
    # The site's own controls (static/js/editor.js).
    N_("Highlight"),
    N_("Header row"),
)


def jodit_strings() -> dict[str, str]:
    return {msgid: gettext(msgid) for msgid in JODIT_STRINGS}
