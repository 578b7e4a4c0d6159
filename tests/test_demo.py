"""The `demo` command: a plausible school, loaded idempotently."""

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from core import periods
from models import (
    Article,
    DailyViews,
    Section,
    Upload,
    db,
    get_settings,
    set_setting,
)
from newsroom import storage
from newsroom.sanitize import clean_html
from operations import demo_content, demo_images
from stats import pubstats

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def run_demo(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result.output


def count(app, model, *where):
    with app.app_context():
        stmt = sa.select(sa.func.count()).select_from(model).where(*where)
        return db.session.scalar(stmt)


@pytest.mark.demo
def test_demo_creates_channels_sections_and_forty_articles(app, demo_output):
    visible = count(app, Article, Article.visible_clause())
    assert count(app, Article) >= 40
    assert visible >= 40
    assert f"({count(app, Article)} new articles)" in demo_output
    assert count(app, Section, Section.parent_id.is_(None)) == 5
    assert count(app, Section, Section.parent_id.is_not(None)) >= 14


@pytest.mark.demo
def test_demo_twice_creates_nothing_new(app, runner):
    articles, sections = count(app, Article), count(app, Section)
    assert "already loaded" in run_demo(runner)
    assert (count(app, Article), count(app, Section)) == (articles, sections)
    # Even when asked to load it again regardless.
    assert "(0 new articles)" in runner.invoke(args=["demo", "--force"]).output
    assert (count(app, Article), count(app, Section)) == (articles, sections)


@pytest.mark.demo
def test_demo_content_is_varied(app):
    with app.app_context():
        articles = db.session.scalars(
            sa.select(Article).where(Article.visible_clause())
        ).all()
        creators = {a.created_by.username for a in articles}
    assert creators == {"admin"}
    assert len({a.author_name for a in articles}) >= 5
    assert len({a.source for a in articles}) >= 5
    assert len({a.views for a in articles}) >= 30
    assert len({a.published_at.date() for a in articles}) >= 30
    assert any(a.pinned for a in articles)
    assert any("<table>" in a.body_html for a in articles)
    assert any("<ul>" in a.body_html for a in articles)
    assert any("<strong>" in a.body_html for a in articles)


@pytest.mark.demo
def test_demo_bodies_pass_the_sanitizer_unchanged(app):
    with app.app_context():
        bodies = db.session.scalars(sa.select(Article.body_html)).all()
    assert all(clean_html(body) == body for body in bodies)


@pytest.mark.demo
def test_demo_hidden_posts_stay_off_the_readers_pages(app, client):
    with app.app_context():
        hidden = db.session.scalars(
            sa.select(Article).where(sa.not_(Article.visible_clause()))
        ).all()
        hidden = {a.id: a.title for a in hidden}
        slugs = db.session.scalars(sa.select(Section.slug)).all()
    assert len(hidden) == len(demo_content.HIDDEN_ARTICLES)
    pages = [client.get("/").get_data(as_text=True)]
    pages += [client.get(f"/sections/{s}").get_data(as_text=True) for s in slugs]
    for article_id, title in hidden.items():
        assert all(title not in html for html in pages), title
        assert client.get(f"/articles/{article_id}").status_code == 404


def test_demo_fills_default_settings_but_keeps_the_schools_own(app, runner):
    with app.app_context():
        set_setting("school_name", "我的学校")
        db.session.commit()
    run_demo(runner)
    with app.app_context():
        settings = get_settings()
    assert settings["school_name"] == "我的学校"
    assert settings["icp_number"] == demo_content.SETTINGS["icp_number"]
    assert settings["phone"] == demo_content.SETTINGS["phone"]


@pytest.mark.demo
def test_demo_home_page_renders_every_channel(app, client):
    html = client.get("/").get_data(as_text=True)
    for _slug, name, _children in demo_content.SECTIONS:
        assert name in html


@pytest.mark.demo
def test_demo_photos_do_not_make_the_site_look_used(app, runner):
    demo_uploads = count(app, Upload)  # the demo's logo and pictures
    with app.app_context():
        post = db.session.scalar(sa.select(Article).limit(1))
        buffer = io.BytesIO()
        Image.new("RGB", (20, 20)).save(buffer, "PNG")
        buffer.seek(0)
        storage.save_image(buffer, "操场.png", user_id=None, article_id=post.id)
        db.session.commit()
    assert "already loaded" in run_demo(runner)
    with app.app_context():
        buffer = io.BytesIO()
        Image.new("RGB", (20, 20)).save(buffer, "PNG")
        buffer.seek(0)
        storage.save_image(buffer, "校徽.png", user_id=None)  # a teacher's logo
        db.session.commit()
        uploads = db.session.scalar(sa.select(sa.func.count(Upload.id)))
        assert uploads == demo_uploads + 2
    assert "content of its own" in run_demo(runner)


@pytest.mark.demo
def test_demo_has_a_logo_and_pictures_with_thumbnails(app, client):
    with app.app_context():
        logo_id = get_settings()["logo_id"]
        assert logo_id and db.session.get(Upload, int(logo_id)).kind == "image"
        visible = db.session.scalars(
            sa.select(Article).where(Article.visible_clause())
        ).all()
        pictured = [a for a in visible if a.picture_id]
        names = [a.picture.stored_name for a in pictured]
    # About half of the posts, most of them with the photo in the body.
    assert len(pictured) >= len(visible) * 0.4
    assert (
        sum(
            f"/uploads/{n}" in a.body_html for a, n in zip(pictured, names, strict=True)
        )
        >= 15
    )
    thumbs = Path(app.config["UPLOAD_FOLDER"]) / "thumbs"
    for name in names:
        assert (thumbs / f"{name.partition('.')[0]}-240.jpg").is_file()
    html = client.get("/").text
    assert 'class="panel picture-news"' in html
    assert html.count("/uploads/thumbs/") >= 5 + 2  # the block and the icons


def test_demo_pictures_are_drawn_without_a_cjk_font(app, runner, monkeypatch):
    monkeypatch.setattr(demo_images, "FONT_PATHS", [])
    demo_images._font_file.cache_clear()
    try:
        run_demo(runner)
    finally:
        demo_images._font_file.cache_clear()
    assert count(app, Article, Article.picture_id.is_not(None)) >= 20


@pytest.mark.demo
def test_demo_twice_keeps_one_logo_and_adds_no_pictures(app, runner):
    uploads = count(app, Upload)
    with app.app_context():
        logo_id = get_settings()["logo_id"]
    run_demo(runner)
    assert count(app, Upload) == uploads
    with app.app_context():
        assert get_settings()["logo_id"] == logo_id


@pytest.mark.demo
def test_demo_gives_the_statistics_page_a_history(app, editor_client):
    with app.app_context():
        days = db.session.execute(
            sa.select(DailyViews.day, sa.func.sum(DailyViews.views))
            .group_by(DailyViews.day)
            .order_by(DailyViews.day)
        ).all()
        # Never more views on days than a post has in all.
        per_post = db.session.execute(
            sa.select(Article.views, sa.func.sum(DailyViews.views))
            .join(DailyViews, DailyViews.article_id == Article.id)
            .group_by(Article.id)
        ).all()
        hidden = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(DailyViews)
            .join(Article, DailyViews.article_id == Article.id)
            .where(~Article.visible_clause())
        )
        today = periods.today()
    assert len(days) >= 30
    assert days[-1].day == today
    assert all(total <= views for views, total in per_post)
    assert hidden == 0
    page = editor_client.get("/admin/stats")
    assert page.status_code == 200
    # The month's total views is not zero on a brand-new demo site.
    assert "<svg" in page.get_data(as_text=True)
    with app.test_request_context():
        month = pubstats.build_report(periods.named_period("month", periods.today()))
    assert month.views > 0
