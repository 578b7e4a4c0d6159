"""What changed between two versions of a post, for reviewers (审核 with 修订对比).

Paragraph by paragraph on the plain text; a changed paragraph is compared
character by character, since a Chinese correction is often one character.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from review.compliance import html_to_text


@dataclass
class Line:
    kind: str  # "same", "added", "removed" or "changed"
    # (tag, text) pieces: tag is "same", "ins" or "del"
    parts: list[tuple[str, str]]


def paragraphs(title: str, summary: str | None, body_html: str) -> list[str]:
    lines = [title or "", *(summary or "").splitlines()]
    lines += html_to_text(body_html or "").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _inline(old: str, new: str) -> list[tuple[str, str]]:
    parts = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("same", old[i1:i2]))
            continue
        if i2 > i1:
            parts.append(("del", old[i1:i2]))
        if j2 > j1:
            parts.append(("ins", new[j1:j2]))
    return parts


def _similar(old: str, new: str) -> bool:
    return difflib.SequenceMatcher(None, old, new, autojunk=False).ratio() >= 0.5


def diff(old: list[str], new: list[str]) -> list[Line]:
    lines = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [Line("same", [("same", text)]) for text in new[j1:j2]]
            continue
        removed, added = old[i1:i2], new[j1:j2]
        # Paragraphs replaced one for one are shown with their changed
        # characters, unless they have too little in common to read that way.
        paired = min(len(removed), len(added)) if tag == "replace" else 0
        for before, after in zip(removed[:paired], added[:paired], strict=True):
            if _similar(before, after):
                lines.append(Line("changed", _inline(before, after)))
            else:
                lines += [
                    Line("removed", [("del", before)]),
                    Line("added", [("ins", after)]),
                ]
        lines += [Line("removed", [("del", text)]) for text in removed[paired:]]
        lines += [Line("added", [("ins", text)]) for text in added[paired:]]
    return lines


def changed(lines: list[Line]) -> bool:
    return any(line.kind != "same" for line in lines)
