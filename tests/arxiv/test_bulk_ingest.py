"""Bulk ingest (bot/bulk_ingest, db/bulk_ingest): the same rows and counts as the page-by-page ingest, pages
parsed in a worker process, several pages a transaction, a killed load leaves whole papers, the search index
follows what it stores, and the pass after the load gives every paper its recommendation vector. SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.corpus import generate_papers, write_atom_pages
from bot import bulk_ingest, recommend, search_index
from bot.app import build_store
from bot.arxiv_source import read_feed_file
from bot.ingest import FetchReport, ingest_feed_file, ingest_records
from bot.reading import mark_read
from bot.search import run_search
from db import papers as paper_store
from db.models import Paper, PaperVector
from tests.conftest import SEED_FEED

ROOT = Path(__file__).resolve().parents[2]


def all_papers(store) -> dict:
    with store.session_factory.begin() as session:
        ids = [item.arxiv_id for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id")]
        return paper_store.get_papers(session, ids)


def test_bulk_ingest_stores_what_the_page_ingest_stores_and_a_rerun_adds_nothing(store, settings, tmp_path):
    report = bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED], in_worker=False)
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (87, 0, 0)
    bulk = all_papers(store)
    again = bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED], in_worker=False)
    assert (again.counts.new, again.counts.unchanged) == (0, 87)
    reference = replace(settings, database_url=f"sqlite:///{tmp_path / 'reference.db'}")
    other = build_store(reference)
    try:
        ingest_feed_file(other.session_factory, SEED_FEED)
        assert all_papers(other) == bulk
    finally:
        other.engine.dispose()


def test_a_newer_version_replaces_and_an_older_one_is_left_alone(store):
    paper = next(item for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id"))
    ingest_records(store.session_factory, [replace(paper, version=3, title="Third")])
    report = FetchReport()
    bulk_ingest.store_page_bulk(store.session_factory, [replace(paper, version=2, title="Second"),
                                                        replace(paper, arxiv_id="2599.00010", title="New")],
                                report)
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (1, 0, 1)
    bulk_ingest.store_page_bulk(store.session_factory, [replace(paper, version=4, title="Fourth")], report)
    assert report.counts.updated == 1
    with store.session_factory.begin() as session:
        assert paper_store.get_paper(session, paper.arxiv_id).title == "Fourth"
        assert paper_store.get_paper(session, "2599.00010").title == "New"


@pytest.mark.parametrize("parser", ["process", "thread"])
def test_pages_parsed_ahead_are_stored_in_order_with_bad_entries_counted(store, tmp_path, parser,
                                                                         monkeypatch):
    # A load of five pages is parsed by a thread; a large one (here, any) by a worker process.
    monkeypatch.setattr(bulk_ingest, "WORKER_MIN_PAGES", 2 if parser == "process" else 100)
    papers = list(generate_papers(450, seed=4))
    pages = write_atom_pages(papers, tmp_path / "pages", page_size=100)
    head, entries = pages[2].read_text().split("<entry>", 1)  # an entry whose id is not an arXiv id
    pages[2].write_text(head + "<entry>" + re.sub(r"<id>[^<]*</id>", "<id>garbage</id>", entries, count=1))
    # vectors=False: the vector workers are another test's subject (the bulk-loaded papers get the vectors ...),
    # and 449 vectors cost seconds of CPU.
    report = bulk_ingest.ingest_feed_files(store.session_factory, pages, vectors=False)
    assert report.counts.new == 449 and report.skipped == 1
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 449


def test_the_search_index_follows_a_bulk_load(store, settings, tmp_path):
    index = search_index.attach(store.engine, replace(settings, search_index_dir=str(tmp_path / "index")))
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert index.wait_until_current()
    papers = list(generate_papers(300, seed=5))
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(papers, tmp_path / "pages", 100),
                                  in_worker=False)
    assert index.wait_until_current()
    answered = index.answered
    page = run_search(store.session_factory, query=papers[-1].title, limit=5)
    assert papers[-1].arxiv_id in [hit.paper.arxiv_id for hit in page.hits]
    assert index.answered == answered + 1
    index.close()


def test_a_paper_another_process_inserts_meanwhile_is_skipped_not_an_error(store, monkeypatch):
    from db import bulk_ingest as bulk_store

    papers = [item for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id")][:3]
    ingest_records(store.session_factory, papers[:1])
    monkeypatch.setattr(bulk_store, "_stored_ids", lambda session, ids: set())  # the lookup ran before it landed
    report = FetchReport()
    bulk_ingest.store_page_bulk(store.session_factory, papers, report)
    assert (report.counts.new, report.counts.unchanged) == (2, 1)
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 3


def test_a_later_page_in_the_same_transaction_brings_a_newer_version(store):
    paper = next(item for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id"))
    report = FetchReport()
    bulk_ingest.store_pages_bulk(store.session_factory, [[replace(paper, version=2, title="Second")],
                                                         [replace(paper, version=3, title="Third")],
                                                         [replace(paper, version=1, title="First")]], report)
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (1, 1, 1)
    with store.session_factory.begin() as session:
        assert paper_store.get_paper(session, paper.arxiv_id).title == "Third"


def vectors_by_id(store) -> dict[str, tuple[int, bytes]]:
    with store.session_factory.begin() as session:
        rows = session.execute(select(Paper.arxiv_id, PaperVector.paper_version, PaperVector.vector)
                               .join(PaperVector, PaperVector.paper_id == Paper.id))
        return {arxiv_id: (version, vector) for arxiv_id, version, vector in rows}


def test_bulk_loaded_papers_get_the_vectors_the_page_ingest_makes_and_show_in_similar_and_for_you(
        store, settings, tmp_path):
    report = bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED, SEED_FEED])
    assert report.vectors == 87
    reference = build_store(replace(settings, database_url=f"sqlite:///{tmp_path / 'reference.db'}"))
    try:
        ingest_feed_file(reference.session_factory, SEED_FEED)
        assert vectors_by_id(store) == vectors_by_id(reference)
    finally:
        reference.engine.dispose()
    assert bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED], in_worker=False).vectors == 0

    kv_paper = "2503.11816"
    similar = recommend.similar(store.session_factory, arxiv_id=kv_paper, limit=5)
    assert similar.items and all("cache" in (i.paper.title + i.paper.abstract).lower() for i in similar.items[:2])
    mark_read(store.session_factory, team_id="T1", user_id="U1", arxiv_id=kv_paper, source="button")
    page = recommend.for_you(store.session_factory, team_id="T1", user_id="U1", limit=5)
    assert not page.cold_start and len(page.items) == 5
    assert page.items[0].because.arxiv_id == kv_paper


def _dies(texts):
    """A vector worker killed mid-batch (by the OOM killer, say); spawned workers import it from here."""
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.timeout(90)  # the bug was a wait without end
def test_a_vector_worker_that_dies_ends_the_pass_with_an_error_and_the_next_pass_makes_every_vector(
        store, monkeypatch):
    bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED], in_worker=False, vectors=False)
    monkeypatch.setattr(bulk_ingest, "encode_texts", _dies)
    with pytest.raises(BrokenProcessPool):
        bulk_ingest.store_vectors(store.session_factory, batch=20)
    monkeypatch.undo()
    assert bulk_ingest.store_vectors(store.session_factory, in_worker=False) == 87
    assert len(vectors_by_id(store)) == 87


def test_a_new_version_loaded_in_bulk_gets_a_new_vector(store, tmp_path):
    bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED], in_worker=False)
    paper = next(item for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id"))
    before = vectors_by_id(store)[paper.arxiv_id]
    pages = write_atom_pages([replace(paper, version=paper.version + 1, title="Entirely different words",
                                      abstract="Nothing at all in common with the first version.")],
                             tmp_path / "pages", 10)
    assert bulk_ingest.ingest_feed_files(store.session_factory, pages, in_worker=False).vectors == 1
    after = vectors_by_id(store)[paper.arxiv_id]
    assert after[0] == paper.version + 1 and after[1] != before[1]


_KILLED_LOAD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from bot import bulk_ingest
    from bot.app import build_store
    from bot.config import Settings
    from db import bulk_ingest as bulk_store

    if __name__ == "__main__":
        store = build_store(Settings(database_url=sys.argv[1]), migrate=False)
        bulk_ingest.PAPERS_PER_TRANSACTION, bulk_ingest.MIN_TRANSACTIONS = 30, 1
        bulk_ingest.STORE_CONNECTIONS = int(sys.argv[3])
        insert, calls = bulk_store.insert_papers_bulk, []

        def insert_then_die(session, papers, **kwargs):
            counts = insert(session, papers, **kwargs)
            calls.append(len(papers))
            if len(calls) == 5:  # the second transaction has stored two of its three pages
                session.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return counts

        bulk_ingest.insert_papers_bulk = insert_then_die
        bulk_ingest.ingest_feed_files(store.session_factory, sorted(Path(sys.argv[2]).glob("*.xml")))
""")


def fts_automerge(store) -> int | None:
    """SQLite: FTS5's automerge setting as stored (None: never set, the default 4)."""
    if store.engine.dialect.name != "sqlite":
        return 4
    with store.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT v FROM papers_fts_config WHERE k = 'automerge'").scalar()


@pytest.mark.parametrize("connections", [1, 2])
def test_a_killed_load_leaves_whole_papers_and_a_rerun_stores_the_rest(store, settings, tmp_path, connections):
    # Nine pages of 10 papers, three pages a transaction: the killed process dies inside its second transaction.
    papers = list(generate_papers(90, seed=6))
    pages = write_atom_pages(papers, tmp_path / "pages", page_size=10)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", _KILLED_LOAD, settings.database_url, str(tmp_path / "pages"),
                             str(connections)], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    source = {paper.arxiv_id: paper for paper in papers}
    with store.session_factory.begin() as session:
        stored = paper_store.get_papers(session, list(source))
    if store.engine.dialect.name == "sqlite" or connections == 1:
        assert sorted(stored) == sorted(paper.arxiv_id for paper in papers[:30])  # the first transaction's pages
    else:
        # Each connection commits its own share of a batch: what it stored is its share of whole batches, from
        # the first, and the load never got to its end.
        assert len(stored) < 90
        for share in range(connections):
            mine = [p.arxiv_id for p in papers if bulk_ingest._share(p.arxiv_id, connections) == share]
            kept = [arxiv_id for arxiv_id in mine if arxiv_id in stored]
            batches_done = {end for end in (0, 30, 60, 90) if kept == [
                p.arxiv_id for p in papers[:end] if bulk_ingest._share(p.arxiv_id, connections) == share]}
            assert batches_done, f"connection {share} stored {len(kept)} papers, not whole batches"
    assert all((p.title, p.abstract, p.authors) == (source[i].title, source[i].abstract, tuple(source[i].authors))
               for i, p in stored.items())
    assert fts_automerge(store) in (None, 4)  # FTS5's own merging, off during the load, is back on
    last = source[max(stored, key=lambda arxiv_id: papers.index(source[arxiv_id]))] if stored else None
    assert last is None or last.arxiv_id in [
        hit.paper.arxiv_id for hit in run_search(store.session_factory, query=f'"{last.title}"', limit=5).hits]

    # The rerun parses and encodes here: the worker processes are another test's subject.
    report = bulk_ingest.ingest_feed_files(store.session_factory, pages, in_worker=False)
    assert (report.counts.new, report.counts.unchanged, report.vectors) == (90 - len(stored), len(stored), 90)
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 90
    assert len(vectors_by_id(store)) == 90
    assert fts_automerge(store) in (None, 4)
    first = papers[0]
    assert first.arxiv_id in [hit.paper.arxiv_id for hit in
                              run_search(store.session_factory, query=f'"{first.title}"', limit=5).hits]


def _revised(papers: list) -> list:
    """The papers, then a later version of every fifth (new title) and an older version of every seventh, as a
    harvest that meets a paper again on a later page does."""
    newer = [replace(p, version=p.version + 1, title=f"{p.title} revised") for p in papers[::5]]
    older = [replace(p, version=max(1, p.version - 1), title="An older version") for p in papers[::7]]
    return papers + newer + older


def test_a_load_split_over_connections_stores_what_the_page_ingest_stores(store, settings, tmp_path,
                                                                          monkeypatch):
    """On PostgreSQL a load is stored over two connections, papers split by id; with versions of a paper on
    pages in different batches, the newest still wins and the rows are those of the page-by-page path."""
    monkeypatch.setattr(bulk_ingest, "PAPERS_PER_TRANSACTION", 120)  # several batches in flight at once
    pages = write_atom_pages(_revised(list(generate_papers(400, seed=8))), tmp_path / "pages", page_size=60)
    report = bulk_ingest.ingest_feed_files(store.session_factory, pages, vectors=False)
    reference = build_store(replace(settings, database_url=f"sqlite:///{tmp_path / 'reference.db'}"))
    try:
        expected = FetchReport()
        for page in pages:
            expected.counts += ingest_feed_file(reference.session_factory, page).counts
        assert report.counts == expected.counts
        ids = [p.arxiv_id for p in generate_papers(400, seed=8)]
        with store.session_factory.begin() as session, reference.session_factory.begin() as other:
            assert paper_store.get_papers(session, ids) == paper_store.get_papers(other, ids)
    finally:
        reference.engine.dispose()


def _every_hit(store, query: str) -> set[str]:
    found: set[str] = set()
    while True:
        page = run_search(store.session_factory, query=query, limit=20, offset=len(found))
        new = {hit.paper.arxiv_id for hit in page.hits} - found
        found |= new
        if not new or len(found) >= page.total:  # a page of nothing new ends it (the comparison then fails)
            return found


def test_the_sql_path_finds_the_same_papers_after_a_bulk_load_as_after_the_page_ingest(store, tmp_path):
    """The SQL path (tsvector + GIN on PostgreSQL, FTS5 on SQLite) over a bulk load answers as over the same
    papers stored page by page."""
    papers = list(generate_papers(500, seed=9))
    pages = write_atom_pages(papers, tmp_path / "pages", page_size=100)
    queries = ["learning", "quantization", '"language models"', "kv-cache", f"author:{papers[3].authors[0]}",
               papers[250].title, "cat:cs.LG model -vision"]
    for page in pages:
        ingest_feed_file(store.session_factory, page)
    answers = {query: _every_hit(store, query) for query in queries}
    with store.engine.begin() as connection:
        connection.execute(Paper.__table__.delete())
    bulk_ingest.ingest_feed_files(store.session_factory, pages, vectors=False)
    assert {query: _every_hit(store, query) for query in queries} == answers
    assert all(answers.values())


def _search_gin(store) -> bool | None:
    """PostgreSQL: whether the full-text GIN index is there and usable (None: there is none)."""
    with store.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_papers_search_vector')").scalar()


def _watch_the_index_during_the_load(store, monkeypatch, fail: bool = False) -> list:
    """Record, for every batch the load stores, whether the GIN index was there; with `fail`, the second
    batch fails as a database error would."""
    seen: list = []
    store_pages = bulk_ingest.store_pages_bulk

    def watched(factory, pages, report):
        seen.append(_search_gin(store))
        if fail and len(seen) == 2:
            raise RuntimeError("the database went away")
        store_pages(factory, pages, report)

    monkeypatch.setattr(bulk_ingest, "store_pages_bulk", watched)
    monkeypatch.setattr(bulk_ingest, "PAPERS_PER_TRANSACTION", 100)
    monkeypatch.setattr(bulk_ingest, "STORE_CONNECTIONS", 1)
    return seen


@pytest.fixture
def postgresql_store(store, monkeypatch):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's GIN index; SQLite's FTS5 index is kept by its triggers")
    from db import bulk_ingest as bulk_store

    monkeypatch.setattr(bulk_store, "_GIN_REBUILD_MIN_PAPERS", 200)
    return store


def test_a_load_that_at_least_doubles_the_table_builds_the_full_text_index_afresh(postgresql_store, tmp_path,
                                                                                   monkeypatch):
    store = postgresql_store
    ingest_feed_file(store.session_factory, SEED_FEED)  # 87 papers stored; the load brings 400, those 87 among them
    with store.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE papers")
    papers = list(generate_papers(400, seed=10))
    seen = _watch_the_index_during_the_load(store, monkeypatch)
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(papers, tmp_path / "pages", 100),
                                  in_worker=False, vectors=False)
    assert seen == [None] * 4  # grown in one pass after the load, not row by row during it
    assert _search_gin(store) is True
    with store.engine.connect() as connection:
        # Analyzed after the load: the planner costs a search for a word only the load brought (in 31 of its
        # 400 papers) from the new rows, not from the 87 papers it analyzed before the load.
        rows = re.search(r"rows=(\d+)", connection.exec_driver_sql(
            "EXPLAIN SELECT id FROM papers WHERE search_vector @@ to_tsquery('english', 'lumzenin')").scalar())
        assert int(rows[1]) >= 15
        # On 400 rows the planner may fairly prefer a scan; forbidding one shows the index is there to use.
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(connection.exec_driver_sql(
            "EXPLAIN SELECT id FROM papers WHERE search_vector @@ to_tsquery('english', 'quantization')").scalars())
    assert "ix_papers_search_vector" in plan
    assert papers[-1].arxiv_id in [hit.paper.arxiv_id for hit in
                                   run_search(store.session_factory, query=f'"{papers[-1].title}"', limit=5).hits]


def test_a_load_smaller_than_the_table_keeps_the_index_and_one_killed_midway_gets_it_back(
        postgresql_store, tmp_path, monkeypatch):
    store = postgresql_store
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(
        list(generate_papers(300, seed=11)), tmp_path / "first", 100), in_worker=False, vectors=False)
    seen = _watch_the_index_during_the_load(store, monkeypatch)
    small = list(generate_papers(200, seed=12))
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(small, tmp_path / "small", 100),
                                  in_worker=False, vectors=False)
    assert seen == [True, True]  # 200 papers into 300: growing the index costs less than building it
    # A load killed between dropping the index and building it again leaves the table without it:
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_papers_search_vector")
    seen.clear()
    bulk_ingest.ingest_feed_files(store.session_factory, [write_atom_pages(
        list(generate_papers(10, seed=13)), tmp_path / "tiny", 10)[0]], in_worker=False, vectors=False)
    assert seen == [True] and _search_gin(store) is True  # the next load builds it first


def _watch_the_merges(monkeypatch, fail: bool = False) -> tuple[list[str], threading.Event]:
    """Every merge of the GIN pending list during a load, by the thread it ran on; and an event set when the
    first one has merged."""
    merges: list[str] = []
    merged = threading.Event()
    merge = bulk_ingest.merge_search_pending

    def watched(session):
        merges.append(threading.current_thread().name)
        if fail:
            raise RuntimeError("connection lost")
        merge(session)
        merged.set()

    monkeypatch.setattr(bulk_ingest, "merge_search_pending", watched)
    return merges, merged


def test_a_load_that_keeps_the_index_merges_its_pending_list_while_it_goes_on(postgresql_store, tmp_path,
                                                                              monkeypatch):
    store = postgresql_store
    corpus = list(generate_papers(700, seed=15))
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(corpus[:400], tmp_path / "first", 100),
                                  in_worker=False, vectors=False)
    merges, merged = _watch_the_merges(monkeypatch)
    merged_by_then = []  # for each share of a batch as its connection starts storing it
    connections_started: set[str] = set()
    started = threading.Lock()
    store_pages = bulk_ingest.store_pages_bulk

    def watched(factory, pages, report):
        with started:
            first = threading.current_thread().name not in connections_started
            connections_started.add(threading.current_thread().name)
        # After its first share, a connection has committed once: a merge has run (or runs) beside the load.
        merged_by_then.append(None if first else merged.wait(timeout=30))
        store_pages(factory, pages, report)

    monkeypatch.setattr(bulk_ingest, "store_pages_bulk", watched)
    monkeypatch.setattr(bulk_ingest, "PAPERS_PER_TRANSACTION", 100)
    papers = corpus[400:]  # 300 new papers into 400: the index is kept
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(papers, tmp_path / "more", 100),
                                  in_worker=False, vectors=False)
    # Three batches of 100, over two connections: each connection's first share, then two more each.
    assert (merged_by_then.count(None), merged_by_then.count(True), len(merged_by_then)) == (2, 4, 6)
    assert merges and all(name.startswith("bulk-gin-merge") for name in merges)  # beside the load, not in it
    assert _search_gin(store) is True
    assert papers[-1].arxiv_id in [hit.paper.arxiv_id for hit in
                                   run_search(store.session_factory, query=f'"{papers[-1].title}"', limit=5).hits]


def test_a_merge_that_fails_during_the_load_loses_nothing(postgresql_store, tmp_path, monkeypatch, caplog):
    store = postgresql_store
    _watch_the_index_during_the_load(store, monkeypatch)
    merges, _ = _watch_the_merges(monkeypatch, fail=True)
    papers = list(generate_papers(150, seed=17))  # under the rebuild threshold: the index is kept
    report = bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(papers, tmp_path / "p", 50),
                                           in_worker=False, vectors=False)
    assert merges and report.counts.new == 150
    assert caplog.text.count("merging the full-text index during the load failed (RuntimeError)") == 1
    assert _search_gin(store) is True
    with store.engine.begin() as connection:  # the load's end merged what the failed merges left: none is left
        assert connection.exec_driver_sql(
            "SELECT gin_clean_pending_list('ix_papers_search_vector'::regclass)").scalar() == 0
    assert papers[0].arxiv_id in [hit.paper.arxiv_id for hit in
                                  run_search(store.session_factory, query=f'"{papers[0].title}"', limit=5).hits]


def test_the_size_of_a_load_is_read_from_all_its_pages_whatever_comes_first(tmp_path):
    papers = list(generate_papers(2005, seed=19))
    short_first = [*write_atom_pages(papers[2000:], tmp_path / "short", 5),
                   *write_atom_pages(papers[:2000], tmp_path / "full", 1000)]
    assert 1800 <= bulk_ingest._papers_in(short_first) <= 2200  # not 3 pages x 5 entries
    empty = tmp_path / "empty.xml"
    empty.write_bytes(short_first[0].read_bytes().split(b"<entry")[0] + b"</feed>")
    assert 1800 <= bulk_ingest._papers_in([empty, *short_first[1:]]) <= 2200
    assert bulk_ingest._papers_in([empty]) == bulk_ingest._papers_in([]) == 0


def test_statistics_that_fail_after_a_rebuild_cost_neither_the_index_nor_the_load(postgresql_store, tmp_path,
                                                                                   monkeypatch, caplog):
    store = postgresql_store

    def cancelled(session):
        raise RuntimeError("canceling statement due to user request")

    monkeypatch.setattr(bulk_ingest, "analyze_papers", cancelled)
    report = bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(
        list(generate_papers(400, seed=20)), tmp_path / "p", 100), in_worker=False, vectors=False)
    assert report.counts.new == 400
    assert _search_gin(store) is True  # built, and committed before the statistics were taken
    assert "taking the table's statistics after the load failed (RuntimeError)" in caplog.text


def test_a_load_that_builds_the_index_afresh_merges_nothing_during_it(postgresql_store, tmp_path, monkeypatch):
    store = postgresql_store
    seen = _watch_the_index_during_the_load(store, monkeypatch)
    merges, _ = _watch_the_merges(monkeypatch)
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(
        list(generate_papers(400, seed=18)), tmp_path / "p", 100), in_worker=False, vectors=False)
    assert seen == [None] * 4 and merges == []


def test_a_load_that_fails_midway_still_gets_its_full_text_index_back(postgresql_store, tmp_path, monkeypatch):
    store = postgresql_store
    seen = _watch_the_index_during_the_load(store, monkeypatch, fail=True)
    pages = write_atom_pages(list(generate_papers(400, seed=14)), tmp_path / "pages", 100)
    with pytest.raises(RuntimeError, match="went away"):
        bulk_ingest.ingest_feed_files(store.session_factory, pages, in_worker=False, vectors=False)
    assert seen == [None, None] and _search_gin(store) is True
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 100  # the first batch, whole


def test_two_loads_ending_at_once_build_the_index_once_and_neither_fails(postgresql_store, tmp_path):
    """Two loads run by mistake side by side, the index dropped by the first: both end, one builds it."""
    from concurrent.futures import ThreadPoolExecutor

    from db import bulk_ingest as bulk_store

    store = postgresql_store
    ingest_feed_file(store.session_factory, SEED_FEED)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_papers_search_vector")

    def finish() -> None:
        with store.session_factory.begin() as session:
            bulk_store.finish_bulk_load(session)

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(finish) for _ in range(2)]:
            done.result()
    assert _search_gin(store) is True
