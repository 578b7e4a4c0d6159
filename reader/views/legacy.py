"""301 redirects from an imported site's old addresses to their pages here.

The lookup runs only where the normal reader path never goes: when a
request would be a 404 (app.py hands redirect_from_old_address() to core/errors.py), and
when the home page gets an old WordPress argument (/?p=12, /?cat=3), which
the before_request below tests without touching the database otherwise.
"""

import sqlalchemy as sa
from flask import Flask, redirect, request, url_for

from models import Article, Section, Upload, db
from reader import legacyurls


def redirect_from_old_address():
    """A 301 to where this request's old address now lives, or None."""
    if request.method not in ("GET", "HEAD"):
        return None
    row = legacyurls.find(legacyurls.normalise(request.path, request.args.items()))
    if row is None:
        return None
    target = _target_url(row.target_type, row.target_id)
    return redirect(target, 301) if target else None


def _target_url(target_type: str, target_id: int) -> str | None:
    if target_type == "article":
        # Only a post readers may see: a 301 would tell anyone trying old
        # addresses that a draft, scheduled, pending or trashed post exists,
        # so those answer the same 404 as an address never used.
        visible = db.session.scalar(
            sa.select(Article.id).where(
                Article.id == target_id, Article.visible_clause()
            )
        )
        return url_for("public.article", article_id=target_id) if visible else None
    if target_type == "section":
        section = db.session.get(Section, target_id)
        return url_for("public.section", slug=section.slug) if section else None
    upload = db.session.get(Upload, target_id)
    if upload is None:
        return None
    if upload.kind == "image":
        return url_for("files.upload", stored_name=upload.stored_name)
    return url_for("files.attachment", upload_id=upload.id)


def init_app(app: Flask) -> None:
    @app.before_request
    def old_home_arguments():
        if request.endpoint == "public.home" and not legacyurls.HOME_ARGS.isdisjoint(
            request.args.keys()
        ):
            return redirect_from_old_address()
        return None
