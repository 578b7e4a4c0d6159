"""The section tree a new site starts with: empty channels a school renames."""

import sqlalchemy as sa

from models import Section, db

# (channel slug, name, [(section slug, name), ...]). The demo school files its
# posts under these and adds sections of its own; clearing the demo leaves
# these, so the site keeps a navigation bar and teachers a place to post.
DEFAULT_SECTIONS = [
    ("about", "学校概况", [("introduction", "学校简介"), ("honors", "学校荣誉")]),
    ("news", "新闻中心", [("headlines", "学校要闻"), ("notices", "通知公告")]),
    ("teaching", "教学科研", [("research", "教研动态")]),
    ("moral", "德育天地", [("activities", "主题活动")]),
    ("admissions", "招生信息", [("brochure", "招生简章")]),
]

DEFAULT_SLUGS = frozenset(
    slug
    for channel, _name, children in DEFAULT_SECTIONS
    for slug in (channel, *(child for child, _n in children))
)


def ensure_default_sections() -> int:
    """Create the default sections whose slugs are free; return how many."""
    by_slug = {s.slug: s for s in db.session.scalars(sa.select(Section))}
    created = 0
    for position, (slug, name, children) in enumerate(DEFAULT_SECTIONS):
        channel = by_slug.get(slug)
        if channel is None:
            channel = Section(slug=slug, name=name, position=position)
            db.session.add(channel)
            created += 1
        for child_position, (child_slug, child_name) in enumerate(children):
            if child_slug not in by_slug:
                db.session.add(
                    Section(
                        slug=child_slug,
                        name=child_name,
                        position=child_position,
                        parent=channel,
                    )
                )
                created += 1
    db.session.flush()
    return created
