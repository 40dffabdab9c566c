"""Ingestion: a window of arXiv (or a saved answer) into the `papers` table, a page per transaction.

A page is stored in one transaction, so a process killed mid-fetch leaves whole papers only, and a
re-run picks up where it stopped because the upsert is idempotent. Only whole papers are stored: the
arXiv source retries answers that are not whole, a saved answer that is not whole is refused outright,
and a record without title, abstract or authors is skipped. A whole copy of a stored version whose
content differs (a paper stored broken by an older release) replaces it, counted as updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import ArxivSource, BadEntry, BadPage, build_query, read_feed_file
from bot.config import ConfigError
from bot.recommend import index_papers
from db import papers as paper_store
from db.records import PaperRecord, UpsertCounts

log = logging.getLogger(__name__)


@dataclass
class FetchReport:
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    skipped: int = 0
    requests: int = 0

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged, {self.skipped} skipped; "
            f"{self.requests} request{'s' if self.requests != 1 else ''} to arXiv"
        )


def store_page(
    factory: sessionmaker[Session], items: Sequence[PaperRecord | BadEntry], report: FetchReport,
    *, then: Callable[[Session, list[PaperRecord]], None] | None = None,
) -> None:
    """Store a page's whole papers in one transaction; `then` runs inside that same transaction, so what it
    writes (a backfill's resumption point) commits together with the papers, or not at all."""
    good: list[PaperRecord] = []
    for item in items:
        if isinstance(item, PaperRecord) and (missing := _missing_field(item)):
            item = BadEntry(f"{item.arxiv_id}: {missing}")
        if isinstance(item, BadEntry):
            log.warning("skipped a bad arXiv entry: %s", item)
            report.skipped += 1
        else:
            good.append(item)
    with factory.begin() as session:
        report.counts += paper_store.upsert_papers(session, good, seen_at=datetime.now(UTC))
        if then is not None:
            then(session, good)
    # Recommendation vectors are made here, off the request path, in their own transaction: should this fail,
    # the papers are kept and a re-run (or bot.recommend.backfill_vectors) makes the missing ones.
    index_papers(factory, [paper.arxiv_id for paper in good])


def _missing_field(paper: PaperRecord) -> str | None:
    """What a record lacks to be stored; the arXiv source checks this too, records from elsewhere may not."""
    for name in ("title", "abstract", "authors"):
        if not getattr(paper, name):
            return f"no {name}"
    return None


def fetch_window(
    factory: sessionmaker[Session],
    source: ArxivSource,
    *,
    keywords: Sequence[str],
    categories: Sequence[str],
    since: date,
    until: date,
    progress: Callable[[FetchReport], None] | None = None,
) -> FetchReport:
    """Fetch every paper arXiv has for the topic in [since, until] and store it."""
    query = build_query(keywords=keywords, categories=categories, since=since, until=until)
    log.info("arXiv query: %s", query)
    report = FetchReport()
    start_requests = source.requests_made
    try:
        for page in source.fetch_pages(query):
            store_page(factory, page, report)
            report.requests = source.requests_made - start_requests
            if progress:
                progress(report)
    finally:
        report.requests = source.requests_made - start_requests
    return report


def ingest_feed_file(factory: sessionmaker[Session], path: Path) -> FetchReport:
    """Store a saved arXiv answer; one that is not a whole feed is refused (ConfigError) and nothing stored."""
    try:
        items = read_feed_file(path)
    except BadPage as err:
        raise ConfigError(f"{err}; nothing was stored") from None
    report = FetchReport()
    store_page(factory, items, report)
    return report


def default_window(today: date, lookback_days: int) -> tuple[date, date]:
    return today - timedelta(days=lookback_days), today


def ingest_records(factory: sessionmaker[Session], records: Iterable[PaperRecord]) -> FetchReport:
    report = FetchReport()
    store_page(factory, list(records), report)
    return report
