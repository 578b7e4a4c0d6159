"""Columns derived from a post's text, kept whenever it is saved: the excerpt
(lists, meta description), the channel and the picture (lists, 图片新闻, share
previews), so readers' pages never parse HTML. ORM events cover every save;
derived_values() covers a bulk UPDATE. newsroom/__init__.py imports this
module, so the events are in place wherever posts are written."""

import sqlalchemy as sa

from models import Article, channel_of
from newsroom.pictures import picture_id_for
from newsroom.sanitize import summarize


def make_excerpt(summary: str | None, body_html: str | None) -> str:
    """What lists and the meta description show: the summary, else the text."""
    return ((summary or "").strip() or summarize(body_html or ""))[:500]


@sa.event.listens_for(Article, "before_insert")
@sa.event.listens_for(Article, "before_update")
def _keep_derived_columns(mapper, connection, article: Article) -> None:
    state = sa.inspect(article)
    history = state.attrs
    if (
        history.summary.history.has_changes()
        or history.body_html.history.has_changes()
        or not article.excerpt
    ):
        article.excerpt = make_excerpt(article.summary, article.body_html)
    if history.section_id.history.has_changes() or article.channel_id is None:
        article.channel_id = channel_of(connection, article.section_id)
    if (
        state.key is None  # being inserted
        or history.body_html.history.has_changes()
        or history.cover_id.history.has_changes()
        or history.cover.history.has_changes()
    ):
        article.picture_id = picture_id_for(
            connection, article.cover_id, article.body_html
        )


def derived_values(article: Article, values: dict, connection) -> dict:
    """The derived columns for a bulk UPDATE of article with these values."""
    extra = {}
    if "summary" in values or "body_html" in values:
        extra["excerpt"] = make_excerpt(
            values.get("summary", article.summary),
            values.get("body_html", article.body_html),
        )
    if values.get("section_id") is not None:
        extra["channel_id"] = channel_of(connection, values["section_id"])
    if "cover_id" in values or "body_html" in values:
        extra["picture_id"] = picture_id_for(
            connection,
            values.get("cover_id", article.cover_id),
            values.get("body_html", article.body_html),
        )
    return extra
