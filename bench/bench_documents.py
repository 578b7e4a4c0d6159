"""Peak memory and time of attachment previews, hostile documents included.

Run: .venv/bin/python bench/bench_documents.py [--memory-mb 768] [--seconds 60]

Builds each document in memory (the same builders as the tests), converts it
exactly as the server's preview worker does (newsroom/previews.py inside
newsroom/sandbox.py, under the memory and time bound given), and prints one
row per document: the outcome, the wall time and the peak resident memory
(VmHWM) of the process that converted it. A refused or killed conversion has
no figure from inside: its peak is bounded by the limit (RLIMIT_AS, address
space, which is more than resident memory).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsroom import preview_files, previews, sandbox  # noqa: E402
from tests.documents import (  # noqa: E402
    make_big_csv,
    make_big_xlsx,
    make_drawn_pdf,
    make_encrypted_pdf,
    make_merged_xlsx,
    make_zip_bomb_xlsx,
)
from tests.test_docx_import import make_docx  # noqa: E402


def documents():
    text = [f"Page {n}\nSports day timetable" for n in range(1, 41)]
    yield "3-page PDF", "a.pdf", make_drawn_pdf(text[:3])
    yield "40-page PDF (30 shown)", "b.pdf", make_drawn_pdf(text)
    yield "20,000 x 20,000 pt page", "c.pdf", make_drawn_pdf(["huge"], (20_000, 20_000))
    yield "10 x 14,000 pt strip", "d.pdf", make_drawn_pdf(["strip"], (10, 14_000))
    yield "truncated PDF", "e.pdf", make_drawn_pdf(text[:3])[:900]
    yield "password-protected PDF", "f.pdf", make_encrypted_pdf()
    yield ".docx with image and table", "g.docx", make_docx()
    yield "two-sheet .xlsx, merged cells", "h.xlsx", make_merged_xlsx()
    big = make_big_xlsx(20_000, 10)
    yield ".xlsx, 200,000 cells", "i.xlsx", big
    # The same workbook under a bound below what it needs: the bound holds.
    yield ".xlsx, 200,000 cells, 160 MB bound", "i.xlsx", big, 160
    yield "zip bomb .xlsx (300 MB cell)", "j.xlsx", make_zip_bomb_xlsx(300)
    yield ".csv, 20,000 x 10", "k.csv", make_big_csv(20_000, 10)


def measured(kind: str, source: str, folder: str) -> tuple[dict, int]:
    """previews.make() and the peak resident memory (KB) of this process."""
    result = previews.make(kind, source, folder, "/uploads/derived/x/preview/")
    return result, peak_kb()


def peak_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=sandbox.DEFAULT_MEMORY_MB)
    parser.add_argument("--seconds", type=float, default=sandbox.DEFAULT_SECONDS)
    args = parser.parse_args()
    sandbox.preload("bench.bench_documents")
    print(f"limit: {args.memory_mb} MB address space, {args.seconds:g} s per file")
    print("| document | size | outcome | time | peak RSS |")
    print("|---|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for label, name, data, *bound in documents():
            memory_mb = bound[0] if bound else args.memory_mb
            limits = sandbox.Limits(memory_mb, args.seconds)
            source = Path(scratch) / name
            source.write_bytes(data)
            folder = Path(tempfile.mkdtemp(dir=scratch))
            kind = preview_files.KINDS[name.rsplit(".", 1)[1]]
            started = time.monotonic()
            try:
                result, peak = sandbox.run(
                    measured, kind, str(source), str(folder), limits=limits
                )
                outcome = (
                    f"refused: {result['refused']}"
                    if "refused" in result
                    else _shown(result)
                )
                peak_text = f"{peak / 1024:.0f} MB"
            except sandbox.SandboxError as error:
                outcome = f"stopped: {error.reason}"
                peak_text = f"≤ {memory_mb} MB (the bound)"
            seconds = time.monotonic() - started
            size = f"{len(data) / 1024:,.0f} KB"
            print(f"| {label} | {size} | {outcome} | {seconds:.2f} s | {peak_text} |")
    # This process built the documents and only waited for the children.
    print(f"peak RSS of the process that waited: {peak_kb() / 1024:.0f} MB")


def _shown(result: dict) -> str:
    if result["kind"] == "pdf":
        pages = result["pages"]
        biggest = max(p["width"] * p["height"] for p in pages)
        return f"{len(pages)} pages, largest {biggest / 1e6:.1f} Mpx"
    if result["kind"] == "sheet":
        cells = sum(s["rows"] * s["cols"] for s in result["sheets"])
        more = ", cut" if result["truncated"] else ""
        return f"{len(result['sheets'])} sheet(s), {cells} cells{more}"
    return f"HTML, {result['images']} image(s)"


if __name__ == "__main__":
    main()
