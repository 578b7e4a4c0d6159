"""Two app servers against one on the same machine, on PostgreSQL, behind nginx.

Run: .venv/bin/python bench/bench_two_servers.py [--duration 10 --rounds 3]
     (make bench runs it; a quick look: --duration 3 --rounds 1 --warmup 3)

One PostgreSQL database with the demo school; nginx in front of either one
serve.py or two (an upstream of two ports, as deploy/nginx-two-servers.conf),
each serve.py with --workers (default 1, so «two servers» is twice the app
processes). The load is the article page with every request a new reader
(bench_http's wrk script: every view counts), loaded in interleaved rounds.
Prints req/s, p50, p99 and errors of each, and two over one; checks the
article's view count rose by exactly the views answered; writes the table into
bench/RESULTS.md under "## Two app servers on PostgreSQL (make bench)".

Exit status: 0; 1 if a request failed or a count was not exact; 2 if the
harness could not run (no PostgreSQL at --postgresql, no wrk or nginx).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_http import (  # noqa: E402 - after the path is set
    ARTICLE_SCRIPT,
    HOST,
    READER_UA,
    REPO,
    TAIL_PATH,
    TAIL_SECONDS,
    HarnessError,
    Run,
    Server,
    free_port,
    loadavg,
    lua_script,
    lua_string,
    machine_info,
    run_harness,
    run_wrk,
    write_results,
)

HEADING = "## Two app servers on PostgreSQL (make bench)"
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
# How long the batched views (VIEW_FLUSH_SECONDS, 0.25 s) may take to land.
FLUSH_WAIT = 3.0


def nginx_config(directory: Path, port: int, upstream: list[int]) -> str:
    servers = "\n".join(f"        server {HOST}:{p};" for p in upstream)
    return f"""
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream schoolnews {{
{servers}
        keepalive 64;
    }}
    server {{
        listen {HOST}:{port};
        location / {{
            proxy_pass http://schoolnews;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@dataclass
class Setup:
    key: str
    label: str
    servers: list[Server]
    front: Server
    runs: list[Run] = field(default_factory=list)

    def measured(self) -> list[Run]:
        return [run for run in self.runs if run.round > 0]

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.measured())


class Database:
    """A PostgreSQL database of its own for the run, dropped at the end."""

    def __init__(self, server: str):
        self.server = sa.make_url(server)
        self.name = f"bench_two_servers_{os.getpid()}"
        self.url = self.server.set(database=self.name).render_as_string(
            hide_password=False
        )
        self.admin = sa.create_engine(
            self.server.set(database="postgres"),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 5},
        )
        self.engine = None

    def create(self) -> None:
        try:
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        except sa.exc.OperationalError as exc:
            raise HarnessError(
                f"no PostgreSQL at {self.server.host}:{self.server.port or 5432}"
                f" (--postgresql): {str(exc.orig).strip().splitlines()[0]}"
            ) from exc
        self.engine = sa.create_engine(self.url, poolclass=NullPool)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def drop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        try:
            with self.admin.connect() as connection:
                connection.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'
                )
        except sa.exc.OperationalError:
            pass
        self.admin.dispose()


def make_site(database: Database, instance: Path) -> int:
    """init-db and the demo in instance/; the newest public article's id."""
    instance.mkdir()
    (instance / "config.py").write_text(
        f"SQLALCHEMY_DATABASE_URI = {database.url!r}\n"
        "SECRET_KEY = 'bench-two-servers'\n"
        f"UPLOAD_FOLDER = {str(instance.parent / 'shared-uploads')!r}\n"
        "TRUSTED_PROXIES = 1\n"
    )
    env = dict(os.environ, SCHOOLNEWS_INSTANCE=str(instance))
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    for command in (["init-db"], ["demo"]):
        done = subprocess.run(
            flask + command, cwd=REPO, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise HarnessError(f"flask {command[0]} failed:\n{done.stderr[-2000:]}")
    article_id = database.scalar(
        "SELECT id FROM article WHERE status = 'published' AND deleted_at IS NULL"
        " AND published_at <= now() AT TIME ZONE 'UTC'"
        " ORDER BY published_at DESC LIMIT 1"
    )
    if article_id is None:
        raise HarnessError("the demo school has no public article")
    return article_id


def app_server(args, instance: Path, name: str, tmp: Path) -> Server:
    port = free_port()
    return Server(
        name,
        [sys.executable, "serve.py", "--host", HOST, "--port", str(port)]
        + ["--workers", str(args.workers)],
        port,
        tmp / f"{name}.log",
        env=dict(os.environ, SCHOOLNEWS_INSTANCE=str(instance)),
    )


def front(args, upstream: list[Server], name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config(directory, port, [s.port for s in upstream]))
    return Server(
        name,
        [args.nginx, "-p", str(directory), "-c", str(conf)],
        port,
        tmp / f"{name}.log",
    )


def report(args, setups: list[Setup], info: dict, exact: bool) -> str:
    one, two = setups
    ratio = two.median("rps") / one.median("rps") if one.median("rps") else 0.0
    lines = [
        HEADING,
        "",
        f"Measured {info['date']} on {info['commit']}: {info['machine']}.",
        f"Load: {info['load']}; PostgreSQL "
        f"{info['postgresql']} on the same machine; each `serve.py` with "
        f"{args.workers} worker{'s' if args.workers > 1 else ''}, "
        "behind nginx either way "
        f"(`bench/bench_two_servers.py`, {args.rounds} rounds of "
        f"{args.duration} s, medians). The article page, every request a new "
        "reader, so every view is counted (batched, VIEW_FLUSH_SECONDS).",
        f"Load average before/after: {info['loadavg_before']} / "
        f"{info['loadavg_after']}.",
        "",
        "| setup | req/s | p50 | p99 | errors | views exact |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for setup in setups:
        errors = sum(run.errors for run in setup.measured())
        counts = all(run.counts_exact for run in setup.runs)
        lines.append(
            f"| {setup.label} | {setup.median('rps'):,.0f} |"
            f" {setup.median('p50_ms'):.1f} ms | {setup.median('p99_ms'):.1f} ms |"
            f" {errors} | {'yes' if counts else 'NO'} |"
        )
    if ratio < 1.4:
        verdict = (
            "here the app is not the limit: the database or the machine's cores are"
        )
    elif ratio > 1.7:
        verdict = "here the app is the limit: a second server nearly doubles it"
    else:
        verdict = "here the app is part of the limit, the machine the rest"
    lines += [
        "",
        f"**Two servers over one: {ratio:.2f}×** — {verdict}. The ratio says "
        "what limits the site: close to 1×, the database or the machine's "
        f"{os.cpu_count()} cores (shared here by nginx, wrk, PostgreSQL and the "
        "servers), so a second app server helps only on a machine of its own; "
        "about 2×, the app itself, which a second server doubles.",
    ]
    if not exact:
        lines.append("")
        lines.append("**View counts were not exact in some run (see above).**")
    return "\n".join(lines) + "\n"


def measure(args, setups: list[Setup], database: Database, article_id: int, script):
    """Interleaved rounds (0 is the warm-up); checks every run's count."""
    for round_ in range(args.rounds + 1):
        for setup in setups:
            before = database.scalar(
                "SELECT views FROM article WHERE id = :id", id=article_id
            )
            run = run_wrk(
                args,
                setup.front.url("/"),  # the script asks for the article
                script,
                setup.key,
                round_,
                script_args=(
                    args.warmup if round_ == 0 else args.duration,
                    TAIL_SECONDS,
                    secrets.randbits(31),
                ),
            )
            deadline = time.monotonic() + FLUSH_WAIT
            while True:
                after = database.scalar(
                    "SELECT views FROM article WHERE id = :id", id=article_id
                )
                run.views_delta = after - before
                if run.counts_exact or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            setup.runs.append(run)
            print(
                f"round {round_} {setup.label}: {run.rps:,.0f} req/s,"
                f" p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms,"
                f" errors {run.errors}, counted {run.counted},"
                f" views +{run.views_delta}",
                flush=True,
            )


def benchmark(args) -> int:
    loadavg_before = loadavg()
    database = Database(args.postgresql)
    tmp = Path(tempfile.mkdtemp(prefix="schoolnews-two-servers-"))
    started: list[Server] = []
    try:
        database.create()
        instances = [tmp / "server-a", tmp / "server-b"]
        article_id = make_site(database, instances[0])
        shutil.copytree(instances[0], instances[1])  # the same config.py
        apps = [
            app_server(args, instance, f"app-{letter}", tmp)
            for instance, letter in zip(instances, "ab", strict=True)
        ]
        fronts = [
            front(args, apps[:1], "nginx-one", tmp),
            front(args, apps, "nginx-two", tmp),
        ]
        for server in [*apps, *fronts]:
            server.start()
            started.append(server)
        for server in [*apps, *fronts]:
            server.wait_ready("/healthz")
        setups = [
            Setup("one", "one `serve.py` behind nginx", apps[:1], fronts[0]),
            Setup("two", "two `serve.py` behind nginx", apps, fronts[1]),
        ]
        script = tmp / "article.lua"
        script.write_text(
            lua_script(
                ARTICLE_SCRIPT,
                UA=lua_string(READER_UA),
                ARTICLE=lua_string(f"/articles/{article_id}"),
                TAIL=lua_string(TAIL_PATH),
            )
        )
        print(
            f"Article {article_id}; warm-up {args.warmup} s, then {args.rounds}"
            f" rounds of {args.duration} s for each setup"
        )
        measure(args, setups, database, article_id, script)
        info = machine_info(args)
        info["postgresql"] = database.scalar("SHOW server_version").split()[0]
        info["loadavg_before"], info["loadavg_after"] = loadavg_before, loadavg()
    finally:
        for server in reversed(started):
            server.stop()
        database.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    failed = any(run.errors for setup in setups for run in setup.measured())
    exact = all(run.counts_exact for setup in setups for run in setup.runs)
    section = report(args, setups, info, exact)
    print()
    print(section)
    if not args.no_write:
        write_results(section, heading=HEADING)
        print("Wrote bench/RESULTS.md")
    if failed or not exact:
        print("FAIL: requests failed or view counts were not exact (see above)")
        return 1
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per setup")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=1, help="workers of each serve.py"
    )
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("SCHOOLNEWS_TEST_POSTGRESQL") or DEFAULT_POSTGRESQL,
        help="server URL; the run creates its own database there and drops it",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/RESULTS.md"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args(argv)
    if args.duration < 2 * TAIL_SECONDS or args.warmup < 2 * TAIL_SECONDS:
        parser.error(f"--duration and --warmup must be at least {2 * TAIL_SECONDS} s")
    if args.rounds < 1 or args.workers < 1:
        parser.error("--rounds and --workers must be positive")
    for tool in (args.wrk, args.nginx):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            parser.error(f"{tool} not found: install wrk and nginx (make bench does)")
    return args


def main(argv=None) -> int:
    return run_harness(benchmark, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
