"""Load the reader's pages over HTTP against nginx and a bare Flask app, in one run.

Run: make bench [BENCH_ARGS="--sizes 1000 100000 --rounds 3 --duration 10"]
 or: .venv/bin/python bench/bench_http.py --help

Targets, loaded in interleaved rounds with `wrk -t1 -c32 --latency`:
- nginx serving a saved copy of the real article page: the physical limit;
- a bare Flask app returning the same bytes under serve.py: the ceiling;
- the real app under serve.py (as `make run` serves it), for each site size:
  an article (every request a new reader, so every view counts), the home
  page, the first page of the largest channel and a page near its end; and
  two searches, never page-cached and loaded on one connection (more take
  turns in the slow lane, see bench_flood.py): a word in most posts (sitegen's
  COMMON_WORD, in about 78 % of them) and a rare one (RARE_WORD, 1 in 1,000).

Prints req/s, p50, p99, errors and the peak RSS of the largest process for
each, every app page's ratio to the ceiling and to nginx, and p50 at the
largest size over p50 at the smallest; checks the targets of issue 6 (for
the page-cached pages; searches are reported, not checked) and
writes the table into bench/RESULTS.md under "## Reader pages (make bench)".

Exit status: 0, even if a speed or memory target is missed (see --strict);
1 if a request failed or the article's view count did not rise by exactly the
number of article requests answered; 2 if the harness itself could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
SECTION_HEADING = "## Reader pages (make bench)"
HOST = "127.0.0.1"
# A parent opening a link from a class's WeChat group; the app does not count
# bots, and wrk's own User-Agent is one.
READER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129)"
    " NetType/WIFI Language/zh_CN"
)
# Article loads switch to this page (which counts nothing) for their last
# seconds: wrk abandons requests in flight when its time is up, and an
# abandoned article request could have been counted without being answered.
TAIL_SECONDS = 1.5
TAIL_PATH = "/"
RSS_INTERVAL = 0.2
START_TIMEOUT = 90
STOP_TIMEOUT = 10
CACHED_PAGES = ("article", "home", "section", "deep")
# Searches are computed on every request: the page cache's targets do not
# apply; their rows show what a search costs against the same references.
SEARCH_PAGES = ("search-common", "search-rare")
PAGES = CACHED_PAGES + SEARCH_PAGES
SEARCH_TIMEOUT = 20
TARGETS = {
    "ceiling_ratio": 0.5,
    "p99_ms": 50.0,
    "size_ratio": 1.5,
    "rss_mb": 80.0,
}


class HarnessError(Exception):
    """The benchmark could not run: a server failed to start, a page failed."""


# --- wrk scripts --------------------------------------------------------------

_DONE = r"""
function done(summary, latency, requests)
  local counted, article_seconds = 0, 0
  for _, thread in ipairs(threads) do
    counted = counted + (thread:get("counted") or 0)
    article_seconds = math.max(article_seconds, thread:get("article_seconds") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d,'
    .. ' "read": %d, "write": %d, "status": %d, "timeout": %d,'
    .. ' "p50_us": %d, "p99_us": %d, "counted": %d, "article_seconds": %.6f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99),
    counted, article_seconds))
end
"""

_SETUP = r"""
threads = {}
function setup(thread)
  thread:set("first_thread", #threads == 0)
  table.insert(threads, thread)
end
"""

PAGE_SCRIPT = (
    """
wrk.headers["User-Agent"] = @UA@
counted = 0
"""
    + _SETUP
    + _DONE
)

# Every request a new reader: a fresh `reader` cookie and no `seen` cookie.
# No response() callback: it would slow wrk down.
ARTICLE_SCRIPT = (
    """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local UA = @UA@
local ARTICLE = @ARTICLE@
local TAIL = @TAIL@
local CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local tail_request = nil
local token = {}
local started, cutoff = nil, nil
local verified = false
counted = 0
article_seconds = 0

function init(args)
  local duration = tonumber(args[1])
  started = now()
  cutoff = started + duration - tonumber(args[2])
  math.randomseed(tonumber(args[3]))
  tail_request = wrk.format("GET", TAIL, {["User-Agent"] = UA})
end

function request()
  -- wrk calls the first thread's request() once before it starts, to check
  -- the script; that request is never sent, so it must not be counted.
  if first_thread and not verified then
    verified = true
    return tail_request
  end
  local t = now()
  if t < cutoff then
    counted = counted + 1
    article_seconds = t - started
    for i = 1, 22 do
      local r = math.random(1, 64)
      token[i] = CHARS:sub(r, r)
    end
    return wrk.format("GET", ARTICLE, {
      ["User-Agent"] = UA,
      ["Cookie"] = "reader=" .. table.concat(token),
    })
  end
  return tail_request
end
"""
    + _SETUP
    + _DONE
)


def lua_script(template: str, **values: str) -> str:
    """The template with each @NAME@ replaced (Lua itself is full of %)."""
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    return template


def lua_string(value: str) -> str:
    if not value.isascii() or any(c in value for c in '\\"\n\r'):
        raise ValueError(f"not a plain ASCII string: {value!r}")
    return f'"{value}"'


# --- processes ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A server started in its own process group, so all of it can be stopped."""

    name: str
    command: list[str]
    port: int
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise HarnessError(
                f"{self.name} exited ({self.process.returncode}): "
                f"{' '.join(self.command)}\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, path: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until path answers (any HTTP status), or fail."""
        deadline = time.monotonic() + timeout
        last = None
        for _attempt in range(int(timeout / 0.2) + 1):
            self.check_alive()
            try:
                fetch(self.url(path))
                return
            except urllib.error.HTTPError:
                return
            except OSError as exc:
                last = exc
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        raise HarnessError(
            f"{self.name} did not answer within {timeout:.0f} s ({last}): "
            f"{' '.join(self.command)}\n{self.log_tail()}"
        )

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Workers outliving their leader (a crash, a slow exit) share its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 30):
    """GET url without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    with opener.open(request, timeout=timeout) as response:
        return response.status, response.headers, response.read()


def process_tree(root: int) -> list[int]:
    """root and its descendants, from /proc (children lists of every thread)."""
    pids, stack = [], [root]
    for _step in range(10_000):
        if not stack:
            break
        pid = stack.pop()
        pids.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{pid}/task/{task}/children").read_text()
            except OSError:
                continue
            stack.extend(int(child) for child in children.split())
    return pids


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class RssSampler:
    """Peak RSS of the largest single process of the server under load."""

    def __init__(self):
        self.current: tuple[str, int] | None = None  # (row key, root pid)
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL):
            current = self.current
            if current is None:
                continue
            key, root = current
            largest = max((rss_kb(pid) for pid in process_tree(root)), default=0)
            self.peaks[key] = max(self.peaks.get(key, 0), largest)


# --- wrk ----------------------------------------------------------------------


@dataclass
class Run:
    key: str
    round: int
    requests: int
    duration: float
    errors: int
    error_detail: str
    p50_ms: float
    p99_ms: float
    rps: float
    counted: int = 0
    views_delta: int | None = None

    @property
    def counts_exact(self) -> bool:
        return self.views_delta is None or self.views_delta == self.counted


def run_wrk(
    args, url: str, script: Path, key: str, round_: int, script_args=(), timeout=None
) -> Run:
    duration = args.warmup if round_ == 0 else args.duration
    command = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        *([f"--timeout={timeout}s"] if timeout else []),
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if script_args:
        command += ["--", *map(str, script_args)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration + 60,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"wrk did not finish: {' '.join(command)}") from exc
    line = next(
        (ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None
    )
    if done.returncode != 0 or line is None:
        raise HarnessError(
            f"wrk failed ({done.returncode}): {' '.join(command)}\n"
            f"{done.stdout}\n{done.stderr}"
        )
    data = json.loads(line[len("BENCH ") :])
    seconds = data["duration_us"] / 1e6
    kinds = ("connect", "read", "write", "timeout", "status")
    errors = sum(data[kind] for kind in kinds)
    detail = ", ".join(f"{kind} {data[kind]}" for kind in kinds if data[kind])
    rps = data["requests"] / seconds if seconds else 0.0
    if data["counted"] and data["article_seconds"] > 0:
        # The article's own rate, without the tail of non-counting requests.
        rps = data["counted"] / data["article_seconds"]
    return Run(
        key=key,
        round=round_,
        requests=data["requests"],
        duration=seconds,
        errors=errors,
        error_detail=detail,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        rps=rps,
        counted=data["counted"],
    )


# --- the benchmark --------------------------------------------------------------


@dataclass
class Target:
    key: str  # unique row key
    label: str
    server: Server
    path: str
    size: int | None = None  # posts, for the app's pages
    page: str | None = None  # one of PAGES
    instance: str | None = None
    article_id: int | None = None
    script: Path | None = None  # the wrk script; None for the plain page one
    runs: list[Run] = field(default_factory=list)

    def measured(self) -> list[Run]:
        return [run for run in self.runs if run.round > 0]

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.measured())


def read_views(instance: str, article_id: int) -> int:
    connection = sqlite3.connect(Path(instance) / "cms.sqlite3", timeout=30)
    try:
        row = connection.execute(
            "SELECT views FROM article WHERE id = ?", (article_id,)
        ).fetchone()
    finally:
        connection.close()
    if row is None:
        raise HarnessError(f"article {article_id} is missing in {instance}")
    return row[0]


def generate_site(posts: int, seed: int) -> dict:
    command = [
        sys.executable,
        str(BENCH / "sitegen.py"),
        "--posts",
        str(posts),
        "--seed",
        str(seed),
        "--json",
    ]
    done = subprocess.run(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise HarnessError(f"site generation failed: {' '.join(command)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_page(server: Server, path: str, headers=None) -> bytes:
    url = server.url(path)
    try:
        status, response_headers, body = fetch(url, headers)
    except urllib.error.HTTPError as exc:
        body = exc.read()[:2000].decode(errors="replace")
        raise HarnessError(
            f"GET {url} ({server.name}) answered {exc.code}\n{body}\n"
            f"server log:\n{server.log_tail()}"
        ) from exc
    except OSError as exc:
        raise HarnessError(
            f"GET {url} ({server.name}) failed: {exc}\n{server.log_tail()}"
        ) from exc
    if status != 200:
        raise HarnessError(f"GET {url} ({server.name}) answered {status}")
    return body


def nginx_config(directory: Path, port: int, workers: int) -> str:
    temp = directory / "temp"
    return f"""
worker_processes {workers};
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    default_type text/html;
    charset utf-8;
    server {{
        listen {HOST}:{port};
        root {directory}/www;
        location / {{ try_files /page.html =404; }}
    }}
}}
"""


def start_servers(args, sites, tmp: Path, servers: list[Server]) -> list[Target]:
    """Start every server, check every page once, return the targets in order."""
    python = sys.executable
    serve = [python, "serve.py", "--host", HOST]
    if args.workers:
        serve += ["--workers", str(args.workers)]
    app_targets = []
    for site in sites:
        env = dict(os.environ, SCHOOLNEWS_INSTANCE=site["instance"])
        port = free_port()
        server = Server(
            f"app ({site['posts']:,} posts)",
            [*serve, "--port", str(port)],
            port,
            tmp / f"app-{site['posts']}.log",
            env=env,
        )
        servers.append(server)
        server.start()
        channel = f"/sections/{site['channel_slug']}"
        paths = {
            "article": f"/articles/{site['article_id']}",
            "home": "/",
            "section": channel,
            "deep": f"{channel}?page={site['deep_page']}",
            "search-common": "/search?q=" + quote(site["common_word"]),
            "search-rare": "/search?q=" + quote(site["rare_word"]),
        }
        for page in PAGES:
            app_targets.append(
                Target(
                    key=f"{page}@{site['posts']}",
                    label=page,
                    server=server,
                    path=paths[page],
                    size=site["posts"],
                    page=page,
                    instance=site["instance"],
                    article_id=site["article_id"],
                )
            )
    for server in servers:
        server.wait_ready("/")

    reader = {"User-Agent": READER_UA}
    saved = None
    for target in app_targets:
        headers = dict(reader)
        if target.page == "article":
            headers["Cookie"] = f"reader={secrets.token_urlsafe(16)}"
        body = check_page(target.server, target.path, headers)
        if target.page == "article" and target.size == max(args.sizes):
            saved = body
    (tmp / "www").mkdir()
    page_file = tmp / "www" / "page.html"
    page_file.write_bytes(saved)
    page_file.chmod(0o644)

    # nginx's workers drop root to "nobody", who must read the page.
    tmp.chmod(0o755)
    (tmp / "temp").mkdir()
    nginx_port = free_port()
    cores = os.cpu_count() or 1
    (tmp / "nginx.conf").write_text(nginx_config(tmp, nginx_port, cores))
    nginx = Server(
        "nginx",
        [
            args.nginx,
            "-p",
            str(tmp),
            "-e",
            str(tmp / "nginx-error.log"),
            "-c",
            str(tmp / "nginx.conf"),
        ],
        nginx_port,
        tmp / "nginx.log",
    )
    bare_port = free_port()
    bare = Server(
        "bare Flask",
        [*serve, "--port", str(bare_port), "--app", "bench.bare_app:create_app"],
        bare_port,
        tmp / "bare.log",
        env=dict(os.environ, BENCH_PAGE_FILE=str(page_file)),
    )
    for server in (nginx, bare):
        servers.append(server)
        server.start()
    article_path = next(t.path for t in app_targets if t.page == "article")
    reference = []
    for server, key, label in (
        (nginx, "nginx", "nginx: saved article page"),
        (bare, "bare", "bare Flask: same bytes"),
    ):
        server.wait_ready("/")
        body = check_page(server, article_path)
        if body != saved:
            raise HarnessError(f"{server.name} does not return the saved page")
        reference.append(Target(key=key, label=label, server=server, path=article_path))
    return reference + app_targets


def run_target(args, target: Target, round_: int, page_script, sampler) -> Run:
    url = target.server.url(target.path)
    script_args = ()
    script = target.script or page_script
    if target.page == "article":
        duration = args.warmup if round_ == 0 else args.duration
        url = target.server.url("/")
        script_args = (duration, TAIL_SECONDS, secrets.randbits(31))
        before = read_views(target.instance, target.article_id)
    sampler.current = (target.key, target.server.process.pid)
    try:
        # One search at a time: its row shows what a search costs. More at
        # once take turns in the slow lane and the rest are refused with 429
        # (bench/bench_flood.py measures that).
        timeout = SEARCH_TIMEOUT if target.page in SEARCH_PAGES else None
        run_args = args
        if target.page in SEARCH_PAGES:
            run_args = argparse.Namespace(**{**vars(args), "connections": 1})
        run = run_wrk(run_args, url, script, target.key, round_, script_args, timeout)
    finally:
        sampler.current = None
    target.server.check_alive()
    if target.page == "article":
        time.sleep(0.5)  # a count still being written would show up now
        run.views_delta = read_views(target.instance, target.article_id) - before
    target.runs.append(run)
    return run


def describe_run(target: Target, run: Run) -> str:
    name = "warm-up" if run.round == 0 else f"round {run.round}"
    text = (
        f"  {name:<8} {target.key:<18} {run.rps:>9,.0f} req/s  p50 {run.p50_ms:7.2f} ms"
        f"  p99 {run.p99_ms:7.2f} ms  errors {run.errors}"
    )
    if run.views_delta is not None:
        mark = "exact" if run.counts_exact else "WRONG"
        text += f"  views +{run.views_delta} / {run.counted} answered ({mark})"
    return text


# --- report --------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def ratio_to(target: Target, reference: Target) -> float:
    """Median over rounds of the page's req/s over the reference's, same round."""
    by_round = {run.round: run.rps for run in reference.measured()}
    return statistics.median(
        run.rps / by_round[run.round]
        for run in target.measured()
        if by_round.get(run.round)
    )


def report(args, targets: list[Target], peaks: dict[str, int], info: dict):
    """The markdown section, the target checks and whether counts/errors failed."""
    nginx, bare = targets[0], targets[1]
    app = [t for t in targets if t.page]
    sizes = sorted({t.size for t in app})
    small, big = sizes[0], sizes[-1]
    lines = [
        SECTION_HEADING,
        "",
        f"{info['date']}, commit {info['commit']}. Machine: {info['machine']}.",
        f"Server: {info['server']}. Load: {info['load']}.",
        f"Load average (1, 5, 15 min) before: {info['loadavg_before']}, after:"
        f" {info['loadavg_after']}; the machine is shared, so compare ratios.",
        "",
        "| target | posts | req/s | p50 | p99 | errors | peak RSS | "
        "vs ceiling | vs nginx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in targets:
        label = target.label
        if target.page:
            label = f"{target.page} `{target.path}`"
        posts = f"{target.size:,}" if target.size else ""
        rss = peaks.get(target.key, 0) / 1024
        if target.page:
            vs_bare = f"{ratio_to(target, bare):.0%}"
            vs_nginx = f"{ratio_to(target, nginx):.1%}"
        elif target is bare:
            vs_bare, vs_nginx = "100%", f"{ratio_to(target, nginx):.1%}"
        else:
            vs_bare, vs_nginx = "", "100%"
        errors = sum(run.errors for run in target.measured())
        lines.append(
            f"| {label} | {posts} | {target.median('rps'):,.0f} | "
            f"{ms(target.median('p50_ms'))} | {ms(target.median('p99_ms'))} | "
            f"{errors} | {rss:.1f} MB | {vs_bare} | {vs_nginx} |"
        )
    lines += [
        "",
        f"Medians of {args.rounds} rounds of {args.duration} s per target; the ratios"
        " are medians of per-round ratios. The article's req/s counts its article"
        f" requests only (its last {TAIL_SECONDS} s load `{TAIL_PATH}` instead, so"
        " that no counted request is left unanswered); its latencies include those."
        " Peak RSS: the largest single process of the server, sampled every"
        f" {RSS_INTERVAL} s while that row ran.",
        "",
    ]

    checks: list[tuple[str, bool, str]] = []
    article_runs = [(t, r) for t in app if t.page == "article" for r in t.runs]
    counted = sum(r.counted for _t, r in article_runs)
    delta = sum(r.views_delta or 0 for _t, r in article_runs)
    wrong = [
        f"{t.key} round {r.round}: +{r.views_delta} views for {r.counted}"
        for t, r in article_runs
        if not r.counts_exact
    ]
    lines.append(
        f"Article views: +{delta:,} in the database for {counted:,} article requests"
        f" answered over {len(article_runs)} runs (warm-ups included): "
        + ("exact." if not wrong else "NOT EXACT: " + "; ".join(wrong))
    )
    lines.append("")
    checks.append(("view counts exact", not wrong, f"+{delta:,} for {counted:,}"))

    failed_runs = [
        f"{t.key} round {r.round}: {r.error_detail}"
        for t in targets
        for r in t.runs
        if r.errors
    ]
    total = sum(r.requests for t in targets for r in t.runs)
    checks.append(
        (
            "zero errors (socket errors, non-2xx)",
            not failed_runs,
            "; ".join(failed_runs) or f"{total:,} requests",
        )
    )

    cached = [t for t in app if t.page in CACHED_PAGES]
    shares = [(t, ratio_to(t, bare)) for t in cached]
    misses = [f"{t.key} {r:.0%}" for t, r in shares if r < TARGETS["ceiling_ratio"]]
    lowest, lowest_share = min(shares, key=lambda pair: pair[1])
    checks.append(
        (
            f"each page ≥ {TARGETS['ceiling_ratio']:.0%} of the bare-Flask ceiling",
            not misses,
            ", ".join(misses) or f"lowest {lowest_share:.0%} ({lowest.key})",
        )
    )
    slow = [
        f"{t.key} {ms(t.median('p99_ms'))}"
        for t in cached
        if t.median("p99_ms") >= TARGETS["p99_ms"]
    ]
    worst = max(cached, key=lambda t: t.median("p99_ms"))
    checks.append(
        (
            f"p99 < {TARGETS['p99_ms']:.0f} ms at {args.connections} connections",
            not slow,
            (", ".join(slow) or f"highest {ms(worst.median('p99_ms'))} ({worst.key})")
            # What the machine alone adds: other work on a shared machine
            # shows in the static file server's tail too.
            + f"; nginx's p99 in this run: {ms(nginx.median('p99_ms'))}",
        )
    )

    if small != big:
        lines += [
            f"p50 at {big:,} posts over p50 at {small:,} posts (target ≤ "
            f"{TARGETS['size_ratio']}×):",
            "",
            f"| page | p50 at {small:,} | p50 at {big:,} | ratio |",
            "|---|---:|---:|---:|",
        ]
        grown = []
        for page in PAGES:
            one = next(t for t in app if t.page == page and t.size == small)
            other = next(t for t in app if t.page == page and t.size == big)
            ratio = other.median("p50_ms") / one.median("p50_ms")
            lines.append(
                f"| {page} | {ms(one.median('p50_ms'))} | "
                f"{ms(other.median('p50_ms'))} | {ratio:.2f}× |"
            )
            if ratio > TARGETS["size_ratio"] and page in CACHED_PAGES:
                grown.append(f"{page} {ratio:.2f}×")
        lines.append("")
        checks.append(
            (
                f"p50 at {big:,} posts ≤ {TARGETS['size_ratio']}× p50 at {small:,}",
                not grown,
                ", ".join(grown) or "every page",
            )
        )

    app_servers = {t.server.name for t in app}
    server_peak = {
        name: max(peaks.get(t.key, 0) for t in app if t.server.name == name)
        for name in app_servers
    }
    heavy = [
        f"{name} {kb / 1024:.1f} MB"
        for name, kb in sorted(server_peak.items())
        if kb / 1024 >= TARGETS["rss_mb"]
    ]
    checks.append(
        (
            f"every app process < {TARGETS['rss_mb']:.0f} MB",
            not heavy,
            ", ".join(heavy) or f"largest {max(server_peak.values()) / 1024:.1f} MB",
        )
    )

    lines += ["| target | result | detail |", "|---|---|---|"]
    for name, ok, detail in checks:
        lines.append(f"| {name} | {'PASS' if ok else 'FAIL'} | {detail} |")
    lines.append("")
    hard_fail = bool(wrong or failed_runs)
    missed = [name for name, ok, _d in checks if not ok]
    return "\n".join(lines), hard_fail, missed


def write_results(
    section: str, path: Path = RESULTS, heading: str = SECTION_HEADING
) -> None:
    """Replace our section of RESULTS.md, keeping every other section."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == heading), None)
    if start is None:
        kept_before, kept_after = lines, []
        if kept_before and kept_before[-1].strip():
            kept_before = [*kept_before, ""]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
            len(lines),
        )
        kept_before, kept_after = lines[:start], lines[end:]
    new = [*kept_before, *section.rstrip("\n").splitlines()]
    if kept_after:
        new += ["", *kept_after]
    path.write_text("\n".join(new).rstrip("\n") + "\n")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_info(args) -> dict:
    def output(*command) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=10, cwd=REPO
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        from importlib.metadata import version

        granian = f"granian {version('granian')}"
    except Exception:  # noqa: BLE001 - only for the report
        granian = "granian"
    workers = args.workers or os.cpu_count()
    commit = output("git", "rev-parse", "--short", "HEAD")
    if output("git", "status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    wrk = output(args.wrk, "-v").splitlines()
    nginx = subprocess.run(
        [args.nginx, "-v"], capture_output=True, text=True, timeout=10
    ).stderr.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "machine": f"{output('nproc')} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}",
        "server": f"`serve.py` ({granian}, {workers} workers), "
        f"{nginx.replace('nginx version: ', '')} ({os.cpu_count()} workers)",
        "load": f"`wrk -t{args.threads} -c{args.connections} --latency` "
        f"({wrk[0].split(' [')[0] if wrk else 'wrk'}) on the same machine",
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 100_000], help="posts per site"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--workers", type=int, default=0, help="server workers (0: serve.py's default)"
    )
    parser.add_argument("--seed", type=int, default=1, help="site generator seed")
    parser.add_argument(
        "--strict", action="store_true", help="also exit 1 if a target is missed"
    )
    parser.add_argument(
        "--no-write", action="store_true", help=f"do not update {RESULTS.name}"
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args(argv)
    if args.duration < 2 * TAIL_SECONDS or args.warmup < 2 * TAIL_SECONDS:
        parser.error(f"--duration and --warmup must be at least {2 * TAIL_SECONDS} s")
    if args.rounds < 1 or min(args.sizes) < 1:
        parser.error("--rounds and --sizes must be positive")
    args.sizes = sorted(set(args.sizes))
    for tool in (args.wrk, args.nginx):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            parser.error(f"{tool} not found: install wrk and nginx (make bench does)")
    return args


def benchmark(args) -> int:
    loadavg_before = loadavg()
    sites = [generate_site(posts, args.seed) for posts in args.sizes]
    for site in sites:
        print(
            f"Site {site['posts']:,} posts: article {site['article_id']}, deep page"
            f" /sections/{site['channel_slug']}?page={site['deep_page']}"
            f" (the last full page of the largest channel,"
            f" {site['channel_posts']:,} posts)"
        )
    servers: list[Server] = []
    tmp = Path(tempfile.mkdtemp(prefix="schoolnews-bench-"))
    try:
        targets = start_servers(args, sites, tmp, servers)
        ua = lua_string(READER_UA)
        page_script = tmp / "page.lua"
        page_script.write_text(lua_script(PAGE_SCRIPT, UA=ua))
        # One script per site: each site's article has its own id.
        for target in targets:
            if target.page == "article":
                script = tmp / f"article-{target.size}.lua"
                script.write_text(
                    lua_script(
                        ARTICLE_SCRIPT,
                        UA=ua,
                        ARTICLE=lua_string(target.path),
                        TAIL=lua_string(TAIL_PATH),
                    )
                )
                target.script = script
        with RssSampler() as sampler:
            total = len(targets) * (args.warmup + args.rounds * args.duration)
            print(
                f"Loading {len(targets)} targets: warm-up, then {args.rounds} rounds"
                f" (about {total / 60:.0f} min)"
            )
            for round_ in range(args.rounds + 1):
                for target in targets:
                    run = run_target(args, target, round_, page_script, sampler)
                    print(describe_run(target, run), flush=True)
            peaks = dict(sampler.peaks)
        info = machine_info(args)
        info["loadavg_before"], info["loadavg_after"] = loadavg_before, loadavg()
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    section, hard_fail, missed = report(args, targets, peaks, info)
    print()
    return conclude(
        args,
        section,
        hard_fail,
        missed,
        "FAIL: requests failed or view counts were not exact (see above)",
    )


def conclude(args, section, hard_fail, missed, failure, heading=SECTION_HEADING):
    """Print the section, write it into RESULTS.md (unless --no-write) and
    give the exit status: 1 on a hard failure, or on a miss with --strict."""
    print(section)
    if not args.no_write:
        write_results(section, heading=heading)
        print(f"Wrote {RESULTS.relative_to(REPO)}")
    if hard_fail:
        print(failure)
        return 1
    if missed:
        print("Targets missed: " + "; ".join(missed))
        return 1 if args.strict else 0
    print("Every target met.")
    return 0


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_harness(benchmark, args) -> int:
    """benchmark(args) with the servers it starts stopped on any signal;
    the exit status: its own, 2 on a HarnessError, 130 when interrupted."""
    # TERM and HUP stop the servers like Ctrl+C does (the finally blocks); INT
    # is set too, since a shell starts background jobs with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    try:
        return benchmark(args)
    except HarnessError as exc:
        print(f"\nHARNESS ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; servers stopped.", file=sys.stderr)
        return 130


def main(argv=None) -> int:
    return run_harness(benchmark, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
