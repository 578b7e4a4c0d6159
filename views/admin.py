"""Blueprint "admin", /admin: users, sections and site settings (admins only)."""

from flask import Blueprint, render_template

from permissions import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@admin_required
def users():
    return render_template("editor/dashboard.html")


@bp.get("/sections")
@admin_required
def sections():
    return render_template("editor/dashboard.html")


@bp.get("/settings")
@admin_required
def settings():
    return render_template("editor/dashboard.html")
