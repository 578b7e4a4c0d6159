"""Time the reader's pages in-process (Flask test client) at several site sizes.

Run: .venv/bin/python bench/bench_pages.py [--posts 1000 100000] [--repeat 30]

A quick look without a server or wrk; `make bench` (bench_http.py) is the
benchmark of record. The sites come from sitegen.py (kept in bench/.data/).
Prints one line per page and size: the median of `repeat` requests.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import sitegen  # noqa: E402

READER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129)"
)


def timed(client, url: str, repeat: int) -> float:
    client.get(url)  # warm caches and templates
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, headers={"User-Agent": READER_UA})
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for posts in args.posts:
        site = sitegen.generate(posts)
        os.environ["SCHOOLNEWS_INSTANCE"] = site.instance
        from app import create_app
        from models import db

        app = create_app()
        client = app.test_client()
        channel = f"/sections/{site.channel_slug}"
        pages = {
            "home": "/",
            "channel": channel,
            "deep page": f"{channel}?page={site.deep_page}",
            "article": f"/articles/{site.article_id}",
        }
        for name, url in pages.items():
            ms = timed(client, url, args.repeat)
            print(f"{posts:>7} posts  {name:<11} median {ms:6.2f} ms  {url}")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
