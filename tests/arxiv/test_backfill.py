"""`papers-bot backfill`: whole categories from arXiv's OAI-PMH interface (the loopback fake in tests/fakes/oai_pmh.py,
serving the 87 seed papers as arXivRaw records, 10 to a page).

What a user of the command would notice: every paper arrives once, whatever is killed or expired on the way; a
rerun costs nothing; arXiv's 503s wait as long as arXiv asks; a malformed record is skipped and counted; the rows
are the ones the export API gives, the newest version winning; the papers become searchable; progress shows.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from bot import backfill as backfill_domain
from bot import search_index
from bot.app import build_arxiv_source, build_oai_client, build_store
from bot.arxiv_source import read_feed_file
from bot.cli import main
from bot.config import ConfigError, Settings
from bot.ingest import fetch_window, ingest_feed_file
from bot.search import run_search
from db.models import BackfillWindow, Paper, PaperVector
from db.papers import get_paper
from db.records import PaperRecord
from tests.conftest import SEED_FEED
from tests.fakes.oai_pmh import FakeOaiPmh

SEED_COUNT = 87
PAGES = 9  # 87 records, 10 to a page
SINCE, UNTIL, TODAY = date(2025, 3, 1), date(2025, 3, 31), date(2025, 4, 2)
WINDOW = ["--since", "2025-03-01", "--until", "2025-03-31"]


@pytest.fixture
def fake_oai():
    fake = FakeOaiPmh(page_size=10).start()
    yield fake
    fake.release()
    fake.stop()


@pytest.fixture
def oai_settings(settings, fake_oai):
    return dataclasses.replace(settings, arxiv_oai_url=fake_oai.url, arxiv_delay_seconds=0.02, arxiv_max_retries=3)


@pytest.fixture
def oai_env(env, fake_oai, monkeypatch):
    values = {"ARXIV_OAI_URL": fake_oai.url, "ARXIV_DELAY_SECONDS": "0.02", "ARXIV_MAX_RETRIES": "2",
              "SEARCH_ENGINE": "sql"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **env, **values}


def run_backfill(store, settings, categories: str = "cs.LG", *, progress=None):
    return backfill_domain.backfill(store.session_factory, build_oai_client(settings, store=store),
                                    sets=backfill_domain.parse_categories(categories), since=SINCE, until=UNTIL,
                                    today=TODAY, progress=progress)


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """`papers-bot backfill ARGS` in this process (oai_env set the environment it reads): what a subprocess would
    print and return, without the second of start-up a subprocess costs. The tests that kill the command, or give
    it a terminal, run it as a real process."""
    capsys.readouterr()  # only this command's output
    code = main(["backfill", *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["papers-bot", "backfill", *args], code, out, err)


def stored_ids(store) -> list[str]:
    with store.session_factory() as session:
        return list(session.scalars(sql_select(Paper.arxiv_id)))


def seed_ids() -> set[str]:
    return {item.arxiv_id for item in read_feed_file(SEED_FEED) if isinstance(item, PaperRecord)}


def test_pages_by_resumption_token_and_stores_every_paper_once(store, oai_settings, fake_oai):
    report = run_backfill(store, oai_settings)
    assert sorted(stored_ids(store)) == sorted(seed_ids())
    assert (report.fetch.counts.new, report.pages, report.requests) == (SEED_COUNT, PAGES, PAGES)
    first, *rest = [r.params for r in fake_oai.requests]
    assert first == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs:cs:LG", "from": "2025-03-01",
                     "until": "2025-03-31"}
    assert all(set(params) == {"verb", "resumptionToken"} for params in rest) and len(rest) == PAGES - 1
    assert len(set(fake_oai.pages_served())) == PAGES


def test_oai_rows_are_the_rows_the_export_api_gives(store, oai_settings):
    """The same papers through the export API's path (the seed Atom answer) change nothing: one row each."""
    run_backfill(store, oai_settings)
    again = ingest_feed_file(store.session_factory, SEED_FEED)
    assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, SEED_COUNT)


def test_an_api_row_and_a_newer_oai_version_are_one_row_and_the_newest_wins(store, oai_settings, fake_oai):
    ingest_feed_file(store.session_factory, SEED_FEED)  # v1 from the export API
    revised = fake_oai.revise("2503.14881", version=3, updated=datetime(2025, 3, 20, 9, 30, tzinfo=UTC),
                              title="Plug-and-Play Mixed Sparsity, third version")
    report = run_backfill(store, oai_settings)
    assert (report.fetch.counts.new, report.fetch.counts.updated) == (0, 1)
    with store.session_factory() as session:
        paper = get_paper(session, "2503.14881")
        assert session.scalar(sql_select(func.count()).select_from(Paper)) == SEED_COUNT
    assert (paper.version, paper.title) == (3, revised.title)
    assert paper.updated == datetime(2025, 3, 20, 9, 30, tzinfo=UTC)
    assert paper.published == revised.published  # first published at v1, as the export API says
    # The export API's older copy arriving afterwards leaves the newest version in place.
    later = ingest_feed_file(store.session_factory, SEED_FEED)
    assert later.counts.updated == 0
    with store.session_factory() as session:
        assert get_paper(session, "2503.14881").version == 3


def test_a_cross_listed_paper_harvested_from_two_sets_is_one_row(store, oai_settings, fake_oai):
    for paper in fake_oai.papers[:5]:
        paper.categories = ["cs.CL", "cs.LG"]
    for paper in fake_oai.papers[5:8]:
        paper.categories = ["cs.CL"]
    report = run_backfill(store, oai_settings, "cs.LG,cs.CL")
    assert len(stored_ids(store)) == SEED_COUNT
    assert (report.fetch.counts.new, report.fetch.counts.unchanged) == (SEED_COUNT, 5)
    assert {r.params.get("set") for r in fake_oai.requests} >= {"cs:cs:LG", "cs:cs:CL"}
    with store.session_factory() as session:
        assert get_paper(session, fake_oai.papers[6].arxiv_id).primary_category == "cs.CL"


def test_a_503_waits_for_retry_after(store, oai_settings, fake_oai):
    fake_oai.faults = ["ok", "503:1"]
    report = run_backfill(store, oai_settings)
    assert len(stored_ids(store)) == SEED_COUNT
    refused, retried = fake_oai.requests[1], fake_oai.requests[2]
    assert refused.status == 503 and retried.status == 200
    waited = retried.at - refused.ended_at
    assert 1.0 <= waited < 2.5, waited
    assert report.requests == PAGES + 1


def test_a_page_cut_short_or_an_html_page_is_fetched_again_not_taken_as_the_end(store, oai_settings, fake_oai):
    fake_oai.faults = ["ok", "cut", "ok", "html"]
    report = run_backfill(store, oai_settings)
    assert len(stored_ids(store)) == SEED_COUNT
    assert report.requests == PAGES + 2


def test_a_silent_or_trickling_arxiv_is_cut_off_at_the_deadline_and_asked_again(store, oai_settings, fake_oai):
    quick = dataclasses.replace(oai_settings, arxiv_oai_timeout_seconds=1.0)
    fake_oai.faults = ["ok", "stall:30", "trickle:30"]
    began = time.monotonic()
    report = run_backfill(store, quick)
    assert len(stored_ids(store)) == SEED_COUNT and report.requests == PAGES + 2
    assert time.monotonic() - began < 20  # neither the 30 s silence nor the 30 s trickle was waited out


def test_a_malformed_record_is_skipped_counted_and_never_stored_half(store, oai_settings, fake_oai):
    broken = fake_oai.papers[12]
    broken.malformed = True  # no title, versions without a readable date
    report = run_backfill(store, oai_settings)
    ids = stored_ids(store)
    assert broken.arxiv_id not in ids and len(ids) == SEED_COUNT - 1
    assert report.fetch.skipped == 1 and report.fetch.counts.new == SEED_COUNT - 1
    with store.session_factory() as session:
        window = session.scalars(sql_select(BackfillWindow)).one()
    assert (window.status, window.skipped, window.papers, window.pages) == ("done", 1, SEED_COUNT - 1, PAGES)


def test_an_expired_token_restarts_the_window_from_the_last_datestamp_stored(store, oai_settings, fake_oai):
    def expire_after_the_second_page(report):
        if report.pages == 2:
            fake_oai.expire_tokens()  # midnight UTC at arXiv

    report = run_backfill(store, oai_settings, progress=expire_after_the_second_page)
    assert sorted(stored_ids(store)) == sorted(seed_ids())
    assert report.token_restarts == 1
    refused = next(i for i, r in enumerate(fake_oai.requests) if r.page is None)
    restart = fake_oai.requests[refused + 1].params
    newest_stored = max(p.datestamp for p in sorted(fake_oai.papers, key=lambda p: (p.datestamp, p.arxiv_id))[:20])
    assert restart["from"] == newest_stored.isoformat() and restart["set"] == "cs:cs:LG"
    # Only the day of the newest datestamp is fetched again, not the window.
    assert report.requests <= PAGES + 3


def test_a_rerun_over_harvested_days_makes_no_request(store, oai_settings, fake_oai):
    run_backfill(store, oai_settings)
    before = len(fake_oai.requests)
    report = run_backfill(store, oai_settings)
    assert len(fake_oai.requests) == before and report.requests == 0 and report.windows == 0


def test_a_rerun_asking_more_days_fetches_only_the_new_ones(store, oai_settings, fake_oai):
    run_backfill(store, oai_settings)
    before = len(fake_oai.requests)
    report = backfill_domain.backfill(store.session_factory, build_oai_client(oai_settings, store=store),
                                      sets=backfill_domain.parse_categories("cs.LG"), since=date(2025, 2, 1),
                                      until=date(2025, 4, 2), today=TODAY)
    asked = [(r.params["from"], r.params["until"]) for r in fake_oai.requests[before:]]
    assert asked == [("2025-02-01", "2025-02-28"), ("2025-04-01", "2025-04-02")]
    assert report.fetch.counts.new == 0


def test_backfilled_papers_get_vectors_and_are_found_by_the_search_index(store, oai_settings, tmp_path):
    index = search_index.attach(store.engine, dataclasses.replace(oai_settings, search_engine="index",
                                                                  search_index_dir=str(tmp_path / "index")),
                                poll_seconds=0.05)
    index.start()
    run_backfill(store, oai_settings)
    deadline = time.monotonic() + 20
    while not index.is_current() and time.monotonic() < deadline:
        time.sleep(0.05)
    page = run_search(store.session_factory, query="kv cache", limit=5)
    assert page.total == 9 and index.answered == 1
    with store.session_factory() as session:
        assert session.scalar(sql_select(func.count()).select_from(PaperVector)) == SEED_COUNT
    index.close()


def test_cli_prints_a_progress_line_a_page_and_a_summary_when_not_on_a_terminal(oai_env, fake_oai, capsys):
    done = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("backfill cs:cs:LG")]
    assert len(lines) == PAGES + 1
    assert lines[0].startswith("backfill cs:cs:LG through 2025-03-14 · 13/31 days · 10 new,")
    assert lines[-1].startswith("backfill cs:cs:LG through 2025-03-31 · 31/31 days · 87 new,")
    assert done.stdout == ("backfill: 87 new, 0 updated, 0 unchanged, 0 malformed skipped, 0 outside the "
                           "categories, 0 deleted; 9 pages, 9 requests to arXiv\n")
    again = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert again.stdout == ("backfill: nothing to do: cs:cs:LG from 2025-03-01 to 2025-03-31 is harvested "
                            "already (0 requests to arXiv)\n")
    assert len(fake_oai.requests) == PAGES


def test_a_rerun_up_to_today_costs_at_most_one_request(oai_env, fake_oai, capsys):
    assert cli(capsys, "--categories", "cs.LG", "--since", "2025-03-01").returncode == 0
    before = len(fake_oai.requests)
    again = cli(capsys, "--categories", "cs.LG", "--since", "2025-03-01")
    assert again.returncode == 0, again.stderr
    assert len(fake_oai.requests) - before <= 1
    assert "0 new" in again.stdout


def test_cli_draws_a_bar_with_an_eta_on_a_terminal(oai_env, fake_oai):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
    child = subprocess.Popen([sys.executable, "-m", "bot", "backfill", "--categories", "cs.LG", *WINDOW],
                             env=oai_env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert child.wait(timeout=30) == 0
    text = shown.decode(errors="replace")
    assert "backfill: 100%" in text and "31/31" in text and "day/s" in text and "<00:00" in text  # tqdm's ETA
    assert "87 new" in text and "through 2025-" not in text  # the bar, not the log lines
    assert child.stdout.read().decode().startswith("backfill: 87 new")


def test_killed_mid_harvest_resumes_without_fetching_a_page_twice_but_the_one_in_flight(oai_env, fake_oai, store,
                                                                                      capsys):
    fake_oai.faults = ["ok", "ok", "ok", "hold"]  # the 4th page is in flight when the kill comes
    child = subprocess.Popen([sys.executable, "-m", "bot", "backfill", "--categories", "cs.LG", *WINDOW],
                             env=oai_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert fake_oai.held.wait(30)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    fake_oai.release()
    first_run = [r.page for r in fake_oai.requests]
    in_flight = first_run[-1]
    assert len(stored_ids(store)) == 30

    resumed = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert resumed.returncode == 0, resumed.stderr
    second_run = [r.page for r in fake_oai.requests[len(first_run):]]
    assert second_run[0] == in_flight and fake_oai.requests[len(first_run)].params.keys() == {
        "verb", "resumptionToken"}
    fetched = Counter(page for page in first_run + second_run)
    assert len(fetched) == PAGES and fetched.pop(in_flight) == 2 and set(fetched.values()) == {1}
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == SEED_COUNT and set(ids) == seed_ids()
    assert "57 new" in resumed.stdout


def test_arxiv_down_after_the_last_retry_is_one_line_and_keeps_what_was_stored(oai_env, fake_oai, store, capsys):
    fake_oai.faults = ["ok", "ok", "503:0", "503:0", "503:0"]
    failed = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert failed.returncode == 2
    assert failed.stderr.splitlines()[-1] == (
        "papers-bot: arXiv is unavailable: HTTP 503 after 3 tries; every page stored so far is kept, and the same "
        "command resumes where it stopped")
    assert "Traceback" not in failed.stderr
    assert len(stored_ids(store)) == 20
    resumed = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert resumed.returncode == 0 and len(stored_ids(store)) == SEED_COUNT
    assert set(fake_oai.requests[5].params) == {"verb", "resumptionToken"}  # page 3, not page 1 again


@pytest.mark.parametrize(("args", "message"), [
    (["--categories", "cs.LG,foo.BAR"], "papers-bot: --categories: 'foo.BAR': arXiv has no archive 'foo' "),
    (["--categories", "cs.LG;"], "papers-bot: --categories: 'cs.LG;' is not an arXiv category"),
    (["--categories", "cs.ML"], "papers-bot: --categories: 'cs.ML' is not an arXiv category; did you mean stat.ML?"),
    (["--categories", "cs.CL,cs.XX"], "papers-bot: --categories: 'cs.XX' is not an arXiv category (cs: AI, AR,"),
    (["--categories", "hep-th.QFT"], "papers-bot: --categories: 'hep-th.QFT' is not an arXiv category (hep-th has "
                                     "no subject classes: use hep-th)"),
    (["--categories", " , "], "papers-bot: --categories needs at least one arXiv category"),
    ([], "papers-bot: --categories needs at least one arXiv category, e.g. --categories cs.LG,cs.CL"),
    (["--categories", "cs.LG", "--since", "2025-04-01", "--until", "2025-03-01"],
     "papers-bot: --since 2025-04-01 is after --until 2025-03-01"),
    (["--categories", "cs.LG", "--since", "2999-01-01"], "papers-bot: --since 2999-01-01 is in the future"),
])
def test_bad_categories_and_dates_are_one_line_and_ask_nothing(oai_env, fake_oai, capsys, args, message):
    assert main(["backfill", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert fake_oai.requests == []


def test_a_malformed_date_is_one_line(oai_env, capsys):
    with pytest.raises(SystemExit):
        main(["backfill", "--categories", "cs.LG", "--since", "2025-13-01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["papers-bot backfill: argument --since: expected YYYY-MM-DD, got '2025-13-01' "
                   "(see papers-bot backfill --help)"]


def test_archive_category_harvests_the_archive_set(store, oai_settings, fake_oai):
    assert backfill_domain.parse_categories("cs, hep-th, astro-ph.CO, math.AG, stat.ML") == {
        "cs:cs": ("cs",), "physics:hep-th": ("hep-th",), "physics:astro-ph:CO": ("astro-ph.CO",),
        "math:math:AG": ("math.AG",), "stat:stat:ML": ("stat.ML",)}
    run_backfill(store, oai_settings, "cs")
    assert fake_oai.requests[0].params["set"] == "cs:cs" and len(stored_ids(store)) == SEED_COUNT


def test_a_harvest_arxiv_refuses_is_one_line(oai_env, fake_oai, capsys):
    fake_oai.faults = ["oai-error:badArgument"]
    done = cli(capsys, "--categories", "cs.LG", *WINDOW)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "papers-bot: arXiv refused the harvest of set cs:cs:LG (BadArgument: scripted refusal)"]


def test_a_backfill_and_an_export_api_fetch_at_once_keep_the_delay_between_all_their_requests(
    store, settings, fake_oai, fake_arxiv
):
    """arXiv counts one host's OAI-PMH and export API requests together; both clients take turns through the
    database's pacing row, each on its own engine, as two processes would."""
    paced = dataclasses.replace(settings, arxiv_oai_url=fake_oai.url, arxiv_api_url=fake_arxiv.url,
                                arxiv_page_size=30, arxiv_delay_seconds=0.3)
    other_store = build_store(paced, migrate=False)
    api_source = build_arxiv_source(paced, store=other_store)  # the export API client paces on its own engine
    barrier = threading.Barrier(2)

    def harvest():
        barrier.wait()
        return run_backfill(store, paced)

    def fetch():
        barrier.wait()
        return fetch_window(store.session_factory, api_source, keywords=paced.digest_keywords, categories=(),
                            since=date(2025, 3, 14), until=date(2025, 3, 21))

    # result() re-raises what either raised; a client stuck past the timeout fails the test instead of holding
    # the pool's exit (which would wait for it without end).
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        running = [pool.submit(harvest), pool.submit(fetch)]
        done = [future.result(timeout=60) for future in running]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    other_store.engine.dispose()
    assert len(done) == 2 and len(stored_ids(store)) == SEED_COUNT
    starts = sorted([r.at for r in fake_oai.requests] + [r.at for r in fake_arxiv.requests])
    assert len(starts) == PAGES + 3
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.3 - 0.01, gaps


def test_the_oai_settings_and_their_defaults():
    defaults = Settings.from_env({})
    assert (defaults.arxiv_oai_url, defaults.arxiv_oai_timeout_seconds) == ("https://oaipmh.arxiv.org/oai", 120.0)
    custom = Settings.from_env({"ARXIV_OAI_URL": "http://127.0.0.1:9/oai", "ARXIV_OAI_TIMEOUT_SECONDS": "5"})
    assert (custom.arxiv_oai_url, custom.arxiv_oai_timeout_seconds) == ("http://127.0.0.1:9/oai", 5.0)
    with pytest.raises(ConfigError, match="ARXIV_OAI_TIMEOUT_SECONDS must be a number, got 'soon'"):
        Settings.from_env({"ARXIV_OAI_TIMEOUT_SECONDS": "soon"})
