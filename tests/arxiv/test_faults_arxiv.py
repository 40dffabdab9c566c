"""arXiv faults the ingest tests leave implicit: a bad entry is logged as well as skipped, and arXiv failing
for good in the middle of paging keeps only whole papers, which a rerun completes without duplicates.

Then the review's arXiv items (issue 11): an answer cut short (even with a matching Content-Length) is
retried and never stored as a broken paper, and a whole copy repairs one stored earlier (1); a cut inside
a date or any parser failure is a bad page, not a crash (5); a 200 HTML page is a failure, never "no
papers" (6); ARXIV_TIMEOUT_SECONDS bounds the whole answer, not each socket read (10); and processes
sharing a database keep ARXIV_DELAY_SECONDS between all their requests (12)."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot import ingest
from bot.app import build_arxiv_source, build_digest_poster
from bot.arxiv_source import ArxivSource, ArxivUnavailable, read_feed_file
from bot.cli import main
from bot.scheduler import DigestJob, build_scheduler
from bot.search import run_search
from db import papers as paper_store
from db.records import PaperRecord
from tests.arxiv.test_ingest import SEED_COUNT, count_rows, seed_window
from tests.conftest import SEED_FEED
from tests.digest.test_scheduler import notices
from tests.fakes.arxiv_api import cut_offset, load_entries
from tests.fakes.slack_api import TEAM_ID


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


# -- 1. an answer cut short is never stored as a broken paper ---------------------------------------------------


def seed_records() -> dict[str, PaperRecord]:
    """Every seed paper as arXiv sent it whole: what a good fetch must store, field for field."""
    return {r.arxiv_id: r for r in read_feed_file(SEED_FEED)}


def stored_papers(store) -> dict[str, PaperRecord]:
    with store.session_factory.begin() as session:
        return paper_store.get_papers(session, list(seed_records()))


def tenth_paper_in_the_answer() -> str:
    return sorted(load_entries(), key=lambda e: e.published, reverse=True)[9].arxiv_id


def test_an_answer_cut_inside_an_abstract_is_retried_and_every_paper_is_stored_whole(store, settings, fake_arxiv):
    # 300 bytes into the 10th abstract, with a Content-Length that matches the cut body.
    fake_arxiv.faults = ["cut-abstract:10:300"]
    report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.skipped, report.requests) == (SEED_COUNT, 0, 2)
    assert [r.params["start"] for r in fake_arxiv.requests] == ["0", "0"]  # the same page again
    assert stored_papers(store) == seed_records()
    assert stored_papers(store)[tenth_paper_in_the_answer()].authors


def test_an_answer_cut_short_on_every_try_stores_nothing_and_says_arxiv_is_unavailable(store, settings, fake_arxiv):
    fake_arxiv.faults = ["cut-abstract:10:300"] * 3
    with pytest.raises(ArxivUnavailable, match=r"cut short.* after 3 tries"):
        seed_window(store, settings, fake_arxiv, arxiv_max_retries=2)
    assert count_rows(store) == 0


def test_an_answer_cut_at_an_arbitrary_byte_is_retried(store, settings, fake_arxiv):
    whole = len(fake_arxiv.entries[0].xml)
    fake_arxiv.faults = [f"cut:{whole * 5}"]  # inside the 5th entry (here: before its PDF link)
    report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.requests) == (SEED_COUNT, 2)
    assert stored_papers(store) == seed_records()


def test_a_page_with_fewer_entries_than_announced_is_retried(store, settings, fake_arxiv):
    fake_arxiv.faults = [None, "short:5"]  # page 2 of 3 holds 5 entries where 30 are due
    report = seed_window(store, settings, fake_arxiv, arxiv_page_size=30)
    assert report.counts.new == SEED_COUNT
    assert [r.params["start"] for r in fake_arxiv.requests] == ["0", "30", "30", "60"]


def test_an_entry_without_authors_is_skipped_and_never_stored(store, settings, fake_arxiv, caplog):
    entries = load_entries()
    entries[5] = dataclasses.replace(entries[5], xml=re.sub(r"<author>.*?</author>", "", entries[5].xml, flags=re.S))
    fake_arxiv.entries = entries
    with caplog.at_level(logging.WARNING):
        report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.skipped) == (SEED_COUNT - 1, 1)
    assert entries[5].arxiv_id not in stored_papers(store)
    assert any(entries[5].arxiv_id in r.getMessage() and "author" in r.getMessage() for r in caplog.records)


def test_a_whole_copy_of_the_same_version_repairs_a_broken_stored_paper_and_its_search_index(
    store, settings, fake_arxiv
):
    whole = seed_records()[tenth_paper_in_the_answer()]
    broken = dataclasses.replace(whole, abstract=whole.abstract[:290], authors=(), categories=())
    with store.session_factory.begin() as session:  # what the old client left behind
        paper_store.upsert_papers(session, [broken], seen_at=datetime.now(UTC))
    surname = whole.authors[0].split()[-1]
    assert all(h.paper.arxiv_id != whole.arxiv_id
               for h in run_search(store.session_factory, query=f"author:{surname}", limit=50).hits)

    report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (SEED_COUNT - 1, 1, 0)
    assert stored_papers(store)[whole.arxiv_id] == whole
    assert any(h.paper.arxiv_id == whole.arxiv_id
               for h in run_search(store.session_factory, query=f"author:{surname}", limit=50).hits)
    again = seed_window(store, settings, fake_arxiv)
    assert (again.counts.updated, again.counts.unchanged) == (0, SEED_COUNT)


def cut_file(tmp_path) -> Path:
    payload = SEED_FEED.read_bytes()
    path = tmp_path / "cut.atom.xml"
    path.write_bytes(payload[: cut_offset(payload, "cut-abstract:10:300")])
    return path


def test_fetch_from_a_cut_file_stores_nothing_and_says_why_in_one_line(env, store, tmp_path, capsys):
    path = cut_file(tmp_path)
    assert main(["fetch", "--from-file", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "not a whole arXiv Atom feed" in err[0]
    assert "nothing was stored" in err[0]
    assert count_rows(store) == 0


# -- 5. a cut inside a date, or any parser failure, is a bad page -----------------------------------------------


def test_an_answer_cut_inside_a_date_is_retried_not_a_crash(store, settings, fake_arxiv):
    fake_arxiv.faults = ["cut-date:10"]
    report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.requests) == (SEED_COUNT, 2)
    assert stored_papers(store) == seed_records()


def with_a_date_the_parser_refuses(fake_arxiv) -> None:
    entries = load_entries()
    entries[9] = dataclasses.replace(
        entries[9], xml=re.sub(r"<published>.*?</published>", "<published>2025-03-1</published>", entries[9].xml))
    fake_arxiv.entries = entries


def test_a_date_the_parser_refuses_on_every_try_ends_as_arxiv_unavailable(store, settings, fake_arxiv):
    with_a_date_the_parser_refuses(fake_arxiv)
    with pytest.raises(ArxivUnavailable, match=r"after 2 tries"):
        seed_window(store, settings, fake_arxiv, arxiv_max_retries=1)
    assert count_rows(store) == 0


def test_cli_fetch_and_digest_survive_a_parser_failure_with_one_line(env, fake_arxiv, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.setenv("ARXIV_MAX_RETRIES", "1")
    with_a_date_the_parser_refuses(fake_arxiv)
    assert main(["fetch", "--since", "2025-03-14", "--until", "2025-03-21"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("papers-bot: arXiv is unavailable:") and err[-1].endswith("after 2 tries")
    fake_arxiv.faults = ["cut-date:10"] * 4
    assert main(["digest", "--dry-run", "--date", "2025-03-21"]) == 0
    err = capsys.readouterr().err
    assert "warning: arXiv is unavailable" in err and "Traceback" not in err


@pytest.fixture
def scheduled_job(store, slack_settings, fake_slack, fake_arxiv) -> DigestJob:
    """The clock process's digest job on Friday 2025-03-21 10:00 UTC, fetching from the fake arXiv."""
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_max_retries=0,
                                   arxiv_delay_seconds=0.01)
    job = DigestJob(team_id=TEAM_ID, settings=settings, factory=store.session_factory,
                    poster=build_digest_poster(settings),
                    arxiv=build_arxiv_source(settings), pace_seconds=0,
                    clock=lambda: datetime(2025, 3, 21, 10, 0, tzinfo=UTC))
    build_scheduler(job, blocking=False)
    return job


def test_the_scheduled_digest_survives_a_parser_failure_and_says_arxiv_is_unavailable(scheduled_job, fake_slack,
                                                                                       fake_arxiv):
    job = scheduled_job
    fake_arxiv.faults = ["cut-date:10"] * 20
    assert job() == []  # no crash: the usual "arXiv is unavailable" path, with a retry scheduled
    assert job.scheduler.get_job(f"digest-arxiv-retry-{TEAM_ID}") is not None
    assert len(notices(fake_slack)) == 1


# -- 6. a 200 answer that is not an Atom feed is a failure, never "no papers" -----------------------------------


def test_a_200_html_error_page_is_retried_with_a_warning(store, settings, fake_arxiv, caplog):
    fake_arxiv.faults = ["html"]
    with caplog.at_level(logging.WARNING):
        report = seed_window(store, settings, fake_arxiv)
    assert (report.counts.new, report.requests) == (SEED_COUNT, 2)
    assert any("not an Atom feed" in r.getMessage() and "text/html" in r.getMessage() for r in caplog.records)


def test_html_on_every_try_is_arxiv_unavailable_never_zero_results(env, fake_arxiv, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.setenv("ARXIV_MAX_RETRIES", "1")
    fake_arxiv.faults = ["html"] * 4
    assert main(["fetch", "--since", "2025-03-14", "--until", "2025-03-21"]) == 2
    captured = capsys.readouterr()
    assert "0 new" not in captured.out
    assert captured.err.strip().splitlines()[-1].startswith("papers-bot: arXiv is unavailable: ")
    assert "not an Atom feed" in captured.err


# -- 10. ARXIV_TIMEOUT_SECONDS is a deadline for the whole answer -----------------------------------------------


def test_a_trickling_answer_is_cut_off_at_the_deadline_and_retried(store, settings, fake_arxiv):
    # 64 bytes every 0.2 s: every socket read succeeds well inside the timeout, the whole answer never does.
    fake_arxiv.faults = ["trickle:64:0.2"]
    started = time.monotonic()
    report = seed_window(store, settings, fake_arxiv, arxiv_timeout_seconds=1.0)
    assert (report.counts.new, report.requests) == (SEED_COUNT, 2)
    first, second = fake_arxiv.requests[:2]
    assert second.at - first.at < 1.0 + 0.5  # the deadline, a 0.05 s backoff, scheduling slack
    assert time.monotonic() - started < 3.0


def test_the_deadline_bounds_the_read_in_progress_not_only_the_next_one(settings, fake_arxiv):
    # Bytes at 0, 0.9 and 1.8 s: a check between reads alone would notice only at 1.8 s.
    fake_arxiv.faults = ["trickle:64:0.9"]
    settings = dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url, arxiv_timeout_seconds=1.0,
                                   arxiv_max_retries=0)
    started = time.monotonic()
    with pytest.raises(ArxivUnavailable, match=r"no whole answer within 1 s after 1 tries"):
        ArxivSource.from_settings(settings).fetch_by_ids(["2503.15465"])
    assert time.monotonic() - started < 1.0 + 0.4


def test_the_deadline_frees_the_arxiv_lock_for_a_lookup_waiting_behind_a_trickle(settings, fake_arxiv):
    fake_arxiv.faults = ["trickle:64:0.2"]
    settings = dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url, arxiv_timeout_seconds=1.0,
                                   arxiv_max_retries=0)
    source = ArxivSource.from_settings(settings)
    first: list[Exception] = []

    def trickled_lookup():
        with pytest.raises(ArxivUnavailable) as raised:
            source.fetch_by_ids(["2503.15465"])
        first.append(raised.value)

    started = time.monotonic()
    thread = threading.Thread(target=trickled_lookup)
    thread.start()
    time.sleep(0.2)
    [paper] = source.fetch_by_ids(["2503.15465"])  # waits for the process's arXiv lock, then gets its answer
    thread.join(timeout=10)
    assert paper.arxiv_id == "2503.15465" and paper.authors
    assert time.monotonic() - started < 2.5
    assert "no whole answer within 1 s" in str(first[0])


# -- 12. every process on one database keeps ARXIV_DELAY_SECONDS between arXiv requests --------------------------


def gaps(fake_arxiv) -> list[float]:
    times = sorted(r.at for r in fake_arxiv.requests)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_two_clients_with_their_own_engines_on_one_database_keep_the_delay_between_all_requests(
    store, settings, fake_arxiv
):
    settings = dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url, arxiv_page_size=30,
                                   arxiv_delay_seconds=0.4)
    sources = [build_arxiv_source(settings), build_arxiv_source(settings)]  # each paces through its own engine
    barrier = threading.Barrier(2)
    reports = []

    def fetch(source):
        barrier.wait()
        reports.append(ingest.fetch_window(store.session_factory, source, keywords=settings.digest_keywords,
                                           categories=(), since=date(2025, 3, 14), until=date(2025, 3, 21)))

    threads = [threading.Thread(target=fetch, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(reports) == 2 and len(fake_arxiv.requests) == 6
    assert min(gaps(fake_arxiv)) >= 0.4 - 0.01, gaps(fake_arxiv)
    assert count_rows(store) == SEED_COUNT


def test_two_fetch_processes_at_once_keep_the_delay_between_all_requests(store, env, fake_arxiv):
    child_env = {**os.environ, **env, "ARXIV_API_URL": fake_arxiv.url, "ARXIV_PAGE_SIZE": "30",
                 "ARXIV_DELAY_SECONDS": "0.8"}
    argv = [sys.executable, "-m", "bot", "fetch", "--since", "2025-03-14", "--until", "2025-03-21"]
    children = [subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(2)]
    for child in children:
        child.wait(timeout=60)
        assert child.returncode == 0, child.stderr.read()
    assert len(fake_arxiv.requests) == 6
    assert min(gaps(fake_arxiv)) >= 0.8 - 0.01, gaps(fake_arxiv)
