"""Import a WordPress export (WXR, Tools > Export): categories, posts, pages.

The file is parsed completely, with defusedxml (no entity declarations, no
external references, no DTD fetching), before anything is written: a hostile
or broken file imports nothing.

What maps to what:
- a top-level category is a channel, its children sections; deeper levels
  are filed into their level-2 ancestor; pages go to a channel «页面»;
- publish → published, future → scheduled, pending → waiting for review,
  draft and private → draft; trash, auto-drafts and revisions are skipped;
- the author's display name becomes the byline (author_name): no accounts
  are made (see README, «从旧网站迁移»);
- post_date_gmt is stored as is (UTC); without it (drafts) post_date is read
  in the site's time zone;
- sticky → pinned; the featured image (_thumbnail_id) → cover; a view count
  kept by WP-PostViews or a similar plugin → views;
- old addresses: /?p=ID, /?page_id=ID, /?cat=ID, /category/<slug>/ and the
  post's own permalink (<link>).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from models import Status
from operations.importers.common import Import, Post, SourceError

SOURCE = "wordpress"
UPLOAD_PREFIXES = ("/wp-content/uploads/",)
STATUSES = {
    "publish": Status.PUBLISHED,
    "future": Status.PUBLISHED,  # a future date makes it scheduled
    "pending": Status.PENDING,
    "draft": Status.DRAFT,
    "private": Status.DRAFT,
}
# Meta keys under which view-count plugins keep their number.
VIEW_KEYS = ("views", "post_views_count", "pvc_views", "_post_views")
PAGES_CHANNEL = "页面"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"


@dataclass
class Category:
    term_id: str
    slug: str
    parent_slug: str
    name: str


@dataclass
class Item:
    post_id: str
    post_type: str
    status: str
    title: str
    link: str
    creator: str
    content: str
    excerpt: str
    date_local: str
    date_gmt: str
    slug: str
    sticky: bool
    categories: list[str]  # category slugs, in the export's order
    meta: dict[str, str]
    attachment_url: str


@dataclass
class Export:
    base_url: str
    hosts: set[str]
    authors: dict[str, str]  # login -> display name
    categories: list[Category]
    items: list[Item] = field(default_factory=list)

    @property
    def site(self) -> str:
        """The old site as the origin keys name it: host and path, no scheme."""
        parts = urlsplit(self.base_url)
        return f"{parts.netloc.lower()}{parts.path.rstrip('/')}"

    def posts(self) -> list[Item]:
        return [item for item in self.items if item.post_type in ("post", "page")]


def load(path: Path) -> Export:
    """Parse an export file; SourceError with a clear message if it is not one."""
    try:
        tree = parse(str(path), forbid_dtd=True)
    except DefusedXmlException as error:
        raise SourceError(
            f"{path.name} was refused: it declares entities or a DTD ({error}), "
            "which a WordPress export never does. Nothing was imported."
        ) from None
    except ParseError as error:
        line, column = error.position
        raise SourceError(
            f"{path.name} is not well-formed XML (line {line}, column {column}). "
            "Export it again from WordPress (Tools > Export). Nothing was imported."
        ) from None
    except OSError as error:
        raise SourceError(f"{path} cannot be read: {error.strerror}.") from None
    channel = tree.getroot().find("channel")
    wp = _wp_namespace(channel)
    if channel is None or wp is None:
        raise SourceError(
            f"{path.name} is XML but not a WordPress export (WXR). "
            "Nothing was imported."
        )

    def text(element: Element, tag: str, ns: str = wp) -> str:
        found = element.find(f"{{{ns}}}{tag}" if ns else tag)
        return (found.text or "").strip() if found is not None else ""

    base_url = text(channel, "base_site_url") or text(channel, "link", "")
    hosts = {
        urlsplit(url).hostname or ""
        for url in (base_url, text(channel, "base_blog_url"), text(channel, "link", ""))
    }
    authors = {
        text(a, "author_login"): text(a, "author_display_name")
        or text(a, "author_login")
        for a in channel.iter(f"{{{wp}}}author")
    }
    categories = [
        Category(
            term_id=text(c, "term_id"),
            slug=text(c, "category_nicename"),
            parent_slug=text(c, "category_parent"),
            name=text(c, "cat_name") or text(c, "category_nicename"),
        )
        for c in channel.findall(f"{{{wp}}}category")
    ]
    export = Export(base_url.rstrip("/"), hosts - {""}, authors, categories)
    for element in channel.findall("item"):
        export.items.append(
            Item(
                post_id=text(element, "post_id"),
                post_type=text(element, "post_type"),
                status=text(element, "status"),
                title=text(element, "title", ""),
                link=text(element, "link", ""),
                creator=text(element, "creator", DC_NS),
                content=_raw(element, f"{{{CONTENT_NS}}}encoded"),
                excerpt=_raw(element, f"{{{_excerpt_ns(wp)}}}encoded"),
                date_local=text(element, "post_date"),
                date_gmt=text(element, "post_date_gmt"),
                slug=text(element, "post_name"),
                sticky=text(element, "is_sticky") == "1",
                categories=[
                    c.get("nicename", "")
                    for c in element.findall("category")
                    if c.get("domain") == "category"
                ],
                meta={
                    text(m, "meta_key"): text(m, "meta_value")
                    for m in element.findall(f"{{{wp}}}postmeta")
                },
                attachment_url=text(element, "attachment_url"),
            )
        )
    return export


def _wp_namespace(channel: Element | None) -> str | None:
    """The wp: namespace, which names the WXR version (1.0, 1.1, 1.2)."""
    if channel is None:
        return None
    for child in channel:
        if child.tag.endswith("}wxr_version"):
            return child.tag[1:].split("}")[0]
    return None


def _excerpt_ns(wp: str) -> str:
    return wp.rstrip("/") + "/excerpt/"


def _raw(element: Element, tag: str) -> str:
    found = element.find(tag)
    return found.text or "" if found is not None else ""


def to_utc(item: Item, timezone: ZoneInfo) -> datetime | None:
    """The post's date as naive UTC: post_date_gmt, else post_date local."""
    for value, zone in ((item.date_gmt, UTC), (item.date_local, timezone)):
        if not value or value.startswith("0000"):
            continue
        try:
            local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
            return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):  # "0001-01-01 00:00:00" and such
            continue
    return None


def import_export(
    export: Export, imp: Import, timezone: ZoneInfo, on_post=lambda: None
) -> None:
    """Write the export's categories and posts through imp."""
    sections = _import_categories(export, imp)
    attachments = {
        item.post_id: item.attachment_url
        for item in export.items
        if item.post_type == "attachment"
    }
    pages = fallback = None
    unknown: set[str] = set()  # shortcodes left as text, for the report
    for item in export.items:
        if item.post_type not in ("post", "page"):
            continue
        label = f"{item.post_type} {item.post_id} «{item.title[:30]}»"
        status = STATUSES.get(item.status)
        if status is None:
            imp.skip_post(f"status «{item.status}» is not imported")
            on_post()
            continue
        if item.post_type == "page":
            if pages is None:
                pages = imp.section("pages", PAGES_CHANNEL, None, "pages", "wp-pages")
            section = pages
            old = [f"/?page_id={item.post_id}"]
        else:
            section = next(
                (sections[s] for s in item.categories if s in sections), None
            )
            if section is None:
                if fallback is None:
                    fallback = imp.section(
                        "uncategorized", "未分类", None, "uncategorized", "wp-0"
                    )
                section = fallback
            old = [f"/?p={item.post_id}"]
        published_at = to_utc(item, timezone)
        imp.post(
            Post(
                key=f"{item.post_type}:{item.post_id}",
                title=item.title,
                body_html=_shortcodes(_paragraphs(item.content), unknown),
                section=section,
                status=status,
                published_at=published_at if status != Status.DRAFT else None,
                summary=item.excerpt or None,
                author_name=export.authors.get(item.creator, item.creator),
                pinned=item.sticky,
                views=_views(item.meta),
                cover_ref=attachments.get(item.meta.get("_thumbnail_id", "")),
                old_urls=[_under_base(export, u) for u in old] + [item.link],
                label=label,
            )
        )
        on_post()
    if unknown:
        names = ", ".join(f"[{name}]" for name in sorted(unknown))
        imp.report.notes.append(
            f"Shortcodes of WordPress plugins were left in the text as they are: "
            f"{names}. Edit those posts by hand."
        )


def _import_categories(export: Export, imp: Import) -> dict:
    """Categories as channels and sections: slug -> Section."""
    by_slug = {c.slug: c for c in export.categories}

    def chain(category: Category) -> list[Category]:
        """The category and its ancestors, top first (cycles cut)."""
        seen = [category]
        while (
            seen[0].parent_slug in by_slug and by_slug[seen[0].parent_slug] not in seen
        ):
            seen.insert(0, by_slug[seen[0].parent_slug])
        return seen

    sections = {}
    for category in sorted(export.categories, key=lambda c: len(chain(c))):
        path = chain(category)
        top = sections.get(path[0].slug) if len(path) > 1 else None
        old = [
            _under_base(export, f"/?cat={category.term_id}"),
            _under_base(export, "/category/" + "/".join(c.slug for c in path) + "/"),
        ]
        if len(path) > 2:
            # Only two levels here: deeper categories join their level-2 one.
            section = sections[path[1].slug]
            imp.fold("section", f"category:{category.term_id}", section, old)
        else:
            section = imp.section(
                f"category:{category.term_id}",
                category.name,
                top,
                category.slug,
                f"wp-{category.term_id}",
                old_urls=old,
            )
        sections[category.slug] = section
    return sections


def _under_base(export: Export, path: str) -> str:
    """An address of the old site, which may live in a sub-folder."""
    return urlsplit(export.base_url).path.rstrip("/") + path


def _views(meta: dict[str, str]) -> int:
    for key in VIEW_KEYS:
        value = meta.get(key, "").strip()
        if value.isdigit():
            return int(value)
    return 0


_CAPTION_RE = re.compile(r"\[caption[^\]]*\](.*?)\[/caption\]", re.DOTALL)
_CAPTIONED_RE = re.compile(
    r"\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(.*)", re.DOTALL
)
_EMBED_RE = re.compile(r"\[embed[^\]]*\](.*?)\[/embed\]", re.DOTALL)
_SHORTCODE_RE = re.compile(r"\[([a-z][a-z0-9_-]*)\b[^\]\n]*\]")


def _shortcodes(content: str, unknown: set[str]) -> str:
    """[caption] becomes a figure and [embed] its link; others stay as text."""

    def caption(match: re.Match) -> str:
        found = _CAPTIONED_RE.match(match.group(1))
        if found is None:
            return match.group(1)
        media, text = found.groups()
        return f"<figure>{media}<figcaption>{text.strip()}</figcaption></figure>"

    content = _CAPTION_RE.sub(caption, content)
    content = _EMBED_RE.sub(lambda m: m.group(1).strip(), content)
    unknown.update(_SHORTCODE_RE.findall(content))
    return content


def _paragraphs(content: str) -> str:
    """WordPress stores blank-line separated text (wpautop adds <p> on display)."""
    if "<p" in content.lower() or "\n\n" not in content:
        return content
    blocks = [b.strip() for b in content.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{b.replace(chr(10), '<br>')}</p>" for b in blocks if b)
