"""Bulk loading of papers: the insert of new papers at the speed of the database, for loads of many pages.

`insert_papers_bulk` has `db.papers.upsert_papers`' meaning (one row per version-less id, the newest version
wins, a re-seen paper only gets `last_seen_at`), and splits the work: papers the store does not have yet are
inserted without SQLAlchemy's per-row machinery, everything else goes through `upsert_papers` itself, so the
rules for existing rows stay in one place.

- SQLite: multi-row INSERTs of 500 papers, values converted by the columns' own SQLAlchemy types, so they
  are stored exactly as the ORM stores them.
- PostgreSQL: COPY straight into `papers` (through a staging table and INSERT ... ON CONFLICT when another
  process got there first). The database still builds each row's tsvector (three quarters of its work in a
  load, by perf); COPY removes the per-row statement round trips, LZ4 compresses the long values, a large load
  that at least doubles the table builds the GIN index once at its end (`start_bulk_load`) instead of growing
  it row by row; a smaller load keeps it, with a longer pending list that `merge_search_pending` merges on
  a connection of its own while the load goes on. A load transaction commits without
  waiting for its WAL to reach the disk (`synchronous_commit = off`, that transaction only): a server crash
  may forget the last moments of a load, never half a transaction, and a rerun stores what was forgotten.

`start_bulk_load` and `finish_bulk_load` go around a whole load; `prepare_bulk_transaction` sets each of its
transactions up, and `insert_papers_bulk` may then run several times in it.
On PostgreSQL a load may run over several connections at once (`writers_for_load`), provided each paper's
every version goes through the same one (bot/bulk_ingest splits by id): rows then never meet, and "the newest
version wins" is decided within one connection's transactions, in page order.

On both, a paper another process inserts meanwhile is skipped, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db import papers as paper_store
from db.models import Paper
from db.records import PaperRecord, UpsertCounts

_COLUMNS = ("arxiv_id", "version", "title", "abstract", "authors", "author_names", "primary_category",
            "categories", "published", "updated", "pdf_url", "comment", "journal_ref", "doi", "first_seen_at",
            "last_seen_at")
_CHUNK = 500  # ids per IN (...) when looking up stored versions
_ROWS_PER_INSERT = 500  # 16 columns: 8,000 bound values, under SQLite's 32,766
_STAGING = "papers_bulk_staging"
_GIN_PENDING_LIST = "64MB"
_SEARCH_GIN = "ix_papers_search_vector"  # migration 0013's
# A load of at least this many papers that also at least doubles the table builds the GIN index afresh. A
# smaller one keeps it and merges its pending list beside the load (bot.bulk_ingest), which measured as fast
# or faster on the wall at every size tried, because the rebuild's CREATE INDEX runs in one process after the
# load (11 s at 100k): 100k papers into an empty table 30.6 s kept against 32.8 s rebuilt; 300k 92.4 against
# 91.7 s; 1M, two pairs, 0.30 and 0.32x the parser kept against 0.28 and 0.30x rebuilt (BENCHMARKS.md). Larger
# loads were not measured; the index keeps growing, so past them the rebuild is still the bet.
_GIN_REBUILD_MIN_PAPERS = 2_000_000
_GIN_BUILD_MEMORY = "256MB"
_GIN_BUILD_LOCK = 727275  # advisory lock key; db/session.py's upgrade lock is 727274
_FTS = "papers_fts"
_FTS_AUTOMERGE = 4  # FTS5's default; the migrations never change it


def insert_papers_bulk(session: Session, papers: Sequence[PaperRecord], *, seen_at: datetime) -> UpsertCounts:
    latest: dict[str, PaperRecord] = {}
    for paper in papers:
        kept = latest.get(paper.arxiv_id)
        if kept is None or paper.version > kept.version:
            latest[paper.arxiv_id] = paper
    stored = _stored_ids(session, list(latest))
    fresh = [paper for arxiv_id, paper in latest.items() if arxiv_id not in stored]
    counts = paper_store.upsert_papers(session, [p for p in latest.values() if p.arxiv_id in stored],
                                       seen_at=seen_at)
    if fresh:
        insert = _insert_postgresql if session.bind.dialect.name == "postgresql" else _insert_sqlite
        inserted = insert(session, fresh, seen_at)
        counts += UpsertCounts(new=inserted, unchanged=len(fresh) - inserted)
    return counts


def writers_for_load(session: Session, wanted: int) -> int:
    """How many connections may store one load side by side: `wanted` on PostgreSQL, one on SQLite (one
    writer at a time; a second would only wait for the first's lock)."""
    return wanted if session.bind.dialect.name == "postgresql" else 1


def prepare_bulk_transaction(session: Session) -> None:
    """Settings for this transaction only, before the first `insert_papers_bulk` in it; with SQLite,
    `end_bulk_transaction` must run before it commits."""
    if session.bind.dialect.name == "sqlite":
        # FTS5 merges its segments as it goes, four at a time (automerge=4): during a load that rewrites each
        # paper's postings several times over. Off for the load's own writes, FTS5 still merges 16 segments
        # of a level at once (crisismerge), so the index stays bounded; end_bulk_transaction turns it back on
        # before the commit, and a killed load rolls the setting back with its papers.
        session.execute(text(f"INSERT INTO {_FTS}({_FTS}, rank) VALUES ('automerge', 0)"))
        return
    # A longer GIN pending list: the full-text index takes new entries in large sorted merges, not page by
    # page; finish_bulk_load merges what is left.
    session.execute(text(f"SET LOCAL gin_pending_list_limit = '{_GIN_PENDING_LIST}'"))
    session.execute(text("SET LOCAL synchronous_commit = off"))
    # The rows' long values (the tsvector, kept in the row, and the abstract) compressed by LZ4, several times
    # cheaper than the default pglz; reads need nothing. Only where the server was built with it.
    if session.scalar(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")):
        session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))


def end_bulk_transaction(session: Session) -> None:
    """Before a load transaction commits: the full-text index's own settings back as they were."""
    if session.bind.dialect.name == "sqlite":
        session.execute(text(f"INSERT INTO {_FTS}({_FTS}, rank) VALUES ('automerge', {_FTS_AUTOMERGE})"))


def _stored_ids(session: Session, arxiv_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(arxiv_ids), _CHUNK):
        chunk = arxiv_ids[start : start + _CHUNK]
        found.update(session.scalars(select(Paper.arxiv_id).where(Paper.arxiv_id.in_(chunk))))
    return found


def _values(paper: PaperRecord, seen_at: datetime) -> tuple:
    return (paper.arxiv_id, paper.version, paper.title, paper.abstract, list(paper.authors),
            ", ".join(paper.authors), paper.primary_category, " ".join(paper.categories), paper.published,
            paper.updated, paper.pdf_url, paper.comment, paper.journal_ref, paper.doi, seen_at, seen_at)


def _insert_sqlite(session: Session, papers: list[PaperRecord], seen_at: datetime) -> int:
    connection = session.connection()
    columns = Paper.__table__.columns
    # Each column's own bind conversion (UTC datetimes, JSON), as the ORM would apply it; the load's one
    # timestamp (the last two columns) is converted once, not twice per row.
    convert = [columns[name].type.bind_processor(connection.dialect) for name in _COLUMNS[:-2]]
    seen = [columns[name].type.bind_processor(connection.dialect)(seen_at) for name in _COLUMNS[-2:]]
    one_row = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
    inserted = 0
    for start in range(0, len(papers), _ROWS_PER_INSERT):
        chunk = papers[start : start + _ROWS_PER_INSERT]
        values = []
        for paper in chunk:
            values.extend(fn(value) if fn else value
                          for fn, value in zip(convert, _values(paper, seen_at)[:-2], strict=True))
            values.extend(seen)
        # One multi-row INSERT per chunk: a third faster than stepping a one-row statement per paper.
        statement = (f"INSERT INTO papers ({', '.join(_COLUMNS)}) VALUES {', '.join([one_row] * len(chunk))} "
                     "ON CONFLICT (arxiv_id) DO NOTHING")
        inserted += max(connection.exec_driver_sql(statement, tuple(values)).rowcount, 0)
    return inserted


def _insert_postgresql(session: Session, papers: list[PaperRecord], seen_at: datetime) -> int:
    """COPY straight into `papers`; if another process inserted one of them meanwhile (the COPY fails on the
    unique id), again through a staging table with ON CONFLICT DO NOTHING. A savepoint keeps the page's
    transaction usable after the failed COPY."""
    rows = [_copy_row(paper, seen_at) for paper in papers]
    driver = session.connection().connection.driver_connection  # psycopg's own connection, same transaction
    with driver.cursor() as cursor:
        cursor.execute("SAVEPOINT bulk_copy")
        try:
            _copy(cursor, "papers", rows)
            cursor.execute("RELEASE SAVEPOINT bulk_copy")
            return len(rows)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT bulk_copy")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (arxiv_id text, version int, title text, abstract text, "
            "authors json, author_names text, primary_category text, categories text, published timestamptz, "
            "updated timestamptz, pdf_url text, comment text, journal_ref text, doi text, "
            "first_seen_at timestamptz, last_seen_at timestamptz) ON COMMIT DELETE ROWS"
        )
        _copy(cursor, _STAGING, rows)
        cursor.execute(f"INSERT INTO papers ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM {_STAGING} "
                       "ON CONFLICT (arxiv_id) DO NOTHING")
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {_STAGING}")  # a second page in the same transaction starts empty
    return max(inserted, 0)


def _copy_row(paper: PaperRecord, seen_at: datetime) -> list:
    values = list(_values(paper, seen_at))
    values[4] = json.dumps(values[4])  # authors: the json column takes text
    return values


def _copy(cursor, table: str, rows: list[list]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def start_bulk_load(session: Session, papers: int) -> bool:
    """Before a load of about `papers` papers, in a transaction of its own. Returns whether the load keeps
    a full-text index whose pending list `merge_search_pending` can merge while the load goes on
    (PostgreSQL's GIN index, when it is not dropped).

    PostgreSQL: growing the GIN index row by row is a large part of the server's work in a load, and grows with
    the index. A load that at least doubles the table (and brings _GIN_REBUILD_MIN_PAPERS or more) drops it,
    and `finish_bulk_load` builds it again in one sorted pass. A load killed in between leaves the table
    without it: SEARCH_ENGINE=sql still answers, by scanning, and the next load of any size builds it first.
    """
    if session.bind.dialect.name != "postgresql":
        return False
    stored = session.scalar(select(func.count()).select_from(Paper)) or 0
    if papers < max(_GIN_REBUILD_MIN_PAPERS, stored):
        _build_search_gin(session)  # what a killed load dropped
        return True
    # DROP INDEX waits for every transaction that read papers; never long: a busy table keeps its index.
    session.execute(text("SET LOCAL lock_timeout = '5s'"))
    try:
        with session.begin_nested():
            session.execute(text(f"DROP INDEX IF EXISTS {_SEARCH_GIN}"))
    except OperationalError:
        return True  # the lock was not granted in time: the index stays and grows row by row, as for a small load
    return False


def merge_search_pending(session: Session) -> None:
    """PostgreSQL: the GIN index's pending list (the entries of rows stored since its last merge) merged into
    the index now, where the index is there. A merge running elsewhere is waited for, then this one merges
    what is left; the load's inserts go on meanwhile."""
    # One statement: the function is strict, so an index dropped meanwhile (another load's start) is NULL.
    session.execute(text("SELECT gin_clean_pending_list(to_regclass(:name))"), {"name": _SEARCH_GIN})


def finish_bulk_load(session: Session) -> bool:
    """After a bulk load, whole or cut short: PostgreSQL builds the full-text index if `start_bulk_load`
    dropped it, else merges what is left of its pending list now, so searches do not scan the list. Returns
    whether it built the index: the load then at least doubled the table, and `analyze_papers` is due."""
    if session.bind.dialect.name != "postgresql":
        return False
    if _build_search_gin(session):
        return True
    merge_search_pending(session)
    return False


def analyze_papers(session: Session) -> None:
    """PostgreSQL: the planner's statistics of `papers` taken again. After a load that doubled the table the
    planner would otherwise cost searches from the old, smaller table until autovacuum gets to it. ANALYZE
    samples 30,000 rows at any size: 0.8 s after 100k papers here."""
    session.execute(text("ANALYZE papers"))


def _build_search_gin(session: Session) -> bool:
    """The full-text GIN index, built if it is missing; returns whether it was."""
    # Two loads run by mistake at once may both end here: one builds, the other then finds it built (two
    # CREATE INDEX IF NOT EXISTS side by side can still both try, and one fail on the catalog's unique name).
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GIN_BUILD_LOCK})
    if session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": _SEARCH_GIN}):
        return False
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{_GIN_BUILD_MEMORY}'"))
    session.execute(text(f"CREATE INDEX IF NOT EXISTS {_SEARCH_GIN} ON papers USING GIN (search_vector)"))
    return True
