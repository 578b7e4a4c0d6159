"""Demo content: a plausible school with channels, sections and articles.

Loading is idempotent: sections are keyed on their slug, articles on their title,
and site settings are only filled in while they still hold the defaults. Every
row it creates is recorded as an Origin with source "demo", so democlear.py
can remove exactly that; `flask demo` loads it only on a brand-new instance.
About half of the posts get a picture drawn by demo_images.py and stored
through the real upload pipeline, so thumbnails exist as for a teacher's
photo; the demo's logo too.
"""

import io
import random
from datetime import timedelta

import sqlalchemy as sa

from core import periods
from models import (
    SETTING_DEFAULTS,
    Article,
    DailyViews,
    Role,
    Section,
    Status,
    Upload,
    User,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from newsroom import storage, thumbnails
from newsroom.sanitize import clean_html
from operations import origins
from operations.demo_content import (
    ARTICLES,
    COVER_ONLY,
    HIDDEN_ARTICLES,
    PHOTOS,
    PINNED_TITLES,
    SECTIONS,
    SETTINGS,
    SOURCE,
    SUMMARIES,
)
from operations.sitetree import DEFAULT_SLUGS
from review import chain

AUTHORS = ["王老师", "李明", "张华", "陈静", "刘洋", "赵敏", "孙老师", "周丽"]
PLACES = ["学校报告厅", "田径场", "图书馆多功能厅", "科技楼", "体育馆", "各班教室"]
PEOPLE = ["全体师生", "各年级学生代表", "全体教职工", "部分学生家长", "相关学科教师"]

NEWS_PARAGRAPHS = [
    "此次活动以“{theme}”为主题，{people}积极参与、认真准备，"
    "充分展示了阳光实验中学师生昂扬向上的精神风貌。",
    "活动中，{people}围绕{theme}展开交流，大家结合实际工作谈体会、提建议，"
    "现场气氛热烈。",
    "校长在讲话中指出，{theme}是学校高质量发展的重要内容，希望全体师生凝心聚力、"
    "扎实推进，把各项要求落到实处。",
    "近年来，学校坚持立德树人根本任务，在{theme}方面进行了积极探索，"
    "取得了良好成效，得到了家长和社会的广泛认可。",
    "参与活动的同学纷纷表示，这次活动让自己收获很大，今后将以更加饱满的热情"
    "投入到学习和生活中。",
    "{place}里座无虚席，老师们认真聆听、详细记录，会后还进行了热烈的交流讨论。",
    "据悉，学校将以此为契机，进一步完善相关制度，建立长效机制，"
    "推动{theme}工作走深走实。",
    "为保证活动顺利开展，学校提前制定了详细方案，各部门分工协作，"
    "后勤、安保等工作保障有力。",
]

HEADINGS = [
    "一、精心筹备，周密部署",
    "二、内容丰富，形式多样",
    "三、总结经验，持续推进",
]

NOTICE_ITEMS = [
    "请各班班主任提前做好宣传，确保每位学生和家长知晓",
    "学生须按时到校，不得无故缺席",
    "请家长关注学校公众号和班级群的后续通知",
    "如有特殊情况，请及时与班主任联系",
    "注意交通安全，遵守交通规则，不乘坐无牌无证车辆",
    "保持良好的作息习惯，合理安排学习与休息时间",
]


def _date_cn(when) -> str:
    local = when + timedelta(hours=8)  # the demo school is in China (UTC+8)
    return f"{local.month}月{local.day}日"


def _news_body(rng, title, theme, when, author) -> str:
    words = {
        "theme": theme,
        "people": rng.choice(PEOPLE),
        "place": rng.choice(PLACES),
    }
    title = title.split("：")[0]
    parts = [
        f"<p>本网讯（通讯员 {author}）{_date_cn(when)}，{title}。"
        f"{words['people']}参加了此次活动。</p>"
    ]
    paragraphs = rng.sample(NEWS_PARAGRAPHS, 5)
    with_headings = rng.random() < 0.4
    for index, text in enumerate(paragraphs):
        if with_headings and index in (0, 2, 4):
            parts.append(f"<p><strong>{HEADINGS[index // 2]}</strong></p>")
        parts.append(f"<p>{text.format(**words)}</p>")
    return "".join(parts)


def _notice_body(rng, title, theme, when, source) -> str:
    items = "".join(f"<li>{item}。</li>" for item in rng.sample(NOTICE_ITEMS, 4))
    return (
        "<p>各位家长、同学们：</p>"
        f"<p>根据上级有关文件精神，结合我校实际，现将{theme}有关事项通知如下：</p>"
        f"<p><strong>一、时间安排</strong></p>"
        f"<p>具体时间以学校统一安排为准，{_date_cn(when + timedelta(days=7))}"
        f"前请各班完成相关准备工作。</p>"
        f"<p><strong>二、注意事项</strong></p><ul>{items}</ul>"
        "<p>特此通知。</p>"
        f"<p>阳光实验中学{source}<br>{_date_cn(when)}</p>"
    )


def _exam_body(rng, title, theme, when, source) -> str:
    rows = [
        ("第一天", "08:30—10:30", "语文"),
        ("第一天", "14:30—16:30", "数学"),
        ("第二天", "08:30—10:10", "英语"),
        ("第二天", "14:30—16:00", "物理"),
        ("第三天", "08:30—10:00", "化学"),
    ]
    table = "".join(
        f"<tr><td>{d}</td><td>{t}</td><td>{s}</td></tr>" for d, t, s in rows
    )
    return (
        "<p>各年级、各班：</p>"
        "<p>本学期期末考试即将开始，现将考试安排通知如下：</p>"
        "<p><strong>一、考试时间</strong></p>"
        "<table><thead><tr><th>日期</th><th>时间</th><th>科目</th></tr></thead>"
        f"<tbody>{table}</tbody></table>"
        "<p><strong>二、考试要求</strong></p>"
        "<ol><li>考生须提前 15 分钟进入考场，凭准考证参加考试。</li>"
        "<li>严禁携带手机等通讯工具进入考场。</li>"
        "<li>诚信考试，杜绝一切违纪作弊行为。</li></ol>"
        f"<p>阳光实验中学{source}</p>"
    )


def _admission_body(rng, title, theme, when, source) -> str:
    return (
        f"<p>为做好{theme}工作，根据市教育局有关招生政策，"
        "结合学校实际，制定本简章。</p>"
        "<p><strong>一、招生计划</strong></p>"
        "<table><thead><tr><th>类别</th><th>班级数</th><th>计划人数</th>"
        "<th>备注</th></tr></thead><tbody>"
        "<tr><td>普通班</td><td>10</td><td>450</td><td>按学区招生</td></tr>"
        "<tr><td>科技特色班</td><td>2</td><td>90</td><td>需参加综合素质测评</td></tr>"
        "<tr><td>艺术特长班</td><td>1</td><td>45</td><td>需参加专业测试</td></tr>"
        "</tbody></table>"
        "<p><strong>二、报名条件</strong></p>"
        "<ul><li>具有本市正式户籍或符合随迁子女入学条件；</li>"
        "<li>身体健康，品行良好；</li>"
        "<li>按时完成网上报名并提交相关材料。</li></ul>"
        "<p><strong>三、咨询方式</strong></p>"
        "<p>招生咨询电话：010-6288 1234（工作日 8:30—17:00）。"
        "欢迎家长和同学们莅临我校参观咨询。</p>"
    )


def _faq_body(rng, title, theme, when, source) -> str:
    qa = [
        (
            "学校是否提供住宿？",
            "学校为初二以上学生提供住宿，宿舍为六人间，配有空调和独立卫生间。",
        ),
        (
            "如何查询录取结果？",
            "录取结果将在学校网站“通知公告”栏目公布，同时以短信通知家长。",
        ),
        (
            "学校有哪些特色课程？",
            "学校开设科技创新、艺术、体育等三十余门校本选修课程。",
        ),
        (
            "学校食堂如何用餐？",
            "学校食堂提供营养午餐，学生凭校园卡就餐，菜单每周公布。",
        ),
    ]
    return "<p>为方便家长了解招生政策，现将常见问题解答如下：</p>" + "".join(
        f"<p><strong>问：{q}</strong></p><p>答：{a}</p>" for q, a in qa
    )


def _intro_body(rng, title, theme, when, source) -> str:
    return (
        "<p>阳光实验中学创办于 1958 年，是一所完全中学，现有教学班 48 个，"
        "在校学生 2100 余人，教职工 210 人，其中特级教师 6 人，高级教师 72 人。</p>"
        "<p>学校占地 120 亩，拥有标准田径场、体育馆、科技楼、图书馆和艺术中心，"
        "校园环境优美，教育教学设施齐全。</p>"
        "<p><strong>办学特色</strong></p>"
        "<ul><li>科技创新教育：拥有机器人、天文、生物等特色实验室；</li>"
        "<li>阳光体育：每天一小时校园体育活动；</li>"
        "<li>书香校园：年人均阅读 30 本以上。</li></ul>"
        "<p>学校先后荣获全国文明校园、省级示范高中等称号，"
        "正朝着“特色鲜明、质量一流”的现代化名校目标不断迈进。</p>"
    )


def _letter_body(rng, title, theme, when, source) -> str:
    return (
        "<p>亲爱的同学们、家长朋友们：</p>"
        f"<p>教育是一项温暖的事业。围绕“{theme}”，我们始终相信，"
        "每一个孩子都是独一无二的种子，只要有合适的土壤和阳光，都能绽放光彩。</p>"
        "<p>我们希望孩子们在这里学会学习、学会合作、学会担当，"
        "既有扎实的知识，也有健康的身心和温暖的情怀。</p>"
        "<p>家庭是孩子的第一所学校。让我们携手同行，多一些倾听和陪伴，"
        "少一些焦虑和比较，共同守护孩子的成长。</p>"
        "<p>祝同学们学习进步，祝家长朋友们身体健康、工作顺利！</p>"
    )


BODIES = {
    "news": _news_body,
    "notice": _notice_body,
    "exam": _exam_body,
    "admission": _admission_body,
    "faq": _faq_body,
    "intro": _intro_body,
    "letter": _letter_body,
}


def _fill_settings(user_id: int | None) -> None:
    current = get_settings()
    for key, value in SETTINGS.items():
        if current.get(key) == SETTING_DEFAULTS[key]:
            set_setting(key, value)
            origins.record(SOURCE, "setting", key, target_key=key)
    if current.get("logo_id") == SETTING_DEFAULTS["logo_id"]:
        from operations.demo_images import (
            logo as draw_logo,  # Pillow: not in every server
        )

        logo = storage.save_image(io.BytesIO(draw_logo()), "校徽.png", user_id=user_id)
        thumbnails.make(logo, thumbnails.ICON_VARIANTS)
        set_setting("logo_id", str(logo.id))
        origins.record(SOURCE, "upload", "logo", target_id=logo.id)
        origins.record(SOURCE, "setting", "logo_id", target_key="logo_id")


def _picture(title: str, seed: int, user_id: int | None):
    """The post's demo picture, stored like a teacher's upload; None if it has none."""
    if title not in PHOTOS:
        return None
    from operations.demo_images import scene  # Pillow: not in every server

    kind, words = PHOTOS[title]
    return storage.save_image(
        io.BytesIO(scene(kind, words, seed)), f"{words}.jpg", user_id=user_id
    )


def _with_picture(body: str, upload, words: str) -> str:
    """body with the picture after its first paragraph."""
    figure = (
        f'<p><img src="/uploads/{upload.stored_name}" alt="{words}"'
        f' width="{upload.width}" height="{upload.height}"></p>'
    )
    head, sep, tail = body.partition("</p>")
    return f"{head}{sep}{figure}{tail}" if sep else figure + body


def _ensure_sections() -> dict[str, Section]:
    by_slug = {s.slug: s for s in db.session.scalars(sa.select(Section))}
    created = []
    for position, (slug, name, children) in enumerate(SECTIONS):
        channel = by_slug.get(slug)
        if channel is None:
            channel = Section(slug=slug, name=name, position=position)
            db.session.add(channel)
            by_slug[slug] = channel
            created.append(channel)
        for child_position, (child_slug, child_name) in enumerate(children):
            if child_slug not in by_slug:
                child = Section(
                    slug=child_slug,
                    name=child_name,
                    position=child_position,
                    parent=channel,
                )
                db.session.add(child)
                by_slug[child_slug] = child
                created.append(child)
    db.session.flush()
    for section in created:
        # The default tree (sitetree.py) is the school's, even when the demo
        # happened to create it: clearing the demo keeps it.
        if section.slug not in DEFAULT_SLUGS:
            origins.record(SOURCE, "section", section.slug, target_id=section.id)
    return by_slug


def load_demo() -> int:
    """Create the demo school's settings, sections and articles; return new articles."""
    # Fixed seed: the same demo every time, whatever order titles are created in.
    rng = random.Random(20240901)
    now = utcnow()
    admin = db.session.scalar(
        sa.select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1)
    )
    admin_id = admin.id if admin else None
    _fill_settings(admin_id)
    sections = _ensure_sections()
    existing = set(db.session.scalars(sa.select(Article.title)))
    created = 0
    new_articles = []

    def add(slug, title, source, body, **fields):
        nonlocal created
        if title in existing:
            return
        picture = _picture(title, created, admin_id)
        if picture is not None and title not in COVER_ONLY:
            body = _with_picture(body, picture, PHOTOS[title][1])
        article = Article(
            title=title,
            body_html=clean_html(body),
            author_name=fields.pop("author"),
            source=source,
            section=sections[slug],
            created_by=admin,
            created_at=min(fields.get("published_at") or now, now),
            cover_id=picture.id if title in COVER_ONLY else None,
            **fields,
        )
        db.session.add(article)
        new_articles.append(article)
        if picture is not None:
            db.session.flush()
            picture.article_id = article.id  # cleared and deleted with the post
        existing.add(title)
        created += 1

    for slug, title, source, theme, kind in ARTICLES:
        # Draw the same numbers for every article, created now or not.
        days_ago = rng.randint(1, 360)
        published_at = now - timedelta(days=days_ago, hours=rng.randint(0, 9))
        author = rng.choice(AUTHORS + [source])
        views = rng.randint(40, 1800)
        body = BODIES[kind](rng, title, theme, published_at, source)
        pinned = title in PINNED_TITLES
        add(
            slug,
            title,
            source,
            body,
            author=author,
            status=Status.PUBLISHED,
            published_at=published_at,
            pinned=pinned,
            summary=SUMMARIES.get(title),
            views=views + (1500 if pinned else 0),
        )

    for slug, title, status, hours_ahead in HIDDEN_ARTICLES:
        body = _news_body(rng, title, title, now, "教务处")
        published_at = now + timedelta(hours=hours_ahead) if hours_ahead else None
        add(
            slug,
            title,
            "校长办公室",
            body,
            author=rng.choice(AUTHORS),
            status=status,
            published_at=published_at,
        )

    db.session.flush()
    for article in new_articles:
        origins.record(SOURCE, "article", article.title, target_id=article.id)
        if article.status == Status.PUBLISHED:
            chain.record_publish(article, None, "demo")
    _add_view_history(new_articles, rng)
    set_setting("demo_state", "loaded")
    db.session.commit()
    return created


# Days of view history the demo gives each visible post, so the statistics
# page (/admin/stats) has a chart on a brand-new site.
HISTORY_DAYS = 60


def _add_view_history(articles, rng: random.Random) -> None:
    """Spread part of each visible post's views over its last days, newest most.

    The rows are deleted with their post (ON DELETE CASCADE), so clearing the
    demo takes them too.
    """
    today = periods.today()
    now = utcnow()
    for article in articles:
        if not article.is_public:
            continue
        age = (now - article.published_at).days
        days = min(HISTORY_DAYS, age + 1)
        budget = article.views // 2
        for back in range(days):
            share = budget // (back + 3) // 2
            views = rng.randint(share // 2, share) if share else 0
            if views:
                db.session.add(
                    DailyViews(
                        article_id=article.id,
                        day=today - timedelta(days=back),
                        views=views,
                    )
                )


def reason_not_to_load() -> str | None:
    """Why `flask demo` must leave this instance alone, or None if it is new."""
    state = get_settings()["demo_state"]
    if state == "cleared":
        return (
            "The demo content was cleared on this site, so it is not loaded "
            "again (flask demo --force loads it anyway)."
        )
    if state == "loaded" and not has_staff_content():
        return "The demo content is already loaded."
    if state == "skipped":
        return (
            "Loading the demo content was skipped when this site was created "
            "(flask demo --force loads it anyway)."
        )
    if has_staff_content():
        return (
            "This site already has content of its own, so the demo content is "
            "not loaded (flask demo --force loads it anyway)."
        )
    return None


def has_staff_content() -> bool:
    """Whether anyone added posts, uploads or sections that the demo did not."""
    articles = origins.target_ids(SOURCE, "article")
    staff = (
        sa.select(Article.id).where(Article.id.not_in(articles)),
        # Photos in the demo's posts are the demo's, recorded or not.
        sa.select(Upload.id).where(
            Upload.id.not_in(origins.target_ids(SOURCE, "upload")),
            sa.or_(Upload.article_id.is_(None), Upload.article_id.not_in(articles)),
        ),
        sa.select(Section.id).where(
            Section.id.not_in(origins.target_ids(SOURCE, "section")),
            Section.slug.not_in(DEFAULT_SLUGS),
        ),
    )
    return any(db.session.scalar(query.limit(1)) is not None for query in staff)
