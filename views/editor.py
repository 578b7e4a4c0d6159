"""Blueprint "editor", /editor: the teachers' and editors' workspace."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("editor", __name__, url_prefix="/editor")


@bp.get("/")
@login_required
def dashboard():
    return render_template("editor/dashboard.html")


@bp.get("/articles/new")
@login_required
def new_article():
    return render_template("editor/dashboard.html")


@bp.get("/trash")
@login_required
def trash():
    return render_template("editor/dashboard.html")
