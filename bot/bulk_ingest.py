"""Bulk ingest: many saved arXiv pages (a backfill, a benchmark corpus) into the store, fast.

The pages are parsed in a worker process while this one stores the previous page, so on two cores the
arxiv package's parser and the database work side by side instead of in turn; each page is stored by
`db.bulk_ingest.insert_papers_bulk` (multi-row INSERT on SQLite, COPY on PostgreSQL) in one transaction, as
`bot.ingest.store_page` does, so a killed load leaves whole pages and a rerun adds nothing twice.

The worker is a spawned process: a script that calls `ingest_feed_files` needs the usual
`if __name__ == "__main__":` guard (the console script `papers-bot` has it).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import BadEntry, read_feed_file
from bot.ingest import FetchReport
from db.bulk_ingest import finish_bulk_load, insert_papers_bulk
from db.records import PaperRecord

log = logging.getLogger(__name__)
PAGES_AHEAD = 2


def store_page_bulk(factory: sessionmaker[Session], items: Sequence[PaperRecord | BadEntry],
                    report: FetchReport) -> None:
    """`bot.ingest.store_page` for bulk loads: the same counts and skips, the bulk insert."""
    good = [item for item in items if isinstance(item, PaperRecord)]
    for bad in (item for item in items if isinstance(item, BadEntry)):
        log.warning("skipped a bad arXiv entry: %s", bad)
        report.skipped += 1
    with factory.begin() as session:
        report.counts += insert_papers_bulk(session, good, seen_at=datetime.now(UTC))


def parsed_pages(paths: Sequence[Path], *, in_worker: bool = True) -> Iterable[list[PaperRecord | BadEntry]]:
    """Each saved page's entries, in order; parsed one page ahead in a worker process."""
    if not in_worker or len(paths) < 2:
        yield from (read_feed_file(path) for path in paths)
        return
    # spawn: the worker starts clean, whatever threads (search index, pools) this process runs. At most
    # PAGES_AHEAD parsed pages wait, so a store slower than the parser never piles pages up in memory.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        waiting: deque = deque()
        for path in paths:
            waiting.append(pool.apply_async(read_feed_file, (path,)))
            if len(waiting) > PAGES_AHEAD:
                yield waiting.popleft().get()
        while waiting:
            yield waiting.popleft().get()


def ingest_feed_files(factory: sessionmaker[Session], paths: Sequence[Path], *, in_worker: bool = True,
                      progress=None) -> FetchReport:
    report = FetchReport()
    for items in parsed_pages(paths, in_worker=in_worker):
        store_page_bulk(factory, items, report)
        if progress:
            progress(report)
    with factory.begin() as session:
        finish_bulk_load(session)
    return report
