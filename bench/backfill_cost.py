"""What a backfill costs besides arXiv's pacing: our time per page, bytes per paper on disk, bytes on the wire.

    python bench/backfill_cost.py --papers 20000
    python bench/backfill_cost.py --papers 20000 --database-url postgresql://postgres@127.0.0.1:5432/papers_bench

It serves N papers as arXivRaw pages from the loopback OAI-PMH fake (tests/fakes/oai_pmh.py) in a child process
(so rendering pages costs this process nothing), the 87 real seed papers over and over with new ids and
datestamps spread over a year, and runs the real `bot.backfill` against it with ARXIV_DELAY_SECONDS=0. It reports:

- store seconds a page: parse (sickle + lxml), upsert and recommendation vectors, what each page adds to
  arXiv's 3 s pacing and its transfer time;
- bytes per paper in the database (papers, full-text index, vectors; SQLite file after a checkpoint, or
  PostgreSQL's database size grown), and in the search index folder once built (SEARCH_ENGINE=index);
- bytes per record on the wire (arXivRaw XML).

The seed abstracts are real (about 1,300 characters); repeating them gives the full-text indexes fewer distinct
words than real papers have, so the index sizes are a floor.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bot import search_index  # noqa: E402
from bot.app import build_oai_client, build_store  # noqa: E402
from bot.backfill import backfill, parse_categories  # noqa: E402
from bot.config import Settings, normalise_database_url  # noqa: E402
from tests.fakes.oai_pmh import FakeOaiPmh, load_papers, render_raw  # noqa: E402

START = date(2023, 1, 1)


def corpus(count: int):
    seed = load_papers()
    papers = []
    for i in range(count):
        base = seed[i % len(seed)]
        month, number = divmod(i, 99_999)
        stamp = datetime(2023, 1, 1, 12, tzinfo=UTC) + timedelta(days=365 * i / count)
        papers.append(replace(base, arxiv_id=f"23{month + 1:02d}.{number + 1:05d}", title=f"{base.title} {i}",
                              published=stamp, updated=stamp, version=1))
    return papers


def serve(count: int, page_size: int) -> None:
    fake = FakeOaiPmh(papers=corpus(count), page_size=page_size).start()
    print(fake.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def database_bytes(store) -> int:
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            return connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        page_count = connection.execute(text("PRAGMA page_count")).scalar_one()
        return page_count * connection.execute(text("PRAGMA page_size")).scalar_one()


def measure(count: int, page_size: int, database_url: str | None, workdir: Path) -> dict:
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--papers", str(count), "--page-size",
                              str(page_size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url = child.stdout.readline().strip()
    settings = Settings(database_url=normalise_database_url(database_url or f"sqlite:///{workdir / 'bf.db'}"),
                        arxiv_oai_url=url, arxiv_delay_seconds=0, search_engine="sql")
    store = build_store(settings)
    empty = database_bytes(store)
    client = build_oai_client(settings, store=store)
    began = time.perf_counter()
    report = backfill(store.session_factory, client, sets=parse_categories("cs.LG"), since=START,
                      until=date(2024, 1, 1), today=date(2024, 1, 2))
    harvest = time.perf_counter() - began
    stored = database_bytes(store) - empty
    sample = "".join(render_raw(p) for p in corpus(87)).encode()
    child.stdin.close()
    child.wait(timeout=30)
    index_dir = workdir / "index"
    index = search_index.attach(store.engine, replace(settings, search_engine="index",
                                                      search_index_dir=str(index_dir)), poll_seconds=0.2)
    index.start()
    while not index.is_current():
        time.sleep(0.2)
    index.close()
    return {"database": store.engine.dialect.name, "papers": report.fetch.counts.new, "pages": report.pages,
            "page_size": page_size, "harvest_s": round(harvest, 1),
            "store_s_per_page": round(harvest / max(report.pages, 1), 2),
            "papers_per_s": round(report.fetch.counts.new / harvest),
            "db_bytes_per_paper": round(stored / max(report.fetch.counts.new, 1)),
            "index_bytes_per_paper": round(folder_bytes(index_dir) / max(report.fetch.counts.new, 1)),
            "wire_bytes_per_record": round(len(sample) / 87)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=2_000)
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.papers, args.page_size)
        return
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps(measure(args.papers, args.page_size, args.database_url, Path(workdir)), indent=2))


if __name__ == "__main__":
    main()
