"""A/B timing of the bulk load: N papers through `bot.bulk_ingest.ingest_feed_files` (no vector pass) with the
code of each given checkout in turn, on a fresh SQLite or PostgreSQL database each time, the arxiv parser timed
alone before and after. Each checkout runs in a process of its own, alternating, so a drifting machine
affects both sides alike. The sixth session's figures in BENCHMARKS.md come from it.

    git worktree add /tmp/before <commit>
    python bench/ingest_ab.py --papers 10000 --rounds 3 /tmp/before . \\
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ONE_LOAD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench import run
from bot.app import build_store
from bot.config import Settings

if __name__ == "__main__":
    pages, papers, pg_url = sorted(Path(sys.argv[2]).glob("*.xml")), int(sys.argv[3]), sys.argv[4]
    backend = (run.postgres_backend(pg_url, papers, "papers_ab") if pg_url
               else run.sqlite_backend(Path(sys.argv[2]).parent, "ab", scratch=True))
    store = build_store(Settings(database_url=backend.url, search_engine="sql"))
    before = run.measure_parser(pages)
    load = run.measure_bulk_ingest(store, pages, papers, vector_pass=False)
    after = run.measure_parser(pages)
    seconds, cpu = load["seconds"], load["cpu"]
    print(f"{seconds:.2f} s, {papers / seconds / ((before + after) / 2):.2f}x the parser "
          f"(parser {before:,.0f} / {after:,.0f} papers/s; CPU s: this process {cpu['main_s']:.1f}, "
          f"worker {cpu['children_s']:.1f}, server {cpu['server_s']:.1f})")
    store.engine.dispose()
    if backend.drop:
        backend.drop()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default="")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.corpus import generate_papers, write_atom_pages
    from bench.run import PAGE_SIZE

    with tempfile.TemporaryDirectory() as work:
        pages = Path(work) / "pages"
        write_atom_pages(generate_papers(args.papers, seed=args.seed), pages, PAGE_SIZE)
        for round_number in range(1, args.rounds + 1):
            for checkout in args.checkouts:
                load = subprocess.run([sys.executable, "-c", _ONE_LOAD, str(checkout.resolve()), str(pages),
                                       str(args.papers), args.pg_url], capture_output=True, text=True)
                said = load.stdout.strip() or f"failed: {load.stderr.strip()[-500:]}"
                print(f"{time.strftime('%H:%M:%S')} round {round_number} {checkout}: {said}", flush=True)


if __name__ == "__main__":
    main()
