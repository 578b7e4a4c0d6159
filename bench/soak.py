"""Soak the real server: readers, autosaving writers and uploads at once, a kill -9
in the middle, and a check that nothing acknowledged was lost.

Run: .venv/bin/python bench/soak.py [--minutes 3] [--readers 8] [--writers 4]
     [--uploaders 2] [--workers 2]

Starts `python serve.py` (granian, one worker per core) on 127.0.0.1 in a
throw-away instance after `flask init-db` and `flask demo`. Writers log in
through /login and autosave their posts the way the editor page does;
uploaders send phone photos. Halfway through, the server's whole process
group gets SIGKILL and is started again. At the end every acknowledged save
must be in the database (the last acknowledged text of each post, or a later
one whose answer the kill swallowed) and every acknowledged photo must be
served. Prints requests served, errors, acknowledged writes lost (must be 0)
and the server's peak memory. Every loop stops by itself at the deadline.
"""

import argparse
import io
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import Client, Server, memory_kb  # noqa: E402

# A writer starts a new post after this many autosaves of one.
SAVES_PER_POST = 20


@dataclass
class Post:
    id: int
    acked: int = 0  # the last save number the server acknowledged
    attempted: set[int] = field(default_factory=set)  # every save number sent
    attempted_from: int = 0  # the save that created it


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: Counter = field(default_factory=Counter)  # kind -> acknowledged
    seconds: dict = field(default_factory=dict)  # kind -> [answer times]
    errors: list[str] = field(default_factory=list)  # while the server was up
    outage: int = 0  # refused or cut off by the kill and restart
    posts: list[Post] = field(default_factory=list)
    photos: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    peak_rss_kb: int = 0
    peak_process_kb: int = 0


class Soak:
    def __init__(self, server: Server, args, deadline: float):
        self.server = server
        self.args = args
        self.deadline = deadline
        self.stats = Stats()
        self.down = threading.Event()  # set from the kill until healthy again

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def record(
        self, kind: str, status: int | None, ok: tuple[int, ...], detail="", took=0.0
    ):
        with self.stats.lock:
            if status in ok:
                self.stats.served[kind] += 1
                self.stats.seconds.setdefault(kind, []).append(took)
                return True
            if status is None or self.down.is_set():
                self.stats.outage += 1
            else:
                self.stats.errors.append(f"{kind}: {status} {detail}"[:300])
        return False

    def call(self, fn, *args):
        """fn(*args) -> (status, body, seconds); a refused or cut connection
        has the status None."""
        started = time.monotonic()
        try:
            status, body = fn(*args)
        except OSError as error:
            status, body = None, str(error).encode()
        return status, body, time.monotonic() - started

    # --- the users ---------------------------------------------------------

    def reader(self, n: int, paths: list[str]) -> None:
        rng = random.Random(n)
        client = Client(self.server.url, timeout=30)
        while self.running():
            path = rng.choice(paths)
            status, body, took = self.call(client.request, "GET", path, None, {})
            self.record("read", status, (200,), path, took)
            if status is None:
                time.sleep(0.2)

    def writer(self, n: int, username: str) -> None:
        client = self.logged_in(username)
        if client is None:
            return
        rng = random.Random(1000 + n)
        post, version, save = None, 0, 0
        while self.running():
            save += 1
            body = f"<p>{username} 第{save}次保存：" + "学校新闻。" * rng.randint(5, 80)
            data = {"title": f"{username} 的通知 {save}", "body_html": body + "</p>"}
            if post is None or save - post.attempted_from >= SAVES_PER_POST:
                status, answer, took = self.call(
                    client.post_json, "/editor/articles/autosave", data
                )
                if self.record("autosave", status, (201,), answer[:100], took):
                    reply = json.loads(answer)
                    post = Post(reply["id"], save, {save}, attempted_from=save)
                    version = reply["version"]
                    with self.stats.lock:
                        self.stats.posts.append(post)
                else:
                    time.sleep(0.3)
                continue
            post.attempted.add(save)
            status, answer, took = self.call(
                client.post_json,
                f"/editor/articles/{post.id}/autosave",
                {**data, "version": version},
            )
            if self.record("autosave", status, (200,), answer[:100], took):
                post.acked = save
                version = json.loads(answer)["version"]
            else:
                # A save cut off by the kill may have committed: its version
                # is unknown, so go on with a new post (this one is checked).
                post = None
                time.sleep(0.3)
            time.sleep(rng.uniform(0.05, 0.3))  # a teacher typing

    def uploader(self, n: int, username: str, photos: list[bytes]) -> None:
        client = self.logged_in(username)
        if client is None:
            return
        rng = random.Random(2000 + n)
        while self.running():
            data = rng.choice(photos)
            status, answer, took = self.call(
                client.post_file,
                "/editor/uploads/image",
                f"照片{n}.jpg",
                data,
                "image/jpeg",
            )
            if self.record("upload", status, (200,), answer[:200], took):
                reply = json.loads(answer)
                with self.stats.lock:
                    self.stats.photos.append(
                        (reply["url"], (reply["width"], reply["height"]))
                    )
            else:
                time.sleep(0.3)

    def logged_in(self, username: str) -> Client | None:
        client = Client(self.server.url, timeout=120)
        try:
            client.login(username)
        except (OSError, RuntimeError) as error:
            with self.stats.lock:
                self.stats.errors.append(f"login {username}: {error}")
            return None
        return client

    # --- the operator ------------------------------------------------------

    def killer(self, at: float) -> None:
        while time.monotonic() < at:
            time.sleep(0.2)
        self.down.set()
        print(f"[{time.strftime('%H:%M:%S')}] kill -9 of the server process group")
        self.server.kill9()
        started = time.monotonic()
        self.server.start(workers=self.args.workers)
        print(
            f"[{time.strftime('%H:%M:%S')}] restarted, healthy after "
            f"{time.monotonic() - started:.1f} s"
        )
        time.sleep(1)  # requests cut by the kill come back as errors a bit later
        self.down.clear()

    def memory_monitor(self) -> None:
        while self.running():
            try:
                sizes = [memory_kb(pid, "VmRSS") for pid in self.server.pids()]
            except (ProcessLookupError, OSError):
                sizes = []
            with self.stats.lock:
                self.stats.peak_rss_kb = max(self.stats.peak_rss_kb, sum(sizes))
                self.stats.peak_process_kb = max(
                    self.stats.peak_process_kb, max(sizes, default=0)
                )
            time.sleep(0.25)


def photo(width: int, height: int, seed: int) -> bytes:
    noise = Image.effect_noise((width // 20, height // 20), 50 + seed).convert("RGB")
    out = io.BytesIO()
    noise.resize((width, height), Image.Resampling.BICUBIC).save(out, "JPEG")
    return out.getvalue()


def reader_paths(database: Path) -> list[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM article WHERE status = 'published'"
                " AND published_at <= datetime('now') AND deleted_at IS NULL"
            )
        ]
        slugs = [row[0] for row in connection.execute("SELECT slug FROM section")]
    connection.close()
    paths = ["/", "/?page=2"]
    paths += [f"/articles/{i}" for i in ids]
    paths += [f"/sections/{slug}" for slug in slugs]
    return paths


def check(server: Server, stats: Stats) -> dict:
    """Count acknowledged saves and photos that did not survive."""
    lost_saves = []
    database = server.instance / "cms.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        for post in stats.posts:
            row = connection.execute(
                "SELECT body_html FROM article WHERE id = ?", (post.id,)
            ).fetchone()
            saved = int(row[0].split("第")[1].split("次")[0]) if row else -1
            # The stored text is the last acknowledged save, or a later one
            # whose answer was lost when the server was killed.
            if saved < post.acked or saved not in post.attempted:
                lost_saves.append((post.id, post.acked, saved))
    connection.close()
    lost_photos = []
    client = Client(server.url, timeout=30)
    for url, size in stats.photos:
        status, body = client.request("GET", url)
        if status != 200 or Image.open(io.BytesIO(body)).size != size:
            lost_photos.append(url)
    return {"lost_saves": lost_saves, "lost_photos": lost_photos}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    photos = [photo(1600, 1200, 0), photo(2400, 1800, 1), photo(4000, 3000, 2)]
    with tempfile.TemporaryDirectory(prefix="schoolnews-soak-") as tmp:
        server = Server(Path(tmp) / "instance")
        users = server.prepare(users=args.writers + args.uploaders)
        server.flask("demo")
        paths = reader_paths(server.instance / "cms.sqlite3")
        server.start(workers=args.workers)
        started = time.monotonic()
        duration = args.minutes * 60
        soak = Soak(server, args, deadline=started + duration)
        threads = [threading.Thread(target=soak.memory_monitor)]
        threads += [
            threading.Thread(target=soak.reader, args=(n, paths))
            for n in range(args.readers)
        ]
        threads += [
            threading.Thread(target=soak.writer, args=(n, users[n]))
            for n in range(args.writers)
        ]
        threads += [
            threading.Thread(
                target=soak.uploader, args=(n, users[args.writers + n], photos)
            )
            for n in range(args.uploaders)
        ]
        threads.append(
            threading.Thread(target=soak.killer, args=(started + duration / 2,))
        )
        print(
            f"soak: {args.minutes:g} min, {args.readers} readers, {args.writers} "
            f"writers, {args.uploaders} uploaders, server {server.url}"
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        try:
            result = check(server, soak.stats)
        finally:
            server.stop()

    stats = soak.stats
    served = sum(stats.served.values())
    lost = len(result["lost_saves"]) + len(result["lost_photos"])
    rate = served / elapsed
    print(f"requests served:      {served} in {elapsed:.0f} s ({rate:.0f}/s)")
    for kind, times in sorted(stats.seconds.items()):
        times.sort()
        p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
        print(
            f"  {kind + ':':19} {len(times)}, answered in {p50 * 1000:.0f} ms "
            f"(median), {p95 * 1000:.0f} ms (95%), {times[-1] * 1000:.0f} ms (max)"
        )
    print(f"errors (server up):   {len(stats.errors)}")
    for error in stats.errors[:10]:
        print(f"  {error}")
    print(f"cut off by the kill:  {stats.outage}")
    print(f"posts checked:        {len(stats.posts)}, photos {len(stats.photos)}")
    print(f"acknowledged lost:    {lost}")
    for item in result["lost_saves"][:10] + result["lost_photos"][:10]:
        print(f"  {item}")
    print(
        f"peak memory:          {stats.peak_rss_kb / 1024:.0f} MB for all server "
        f"processes, {stats.peak_process_kb / 1024:.0f} MB for the largest one"
    )
    sys.exit(1 if lost or stats.errors else 0)


if __name__ == "__main__":
    main()
