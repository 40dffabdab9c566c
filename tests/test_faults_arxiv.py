"""arXiv faults the ingest tests leave implicit: a bad entry is logged as well as skipped, and arXiv failing
for good in the middle of paging keeps only whole papers, which a rerun completes without duplicates."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from bot.arxiv_source import ArxivUnavailable
from db import papers as paper_store
from tests.fakes.arxiv_api import load_entries
from tests.test_ingest import SEED_COUNT, count_rows, seed_window


def test_a_bad_entry_is_skipped_with_a_log_line_naming_it(store, settings, fake_arxiv, caplog):
    entries = load_entries()
    entries[3] = dataclasses.replace(entries[3], xml=re.sub(r"<title>.*?</title>", "", entries[3].xml, flags=re.S))
    fake_arxiv.entries = entries
    with caplog.at_level(logging.WARNING):
        report = seed_window(store, settings, fake_arxiv)
    assert report.skipped == 1 and report.counts.new == SEED_COUNT - 1
    [line] = [r.getMessage() for r in caplog.records if "bad arXiv entry" in r.getMessage()]
    assert entries[3].arxiv_id in line and "title" in line.lower()


def test_arxiv_failing_for_good_on_the_last_page_keeps_whole_papers_and_a_rerun_completes(store, settings,
                                                                                          fake_arxiv):
    fake_arxiv.faults = [None, None, "503", "503", "503"]
    with pytest.raises(ArxivUnavailable):
        seed_window(store, settings, fake_arxiv, arxiv_page_size=30, arxiv_max_retries=2, arxiv_delay_seconds=0.01)
    assert count_rows(store) == 60
    with store.session_factory.begin() as session:
        stored = paper_store.get_papers(session, [e.arxiv_id for e in fake_arxiv.entries])
    assert len(stored) == 60 and all(p.title and p.abstract and p.authors for p in stored.values())
    fake_arxiv.faults = []
    report = seed_window(store, settings, fake_arxiv, arxiv_page_size=30, arxiv_delay_seconds=0.01)
    assert (report.counts.new, report.counts.unchanged) == (SEED_COUNT - 60, 60)
    assert count_rows(store) == SEED_COUNT
