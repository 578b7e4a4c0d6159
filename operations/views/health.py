"""Blueprint "health": GET /healthz tells a monitor whether the site can serve."""

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from models import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    # A monitor (or systemd, Uptime Kuma, a school's Zabbix) must see the
    # database as it is now, so this answer is never cached anywhere.
    try:
        db.session.execute(sa.text("SELECT 1"))
        status, code = "ok", 200
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        # The details go to the log, not to whoever is asking.
        current_app.logger.exception("health check: the database does not answer")
        db.session.rollback()
        status, code = "error", 503
    response = jsonify(status=status)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response
