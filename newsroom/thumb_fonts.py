"""Find a font with Chinese characters for the drawn attachment thumbnails.

No font is shipped with the site: the thumbnails of Word files and sheets
(preview_thumbs.py) use one the system has, found in the usual places of
Noto Sans CJK (Debian and Ubuntu's fonts-noto-cjk, Fedora, Arch), Source Han
Sans, WenQuanYi, Droid Sans Fallback, or Windows' and macOS's own, then by
name anywhere under the system's font folders. A font is used only if it
really draws 中 (not the empty box of a missing glyph). Without one there is
no drawn thumbnail: the list shows the generic icon instead of boxes.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple

# (regular, bold or "") in order of preference. Bold is optional: a title is
# then drawn with a stroke instead.
KNOWN = [
    (f"{base}/NotoSansCJK-Regular.ttc", f"{base}/NotoSansCJK-Bold.ttc")
    for base in (
        "/usr/share/fonts/opentype/noto",  # Debian, Ubuntu: fonts-noto-cjk
        "/usr/share/fonts/noto-cjk",  # Arch: noto-fonts-cjk
        "/usr/share/fonts/google-noto-cjk",  # Fedora (older)
        "/usr/share/fonts/google-noto-sans-cjk-vf-fonts",
        "/usr/share/fonts/google-noto-sans-cjk-fonts",  # Fedora
        "/usr/share/fonts/opentype/noto-cjk",
    )
] + [
    ("/usr/share/fonts/adobe-source-han-sans/SourceHanSans.ttc", ""),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", ""),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", ""),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", ""),
    ("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc", ""),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", ""),
    ("C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/msyhbd.ttc"),
    ("C:/Windows/Fonts/simhei.ttf", ""),
    ("/System/Library/Fonts/PingFang.ttc", ""),
    ("/System/Library/Fonts/STHeiti Medium.ttc", ""),
]

FOLDERS = ["/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts"]
# Lower-case parts of file names of fonts with Chinese characters.
NAME_HINTS = ("cjk", "sourcehan", "wqy", "droidsansfallback", "notosanssc", "simhei")


class Fonts(NamedTuple):
    regular: str
    index: int  # the face inside a .ttc collection
    bold: str  # "" when there is none


def find(paths: list[str] | None = None) -> Fonts | None:
    """The first font that draws Chinese: from paths if given (the
    PREVIEW_FONTS setting; [] means none), else from the known places."""
    if paths is not None:
        candidates = [(p, "") for p in paths]
    else:
        candidates = KNOWN + [(p, "") for p in _by_name()]
    for regular, bold in candidates:
        index = _simplified_face(regular)
        if index is not None:
            if not bold or _simplified_face(bold) is None:
                bold = ""
            return Fonts(regular, index, bold)
    return None


def load(fonts: Fonts, size: int, bold: bool = False):
    from PIL import ImageFont

    path = fonts.bold if bold and fonts.bold else fonts.regular
    return ImageFont.truetype(path, size, index=fonts.index)


def _by_name() -> list[str]:
    found = []
    for folder in FOLDERS:
        root = Path(os.path.expanduser(folder))
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            name = path.name.lower()
            if (
                name.endswith((".ttc", ".otf", ".ttf"))
                and any(hint in name for hint in NAME_HINTS)
                and "bold" not in name
            ):
                found.append(str(path))
    return found


@functools.cache
def _simplified_face(path: str) -> int | None:
    """Which face of the file to use (a collection's Simplified Chinese
    one, else its first), or None if it cannot draw Chinese."""
    from PIL import ImageFont

    if not os.path.isfile(path):
        return None
    faces = []
    for index in range(12):  # Noto Sans CJK's collection has 10
        try:
            font = ImageFont.truetype(path, 24, index=index)
        except OSError:
            break
        faces.append((index, " ".join(font.getname())))
    for index, name in faces:
        if " SC" in name or "Simplified" in name or " GB" in name:
            return index if _draws_chinese(path, index) else None
    if faces and _draws_chinese(path, faces[0][0]):
        return faces[0][0]
    return None


def _draws_chinese(path: str, index: int) -> bool:
    # A font without a character draws its .notdef glyph: the same picture
    # as for a code point no font has.
    from PIL import ImageFont

    font = ImageFont.truetype(path, 24, index=index)
    han = font.getmask("中")
    missing = font.getmask("\U000f0000")  # Supplementary Private Use Area-A
    return han.getbbox() is not None and (
        han.size != missing.size or bytes(han) != bytes(missing)
    )
