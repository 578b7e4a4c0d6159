"""站群 at scale: 100 schools' sites of 1,000 posts each, served by one server.

Run: make bench [SITES_ARGS="--sites 100 --posts 1000 --rounds 3 --duration 10"]
 or: .venv/bin/python bench/bench_sites.py --help

One installation (one SQLite database) holds N schools: site 1 answers at
`/`, site n at the path prefix `/sNNN`. Each site has sitegen's 33 sections
and its own posts spread over the same five years as every other school's,
so a listing that walked the whole installation's index would meet the
other schools' rows on every page. Every title starts with its school's
marker `SNNNX`.

Loaded with `wrk -t1 -c32 --latency`, in interleaved rounds, against the
bare-Flask ceiling served in the same run (bench/bare_app.py under
serve.py, returning the first school's saved article page): the home page,
the largest channel's first page, an article (every request a new reader,
every view counted) and a search for sitegen's COMMON_WORD (one connection,
as in bench_http.py) of the first, middle and last school. Reported as
ratios to the ceiling, with p50/p99 and the peak RSS of the largest server
process while each row ran. The targets are the single-site row's
(bench_http.TARGETS): each page-cached page at least 50 % of the ceiling,
p99 below 50 ms, every process below 80 MB; searches are reported only.

Isolation: before the load, every school's home, section, article, search
and Atom feed are fetched once; each must hold its own marker and no other
school's.

The installation is kept in bench/.data/sites-NxP-seedS and reused.
Writes its section of bench/RESULTS.md; exit status as bench_http.py's
(1 also when isolation fails).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import bench_http as http
import sitegen

SECTION_HEADING = "## 站群: 100 schools in one installation (make bench)"
GENERATOR_VERSION = 1
MARKER = re.compile(rb"S(\d{3})X")


def marker(n: int) -> str:
    return f"S{n:03d}X"


def prefix(n: int) -> str:
    return "" if n == 1 else f"/s{n:03d}"


# --- the installation ------------------------------------------------------------


def _instance(sites: int, posts: int, seed: int) -> Path:
    return sitegen.DATA_DIR / f"sites-{sites}x{posts}-seed{seed}"


def _fill(instance: Path, sites: int, posts: int, seed: int) -> dict:
    """Every school's sections and posts, with Core executemany per batch."""
    import sqlalchemy as sa

    from models import Article, Section, Setting, Site, Status

    rng = random.Random(seed)
    pool = sitegen._paragraph_pool(rng)
    engine = sa.create_engine(f"sqlite:///{instance / 'cms.sqlite3'}")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    span = timedelta(days=5 * 365).total_seconds()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode = OFF")
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
    articles = Article.__table__
    keys: dict[int, dict] = {}
    with engine.begin() as conn:
        conn.execute(
            sa.update(Site.__table__).where(Site.id == 1).values(name="第001实验学校")
        )
        conn.execute(
            sa.insert(Site.__table__),
            [
                {
                    "id": n,
                    "name": f"第{n:03d}实验学校",
                    "host": "",
                    "path_prefix": prefix(n),
                    "bureau": False,
                    "active": True,
                    "created_at": now,
                }
                for n in range(2, sites + 1)
            ],
        )
        conn.execute(
            sa.insert(Setting.__table__),
            [
                {"site_id": n, "key": key, "value": value}
                for n in range(1, sites + 1)
                for key, value in (
                    ("school_name", f"第{n:03d}实验学校"),
                    ("phone", "0571-88886666"),
                    ("address", "浙江省杭州市西湖区文教路 1 号"),
                )
            ],
        )
        next_id = 1
        for n in range(1, sites + 1):
            section_rows, targets, channels, next_id = sitegen.section_tree(
                next_id, site_id=n
            )
            conn.execute(sa.insert(Section.__table__), section_rows)
            weights = [w for _s, _c, w in targets]
            pinned_left = {c: 1 for c in list(channels.values())[:4]}
            rows = []
            for i in range(posts):
                section_id, channel_id, _w = rng.choices(targets, weights)[0]
                body, excerpt = sitegen._body(rng, pool)
                published = now - timedelta(
                    seconds=int(span * (i + rng.random()) / posts + 60)
                )
                pinned = bool(pinned_left.get(channel_id)) and rng.random() < 0.01
                if pinned:
                    pinned_left[channel_id] -= 1
                rows.append(
                    {
                        "site_id": n,
                        "title": f"{marker(n)} {sitegen._title(rng)}",
                        "body_html": body,
                        "summary": None,
                        "excerpt": excerpt,
                        "author_name": rng.choice(sitegen.AUTHORS),
                        "source": None,
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
            for start in range(0, len(rows), sitegen.BATCH):
                conn.execute(sa.insert(articles), rows[start : start + sitegen.BATCH])
            news = channels[sitegen.CHANNELS[0][1]]
            keys[n] = {
                "article_id": conn.scalar(
                    sa.select(articles.c.id)
                    .where(articles.c.channel_id == news, articles.c.pinned.is_(False))
                    .order_by(articles.c.published_at.desc())
                    .limit(1)
                ),
            }
    with engine.begin() as conn:
        from reader import search

        search.rebuild(conn)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA journal_mode = WAL")
    engine.dispose()
    return keys


def generate(sites: int, posts: int, seed: int, force: bool = False) -> dict:
    """The installation for these parameters, made now or reused."""
    final = _instance(sites, posts, seed)
    stamp = final / "sites.json"
    if stamp.exists() and not force:
        saved = json.loads(stamp.read_text())
        if saved.get("generator") == GENERATOR_VERSION:
            sitegen._upgrade(final)
            sitegen._checkpoint(final)
            print(f"Reusing {sites} sites × {posts:,} posts in {final}")
            saved["keys"] = {int(n): v for n, v in saved["keys"].items()}
            return saved
    print(f"Generating {sites} sites × {posts:,} posts in {final} ...", flush=True)
    started = time.monotonic()
    work = final.with_name(final.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sitegen._upgrade(work)
    keys = _fill(work, sites, posts, seed)
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    saved = {
        "generator": GENERATOR_VERSION,
        "sites": sites,
        "posts": posts,
        "instance": str(final),
        "generated_seconds": round(time.monotonic() - started, 1),
        "keys": keys,
    }
    stamp.write_text(json.dumps(saved))
    print(f"Generated in {saved['generated_seconds']} s")
    return saved


# --- pages ----------------------------------------------------------------------


def paths(n: int, article_id: int) -> dict[str, str]:
    p = prefix(n)
    channel = f"{p}/sections/{sitegen.CHANNELS[0][1]}"
    return {
        "home": f"{p}/",
        "section": channel,
        "article": f"{p}/articles/{article_id}",
        "search": f"{p}/search?q=" + quote(sitegen.COMMON_WORD),
        "feed": f"{p}/feed.xml",
    }


LOADED = ("home", "section", "article", "search")
CACHED = ("home", "section", "article")


def check_isolation(server: http.Server, installation: dict) -> tuple[int, list[str]]:
    """Fetch every school's pages once; (pages fetched, what was wrong)."""
    wrong, fetched = [], 0
    headers = {"User-Agent": http.READER_UA}
    for n, key in sorted(installation["keys"].items()):
        for page, path in paths(n, key["article_id"]).items():
            if page == "article":
                headers = {**headers, "Cookie": f"reader={secrets.token_urlsafe(16)}"}
            body = http.check_page(server, path, headers)
            fetched += 1
            found = {int(m) for m in MARKER.findall(body)}
            if n not in found:
                wrong.append(f"school {n} {page}: its marker is missing")
            if found - {n}:
                others = ", ".join(marker(m) for m in sorted(found - {n})[:5])
                wrong.append(f"school {n} {page}: shows {others}")
    return fetched, wrong


# --- the benchmark ------------------------------------------------------------------


def benchmark(args) -> int:
    loadavg_before = http.loadavg()
    installation = generate(args.sites, args.posts, args.seed, args.force)
    schools = sorted({1, (args.sites + 1) // 2, args.sites})
    servers: list[http.Server] = []
    tmp = Path(tempfile.mkdtemp(prefix="schoolnews-sites-"))
    try:
        serve = [sys.executable, "serve.py", "--host", http.HOST]
        if args.workers:
            serve += ["--workers", str(args.workers)]
        port = http.free_port()
        app = http.Server(
            f"app ({args.sites} sites)",
            [*serve, "--port", str(port)],
            port,
            tmp / "app.log",
            env=dict(os.environ, SCHOOLNEWS_INSTANCE=installation["instance"]),
        )
        servers.append(app)
        app.start()
        app.wait_ready("/")
        print(f"Isolation: every page of each of the {args.sites} schools ...")
        fetched, wrong = check_isolation(app, installation)
        for line in wrong[:20]:
            print("  " + line)
        print(f"  {fetched} pages, {len(wrong)} wrong")

        first = installation["keys"][1]["article_id"]
        saved = http.check_page(
            app,
            paths(1, first)["article"],
            {"User-Agent": http.READER_UA, "Cookie": "reader=" + "a" * 22},
        )
        (tmp / "www").mkdir()
        page_file = tmp / "www" / "page.html"
        page_file.write_bytes(saved)
        bare_port = http.free_port()
        bare = http.Server(
            "bare Flask",
            [*serve, "--port", str(bare_port), "--app", "bench.bare_app:create_app"],
            bare_port,
            tmp / "bare.log",
            env=dict(os.environ, BENCH_PAGE_FILE=str(page_file)),
        )
        servers.append(bare)
        bare.start()
        bare.wait_ready("/")
        reference = http.Target(key="bare", label="bare Flask", server=bare, path="/")
        targets = [reference]
        ua = http.lua_string(http.READER_UA)
        page_script = tmp / "page.lua"
        page_script.write_text(http.lua_script(http.PAGE_SCRIPT, UA=ua))
        for n in schools:
            article_id = installation["keys"][n]["article_id"]
            for page, path in paths(n, article_id).items():
                if page not in LOADED:
                    continue
                target = http.Target(
                    key=f"{page}@{n}",
                    label=page,
                    server=app,
                    path=path,
                    size=n,
                    page="search-common" if page == "search" else page,
                    instance=installation["instance"],
                    article_id=article_id,
                )
                if page == "article":
                    target.script = tmp / f"article-{n}.lua"
                    target.script.write_text(
                        http.lua_script(
                            http.ARTICLE_SCRIPT,
                            UA=ua,
                            ARTICLE=http.lua_string(path),
                            TAIL=http.lua_string(prefix(n) + "/"),
                        )
                    )
                targets.append(target)
        with http.RssSampler() as sampler:
            total = len(targets) * (args.warmup + args.rounds * args.duration)
            print(
                f"Loading {len(targets)} targets: warm-up, then {args.rounds} rounds"
                f" (about {total / 60:.0f} min)"
            )
            for round_ in range(args.rounds + 1):
                for target in targets:
                    run = http.run_target(args, target, round_, page_script, sampler)
                    print(http.describe_run(target, run), flush=True)
            peaks = dict(sampler.peaks)
        info = http.machine_info(args)
        info["loadavg_before"], info["loadavg_after"] = loadavg_before, http.loadavg()
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    section, hard_fail, missed = report(
        args, installation, targets, peaks, info, fetched, wrong
    )
    print()
    return http.conclude(
        args,
        section,
        hard_fail,
        missed,
        "FAIL: requests failed, view counts were not exact or isolation broke",
        heading=SECTION_HEADING,
    )


def report(args, installation, targets, peaks, info, fetched, wrong):
    bare = targets[0]
    app = targets[1:]
    lines = [
        SECTION_HEADING,
        "",
        f"{info['date']}, commit {info['commit']}. Machine: {info['machine']}.",
        f"Server: {info['server'].split(', nginx')[0]}, one server for every school."
        f" Load: {info['load']}.",
        f"Load average (1, 5, 15 min) before: {info['loadavg_before']}, after:"
        f" {info['loadavg_after']}; the machine is shared, so compare ratios.",
        f"Installation: {args.sites} schools × {args.posts:,} posts"
        f" ({args.sites * args.posts:,} posts in one SQLite database), site 1 at `/`,"
        f" site n at `/sNNN`; generated in {installation['generated_seconds']} s.",
        "",
        "| school | page | path | req/s | p50 | p99 | errors | peak RSS | vs ceiling |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
        f"| | bare Flask: same bytes | | {bare.median('rps'):,.0f} |"
        f" {http.ms(bare.median('p50_ms'))} | {http.ms(bare.median('p99_ms'))} |"
        f" {sum(r.errors for r in bare.measured())} |"
        f" {peaks.get('bare', 0) / 1024:.1f} MB | 100% |",
    ]
    for t in app:
        lines.append(
            f"| {t.size} | {t.label} | `{t.path}` | {t.median('rps'):,.0f} |"
            f" {http.ms(t.median('p50_ms'))} | {http.ms(t.median('p99_ms'))} |"
            f" {sum(r.errors for r in t.measured())} |"
            f" {peaks.get(t.key, 0) / 1024:.1f} MB | {http.ratio_to(t, bare):.0%} |"
        )
    lines += [
        "",
        f"Medians of {args.rounds} rounds of {args.duration} s per target; ratios are"
        " medians of per-round ratios to the bare-Flask app. Searches run on one"
        " connection and are not page-cached: reported, not checked. Peak RSS: the"
        f" largest single server process, sampled every {http.RSS_INTERVAL} s.",
        "",
    ]
    checks = []
    checks.append(
        (
            "isolation: each school's pages hold its marker and no other's",
            not wrong,
            "; ".join(wrong[:5])
            or f"{fetched} pages of {args.sites} schools (home, section, article,"
            " search, feed)",
        )
    )
    article_runs = [(t, r) for t in app if t.page == "article" for r in t.runs]
    bad = [
        f"{t.key} round {r.round}: +{r.views_delta} for {r.counted}"
        for t, r in article_runs
        if not r.counts_exact
    ]
    counted = sum(r.counted for _t, r in article_runs)
    checks.append(("view counts exact", not bad, "; ".join(bad) or f"{counted:,}"))
    failed = [
        f"{t.key} round {r.round}: {r.error_detail}"
        for t in targets
        for r in t.runs
        if r.errors
    ]
    total = sum(r.requests for t in targets for r in t.runs)
    checks.append(
        ("zero errors", not failed, "; ".join(failed) or f"{total:,} requests")
    )
    cached = [t for t in app if t.label in CACHED]
    shares = [(t, http.ratio_to(t, bare)) for t in cached]
    low = [f"{t.key} {r:.0%}" for t, r in shares if r < http.TARGETS["ceiling_ratio"]]
    lowest, share = min(shares, key=lambda pair: pair[1])
    checks.append(
        (
            f"each page ≥ {http.TARGETS['ceiling_ratio']:.0%} of the ceiling",
            not low,
            ", ".join(low) or f"lowest {share:.0%} ({lowest.key})",
        )
    )
    worst = max(cached, key=lambda t: t.median("p99_ms"))
    slow = [t.key for t in cached if t.median("p99_ms") >= http.TARGETS["p99_ms"]]
    checks.append(
        (
            f"p99 < {http.TARGETS['p99_ms']:.0f} ms",
            not slow,
            ", ".join(slow)
            or f"highest {http.ms(worst.median('p99_ms'))} ({worst.key})",
        )
    )
    largest = max(peaks.get(t.key, 0) for t in app) / 1024
    checks.append(
        (
            f"every app process < {http.TARGETS['rss_mb']:.0f} MB",
            largest < http.TARGETS["rss_mb"],
            f"largest {largest:.1f} MB",
        )
    )
    lines += ["| target | result | detail |", "|---|---|---|"]
    for name, ok, detail in checks:
        lines.append(f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |")
    lines.append("")
    hard_fail = bool(wrong or bad or failed)
    missed = [name for name, ok, _d in checks if not ok]
    return "\n".join(lines), hard_fail, missed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--posts", type=int, default=1000, help="posts per site")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=0, help="0: serve.py's default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="regenerate")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a miss")
    parser.add_argument("--no-write", action="store_true", help="keep RESULTS.md")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args(argv)
    if not 1 <= args.sites <= 999 or args.posts < 1 or args.rounds < 1:
        parser.error("--sites must be 1 to 999, --posts and --rounds positive")
    if args.duration < 2 * http.TAIL_SECONDS or args.warmup < 2 * http.TAIL_SECONDS:
        parser.error(
            f"--duration and --warmup must be at least {2 * http.TAIL_SECONDS}"
        )
    return args


def main(argv=None) -> int:
    return http.run_harness(benchmark, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
