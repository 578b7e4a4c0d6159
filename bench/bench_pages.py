"""Time the reader's pages with 100 and with 100,000 posts.

Run: .venv/bin/python bench/bench_pages.py [--posts 100 100000] [--repeat 30]

Goal (small hardware): every page's median stays under 50 ms at 100,000 posts,
and within 3x of its time at 100 posts. Prints one line per page and size.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from models import Article, Section, Status, db, utcnow  # noqa: E402

BODY = "<p>" + "学校召开教研工作会议，总结本学期教学工作。" * 20 + "</p>"


def seed(app, posts: int) -> dict:
    with app.app_context():
        db.create_all()
        channels = []
        for c in range(5):
            channel = Section(name=f"频道{c}", slug=f"channel-{c}", position=c)
            db.session.add(channel)
            db.session.flush()
            channels.append(channel)
            for s in range(3):
                name, slug = f"栏目{c}-{s}", f"s-{c}-{s}"
                db.session.add(Section(name=name, slug=slug, parent_id=channel.id))
        db.session.commit()
        section_ids = db.session.scalars(
            sa.select(Section.id).where(Section.parent_id.is_not(None))
        ).all()
        now = utcnow()
        rows = [
            {
                "title": f"第{i}号新闻：学校举行活动",
                "body_html": BODY,
                "author_name": "教务处",
                "section_id": section_ids[i % len(section_ids)],
                "status": Status.PUBLISHED if i % 10 else Status.DRAFT,
                "published_at": now - timedelta(minutes=i),
                "pinned": i % 5000 == 1,
                "views": i % 997,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(posts)
        ]
        for start in range(0, posts, 5000):
            db.session.execute(sa.insert(Article), rows[start : start + 5000])
        db.session.commit()
        middle = db.session.scalar(
            sa.select(Article.id).where(Article.visible_clause()).offset(posts // 3)
        )
        in_section = db.session.scalar(
            sa.select(sa.func.count(Article.id))
            .join(Section)
            .where(Section.slug == "s-2-1", Article.visible_clause())
        )
        deep_page = max(1, in_section // 20 // 2)  # a page in the middle
        return {
            "channel": "channel-2",
            "section": f"s-2-1?page={deep_page}",
            "article": middle,
        }


def timed(client, url: str, repeat: int) -> float:
    client.get(url)  # warm caches and templates
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, headers={"User-Agent": "Googlebot"})
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for posts in args.posts:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(
                {
                    "SECRET_KEY": "bench",
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                    "UPLOAD_FOLDER": f"{tmp}/uploads",
                }
            )
            keys = seed(app, posts)
            client = app.test_client()
            pages = {
                "home": "/",
                "channel": f"/sections/{keys['channel']}",
                "deep page": f"/sections/{keys['section']}",
                "article": f"/articles/{keys['article']}",
            }
            for name, url in pages.items():
                ms = timed(client, url, args.repeat)
                print(f"{posts:>7} posts  {name:<11} median {ms:6.1f} ms")
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
