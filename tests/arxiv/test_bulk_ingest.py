"""Bulk ingest (bot/bulk_ingest, db/bulk_ingest): the same rows and counts as the page-by-page ingest, pages
parsed in a worker process, and the search index follows what it stores. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace

from bench.corpus import generate_papers, write_atom_pages
from bot import bulk_ingest, search_index
from bot.arxiv_source import read_feed_file
from bot.ingest import FetchReport, ingest_feed_file, ingest_records
from bot.search import run_search
from db import papers as paper_store
from tests.conftest import SEED_FEED


def all_papers(store) -> dict:
    with store.session_factory.begin() as session:
        ids = [item.arxiv_id for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id")]
        return paper_store.get_papers(session, ids)


def test_bulk_ingest_stores_what_the_page_ingest_stores_and_a_rerun_adds_nothing(store, settings, tmp_path):
    report = bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED])
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (87, 0, 0)
    bulk = all_papers(store)
    again = bulk_ingest.ingest_feed_files(store.session_factory, [SEED_FEED])
    assert (again.counts.new, again.counts.unchanged) == (0, 87)
    reference = replace(settings, database_url=f"sqlite:///{tmp_path / 'reference.db'}")
    from bot.app import build_store

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


def test_pages_parsed_in_a_worker_process_are_stored_in_order_with_bad_entries_counted(store, tmp_path):
    papers = list(generate_papers(450, seed=4))
    pages = write_atom_pages(papers, tmp_path / "pages", page_size=100)
    head, entries = pages[2].read_text().split("<entry>", 1)  # an entry whose id is not an arXiv id
    pages[2].write_text(head + "<entry>" + re.sub(r"<id>[^<]*</id>", "<id>garbage</id>", entries, count=1))
    report = bulk_ingest.ingest_feed_files(store.session_factory, pages)
    assert report.counts.new == 449 and report.skipped == 1
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 449


def test_the_search_index_follows_a_bulk_load(store, settings, tmp_path):
    index = search_index.attach(store.engine, replace(settings, search_index_dir=str(tmp_path / "index")))
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert index.wait_until_current()
    papers = list(generate_papers(300, seed=5))
    bulk_ingest.ingest_feed_files(store.session_factory, write_atom_pages(papers, tmp_path / "pages", 100))
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
