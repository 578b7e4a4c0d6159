"""QR codes of page addresses as SVG, for sharing from a desktop screen to a phone.

segno is pure Python (no C library to install on a school's Windows PC) and
writes compact SVG: one path of horizontal runs.
"""

import io

# The quiet zone the QR standard asks for, so any phone camera finds the code.
QUIET_ZONE = 4


def qr_svg(text: str, title: str = "") -> bytes:
    """An SVG QR code of text, scalable (viewBox only), black on white."""
    import segno  # about 1 MB: loaded by the first QR code a process draws

    # "m" recovers from 15 % damage; segno raises the level when the
    # symbol has room to spare at no extra size.
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        border=QUIET_ZONE,
        omitsize=True,
        xmldecl=False,
        dark="#000",
        light="#fff",
        title=title or None,
        svgclass=None,
        lineclass=None,
    )
    return out.getvalue()
