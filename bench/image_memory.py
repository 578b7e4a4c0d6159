"""Peak memory of a server process while four 48-megapixel photos arrive at once.

Run: .venv/bin/python bench/image_memory.py [--uploads 4] [--source DIR]

Starts the real server (serve.py with waitress: one process, eight threads,
as on Windows, so all four uploads land in the same process), logs four
editors in, sends the photos at the same moment and reads the process's peak
resident memory (VmHWM) from /proc. --source runs another checkout of the code
(for example an older commit unpacked with `git archive`) for a before/after.
"""

import argparse
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import ROOT, Client, Server, memory_kb  # noqa: E402


def phone_photo(kind: str, width: int = 8000, height: int = 6000) -> bytes:
    """An image the size of a 48 MP phone photo, with smooth photo-like detail."""
    small = Image.effect_noise((width // 40, height // 40), 60).convert("RGB")
    image = small.resize((width, height), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    if kind == "png":
        # A screenshot-like PNG (few colours) stays under the 20 MB upload limit.
        image.quantize(16).save(out, "PNG")
    else:
        image.save(out, "JPEG", quality=92)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--source", type=Path, default=ROOT)
    parser.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    args = parser.parse_args()

    photo = phone_photo(args.format)
    name = "IMG_0001." + ("png" if args.format == "png" else "jpg")
    kind = args.format.upper()
    print(f"photo: 8000 x 6000 {kind}, {len(photo) / 1e6:.1f} MB, x{args.uploads}")
    with tempfile.TemporaryDirectory(prefix="schoolnews-imgmem-") as tmp:
        server = Server(Path(tmp) / "instance", source=args.source, server="waitress")
        names = server.prepare(users=args.uploads)
        server.start()
        try:
            clients = []
            for name in names:
                client = Client(server.url, timeout=300)
                client.login(name)
                clients.append(client)
            (pid,) = server.pids()
            idle = memory_kb(pid, "VmRSS")
            barrier = threading.Barrier(len(clients))
            results = []

            def upload(client):
                barrier.wait()
                started = time.monotonic()
                status, body = client.post_file(
                    "/editor/uploads/image", name, photo, f"image/{args.format}"
                )
                results.append((status, time.monotonic() - started, body))

            threads = [threading.Thread(target=upload, args=(c,)) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            peak = memory_kb(pid, "VmHWM")
        finally:
            server.stop()
    statuses = sorted(status for status, _t, _b in results)
    slowest = max(seconds for _s, seconds, _b in results)
    print(f"answers: {statuses}, slowest {slowest:.1f} s")
    for status, _t, body in results:
        if status != 200:
            print("  refused:", json.loads(body).get("error"))
    print(f"server RSS before: {idle / 1024:.0f} MB")
    print(f"server peak RSS:   {peak / 1024:.0f} MB (+{(peak - idle) / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
