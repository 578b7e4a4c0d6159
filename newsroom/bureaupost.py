"""站群: the bureau's posts on the schools' sites it chooses.

A post the bureau has published goes to each chosen school as a copy the
school owns, in the section the school picked for the bureau's posts
(«站点设置»), with the bureau's name as its source (来源). Sending it again
after an edit updates the copies in place: an Origin row per copy names the
bureau's post. Each copy going live is a line of the school's own review
ledger, saying the bureau published it: the school did not review it.

The post's attachments go with it as the school's own uploads (an Origin row
each names the bureau's upload): the same bytes under the school's own stored
name (a hard link where the disk allows, else a copy), with the bureau's
preview copied too, so the school's pages list, preview and serve them as
they do the school's own, and the school never reaches a file of the bureau's.
Sending again adds the files the bureau added and removes those it removed.

The bureau can withdraw (撤回) its post from a school: the copy is taken off
the school's site (back to a draft, as «撤下» does), with a line in the
school's ledger; sending it again puts the same copy back.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from core.sites import acting_for
from models import (
    Article,
    Origin,
    Section,
    Site,
    Status,
    Upload,
    User,
    db,
    get_settings,
    parse_id,
)
from newsroom import preview_files, storage
from newsroom.sanitize import clean_html
from newsroom.uploads import random_name
from review import chain

SOURCE = "bureau"  # Origin.source of the copies
DEFAULT_SLUG = "notices"  # 通知公告 in the default sections
# What a copied preview holds that names its upload's stored name (a Word
# file's pictures are linked under /uploads/derived/<stored name>/preview/).
_NAMING_SUFFIXES = (".html", ".json")

log = logging.getLogger(__name__)


@dataclass
class Shared:
    site_id: int
    article_id: int | None  # the school's copy; None when it could not go
    problem: str = ""


@dataclass(frozen=True)
class Sent:
    """One of the bureau post's attachments readers get, as it is sent."""

    id: int
    stored_name: str
    original_name: str
    content_type: str
    size: int
    preview: str
    preview_note: str


def posting_sections() -> list[Section]:
    """The acting school's sections that take posts (those without sub-sections)."""
    sections = db.session.scalars(
        sa.select(Section).order_by(Section.position, Section.id)
    ).all()
    parents = {s.parent_id for s in sections if s.parent_id}
    return [s for s in sections if s.id not in parents]


def school_section() -> Section | None:
    """Where the acting school puts the bureau's posts: its choice, else its
    通知公告 (the default sections' notices), else its first section."""
    sections = posting_sections()
    chosen = parse_id(get_settings().get("bureau_section"))
    for wanted in (
        lambda s: s.id == chosen,
        lambda s: s.slug == DEFAULT_SLUG,
        lambda s: True,
    ):
        found = next((s for s in sections if wanted(s)), None)
        if found is not None:
            return found
    return None


def copies_of(article_id: int) -> dict[int, int]:
    """{school site id: its copy's id} of a bureau post."""
    rows = db.session.execute(
        sa.select(Origin.site_id, Origin.target_id)
        .where(
            Origin.source == SOURCE,
            Origin.target_type == "article",
            Origin.source_key == str(article_id),
        )
        .execution_options(all_sites=True)
    )
    return {site: target for site, target in rows}


def schools() -> list[Site]:
    """The sites a bureau post can go to: every active school."""
    return db.session.scalars(
        sa.select(Site)
        .where(Site.bureau.is_(False), Site.active.is_(True))
        .order_by(Site.id)
    ).all()


def live_copies(article_id: int) -> set[int]:
    """The schools whose readers get their copy of a bureau post now."""
    copies = copies_of(article_id)
    if not copies:
        return set()
    rows = db.session.execute(
        sa.select(Article.site_id)
        .where(
            Article.id.in_(copies.values()),
            Article.status == Status.PUBLISHED,
            Article.deleted_at.is_(None),
        )
        .execution_options(all_sites=True)
    )
    return {site for (site,) in rows}


def share(article: Article, site_ids: list[int], user: User) -> list[Shared]:
    """Copy (or update the copy of) a live bureau post on each school's site.

    Each school is committed on its own, as that school (its cache version
    and search index move on, its ledger gets the line), so one school
    without a section to take it does not hold up the others.
    """
    bureau = get_settings()["school_name"]
    article_id = article.id
    existing = copies_of(article_id)
    files = sent_files(article)
    values = {
        "title": article.title,
        "summary": article.summary,
        # Cleaned again with the school's own host as the site's: the
        # sanitizer is on every stored body.
        "body_html": clean_html(article.body_html),
        "author_name": article.author_name,
        "photographer": article.photographer,
        "source": bureau[:100],
        "published_at": article.published_at,
    }
    reason = _("Published by %(bureau)s for its schools", bureau=bureau)
    done = []
    for site_id in site_ids:
        with acting_for(site_id):
            copy = db.session.get(Article, existing.get(site_id, 0))
            again = False  # whether readers had this copy until now
            if copy is None or copy.deleted_at is not None:
                section = school_section()
                if section is None:
                    problem = _("The school has no section for posts yet.")
                    done.append(Shared(site_id, None, problem))
                    continue
                copy = Article(section_id=section.id, status=Status.PUBLISHED, **values)
                db.session.add(copy)
                db.session.flush()
                # A new Origin row, or the one of a copy the school deleted.
                _point("article", article_id, copy.id)
            else:
                again = copy.status == Status.PUBLISHED
                for key, value in values.items():
                    setattr(copy, key, value)
                copy.status = Status.PUBLISHED
                copy.review_level = 0
                copy.version += 1  # an open editor of the copy sees a conflict
            made, unlink = [], []
            try:
                made, unlink = _send_files(copy, files)
                db.session.flush()
                if again:
                    chain.record_publish(copy, user, reason)
                else:
                    # Live again after a withdrawal: a new line, though the
                    # ledger explained this very text before.
                    chain.record(
                        copy,
                        user,
                        chain.Decision.PUBLISH,
                        0,
                        reason,
                        version=chain.live_version(copy),
                        final=True,
                    )
                db.session.commit()
            except Exception:
                db.session.rollback()
                storage.discard(made)
                raise
            storage.unlink_files(unlink)
            done.append(Shared(site_id, copy.id))
    return done


def withdraw(article_id: int, site_ids: list[int], user: User) -> list[Shared]:
    """Take the copies of a bureau post off these schools' sites (撤回).

    Each copy goes back to a draft of the school's, as «撤下» leaves one, and
    the school's ledger says the bureau withdrew it. Sending the post again
    puts the same copy (same address) back.
    """
    bureau = get_settings()["school_name"]
    existing = copies_of(article_id)
    reason = _("Withdrawn by %(bureau)s", bureau=bureau)
    done = []
    for site_id in site_ids:
        if site_id not in existing:
            done.append(Shared(site_id, None, "not_sent"))
            continue
        with acting_for(site_id):
            copy = db.session.get(Article, existing[site_id])
            if (
                copy is None
                or copy.deleted_at is not None
                or copy.status != Status.PUBLISHED
            ):
                done.append(Shared(site_id, None, "not_live"))
                continue
            copy.status = Status.DRAFT
            copy.review_level = 0
            copy.version += 1  # an open editor of the copy sees a conflict
            db.session.flush()
            chain.record(
                copy,
                user,
                chain.Decision.REMOVE,
                0,
                reason,
                version=chain.live_version(copy),
            )
            db.session.commit()
            done.append(Shared(site_id, copy.id))
    return done


# --- the attachments ----------------------------------------------------------


def sent_files(article: Article) -> list[Sent]:
    """The bureau post's attachments readers get (none held for review),
    read as the bureau before acting for any school."""
    return [
        Sent(
            upload.id,
            upload.stored_name,
            upload.original_name,
            upload.content_type,
            upload.size,
            upload.preview,
            upload.preview_note,
        )
        for upload in article.attachments
    ]


def _send_files(copy: Article, files: list[Sent]) -> tuple[list[Upload], list[Path]]:
    """Make the copy's attachments from the bureau the ones sent now; the
    school's own attachments of the copy stay. Returns the uploads made
    (their files go if the commit fails) and the files of those removed
    (to unlink once committed)."""
    wanted = {file.id: file for file in files}
    rows = db.session.execute(
        sa.select(Origin, Upload)
        .join(Upload, Upload.id == Origin.target_id)
        .where(
            Origin.source == SOURCE,
            Origin.target_type == "upload",
            Upload.article_id == copy.id,
        )
    ).all()
    have, gone = {}, []
    for origin, upload in rows:
        file = wanted.get(parse_id(origin.source_key))
        if file is None:
            gone.append(upload)
            db.session.delete(origin)
        else:
            have[file.id] = upload
    unlink = storage.remove_upload_rows(gone)
    made = []
    for file in files:
        upload = have.get(file.id)
        if upload is None:
            upload = _copy_file(file, copy.id)
            if upload is None:
                continue
            made.append(upload)
            db.session.flush()  # its id, for the Origin row
            _point("upload", file.id, upload.id)
        elif upload.preview != preview_files.READY:
            _copy_preview(file, upload)  # the bureau's may be ready by now
    return made, unlink


def _copy_file(file: Sent, article_id: int) -> Upload | None:
    """The school's own upload of the bureau's file, its preview included."""
    folder = storage.upload_folder()
    source = folder / file.stored_name
    ext = file.stored_name.rsplit(".", 1)[-1]
    while True:
        stored_name = random_name(ext)
        try:
            _same_bytes(source, folder / stored_name)
            break
        except FileExistsError:
            continue
        except OSError:
            log.warning("the bureau's file %s was not sent", file.stored_name)
            return None
    upload = Upload(
        kind="attachment",
        stored_name=stored_name,
        original_name=file.original_name,
        content_type=file.content_type,
        size=file.size,
        article_id=article_id,
    )
    _copy_preview(file, upload)
    db.session.add(upload)
    return upload


def _copy_preview(file: Sent, upload: Upload) -> None:
    """The bureau's preview (and extracted text) as the upload's, else a
    preview to make: the copy never waits for the bureau's worker twice."""
    source = preview_files.derived_dir(file.stored_name)
    target = preview_files.derived_dir(upload.stored_name)
    ready = file.preview == preview_files.READY
    try:
        if source.is_dir():
            _copy_tree(source, target, file.stored_name, upload.stored_name, ready)
    except OSError:
        log.warning("the preview of %s was not copied", file.stored_name)
        shutil.rmtree(target, ignore_errors=True)
        ready = False
    if ready or file.preview == preview_files.FAILED:
        upload.preview, upload.preview_note = file.preview, file.preview_note
    elif file.preview:  # pending, working, or a copy that failed
        upload.preview, upload.preview_note = preview_files.PENDING, ""
        db.session.info[storage.PREVIEW_WAKE] = True


def _copy_tree(source: Path, target: Path, old: str, new: str, ready: bool) -> None:
    """Copy a derived folder; the text files that name the old stored name
    name the new one, the rest (page images) are the same bytes."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        top = relative.parts[0]
        if top.endswith(".tmp") or (top == preview_files.PREVIEW_DIR and not ready):
            continue  # a preview being made, or one not ready
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.suffix in _NAMING_SUFFIXES:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(
                path.read_bytes().replace(old.encode(), new.encode())
            )
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            _same_bytes(path, destination)


def _same_bytes(source: Path, target: Path) -> None:
    """target with source's bytes: a hard link (no second copy on disk), else
    a copy; never over an existing file (FileExistsError)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        if not source.is_file():
            raise
        with open(source, "rb") as reading, open(target, "xb") as writing:
            shutil.copyfileobj(reading, writing)


def _point(target_type: str, source_id: int, target_id: int) -> None:
    """The acting school's Origin row of a copy, pointing at target_id."""
    origin = db.session.scalar(
        sa.select(Origin).where(
            Origin.source == SOURCE,
            Origin.target_type == target_type,
            Origin.source_key == str(source_id),
        )
    )
    if origin is None:
        db.session.add(
            Origin(
                source=SOURCE,
                source_key=str(source_id),
                target_type=target_type,
                target_id=target_id,
            )
        )
    else:
        origin.target_id = target_id
