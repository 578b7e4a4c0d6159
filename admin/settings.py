"""Site settings saved from the settings page and the first-run setup: the
changed keys written and audited together, the logo stored like any photo."""

from flask import current_app
from flask_login import current_user

from core import audit
from models import Upload, db, get_settings, parse_id, set_setting
from newsroom import storage, thumbnails
from newsroom.uploads import UploadError


class LogoError(Exception):
    """A logo file that cannot be used; str() is the message for the admin."""


def _save_logo(file) -> int:
    """Store the logo like any photo (re-encoded, metadata stripped); its id."""
    try:
        upload = storage.save_image(
            file.stream, file.filename or "logo", user_id=current_user.id
        )
    except UploadError as error:
        raise LogoError(str(error)) from error
    # The site's icons, made once now (or on their first request if this fails).
    thumbnails.make(upload, thumbnails.ICON_VARIANTS)
    return upload.id


def _delete_old_logo(logo_id: str) -> None:
    """Remove a replaced or removed logo's file and row (nothing else uses it)."""
    upload_id = parse_id(logo_id)
    upload = db.session.get(Upload, upload_id) if upload_id else None
    if upload is not None and upload.article_id is None:
        storage.delete_upload(upload)


def drop_fixed_site_url(form) -> None:
    """Take the site address off a form when the instance config fixes it."""
    if current_app.config.get("SITE_URL"):
        del form.site_url


def save_settings(new: dict[str, str], logo=None, remove_logo=False) -> list[str]:
    """Store a new logo, write the settings that changed, commit; the changed keys.

    Used by the settings page and the first-run setup. A logo that cannot be
    used raises LogoError before anything is written.
    """
    values = get_settings()
    new = dict(new)
    if logo and getattr(logo, "filename", ""):
        new["logo_id"] = str(_save_logo(logo))
    elif remove_logo:
        new["logo_id"] = ""
    changed = [key for key, value in new.items() if values.get(key) != value]
    for key in changed:
        set_setting(key, new[key])
    if changed:
        audit.record("settings_changed", ", ".join(changed))
    db.session.commit()
    if "logo_id" in changed:
        _delete_old_logo(values["logo_id"])
    return changed
