"""What every import shares: the report, finding earlier imports' rows again,
sections, posts, and copying the files a body refers to.

An importer (wordpress.py, dedecms.py) reads its source into plain values and
hands them to an Import, which writes them through the ORM like the editor
does: bodies through sanitize.clean_html(), photos through storage.save_image()
(re-encoded, metadata stripped), attachments through uploads.check_attachment().
So the derived columns, the page-cache version (cachestate) and anything else
that follows Session events follow imports too.

Idempotence: every section, post and file is noted in models.Origin with the
key "<site>|<kind>:<id in the source>" under the source "wordpress" or
"dedecms"; a second run finds its rows there and updates them. The site
part keeps two old sites of the same kind apart.
"""

from __future__ import annotations

import copy
import html
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import sqlalchemy as sa

from models import Article, Section, Status, Upload, db
from newsroom import remote_images, storage
from newsroom.sanitize import clean_html, html_to_text
from newsroom.uploads import (
    ATTACHMENT_TYPES,
    IMAGE_EXTENSIONS,
    UploadError,
    check_attachment,
    clean_original_name,
)
from operations import origins
from reader import legacyurls
from review import chain

KINDS = ("sections", "posts", "images", "attachments")
OUTCOMES = ("imported", "updated", "unchanged", "skipped", "failed")


class SourceError(Exception):
    """The source cannot be read at all: nothing was imported."""


@dataclass
class Report:
    """Counts of what happened to each kind of item, with the reasons."""

    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
    reasons: dict = field(default_factory=dict)  # (kind, outcome) -> Counter
    missing: list[str] = field(default_factory=list)  # files not found
    undecodable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, outcome: str, reason: str | None = None) -> None:
        self.counts[kind, outcome] += 1
        if reason:
            self.reasons.setdefault((kind, outcome), Counter())[reason] += 1

    def snapshot(self):
        return copy.deepcopy((self.counts, self.reasons, self.missing, self.notes))

    def restore(self, snapshot) -> None:
        self.counts, self.reasons, self.missing, self.notes = snapshot

    def note_missing(self, where: str) -> None:
        if where not in self.missing:
            self.missing.append(where)

    def lines(self) -> list[str]:
        """The report as printed at the end of a run."""
        lines = ["Dry run: nothing was written." if self.dry_run else "Import done."]
        for kind in KINDS:
            parts = [
                f"{self.counts[kind, outcome]} {outcome}"
                for outcome in OUTCOMES
                if self.counts[kind, outcome]
            ]
            lines.append(f"{kind.capitalize()}: {', '.join(parts) or 'none'}.")
            for outcome in OUTCOMES:
                for reason, n in sorted(self.reasons.get((kind, outcome), {}).items()):
                    lines.append(f"  {outcome} {n}: {reason}")
        if self.missing:
            lines.append(f"Files not found ({len(self.missing)}):")
            lines.extend(f"  {item}" for item in self.missing)
        if self.undecodable:
            lines.append(f"Text that could not be decoded ({len(self.undecodable)}):")
            lines.extend(f"  {item}" for item in self.undecodable)
        lines.extend(self.notes)
        return lines


@dataclass
class Post:
    """A post as a source hands it over, before any file is copied."""

    key: str  # the id in the source, unique per kind: "post:12"
    title: str
    body_html: str  # as the old site stored it: rewritten and cleaned here
    section: Section
    status: str
    published_at: datetime | None  # naive UTC
    summary: str | None = None
    author_name: str = ""
    source: str | None = None
    pinned: bool = False
    views: int = 0
    cover_ref: str | None = None  # an old URL or a path in --uploads
    old_urls: list[str] = field(default_factory=list)
    label: str = ""  # how the report names it: "post 12 «标题»"


# Every quoted or bare src/href value in a body.
_REFERENCE_RE = re.compile(
    r"""(\b(?:src|href)\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE
)
# WordPress keeps resized copies beside the original: photo-300x200.jpg.
_RESIZED_RE = re.compile(r"-\d{2,5}x\d{2,5}(\.[A-Za-z0-9]+)$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
UNTITLED = "（无标题）"


class Import:
    """One run of an import: writes, remembers origins and fills the report."""

    def __init__(
        self,
        source: str,
        site: str,
        *,
        uploads: Path | None,
        upload_prefixes: tuple[str, ...],
        site_hosts: set[str],
        base_url: str | None,
        report: Report,
    ):
        self.source = source  # models.Origin.source: "wordpress", "dedecms"
        self.site = site
        self.uploads = uploads.resolve() if uploads else None
        self.upload_prefixes = upload_prefixes
        self.site_hosts = {host.lower() for host in site_hosts if host}
        self.base_url = base_url
        self.report = report
        self._new_files: list[Upload] = []
        self._slugs: set[str] | None = None

    # --- origins and old addresses --------------------------------------------

    def origin_key(self, key: str) -> str:
        return f"{self.site}|{key}"

    def find(self, target_type: str, key: str, model):
        target_id = origins.find_target(self.source, target_type, self.origin_key(key))
        return db.session.get(model, target_id) if target_id else None

    def remember(self, target_type: str, key: str, target_id: int) -> None:
        origins.point(self.source, target_type, self.origin_key(key), target_id)

    def old_addresses(self, urls, target_type: str, target_id: int, label: str):
        for url in dict.fromkeys(urls):
            path = legacyurls.normalise_url(url)
            if path == "/":
                continue
            if len(path) > legacyurls.MAX_LENGTH:
                self.report.notes.append(
                    f"Old address of {label} too long to keep: {path[:80]}…"
                )
                continue
            if not legacyurls.remember(
                path, target_type, target_id, f"{self.source} {self.site}"
            ):
                self.report.notes.append(
                    f"Old address {path} of {label} already leads to an item of "
                    "another import: left as it was."
                )

    # --- sections ----------------------------------------------------------------

    def section(
        self,
        key: str,
        name: str,
        parent: Section | None,
        slug_hint: str,
        fallback_slug: str,
        position: int = 0,
        old_urls=(),
    ) -> Section:
        """The section for this source category, created or brought up to date.

        A new one that has the name of an existing section at the same level
        (the default 新闻中心, 通知公告 …) is filed there instead of beside it.
        """
        name = (name.strip() or fallback_slug)[:50]
        parent_id = parent.id if parent else None
        section = self.find("section", key, Section)
        if section is not None:
            changed = section.name != name or section.parent_id != parent_id
            section.name, section.parent_id = name, parent_id
            self.report.add("sections", "updated" if changed else "unchanged")
        else:
            section = db.session.scalar(
                sa.select(Section)
                .where(
                    Section.name == name,
                    Section.parent_id == parent_id
                    if parent_id
                    else Section.parent_id.is_(None),
                )
                .limit(1)
            )
            if section is not None:
                self.report.add(
                    "sections",
                    "unchanged",
                    "filed into the existing section of the same name",
                )
            else:
                section = Section(
                    name=name,
                    slug=self.unique_slug(slug_hint, fallback_slug),
                    parent_id=parent_id,
                    position=position,
                )
                db.session.add(section)
                self.report.add("sections", "imported")
            db.session.flush()
            self.remember("section", key, section.id)
        self.old_addresses(old_urls, "section", section.id, f"section «{name}»")
        # Committed now: a post that fails later rolls back only itself.
        db.session.commit()
        return section

    def fold(self, target_type: str, key: str, section: Section, old_urls) -> None:
        """File a third-level category into section, its level-2 ancestor."""
        self.remember(target_type, key, section.id)
        self.old_addresses(old_urls, "section", section.id, f"section «{key}»")
        db.session.commit()
        self.report.add("sections", "skipped", "filed into its level-2 ancestor")

    def unique_slug(self, hint: str, fallback: str) -> str:
        if self._slugs is None:
            self._slugs = set(db.session.scalars(sa.select(Section.slug)))
        base = unquote(hint or "").strip().lower()
        base = re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:50].strip("-")
        if not SLUG_RE.fullmatch(base):
            base = fallback
        slug, n = base, 1
        while slug in self._slugs:
            n += 1
            slug = f"{base}-{n}"
        self._slugs.add(slug)
        return slug

    # --- posts -------------------------------------------------------------------

    def post(self, post: Post) -> Article | None:
        """Create or update the article for post, and commit.

        A failure is rolled back with the files it wrote and reported (what
        the post had counted is taken back); the next post goes on.
        """
        self._new_files = []
        counted = self.report.snapshot()
        try:
            article = self._write_post(post)
            db.session.commit()
            return article
        except Exception as error:  # any one post must not stop the others
            db.session.rollback()
            storage.discard(self._new_files)
            self.report.restore(counted)
            self.report.add("posts", "failed", f"{post.label}: {error}")
            return None

    def _write_post(self, post: Post) -> Article:
        article = self.find("article", post.key, Article)
        created = article is None
        if created:
            article = Article(
                title=post.title[:200] or UNTITLED,
                section_id=post.section.id,
                status=Status.DRAFT,
            )
            db.session.add(article)
            db.session.flush()  # files are attached to its id
        cover = self.file(post.cover_ref, article.id, post.label, image=True)
        values = {
            "title": post.title[:200] or UNTITLED,
            "body_html": self.body(post.body_html, article.id, post.label),
            "summary": html_to_text(post.summary or "").strip()[:500] or None,
            "author_name": post.author_name.strip()[:100],
            "source": (post.source or "").strip()[:100] or None,
            "section_id": post.section.id,
            "status": post.status,
            "published_at": post.published_at,
            "pinned": post.pinned,
            "cover_id": cover.id if cover else None,
            # The school's site has counted since: never count backwards.
            "views": max(post.views, article.views or 0),
        }
        if created:
            values["created_at"] = post.published_at or article.created_at
        changed = False
        for name, value in values.items():
            if getattr(article, name) != value:
                setattr(article, name, value)
                changed = True
        if created:
            self.report.add("posts", "imported")
        else:
            self.report.add("posts", "updated" if changed else "unchanged")
        self.remember("article", post.key, article.id)
        self.old_addresses(post.old_urls, "article", article.id, post.label)
        if article.status == Status.PUBLISHED:
            # The old site's published text: the review ledger says where it
            # came from, as it does for every text readers get.
            db.session.flush()
            chain.record_publish(article, None, "imported")
        return article

    def skip_post(self, reason: str) -> None:
        self.report.add("posts", "skipped", reason)

    # --- bodies and files --------------------------------------------------------

    def body(self, html_text: str, article_id: int, label: str) -> str:
        """The body with the old site's files copied here and linked, cleaned."""

        def rewrite(match: re.Match) -> str:
            raw = next(g for g in match.groups()[1:] if g is not None)
            new = self.reference(html.unescape(raw), article_id, label)
            if new is None:
                return match.group(0)
            return f'{match.group(1)}"{html.escape(new)}"'

        cleaned = clean_html(_REFERENCE_RE.sub(rewrite, html_text or ""))
        # Images left on other sites would show broken (the CSP allows only
        # the site's own): they go, and the report names them.
        remote = remote_images.remote_image_urls(cleaned)
        for url in remote:
            if self.upload_path(url) is None:  # the old site's: counted as failed
                self.report.add(
                    "images", "skipped", "on another site: removed from the post"
                )
                self.report.note_missing(f"{url} ({label})")
        return remote_images.drop_images(cleaned, remote) if remote else cleaned

    def reference(self, url: str, article_id: int, label: str) -> str | None:
        """The new URL for a reference to an old upload, else None (kept)."""
        relative = self.upload_path(url)
        if relative is None:
            return None
        ext = relative.rsplit(".", 1)[-1].lower() if "." in relative else ""
        is_image = ext in IMAGE_EXTENSIONS
        if not is_image and ext not in ATTACHMENT_TYPES:
            return None
        upload = self.file(url, article_id, label, image=is_image)
        if upload is None:
            # Not copied: point at the old site, which may still answer.
            return urljoin(self.base_url, url) if self.base_url else None
        if upload.kind == "image":
            return f"/uploads/{upload.stored_name}"
        return f"/attachments/{upload.id}"

    def upload_path(self, url: str | None) -> str | None:
        """The path inside the old upload folder that url names, if any."""
        if not url:
            return None
        parts = urlsplit(url.strip())
        if parts.scheme and parts.scheme.lower() not in ("http", "https"):
            return None
        if parts.netloc and parts.hostname not in self.site_hosts:
            return None
        path = "/" + unquote(parts.path).lstrip("/")
        for prefix in self.upload_prefixes:
            at = path.find(prefix)
            if at >= 0:
                return path[at + len(prefix) :] or None
        return None

    def local_file(self, relative: str) -> Path | None:
        """The file in --uploads, never outside it (a body may say "../../")."""
        if self.uploads is None:
            return None
        for candidate in (relative, _RESIZED_RE.sub(r"\1", relative)):
            path = (self.uploads / candidate).resolve()
            if path.is_relative_to(self.uploads) and path.is_file():
                return path
        return None

    def file(
        self, url: str | None, article_id: int, label: str, *, image: bool
    ) -> Upload | None:
        """The upload for an old file, copied once per import and site.

        A resized copy that is missing (photo-300x200.jpg) is made from the
        original, and both names lead to the one upload.
        """
        relative = self.upload_path(url)
        if relative is None:
            return None
        kind = "images" if image else "attachments"
        path = self.local_file(relative)
        if path is not None:
            relative = path.relative_to(self.uploads).as_posix()
        key = f"file:{relative}"
        upload = self.find("upload", key, Upload)
        if upload is None and path is None:
            reason = "not in --uploads" if self.uploads else "no --uploads folder given"
            self.report.add(kind, "failed", f"file {reason}")
            self.report.note_missing(f"{relative} ({label})")
            return None
        if upload is None:
            upload = self._copy(path, article_id, kind)
            if upload is None:
                return None
            self.remember("upload", key, upload.id)
        else:
            self.report.add(kind, "unchanged")
        # The old file's own address keeps working too.
        if url and (urlsplit(url).path or "").startswith("/"):
            self.old_addresses([url], "upload", upload.id, relative)
        return upload

    def _copy(self, path: Path, article_id: int, kind: str) -> Upload | None:
        """Store the file through the editor's own checks (photos re-encoded)."""
        name = clean_original_name(path.name)
        try:
            data = path.read_bytes()
            if kind == "images":
                upload = storage.save_image(
                    io.BytesIO(data), name, user_id=None, article_id=article_id
                )
            else:
                info = check_attachment(name, io.BytesIO(data))
                upload = storage.save_upload(
                    data,
                    kind="attachment",
                    ext=info.ext,
                    content_type=info.content_type,
                    original_name=name,
                    user_id=None,
                    article_id=article_id,
                )
        except UploadError as error:
            # The report is in English like the other commands' output (and
            # the translation needs a reader's request for its language).
            reason = error.msgid % error.params if error.params else error.msgid
            self.report.add(kind, "failed", f"{path.name}: {reason}")
            return None
        except OSError as error:
            self.report.add(kind, "failed", f"{path.name}: {error.strerror}")
            return None
        self._new_files.append(upload)
        self.report.add(kind, "imported")
        return upload
