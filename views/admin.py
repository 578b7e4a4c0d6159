"""Blueprint "admin", /admin: users, sections and site settings (admins only)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
