"""Ingestion: upserts, versions, retries, timeouts, bad entries, saved feeds, the CLI."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from bot import ingest
from bot.arxiv_source import ArxivSource, ArxivUnavailable, build_query, read_feed_file, split_arxiv_id
from bot.cli import main
from db import papers as paper_store
from db.models import Paper
from tests.conftest import SEED_FEED
from tests.fakes.arxiv_api import load_entries
from tests.fakes.slack_api import TEAM_ID

SEED_COUNT = 87


def count_rows(store) -> int:
    with store.session_factory.begin() as session:
        return session.scalar(select(func.count()).select_from(Paper))


def seed_window(store, settings, fake_arxiv, **overrides):
    settings = dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url, **overrides)
    source = ArxivSource.from_settings(settings)
    report = ingest.fetch_window(
        store.session_factory,
        source,
        keywords=settings.digest_keywords,
        categories=(),
        since=date(2025, 3, 14),
        until=date(2025, 3, 21),
    )
    return report



def test_feed_file_stores_every_seed_paper_once_and_a_rerun_adds_nothing(store):
    first = ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    second = ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    assert (first.counts.new, first.counts.unchanged) == (SEED_COUNT, 0)
    assert (second.counts.new, second.counts.updated, second.counts.unchanged) == (0, 0, SEED_COUNT)
    assert count_rows(store) == SEED_COUNT


def test_stored_paper_keeps_every_field_and_collapses_title_whitespace(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    with store.session_factory.begin() as session:
        paper = paper_store.get_paper(session, "2503.15465")
    assert paper.version == 1
    assert paper.title == "FP4DiT Towards Effective Floating Point Quantization for Diffusion Transformers"
    assert paper.authors == ("Ruichen Chen", "Keith G. Mills", "Di Niu")
    assert paper.published == datetime(2025, 3, 19, 23, 59, tzinfo=UTC)
    assert paper.categories == ("cs.LG",)
    assert paper.abs_url == "http://arxiv.org/abs/2503.15465v1"


def test_higher_version_replaces_fields_and_same_or_lower_version_changes_nothing(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    with store.session_factory.begin() as session:
        original = paper_store.get_paper(session, "2503.15465")
    v2 = dataclasses.replace(original, version=2, title="FP4DiT v2", abstract="Revised abstract.")
    stale = dataclasses.replace(original, version=1, title="Should not win")
    report = ingest.ingest_records(store.session_factory, [v2])
    assert (report.counts.new, report.counts.updated) == (0, 1)
    report = ingest.ingest_records(store.session_factory, [stale])
    assert (report.counts.updated, report.counts.unchanged) == (0, 1)
    with store.session_factory.begin() as session:
        stored = paper_store.get_paper(session, "2503.15465")
    assert (stored.version, stored.title, stored.abstract) == (2, "FP4DiT v2", "Revised abstract.")
    assert count_rows(store) == SEED_COUNT


def test_a_whole_copy_of_the_same_version_replaces_a_differing_stored_copy_once(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    with store.session_factory.begin() as session:
        original = paper_store.get_paper(session, "2503.15465")
    # arXiv adds a journal reference and a DOI to a version without making a new one.
    refreshed = dataclasses.replace(original, journal_ref="NeurIPS 2025", doi="10.48550/arXiv.2503.15465")
    report = ingest.ingest_records(store.session_factory, [refreshed])
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (0, 1, 0)
    report = ingest.ingest_records(store.session_factory, [refreshed])
    assert (report.counts.updated, report.counts.unchanged) == (0, 1)
    with store.session_factory.begin() as session:
        assert paper_store.get_paper(session, "2503.15465") == refreshed


def test_a_record_missing_authors_title_or_abstract_is_skipped_not_stored(store):
    whole = read_feed_file(SEED_FEED)[0]
    broken = [dataclasses.replace(whole, authors=()), dataclasses.replace(whole, arxiv_id="2503.00001", title=""),
              dataclasses.replace(whole, arxiv_id="2503.00002", abstract="")]
    report = ingest.ingest_records(store.session_factory, broken)
    assert (report.counts.new, report.skipped) == (0, 3)
    assert count_rows(store) == 0


def test_fetch_window_stores_seed_in_one_request_at_default_page_size(store, settings, fake_arxiv):
    report = seed_window(store, settings, fake_arxiv)
    assert report.counts.new == SEED_COUNT
    assert len(fake_arxiv.requests) == 1 and report.requests == 1
    query = fake_arxiv.requests[0].params["search_query"]
    assert "submittedDate:[202503140000 TO 202503212359]" in query
    assert 'abs:"KV cache"' in query and query.count("submittedDate") == 1


def test_refetch_adds_nothing(store, settings, fake_arxiv):
    seed_window(store, settings, fake_arxiv)
    again = seed_window(store, settings, fake_arxiv)
    assert (again.counts.new, again.counts.unchanged) == (0, SEED_COUNT)
    assert count_rows(store) == SEED_COUNT


def test_paging_walks_every_page(store, settings, fake_arxiv):
    report = seed_window(store, settings, fake_arxiv, arxiv_page_size=30)
    assert report.counts.new == SEED_COUNT
    assert [r.params["start"] for r in fake_arxiv.requests] == ["0", "30", "60"]


def test_two_503s_are_retried_with_growing_spaced_waits(store, settings, fake_arxiv):
    fake_arxiv.faults = ["503", "503"]
    report = seed_window(store, settings, fake_arxiv, arxiv_delay_seconds=0.2)
    assert report.counts.new == SEED_COUNT
    times = [r.at for r in fake_arxiv.requests]
    assert [r.status for r in fake_arxiv.requests] == [503, 503, 200]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39  # at least the delay, and growing


def test_429_honours_retry_after(store, settings, fake_arxiv):
    fake_arxiv.faults = ["429:1"]
    report = seed_window(store, settings, fake_arxiv)
    assert report.counts.new == SEED_COUNT
    first, second = fake_arxiv.requests[:2]
    assert second.at - first.at >= 0.95


def test_stalled_connection_times_out_and_is_retried(store, settings, fake_arxiv):
    fake_arxiv.faults = ["stall:3"]
    report = seed_window(store, settings, fake_arxiv, arxiv_timeout_seconds=0.5)
    assert report.counts.new == SEED_COUNT
    assert report.requests == 2


def test_empty_first_page_and_truncated_xml_are_retried(store, settings, fake_arxiv):
    fake_arxiv.faults = ["empty", "truncated"]
    report = seed_window(store, settings, fake_arxiv)
    assert report.counts.new == SEED_COUNT
    assert report.requests == 3


def test_empty_page_mid_paging_is_retried_without_losing_papers(store, settings, fake_arxiv):
    fake_arxiv.faults = [None, "empty"]
    report = seed_window(store, settings, fake_arxiv, arxiv_page_size=50)
    assert report.counts.new == SEED_COUNT


def test_persistent_failure_raises_clear_error_and_stores_nothing(store, settings, fake_arxiv):
    fake_arxiv.faults = ["503"] * 10
    with pytest.raises(ArxivUnavailable, match=r"HTTP 503 after 3 tries"):
        seed_window(store, settings, fake_arxiv, arxiv_max_retries=2)
    assert count_rows(store) == 0
    assert len(fake_arxiv.requests) == 3


def test_malformed_entry_is_skipped_and_the_rest_stored(store, settings, fake_arxiv):
    entries = load_entries()
    broken = entries[0]
    # An entry without <title>, and one whose id is not an arXiv id.
    entries[0] = dataclasses.replace(broken, xml=re.sub(r"<title>.*?</title>", "", broken.xml, flags=re.S))
    entries[1] = dataclasses.replace(entries[1], xml=re.sub(r"<id>.*?</id>", "<id>garbage</id>", entries[1].xml))
    fake_arxiv.entries = entries
    report = seed_window(store, settings, fake_arxiv)
    assert report.counts.new == SEED_COUNT - 2
    assert report.skipped == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://arxiv.org/abs/2503.14881v2", ("2503.14881", 2)),
        ("2503.14881", ("2503.14881", 1)),
        ("http://arxiv.org/abs/hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("http://arxiv.org/abs/math.GT/0309136v1", ("math.GT/0309136", 1)),
    ],
)
def test_arxiv_ids_are_stored_without_version(raw, expected):
    assert split_arxiv_id(raw) == expected


def test_query_ors_keywords_over_title_and_abstract_with_categories():
    query = build_query(
        keywords=["sparse", "KV cache", "low-bit"], categories=["cs.LG", "cs.CL"],
        since=date(2025, 3, 20), until=date(2025, 3, 21),
    )
    assert query == (
        '(ti:sparse OR abs:sparse OR ti:"KV cache" OR abs:"KV cache" OR ti:"low bit" OR abs:"low bit") '
        "AND (cat:cs.LG OR cat:cs.CL) AND submittedDate:[202503200000 TO 202503212359]"
    )


def test_cli_fetch_from_file_twice(env, capsys):
    assert main(["fetch", "--from-file", str(SEED_FEED)]) == 0
    assert main(["fetch", "--from-file", str(SEED_FEED)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fetch: 87 new, 0 updated, 0 unchanged")
    assert out[1].startswith("fetch: 0 new, 0 updated, 87 unchanged")


def test_cli_fetch_window_against_fake_survives_two_503s(env, fake_arxiv, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    fake_arxiv.faults = ["503", "503"]
    assert main(["fetch", "--since", "2025-03-14", "--until", "2025-03-21"]) == 0
    assert "fetch: 87 new" in capsys.readouterr().out
    assert sum(r.status == 200 for r in fake_arxiv.requests) == 1


def test_cli_reports_arxiv_outage_in_one_line(env, fake_arxiv, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.setenv("ARXIV_MAX_RETRIES", "1")
    fake_arxiv.faults = ["503"] * 5
    assert main(["fetch", "--since", "2025-03-14", "--until", "2025-03-21"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "papers-bot: arXiv is unavailable: HTTP 503 after 2 tries"
    assert "Traceback" not in "\n".join(err)


def test_cli_rejects_bad_setting_naming_the_variable(env, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_PAGE_SIZE", "5000")
    assert main(["fetch", "--from-file", str(SEED_FEED)]) == 2
    assert capsys.readouterr().err.strip() == "papers-bot: ARXIV_PAGE_SIZE must be between 1 and 2000, got 5000"


def test_cli_missing_file_is_one_line(env, capsys, tmp_path):
    assert main(["fetch", "--from-file", str(tmp_path / "nope.xml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_query_keeps_odd_topic_text_out_of_arxiv_syntax():
    query = build_query(keywords=['c++ (fast):', '"quoted"', "   ", "kv-cache"], categories=["cs.LG", "bad)cat"],
                        since=date(2025, 3, 20), until=date(2025, 3, 21))
    assert query == (
        '(ti:"c fast" OR abs:"c fast" OR ti:quoted OR abs:quoted OR ti:"kv cache" OR abs:"kv cache") '
        "AND (cat:cs.LG) AND submittedDate:[202503200000 TO 202503212359]"
    )


def test_a_topic_arxiv_refuses_does_not_hold_back_other_channels(store, settings, fake_arxiv):
    from bot import digest

    settings = dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url)
    digest.edit_channel_topic(store.session_factory, settings, "C0ODD", team_id=TEAM_ID, field_name="keywords",
                              terms=["odd topic"])
    fake_arxiv.faults = ["400"]  # the first topic's query is refused outright: no retry, no outage
    reports = digest.refresh_papers(store.session_factory, ArxivSource.from_settings(settings), settings,
                                    team_id=TEAM_ID, channels=["C0ODD", "C0DIGEST"], digest_date=date(2025, 3, 21))
    assert [r.counts.new for r in reports] == [SEED_COUNT]
    assert [r.status for r in fake_arxiv.requests] == [400, 200]
