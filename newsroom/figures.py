"""Keep photo blocks flat: a figure holds one photo and its caption, a photo
grid holds figures, and nothing else lives inside either.

Until issue 21 the editor left the cursor inside a figure after inserting a
photo, so the next photo and the next paragraph went inside it: stored bodies
hold `<figure>…<figure>…<p>…</p></figure></figure>`. sanitize.clean_html()
calls normalise() on every body it cleans, so such a body (and a paste or an
import of one) is saved as sibling figures and paragraphs.

The photo is an <img>, or an <img> alone inside a link (tap to see the full
size). Works on the ElementTree fragment that html5lib builds, after the
sanitizer's tree rewrite and before its allowlist filter.
"""

from __future__ import annotations

from xml.etree import ElementTree

# The grid layouts the editor offers (static/css/body.css styles them): the
# only class values a body may carry.
GRID_CLASSES = frozenset({"photo-grid-2", "photo-grid-3"})

# Content that may sit inside a paragraph; anything else moved out of a
# figure is a block and moves out as it is.
_INLINE = frozenset(
    {
        "a", "span", "strong", "b", "em", "i", "u", "s", "sub", "sup", "mark",
        "code", "br", "img",
    }
)  # fmt: skip
# Wrappers that may hold the photo alone (a Word or web paste's <p><img></p>).
_PHOTO_WRAPPERS = frozenset({"p", "span", "div"})


def grid_class(element) -> str | None:
    """The element's photo grid class if it is a grid, else None."""
    if element.tag != "div":
        return None
    value = " ".join((element.get("class") or "").split())
    return value if value in GRID_CLASSES else None


def normalise(root) -> None:
    """Flatten nested figures and grids in the fragment root, in place."""
    parents = {child: parent for parent in root.iter() for child in parent}
    # Document order: an outer block is handled before what it held, and
    # whatever it moves out comes later in this list, so it is handled too.
    for element in list(root.iter()):
        if element not in parents:
            continue  # removed meanwhile, or the root
        if grid_class(element):
            element.set("class", grid_class(element))
            _normalise_grid(element, parents)
        elif element.tag == "figure":
            _normalise_figure(element, parents)
        elif element.tag == "div" and "class" in element.attrib:
            del element.attrib["class"]
    for grid in [e for e in root.iter() if grid_class(e)]:
        if not any(child.tag == "figure" for child in grid) and grid in parents:
            _replace(grid, [], parents)
    # A caption outside a figure (pasted, or left by the above) is text.
    for parent in list(root.iter()):
        for child in parent:
            if child.tag == "figcaption" and parent.tag != "figure":
                _make_paragraph(child)


def _make_paragraph(element):
    element.tag = "div" if _holds_block(element) else "p"


class _Mover:
    """Places nodes taken out of a block: before it, or after it in order."""

    def __init__(self, anchor, parents):
        self.anchor = anchor
        self.parents = parents
        self.last = anchor  # the node after which the next "after" goes

    def before(self, node):
        parent = self.parents[self.anchor]
        parent.insert(list(parent).index(self.anchor), node)
        self.parents[node] = parent

    def after(self, node):
        parent = self.parents[self.anchor]
        parent.insert(list(parent).index(self.last) + 1, node)
        self.parents[node] = parent
        # Text that followed the block follows what was put after it.
        node.tail, self.last.tail = self.last.tail, None
        self.last = node


def _take_children(element) -> list:
    """Empty element; return its content as a list of strings and elements."""
    items = [element.text] if element.text else []
    for child in list(element):
        items.append(child)
        if child.tail:
            items.append(child.tail)
        child.tail = None
        element.remove(child)
    element.text = None
    return items


def _photo(node):
    """node as a figure's photo (img, or link around an img), or None."""
    if node.tag == "img":
        return node
    if node.tag == "a" or node.tag in _PHOTO_WRAPPERS:
        children = list(node)
        text = (node.text or "") + "".join(c.tail or "" for c in children)
        if len(children) != 1 or text.strip():
            return None
        inner = children[0]
        if node.tag == "a":
            return node if inner.tag == "img" else None
        inner.tail = None
        return _photo(inner)  # <p><img></p> or <p><a><img></a></p>
    return None


class _Paragraphs:
    """Collects inline content found directly in a block into paragraphs."""

    def __init__(self, place):
        self.place = place  # called with each finished paragraph
        self.current = None

    def add(self, item):
        if self.current is None:
            if isinstance(item, str) and not item.strip():
                return  # whitespace between blocks
            self.current = ElementTree.Element("p")
        p = self.current
        if isinstance(item, str):
            if len(p):
                p[-1].tail = (p[-1].tail or "") + item
            else:
                p.text = (p.text or "") + item
        else:
            p.append(item)

    def close(self):
        p, self.current = self.current, None
        if p is None:
            return
        text = "".join(p.itertext()).strip()
        if text or any(e.tag == "img" for e in p.iter()):
            p.text = (p.text or "").lstrip() or None
            self.place(p)


def _normalise_figure(figure, parents):
    parent = parents[figure]
    in_grid = grid_class(parent) is not None
    mover = _Mover(parent if in_grid else figure, parents)
    photo = caption = None

    def place(node):
        # Before the photo: before the figure; after it: after the figure.
        # Inside a grid everything goes after the grid.
        if photo is None and not in_grid:
            mover.before(node)
        else:
            mover.after(node)

    paragraphs = _Paragraphs(place)
    for item in _take_children(figure):
        if isinstance(item, str):
            paragraphs.add(item)
            continue
        found = _photo(item)
        if found is not None and photo is None:
            paragraphs.close()
            photo = found
        elif found is not None:
            # A second photo gets a figure of its own.
            paragraphs.close()
            place(_figure_of(found, parents))
        elif item.tag == "figcaption" and caption is None:
            paragraphs.close()
            caption = item
            for block in _blocks_out_of_caption(caption):
                place(block)
        elif item.tag == "figcaption":
            _make_paragraph(item)
            paragraphs.close()
            place(item)
        elif item.tag in _INLINE and not _holds_block(item):
            paragraphs.add(item)
        else:
            paragraphs.close()
            place(item)
    paragraphs.close()
    if photo is None:
        # Nothing to show as a photo: the caption is a paragraph like the
        # rest, where the figure was (after the grid, in a grid).
        if caption is not None and "".join(caption.itertext()).strip():
            _make_paragraph(caption)
            place(caption)
        _replace(figure, [], parents)
        return
    figure.append(photo)
    parents[photo] = figure
    if caption is not None and (len(caption) or (caption.text or "").strip()):
        figure.append(caption)
        parents[caption] = figure


def _figure_of(photo, parents):
    figure = ElementTree.Element("figure")
    figure.append(photo)
    parents[photo] = figure
    return figure


def _blocks_out_of_caption(caption):
    """A caption is one line of text: blocks typed into it leave it."""
    first = caption[0] if len(caption) else None
    if (
        first is not None
        and first.tag in ("p", "div")
        and not (caption.text or "").strip()
        and not _holds_block(first)
    ):
        # <figcaption><p>说明</p></figcaption>: the paragraph is the caption.
        tail = first.tail
        caption.remove(first)
        caption.text = (caption.text or "").strip() + (first.text or "") or None
        children = list(first)
        for offset, child in enumerate(children):
            caption.insert(offset, child)
        if tail and children:
            children[-1].tail = (children[-1].tail or "") + tail
        elif tail:
            caption.text = (caption.text or "") + tail
    blocks = []
    for child in list(caption):
        photo = _photo(child)
        if photo is not None or child.tag not in _INLINE or _holds_block(child):
            tail = child.tail
            child.tail = None
            index = list(caption).index(child)
            caption.remove(child)
            if tail:
                if index:
                    caption[index - 1].tail = (caption[index - 1].tail or "") + tail
                else:
                    caption.text = (caption.text or "") + tail
            # A photo in a caption is a photo of its own.
            blocks.append(child if photo is None else _figure_of(photo, {}))
    return blocks


def _holds_block(element) -> bool:
    return any(e.tag not in _INLINE for e in element.iter() if e is not element)


def _normalise_grid(grid, parents):
    mover = _Mover(grid, parents)
    paragraphs = _Paragraphs(mover.after)
    kept = []
    for item in _take_children(grid):
        if isinstance(item, str):
            paragraphs.add(item)
            continue
        photo = _photo(item)
        if item.tag == "figure":
            kept.append(item)
        elif photo is not None:
            figure = ElementTree.Element("figure")
            figure.append(photo)
            parents[photo] = figure
            kept.append(figure)
        elif grid_class(item):
            # A grid inside a grid: its photos join this one.
            for inner in _take_children(item):
                if not isinstance(inner, str) and inner.tag == "figure":
                    kept.append(inner)
                elif not isinstance(inner, str):
                    mover.after(inner)
            parents.pop(item, None)
        elif item.tag in _INLINE and not _holds_block(item):
            paragraphs.add(item)
        else:
            paragraphs.close()
            mover.after(item)
    paragraphs.close()
    for figure in kept:
        grid.append(figure)
        parents[figure] = grid


def _replace(element, nodes, parents):
    """Remove element from its parent, keeping the text that followed it."""
    parent = parents.pop(element)
    index = list(parent).index(element)
    tail = element.tail
    parent.remove(element)
    for offset, node in enumerate(nodes):
        parent.insert(index + offset, node)
        parents[node] = parent
    if tail:
        if index:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
