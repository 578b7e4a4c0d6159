"""Generate a realistic school news site of a given size in its own instance folder.

Run: .venv/bin/python bench/sitegen.py [--posts 100000] [--seed 1] [--force] [--json]

The site has 6 channels of 4 sections each plus 3 channels without sections
(33 sections), published posts with Chinese bodies of 1-5 KB spread over five
years, a few pinned posts and random view counts. One channel holds about 40 %
of the posts, so its last pages are deep (page 2,000 at 100,000 posts).

The schema comes from the app's migrations; the rows are written in one
transaction with Core executemany, computing the derived columns (excerpt,
channel_id) here instead of per row through the ORM events and the sanitizer;
the search index is rebuilt once at the end. One post in RARE_EVERY gets a
paragraph with RARE_WORD, for the benchmark's rare-word search.
A finished site is kept under bench/.data/ and reused for the same parameters.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / ".data"
# Bump when the generated content changes, so cached sites are rebuilt.
GENERATOR_VERSION = 2
# Mirrors the app's ARTICLES_PER_PAGE default: the deep page is computed with it.
PER_PAGE = 20
EXCERPT_CHARS = 120
BATCH = 5000
# Searched by the benchmark: a word in a large share of the posts (the share
# is reported), and one in one post of RARE_EVERY only.
COMMON_WORD = "运动会"
RARE_WORD = "航模"
RARE_EVERY = 1000
RARE_PARAGRAPH = "<p>科技社同学在全市航模比赛中获得团体一等奖。</p>"

CHANNELS = [
    ("新闻动态", "news", ["校园要闻", "通知公告", "媒体报道", "校园快讯"], 40),
    ("教育教学", "teaching", ["教研活动", "课堂风采", "质量监测", "课程建设"], 12),
    ("德育天地", "moral", ["主题班会", "国旗下讲话", "心理健康", "家校共育"], 10),
    ("学生风采", "students", ["社团活动", "竞赛获奖", "优秀作品", "志愿服务"], 10),
    ("教师发展", "teachers", ["名师工作室", "青年教师", "培训学习", "教学反思"], 8),
    ("党建工作", "party", ["支部动态", "学习园地", "廉政建设", "工会活动"], 8),
    ("招生信息", "admissions", [], 5),
    ("校园安全", "safety", [], 4),
    ("学校概况", "about", [], 3),
]
SUBJECTS = [
    "我校",
    "高一年级",
    "初二年级",
    "学生会",
    "教务处",
    "德育处",
    "校团委",
    "语文组",
    "数学组",
    "英语组",
    "物理组",
    "体育组",
    "艺术团",
    "家长委员会",
    "总务处",
    "心理辅导室",
    "图书馆",
    "科技社",
    "全体教师",
    "各班班主任",
]
EVENTS = [
    "召开了期中教学质量分析会",
    "举行了春季运动会开幕式",
    "开展了消防安全疏散演练",
    "组织了校园读书节系列活动",
    "举办了青年教师优质课比赛",
    "参加了全市中小学生科技创新大赛",
    "开展了主题升旗仪式",
    "组织学生走进社区开展志愿服务",
    "举行了新学期开学典礼",
    "召开了家长会并通报了学期工作",
    "开展了防溺水安全教育",
    "进行了教学常规检查",
    "举办了校园艺术节文艺汇演",
    "组织了毕业年级中考动员大会",
    "开展了心理健康教育周活动",
    "邀请专家作了专题讲座",
    "完成了新生入学报到工作",
    "举行了校园十佳歌手比赛",
    "开展了垃圾分类宣传活动",
    "组织了教师业务理论学习",
]
DETAILS = [
    "活动得到了家长和社会的广泛好评",
    "全体师生积极参与，现场气氛热烈",
    "此次活动进一步增强了学生的安全意识",
    "老师们纷纷表示收获很大",
    "同学们在活动中展现了良好的精神风貌",
    "学校领导对此项工作提出了具体要求",
    "各年级按照计划有序推进",
    "活动内容丰富，形式多样",
    "为今后的工作积累了宝贵经验",
    "进一步营造了浓厚的学习氛围",
    "充分体现了团结协作的精神",
    "取得了圆满成功",
    "受到上级部门的充分肯定",
    "切实提高了课堂教学效率",
]
OPENERS = [
    "近日，",
    "本周，",
    "为贯彻落实上级文件精神，",
    "在全体师生的共同努力下，",
    "日前，",
    "",
]
ENDINGS = ["。", "。", "。", "！"]
TITLE_TAILS = ["", "活动纪实", "圆满结束", "顺利举行", "通知", "简报", "（图文）"]
AUTHORS = [
    "教务处",
    "德育处",
    "校团委",
    "办公室",
    "宣传组",
    "王老师",
    "李老师",
    "张老师",
]
SOURCES = [None, None, None, "校宣传组", "年级组", "市教育局"]


@dataclass
class Site:
    """A generated site and the pages the benchmark loads."""

    posts: int
    seed: int
    instance: str
    article_id: int
    channel_slug: str
    channel_posts: int
    deep_page: int
    common_word: str
    common_posts: int
    rare_word: str
    generated_seconds: float


def _sentence(rng: random.Random) -> str:
    return (
        rng.choice(OPENERS)
        + rng.choice(SUBJECTS)
        + rng.choice(EVENTS)
        + "，"
        + rng.choice(DETAILS)
        + rng.choice(ENDINGS)
    )


def _paragraph_pool(rng: random.Random, size: int = 3000) -> list[tuple[str, str]]:
    """(html, text) paragraphs; about one in five has a <strong> phrase."""
    pool = []
    for _ in range(size):
        sentences = [_sentence(rng) for _ in range(rng.randint(3, 8))]
        text = "".join(sentences)
        if rng.random() < 0.2:
            i = rng.randrange(len(sentences))
            sentences[i] = f"<strong>{sentences[i]}</strong>"
        pool.append((f"<p>{''.join(sentences)}</p>", text))
    return pool


def _body(rng: random.Random, pool) -> tuple[str, str]:
    """A body of 1-5 KB of UTF-8 and its excerpt."""
    target = rng.randint(1024, 5120)
    html, texts, size = [], [], 0
    while size < target:
        paragraph, text = rng.choice(pool)
        html.append(paragraph)
        texts.append(text)
        size += len(paragraph.encode())
    text = "".join(texts)
    excerpt = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
    return "".join(html), excerpt


def _title(rng: random.Random) -> str:
    return rng.choice(SUBJECTS) + rng.choice(EVENTS) + rng.choice(TITLE_TAILS)


def _site_dir(posts: int, seed: int) -> Path:
    return DATA_DIR / f"site-{posts}-seed{seed}"


def _upgrade(instance: Path) -> None:
    """Create or update the schema with the app's migrations."""
    os.environ["SCHOOLNEWS_INSTANCE"] = str(instance)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from flask_migrate import upgrade

    from app import create_app
    from models import db

    app = create_app()
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _checkpoint(instance: Path) -> None:
    """Fold the write-ahead log left by a previous run into the database.

    Servers stopped by a signal leave it behind, and every benchmark adds
    tens of thousands of view counts; each run then starts from the same state.
    """
    connection = sqlite3.connect(instance / "cms.sqlite3", timeout=30)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def section_tree(first_id: int, **columns):
    """CHANNELS as section rows with ids from first_id (and any other
    columns, such as site_id): (rows, targets, channel ids by slug, next id),
    where targets are (section id, channel id, weight) of every section that
    holds posts."""
    rows, targets, channel_ids = [], [], {}
    next_id = first_id
    for position, (name, slug, children, weight) in enumerate(CHANNELS):
        channel_id, next_id = next_id, next_id + 1
        channel_ids[slug] = channel_id
        rows.append(
            {
                "id": channel_id,
                **columns,
                "name": name,
                "slug": slug,
                "position": position,
                "parent_id": None,
            }
        )
        if not children:
            targets.append((channel_id, channel_id, weight))
        for index, child in enumerate(children):
            rows.append(
                {
                    "id": next_id,
                    **columns,
                    "name": child,
                    "slug": f"{slug}-{index + 1}",
                    "position": index,
                    "parent_id": channel_id,
                }
            )
            targets.append((next_id, channel_id, weight / len(children)))
            next_id += 1
    return rows, targets, channel_ids, next_id


def _fill(instance: Path, posts: int, seed: int) -> dict:
    import sqlalchemy as sa

    from models import Article, Section, Setting, Status

    rng = random.Random(seed)
    pool = _paragraph_pool(rng)
    engine = sa.create_engine(f"sqlite:///{instance / 'cms.sqlite3'}")
    now = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)
    span = timedelta(days=5 * 365).total_seconds()
    with engine.connect() as conn:
        # A new file: if this fails it is thrown away, so no journal is needed,
        # and writing every page once instead of twice (WAL) halves the time.
        conn.exec_driver_sql("PRAGMA journal_mode = OFF")
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Setting.__table__),
            [
                {"key": "school_name", "value": "示范实验中学"},
                {"key": "phone", "value": "0571-88886666"},
                {"key": "address", "value": "浙江省杭州市西湖区文教路 1 号"},
            ],
        )
        section_rows, targets, channel_ids, _next = section_tree(1)
        conn.execute(sa.insert(Section.__table__), section_rows)

        cum_weights = list(itertools.accumulate(w for _s, _c, w in targets))
        # Spread evenly over the span, newest first, with jitter: ids grow
        # with age like a site filled over years would not, but the listing
        # order is by published_at anyway.
        table = Article.__table__
        pinned_left = {c: 1 for c in list(channel_ids.values())[:4]}
        rows = []
        for i in range(posts):
            section_id, channel_id, _w = rng.choices(targets, cum_weights=cum_weights)[
                0
            ]
            body, excerpt = _body(rng, pool)
            if i % RARE_EVERY == RARE_EVERY // 2:
                body += RARE_PARAGRAPH
            age = span * (i + rng.random()) / posts + 60
            published = now - timedelta(seconds=int(age))
            pinned = bool(pinned_left.get(channel_id)) and rng.random() < 0.01
            if pinned:
                pinned_left[channel_id] -= 1
            summary = excerpt if rng.random() < 0.1 else None
            rows.append(
                {
                    "title": _title(rng),
                    "body_html": body,
                    "summary": summary,
                    "excerpt": excerpt,
                    "author_name": rng.choice(AUTHORS),
                    "source": rng.choice(SOURCES),
                    "section_id": section_id,
                    "channel_id": channel_id,
                    "status": Status.PUBLISHED,
                    "published_at": published,
                    "pinned": pinned,
                    "views": int(rng.paretovariate(1.2) * 50) % 100_000,
                    "version": 1,
                    "created_at": published,
                    "updated_at": published,
                    "deleted_at": None,
                }
            )
            if len(rows) == BATCH:
                conn.execute(sa.insert(table), rows)
                rows = []
        if rows:
            conn.execute(sa.insert(table), rows)

        news = channel_ids[CHANNELS[0][1]]
        channel_posts = conn.scalar(
            sa.select(sa.func.count()).where(table.c.channel_id == news)
        )
        # The newest unpinned post of the big channel: today's notice.
        article_id = conn.scalar(
            sa.select(table.c.id)
            .where(table.c.channel_id == news, table.c.pinned.is_(False))
            .order_by(table.c.published_at.desc())
            .limit(1)
        )
    with engine.begin() as conn:
        # Rows written with Core skip the session events that index them.
        from sqlalchemy.orm import Session

        from reader import search

        search.rebuild(conn)
        common_posts = search.count(Session(conn), search.parse(COMMON_WORD))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode = WAL")
    engine.dispose()
    pages = max(1, math.ceil(channel_posts / PER_PAGE))
    return {
        "article_id": article_id,
        "channel_slug": CHANNELS[0][1],
        "channel_posts": channel_posts,
        # Near the end but a full page: as slow as a listing page gets.
        "deep_page": max(1, pages - 1),
        "common_word": COMMON_WORD,
        "common_posts": common_posts,
        "rare_word": RARE_WORD,
    }


def generate(posts: int, seed: int = 1, force: bool = False, log=print) -> Site:
    """The site for these parameters, generated now or reused from bench/.data."""
    final = _site_dir(posts, seed)
    stamp = final / "site.json"
    if stamp.exists() and not force:
        try:
            saved = json.loads(stamp.read_text())
        except ValueError:
            saved = {}
        if saved.get("generator") == GENERATOR_VERSION:
            # Brings a reused site up to the current migrations (no-op usually).
            _upgrade(final)
            _checkpoint(final)
            saved.pop("generator")
            saved["instance"] = str(final)
            log(f"Reusing {posts:,} posts in {final}")
            return Site(**saved)
    log(f"Generating {posts:,} posts in {final} ...")
    started = time.monotonic()
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _upgrade(work)
    keys = _fill(work, posts, seed)
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    site = Site(
        posts=posts,
        seed=seed,
        instance=str(final),
        generated_seconds=round(time.monotonic() - started, 1),
        **keys,
    )
    stamp.write_text(json.dumps({"generator": GENERATOR_VERSION, **asdict(site)}))
    log(f"Generated {posts:,} posts in {site.generated_seconds} s")
    return site


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="regenerate even if kept")
    parser.add_argument(
        "--json", action="store_true", help="print the site as JSON on the last line"
    )
    args = parser.parse_args(argv)
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    site = generate(args.posts, args.seed, args.force, log=log)
    if args.json:
        print(json.dumps(asdict(site)))
    else:
        for key, value in asdict(site).items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
