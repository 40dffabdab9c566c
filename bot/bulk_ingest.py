"""Bulk ingest: many saved arXiv pages (a backfill, a benchmark corpus) into the store, fast, and then the
recommendation vectors of what it stored.

The pages are parsed in a worker process while this one stores the previous pages, so on two cores the
arxiv package's parser and the database work side by side instead of in turn. Several pages (about
PAPERS_PER_TRANSACTION papers) are stored by `db.bulk_ingest.insert_papers_bulk` (multi-row INSERT on SQLite,
COPY on PostgreSQL) in one transaction, so a killed load leaves whole papers, never half of one, and a rerun
adds nothing twice.

On PostgreSQL the server's part of a load (each row's tsvector, its GIN entries) is done by the backend that
receives the COPY, and is four times the parser's: over one connection it keeps one core busy while the
worker leaves the other mostly idle. So the papers are split by id over STORE_CONNECTIONS connections, each
fed by a thread of its own: every version of one paper goes to the same connection, in page order, so "the
newest version wins" is decided exactly as over one connection, and two connections never write the same row.
Each connection commits its own share of a batch, so a load killed mid-way can leave one share of the last
batch and not the other: still whole papers, and a rerun stores the rest. SQLite has one writer: one
connection, in this thread. When the load keeps the GIN index, a thread of its own merges the index's pending
list after each commit (_MergesBehind), so that work is not left to one process after the load.

Right after the load, `store_vectors` computes the vectors that For you and similar rank by (bot/recommend)
for every paper that lacks a current one: encoded in worker processes while this one reads the next texts and
stores the previous vectors. It is a pass of its own, not part of each page's transaction, so the load runs at
the store's pace; a load killed before it ends leaves papers without vectors, which the next load's pass (or
`bot.recommend.backfill_vectors`) makes.

The workers are spawned processes: a script that calls these functions needs the usual
`if __name__ == "__main__":` guard (the console script `papers-bot` has it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import BadEntry, read_feed_file
from bot.ingest import FetchReport
from bot.recommend.vectors import DIM, MODEL, encode
from db import vectors as vector_store
from db.bulk_ingest import (
    analyze_papers,
    end_bulk_transaction,
    finish_bulk_load,
    insert_papers_bulk,
    merge_search_pending,
    prepare_bulk_transaction,
    start_bulk_load,
    writers_for_load,
)
from db.records import PaperRecord, UpsertCounts

log = logging.getLogger(__name__)
# Parsed pages that may wait for the store: two transactions' worth, so the worker parses the next batch
# while this process stores one (with fewer, it idled for most of every batch: 40 s against 29 s for 100,000 papers).
PAGES_AHEAD = 10
# A worker process takes about 1.5 s to start (it imports the arxiv package and this app), the time to parse
# a dozen pages: a smaller load is parsed by a thread, which runs while this one waits on the database (SQLite
# and psycopg let go of the GIL there), instead of by a process.
WORKER_MIN_PAGES = 16
# Papers per transaction: fewer commits, and on SQLite fewer and larger FTS5 segments to merge later. A page
# is never split, so a transaction holds whole pages (5 of the app's 1,000-paper pages).
PAPERS_PER_TRANSACTION = 5_000
# ...but a load is cut into this many transactions or more, as far as whole pages allow: parsing the first
# batch and storing the last each run alone, so they are kept short (10,000 papers on SQLite: 1.82 s in two
# transactions, 1.59 s in five).
MIN_TRANSACTIONS = 8
# PostgreSQL: connections that store a load side by side (see the module docstring). Two, for two cores: the
# parsing worker and this process's own thread need the rest.
STORE_CONNECTIONS = 2
VECTOR_BATCH = 500  # papers per vector transaction
VECTOR_WORKERS = 2


@dataclass
class BulkReport(FetchReport):
    vectors: int = 0  # recommendation vectors stored by the pass after the load


def store_page_bulk(factory: sessionmaker[Session], items: Sequence[PaperRecord | BadEntry],
                    report: FetchReport) -> None:
    """`bot.ingest.store_page` for bulk loads: the same counts and skips, the bulk insert, one transaction."""
    store_pages_bulk(factory, [items], report)


def store_pages_bulk(factory: sessionmaker[Session], pages: Sequence[Sequence[PaperRecord | BadEntry]],
                     report: FetchReport) -> None:
    """Several pages in one transaction, each page's papers in order (a later page's version of a paper is
    compared with what the earlier one stored)."""
    with factory.begin() as session:
        prepare_bulk_transaction(session)
        seen_at = datetime.now(UTC)
        for items in pages:
            good = [item for item in items if isinstance(item, PaperRecord)]
            for bad in (item for item in items if isinstance(item, BadEntry)):
                log.warning("skipped a bad arXiv entry: %s", bad)
                report.skipped += 1
            report.counts += insert_papers_bulk(session, good, seen_at=seen_at)
        end_bulk_transaction(session)


def parsed_pages(paths: Sequence[Path], *, in_worker: bool = True) -> Iterable[list[PaperRecord | BadEntry]]:
    """Each saved page's entries, in order; parsed up to PAGES_AHEAD pages ahead in a worker process, or for a
    load of fewer than WORKER_MIN_PAGES pages in a thread of this process."""
    if not in_worker or len(paths) < 2:
        yield from (read_feed_file(path) for path in paths)
        return
    # spawn: the worker starts clean, whatever threads (search index, pools) this process runs. At most
    # PAGES_AHEAD parsed pages wait, so a store slower than the parser never piles pages up in memory.
    pool: Executor = (ThreadPoolExecutor(1, thread_name_prefix="bulk-parse") if len(paths) < WORKER_MIN_PAGES
                      else ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
    yield from (items for _, items in _in_order_ahead(pool, read_feed_file, ((p, p) for p in paths), PAGES_AHEAD))


def _in_order_ahead(pool: Executor, work, jobs: Iterable[tuple[object, object]], ahead: int):
    """(key, work(argument)) for each (key, argument) of `jobs`, in order, with up to `ahead` more submitted to
    `pool` meanwhile. The pool is shut down when the caller stops, early too (a store error): pending jobs are
    cancelled, not waited for. A process pool's dead worker ends it with BrokenProcessPool, never a wait."""
    try:
        waiting: deque[tuple[object, Future]] = deque()
        for key, argument in jobs:
            waiting.append((key, pool.submit(work, argument)))
            if len(waiting) > ahead:
                key, pending = waiting.popleft()
                yield key, pending.result()
        while waiting:
            key, pending = waiting.popleft()
            yield key, pending.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ingest_feed_files(factory: sessionmaker[Session], paths: Sequence[Path], *, in_worker: bool = True,
                      vectors: bool = True, progress=None) -> BulkReport:
    """Store the saved pages' papers, then (with `vectors`) the vectors of every paper that lacks one."""
    report = BulkReport()
    papers = _papers_in(paths)
    per_transaction = min(PAPERS_PER_TRANSACTION, max(1, papers // MIN_TRANSACTIONS))
    with factory.begin() as session:
        connections = writers_for_load(session, STORE_CONNECTIONS)
        keeps_search_index = start_bulk_load(session, papers)
    try:
        with _SharedStore(factory, connections, report, merge_behind=keeps_search_index) as store:
            batch: list[list[PaperRecord | BadEntry]] = []
            for items in parsed_pages(paths, in_worker=in_worker):
                batch.append(items)
                if sum(len(page) for page in batch) >= per_transaction:
                    store.store(batch, progress)
                    batch = []
            if batch:
                store.store(batch, progress)
    finally:  # a load that failed half-way still gets its full-text index back
        with factory.begin() as session:
            rebuilt = finish_bulk_load(session)
    if rebuilt:  # its own transaction, after the index's: a failure here costs statistics, never the index
        try:
            with factory.begin() as session:
                analyze_papers(session)
        except Exception as err:  # noqa: BLE001 - autovacuum takes the statistics later
            log.warning("taking the table's statistics after the load failed (%s)", type(err).__name__)
    if vectors:
        report.vectors = store_vectors(factory, in_worker=in_worker)
    return report


def _papers_in(paths: Sequence[Path]) -> int:
    """About how many papers the saved pages hold, without parsing them: their bytes, at the bytes per entry of
    the first page that has entries (so a short or empty page first does not shrink the estimate)."""
    for path in paths:
        sample = path.read_bytes()
        if entries := sample.count(b"<entry"):
            return round(sum(page.stat().st_size for page in paths) * entries / len(sample))
    return 0


def _share(arxiv_id: str, shares: int) -> int:
    """Which connection stores this paper: the same for every version of it, in every batch."""
    return zlib.crc32(arxiv_id.encode()) % shares


class _MergesBehind:
    """PostgreSQL, when the load keeps the GIN index: its pending list merged on a connection of its own after
    each committed transaction, one merge at a time, so the merge runs beside the load instead of after it
    (10,000 papers, four runs each: the merge at the end was 1.0 s of a 3.54 s load; merged behind, 3.04 s)."""

    def __init__(self, factory: sessionmaker[Session]):
        self._factory = factory
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="bulk-gin-merge")
        self._running: Future | None = None
        self._lock = threading.Lock()
        self._warned = False

    def after_commit(self) -> None:
        with self._lock:  # the storing threads commit side by side; one merge covers them all
            if self._running is None or self._running.done():
                self._running = self._thread.submit(self._merge)

    def _merge(self) -> None:
        try:
            with self._factory.begin() as session:
                merge_search_pending(session)
        except Exception as err:  # noqa: BLE001 - the load's end merges what is left (finish_bulk_load)
            # Once a load: a cause that lasts (say, a role that does not own the index) fails every merge.
            log.log(logging.DEBUG if self._warned else logging.WARNING,
                    "merging the full-text index during the load failed (%s); the load's end merges it",
                    type(err).__name__)
            self._warned = True

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class _SharedStore:
    """Batches of pages stored over `connections` connections, one thread each; each paper goes to the
    connection its id picks, pages in order. At most two batches are in flight, so memory stays bounded. With
    one connection, `store_pages_bulk` runs in the calling thread. With `merge_behind`, see _MergesBehind."""

    def __init__(self, factory: sessionmaker[Session], connections: int, report: FetchReport, *,
                 merge_behind: bool = False):
        self._factory, self._report = factory, report
        self._shares = [FetchReport() for _ in range(connections)]
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"bulk-store-{n}") for n in range(connections)]
        self._in_flight: deque[tuple[list[Future], object]] = deque()
        self._merges = _MergesBehind(factory) if merge_behind else None

    def _store_share(self, pages: list[list[PaperRecord | BadEntry]], report: FetchReport) -> None:
        store_pages_bulk(self._factory, pages, report)
        if self._merges:
            self._merges.after_commit()

    def store(self, pages: list[list[PaperRecord | BadEntry]], progress) -> None:
        if len(self._threads) == 1:
            self._store_share(pages, self._report)
            if progress:
                progress(self._report)
            return
        split: list[list[list[PaperRecord | BadEntry]]] = [[[] for _ in pages] for _ in self._threads]
        for number, items in enumerate(pages):
            for item in items:  # a bad entry is counted (and logged) by the first connection's thread
                share = _share(item.arxiv_id, len(self._threads)) if isinstance(item, PaperRecord) else 0
                split[share][number].append(item)
        futures = [thread.submit(self._store_share, share_pages, report)
                   for thread, share_pages, report in zip(self._threads, split, self._shares, strict=True)]
        self._in_flight.append((futures, progress))
        if len(self._in_flight) > 1:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        futures, progress = self._in_flight.popleft()
        for future in futures:
            future.result()  # a share's error ends the load here, as it would over one connection
        self._report.counts = sum((share.counts for share in self._shares), UpsertCounts())
        self._report.skipped = sum(share.skipped for share in self._shares)
        if progress:
            progress(self._report)

    def __enter__(self) -> _SharedStore:
        return self

    def __exit__(self, error_type, *_) -> None:
        try:
            while self._in_flight and error_type is None:
                self._finish_oldest()
        finally:
            try:
                for thread in self._threads:
                    thread.shutdown(wait=True, cancel_futures=True)
            finally:  # the merge never outlives the load, even when a second Ctrl-C cuts the wait above
                if self._merges:
                    self._merges.close()


def encode_texts(texts: Sequence[tuple[str, str]]) -> list[bytes]:
    """The vectors of (title, abstract) pairs; run in a worker process."""
    return [encode(title, abstract) for title, abstract in texts]


def store_vectors(factory: sessionmaker[Session], *, in_worker: bool = True, batch: int = VECTOR_BATCH) -> int:
    """`bot.recommend.backfill_vectors` at bulk speed: every paper whose vector is missing or stale gets one,
    a batch per transaction, in id order. Returns how many were stored."""
    stored = 0
    for texts, vectors in _encoded_batches(factory, batch, in_worker=in_worker):
        rows = [(text.paper_id, text.version, vector) for text, vector in zip(texts, vectors, strict=True)]
        with factory.begin() as session:
            stored += vector_store.upsert_vectors(session, model=MODEL, dim=DIM, computed_at=datetime.now(UTC),
                                                  vectors=rows)
    return stored


def _text_batches(factory: sessionmaker[Session], batch: int) -> Iterable[list[vector_store.PaperText]]:
    after_id = 0
    while True:
        with factory.begin() as session:
            texts = vector_store.texts_needing_vectors(session, model=MODEL, after_id=after_id, limit=batch)
        if not texts:
            return
        yield texts
        after_id = texts[-1].paper_id


def _encoded_batches(factory: sessionmaker[Session], batch: int, *, in_worker: bool):
    """(texts, their vectors) batch by batch; with `in_worker`, encoded in worker processes a few batches
    ahead while this process reads and stores."""
    batches = _text_batches(factory, batch)
    first = next(batches, None)
    if first is None:
        return  # nothing needs a vector (a rerun): no worker processes are started for nothing
    batches = chain([first], batches)
    if not in_worker:
        for texts in batches:
            yield texts, encode_texts([(t.title, t.abstract) for t in texts])
        return
    workers = max(1, min(VECTOR_WORKERS, os.cpu_count() or 1))
    # A ProcessPoolExecutor, not multiprocessing.Pool: that one waits forever for a batch whose worker was
    # killed (the OOM killer, say).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    jobs = ((texts, [(t.title, t.abstract) for t in texts]) for texts in batches)
    yield from _in_order_ahead(pool, encode_texts, jobs, workers + 1)
