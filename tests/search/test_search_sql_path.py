"""The SQL search path's measured wins (issue 15): PostgreSQL plans each search for its own words (custom plans,
never a generic plan made for other words), and SQLite checks `cat:` and `since:` against the narrow
`papers_fts_filters` copy instead of the wide `papers` rows, kept in step when a revision moves a paper."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bot.arxiv_source import read_feed_file
from bot.ingest import ingest_feed_file, ingest_records
from bot.search import run_search, search_papers
from tests.conftest import SEED_FEED


@pytest.fixture
def sql_store(sql_store_of):
    return sql_store_of(lambda factory: ingest_feed_file(factory, SEED_FEED))


def search(store, query: str, limit: int = 100):
    return run_search(store.session_factory, query=query, limit=limit)


def test_postgresql_never_prepares_a_search_so_each_gets_its_own_plan(sql_store, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's plan cache")
    # psycopg prepares a statement on the server after 5 runs, and PostgreSQL then may plan it once for all
    # words: `model` (half the corpus) and `zebrafish` (nothing) would share one plan.
    with sql_store.engine.connect() as connection:
        session = Session(bind=connection)
        for _ in range(4):
            for query in ("kv cache", "model", "pruning cat:cs.LG", "zebrafish since:2025-03-01"):
                search_papers(session, query=query, limit=5)
        prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    assert prepared == 0


def statements_of(store, query: str) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        search(store, query)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return seen


WIDE_ROWS = re.compile(r"\b(?:FROM|JOIN)\s+papers\b(?!_)", re.IGNORECASE)


@pytest.mark.parametrize("query", ["pruning cat:cs.LG since:2025-03-15", "author:Wang cat:cs", "cat:cs.LG",
                                   "since:2025-03-19", "cat:cs -pruning"])
def test_sqlite_counts_and_ranks_cat_and_since_on_the_narrow_table(sql_store, database_url, query):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's narrow filter table")
    statements = statements_of(sql_store, query)
    count, *_, page = statements
    assert "papers_fts_filters" in count and not WIDE_ROWS.search(count), count
    assert len(statements) == 2 and WIDE_ROWS.search(page)  # only the page's papers are read whole


def test_a_revision_that_moves_a_paper_moves_it_for_cat_and_since(sql_store):
    [paper] = [item for item in read_feed_file(SEED_FEED) if getattr(item, "arxiv_id", "") == "2503.14881"]
    assert "2503.14881" in {h.paper.arxiv_id for h in search(sql_store, "cat:cs.LG").hits}
    moved = replace(paper, version=paper.version + 1, categories=("math.OC",), primary_category="math.OC",
                    published=paper.published.replace(year=2026))
    ingest_records(sql_store.session_factory, [moved])
    for query in ("cat:math.OC", "kv cache cat:math", "since:2026-01-01", "cache since:2026-01-01"):
        assert [h.paper.arxiv_id for h in search(sql_store, query).hits] == ["2503.14881"], query
    assert "2503.14881" not in {h.paper.arxiv_id for h in search(sql_store, "kv cache cat:cs.LG").hits}
