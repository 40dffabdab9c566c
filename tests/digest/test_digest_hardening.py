"""Hardening the digest run (issue 11, items 2-4): what Slack accepted is never posted again, whatever
failed after it -- a 500 or a dropped connection after Slack took the message, a crash before its ts was
recorded, the database failing mid-run, a rate limit that outlives the lease."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot import digest, ingest
from bot.app import build_digest_poster
from db import ledger
from tests.conftest import SEED_FEED
from tests.digest.test_digest_slack import DAY, SEED_ON_TOPIC
from tests.fakes.slack_api import TEAM_ID


@pytest.fixture
def seeded(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    return store


def run_digest(store, settings, *, poster=None, day=DAY, **kwargs):
    kwargs.setdefault("pace_seconds", 0)
    return digest.post_digest(store.session_factory, poster or build_digest_poster(settings), settings,
                              team_id=TEAM_ID, channel="C0DIGEST", digest_date=day, **kwargs)


def stored_parents(fake_slack) -> list[dict]:
    return [m for m in fake_slack.stored("C0DIGEST") if "thread_ts" not in m]


def stored_paper_ids(fake_slack) -> list[str]:
    return [block["block_id"].removeprefix("digest:") for m in fake_slack.stored("C0DIGEST")
            for block in m.get("blocks", []) if block.get("block_id", "").startswith("digest:")]


def assert_in_the_channel_exactly_once(fake_slack, count=SEED_ON_TOPIC) -> None:
    """Counted from what Slack accepted, not from what it answered: duplicates and losses both show."""
    ids = stored_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == count, (len(ids), len(set(ids)))
    assert len(stored_parents(fake_slack)) == 1


def ledger_items(store, day=DAY) -> list[ledger.ItemRecord]:
    with store.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=day)
        return ledger.run_items(session, run_id=run.id) if run else []


# -- 3. Slack's 500 after accepting a message makes no copies -------------------------------------------


def test_slack_answering_500_after_accepting_the_parent_three_times_leaves_one_parent(seeded, slack_settings,
                                                                                       fake_slack):
    fake_slack.faults["chat.postMessage"] = ["500:after"] * 3
    report = run_digest(seeded, slack_settings)
    if report.status != "posted":  # a rerun must not add a copy either
        run_digest(seeded, slack_settings)
    assert_in_the_channel_exactly_once(fake_slack)
    assert all(i.message_ts for i in ledger_items(seeded))


def test_slack_answering_500_after_accepting_a_reply_does_not_post_it_twice(seeded, slack_settings, fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "500:after", "500:after"]
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)


def test_a_connection_dropped_after_slack_accepted_a_reply_does_not_post_it_twice(seeded, slack_settings,
                                                                                  fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "reset:after"]
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)


class CrashAfterPost:
    """Posts through the real client, then dies (like a SIGKILL) before the ts of the Nth message is recorded."""

    def __init__(self, inner, crash_after: int):
        self.inner, self.crash_after, self.count = inner, crash_after, 0

    def post(self, **kwargs):
        ts = self.inner.post(**kwargs)
        self.count += 1
        if self.count == self.crash_after:
            raise KeyboardInterrupt("process killed after Slack accepted the message")
        return ts


@pytest.mark.parametrize("crash_after", [1, 3], ids=["parent", "reply"])
def test_a_crash_between_a_post_and_recording_its_ts_is_found_not_posted_again(seeded, slack_settings, fake_slack,
                                                                             crash_after):
    crashing = CrashAfterPost(build_digest_poster(slack_settings), crash_after)
    with pytest.raises(KeyboardInterrupt):
        run_digest(seeded, slack_settings, poster=crashing, owner="killed")
    later = datetime.now(UTC) + digest.LEASE + timedelta(seconds=1)
    assert run_digest(seeded, slack_settings, clock=lambda: later).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)
    # The message found in Slack is the one the ledger now points at.
    thread = {m["thread_ts"] for m in fake_slack.stored("C0DIGEST") if "thread_ts" in m}
    assert thread == {stored_parents(fake_slack)[0]["ts"]}


def test_every_digest_message_carries_its_run_and_part_as_slack_metadata(seeded, slack_settings, fake_slack):
    run_digest(seeded, slack_settings)
    with seeded.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY)
    marks = [m.get("metadata") for m in fake_slack.stored("C0DIGEST")]
    assert all(m and m["event_type"] == "papers_digest" for m in marks)
    assert [m["event_payload"]["run_id"] for m in marks] == [run.id] * len(marks)
    assert [m["event_payload"]["chunk"] for m in marks] == list(range(len(marks)))


def test_the_digest_client_never_resends_a_post_on_its_own_except_after_a_429(slack_settings):
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    poster = build_digest_poster(slack_settings)
    handlers = poster.post_client.retry_handlers
    assert handlers and all(isinstance(h, RateLimitErrorRetryHandler) for h in handlers)


# -- 2. A database error mid-digest strands nothing -----------------------------------------------------


class AfterReply:
    """Posts through the real client; once Slack has accepted the first reply, `then()` runs (it breaks the
    database) before the digest can record that reply's ts."""

    def __init__(self, inner, then):
        self.inner, self.then, self.count = inner, then, 0

    def post(self, **kwargs):
        ts = self.inner.post(**kwargs)
        self.count += 1
        if self.count == 2:
            self.then()
        return ts

    def find_marked(self, **kwargs):
        return self.inner.find_marked(**kwargs)


def fail_next_item_write(engine, message="database or disk is full"):
    """Make the next UPDATE of digest_items fail as a full disk does, on either dialect; returns the arming
    function."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    armed = []

    @event.listens_for(engine, "before_cursor_execute")
    def fail(conn, cursor, statement, parameters, context, executemany):
        if armed and statement.lstrip().upper().startswith("UPDATE DIGEST_ITEMS"):
            armed.clear()
            raise OperationalError(statement, parameters, Exception(message))

    return lambda: armed.append(True)


def scheduled_job(store, settings, poster, now):
    from bot.scheduler import DigestJob, build_scheduler

    state = {"now": now}
    job = DigestJob(team_id=TEAM_ID, settings=settings, factory=store.session_factory, poster=poster, arxiv=None,
                    pace_seconds=0,
                    clock=lambda: state["now"])
    build_scheduler(job, blocking=False)
    return job, state


NOW = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)


def test_a_full_disk_after_slack_accepted_a_reply_is_retried_within_minutes_and_posts_only_the_rest(
        seeded, slack_settings, fake_slack):
    poster = AfterReply(build_digest_poster(slack_settings), fail_next_item_write(seeded.engine))
    job, state = scheduled_job(seeded, slack_settings, poster, NOW)
    [report] = job()
    assert report.status == "failed" and report.retry_at is not None
    retry = job.scheduler.get_job(f"digest-retry-{TEAM_ID}-C0DIGEST")
    assert retry is not None and retry.trigger.run_date <= NOW + timedelta(minutes=6)
    with seeded.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY)
    assert run.status != ledger.DONE and run.lease_owner is None  # no stale lease holds the retry off
    state["now"] = retry.trigger.run_date
    [again] = retry.func(*retry.args)
    assert again.status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)
    assert all(i.message_ts for i in ledger_items(seeded))


def test_a_sqlite_lock_held_past_the_busy_timeout_after_a_reply_is_retried_once_the_lease_runs_out(
        store, settings, slack_settings, fake_slack, monkeypatch):
    import sqlite3

    import db.session
    from bot.app import build_store

    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's busy timeout")
    monkeypatch.setattr(db.session, "SQLITE_BUSY_TIMEOUT_MS", 300)  # the production 10 s, shortened
    quick = build_store(slack_settings)
    ingest.ingest_feed_file(quick.session_factory, SEED_FEED)
    other_writer = sqlite3.connect(quick.engine.url.database, isolation_level=None, check_same_thread=False)
    try:
        poster = AfterReply(build_digest_poster(slack_settings), lambda: other_writer.execute("BEGIN EXCLUSIVE"))
        job, state = scheduled_job(quick, slack_settings, poster, NOW)
        [report] = job()
        other_writer.execute("ROLLBACK")  # the other writer lets go, long after the busy timeout
        assert report.status == "failed"
        retry = job.scheduler.get_job(f"digest-retry-{TEAM_ID}-C0DIGEST")
        assert retry is not None and retry.trigger.run_date <= NOW + digest.LEASE + timedelta(minutes=1)
        state["now"] = retry.trigger.run_date
        [again] = retry.func(*retry.args)
        assert again.status == "posted"
        assert_in_the_channel_exactly_once(fake_slack)
        assert all(i.message_ts for i in ledger_items(quick))
    finally:
        other_writer.close()
        quick.engine.dispose()


def test_papers_planned_on_a_day_whose_run_never_finished_go_out_with_the_next_days_digest(
        seeded, slack_settings, fake_slack):
    from sqlalchemy.exc import OperationalError

    poster = AfterReply(build_digest_poster(slack_settings), fail_next_item_write(seeded.engine))
    with contextlib.suppress(OperationalError):  # the process dies with it (before the fix); nobody reruns the day
        run_digest(seeded, slack_settings, poster=poster)
    next_day = run_digest(seeded, slack_settings, day=DAY + timedelta(days=1))
    assert next_day.status == "posted"
    ids = stored_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC  # the first day's reply is not posted again; nothing lost
    with seeded.session_factory.begin() as session:
        first = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY)
    assert first.status == ledger.DONE  # its papers moved on; it no longer waits for a rerun


def test_the_cli_says_what_happened_when_the_database_fails_mid_digest(slack_env, fake_slack, monkeypatch, capsys):
    from sqlalchemy.exc import OperationalError

    from bot.cli import main

    real = ledger.mark_items_posted
    calls = []

    def full_disk_once(session, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("UPDATE digest_items", {}, Exception("database or disk is full"))
        return real(session, **kwargs)

    monkeypatch.setattr(ledger, "mark_items_posted", full_disk_once)
    monkeypatch.setenv("DIGEST_PACE_SECONDS", "0")
    args = ["digest", "--date", "2025-03-21", "--from-file", str(SEED_FEED)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "nothing half-written was kept" not in err
    assert "database or disk is full" in err and "Slack accepted 3 messages" in err
    assert "papers-bot digest --date 2025-03-21 --channel C0DIGEST" in err
    monkeypatch.setattr(ledger, "mark_items_posted", real)
    assert main(args) == 0
    assert_in_the_channel_exactly_once(fake_slack)


# -- 4. A rate limit that outlives the lease: the process that lost it posts nothing more ---------------


def test_a_process_asleep_on_a_429_past_its_lease_never_posts_after_another_took_the_run_over(
        seeded, slack_settings, fake_slack):
    import threading

    # The first process posts the parent and a reply, then Slack says "Retry-After: 3" (a short stand-in for
    # five 65 s waits); meanwhile its lease runs out (a clock past the lease) and a second process takes over.
    fake_slack.faults["chat.postMessage"] = ["", "", "429:3"]
    first: list = []
    sleeper = threading.Thread(target=lambda: first.append(run_digest(seeded, slack_settings, owner="sleeper")))
    sleeper.start()
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while not fake_slack.calls_to("chat.postMessage", ok=False):
        assert datetime.now(UTC) < deadline, "the 429 never came"
        time.sleep(0.01)
    later = datetime.now(UTC) + digest.LEASE + timedelta(seconds=1)
    second = run_digest(seeded, slack_settings, owner="takes-over", clock=lambda: later)
    sleeper.join(30)
    assert second.status == "posted" and first[0].status == "busy"
    assert_in_the_channel_exactly_once(fake_slack)
    with seeded.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY)
    assert run.status == ledger.DONE
