"""Slack failing under the digest: 5xx, channel_not_found, not_in_channel, a retried event. Nothing is lost
or posted twice, the admin is told what to do, and the ledger says exactly what reached the channel."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import digest, ingest
from bot.app import build_digest_poster
from db import ledger
from db.models import DigestItem
from tests.conftest import SEED_FEED
from tests.digest.test_digest_slack import DAY, SEED_ON_TOPIC, posted_paper_ids, posts
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import event_body, post


@pytest.fixture
def seeded(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    return store


def run_digest(store, settings, *, day=DAY):
    return digest.post_digest(store.session_factory, build_digest_poster(settings), settings, team_id=TEAM_ID,
                              channel="C0DIGEST",
                              digest_date=day, pace_seconds=0)


def run_and_items(store, *, day=DAY) -> tuple[ledger.RunRecord | None, list[ledger.ItemRecord]]:
    with store.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=day)
        return run, (ledger.run_items(session, run_id=run.id) if run else [])


def assert_each_paper_posted_once(fake_slack, count=SEED_ON_TOPIC) -> None:
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == count
    assert sum(1 for m in posts(fake_slack) if not m.get("thread_ts")) == 1  # one parent


def test_a_passing_slack_500_is_retried_and_the_digest_posts_every_paper_once(seeded, slack_settings, fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "500", "503"]
    report = run_digest(seeded, slack_settings)
    assert report.status == "posted" and report.errors == []
    assert len(fake_slack.calls_to("chat.postMessage", ok=False)) == 2
    assert_each_paper_posted_once(fake_slack)
    _, items = run_and_items(seeded)
    assert all(i.message_ts and i.error is None for i in items)


def test_slack_down_mid_digest_stops_the_run_and_a_rerun_posts_only_the_rest(seeded, slack_settings, fake_slack,
                                                                              caplog):
    # The parent and two replies go out, then Slack answers 503 to the first try and both retries.
    fake_slack.faults["chat.postMessage"] = ["", "", "", "503", "503", "503"]
    with caplog.at_level(logging.ERROR):
        report = run_digest(seeded, slack_settings)
    assert report.status == "failed" and report.papers_posted == 2 * digest.PAPERS_PER_REPLY
    still = SEED_ON_TOPIC - 2 * digest.PAPERS_PER_REPLY
    [line] = [r.getMessage() for r in caplog.records if "Slack is failing" in r.getMessage()]
    assert f"{still} papers still to post" in line and "papers-bot digest --date 2025-03-21 --channel C0DIGEST" in line
    run, items = run_and_items(seeded)
    assert run.status == ledger.FAILED and run.lease_owner is None and run.parent_ts
    assert sum(1 for i in items if i.message_ts) == 2 * digest.PAPERS_PER_REPLY
    assert all(i.error is None for i in items)  # nothing given up on: the rest is still to post

    assert run_digest(seeded, slack_settings).status == "posted"
    assert_each_paper_posted_once(fake_slack)
    _, items = run_and_items(seeded)
    assert all(i.message_ts for i in items)


def test_slack_down_before_the_parent_leaves_nothing_claimed(seeded, slack_settings, fake_slack):
    fake_slack.faults["chat.postMessage"] = ["500", "500", "500"]
    report = run_digest(seeded, slack_settings)
    assert report.status == "failed" and report.errors == ["fatal_error"]
    assert posts(fake_slack) == []
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_each_paper_posted_once(fake_slack)


def test_slack_unreachable_is_a_failed_run_not_a_crash(seeded, slack_settings, caplog):
    import dataclasses

    closed = dataclasses.replace(slack_settings, slack_api_url="http://127.0.0.1:1/api/")
    with caplog.at_level(logging.ERROR):
        report = run_digest(seeded, closed)
    assert report.status == "failed" and report.errors[0].startswith("connection_error")
    run, items = run_and_items(seeded)
    assert run.status == ledger.FAILED and run.lease_owner is None and items == []


def test_channel_not_found_tells_the_admin_to_check_the_channel_and_claims_nothing(seeded, slack_settings,
                                                                                     fake_slack, caplog):
    fake_slack.channel_errors["C0DIGEST"] = "channel_not_found"
    with caplog.at_level(logging.ERROR):
        report = run_digest(seeded, slack_settings)
    assert report.status == "failed" and report.errors == ["channel_not_found"]
    assert len(fake_slack.calls_to("chat.postMessage", ok=False)) == 1  # no retry of a refusal, no per-paper spam
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "channel_not_found" in line and "C0DIGEST" in line and "DIGEST_CHANNEL" in line
    run, items = run_and_items(seeded)
    assert run.status == ledger.FAILED and run.lease_owner is None and run.parent_ts is None and items == []


def test_not_in_channel_keeps_the_ledger_consistent_and_the_papers_go_out_with_the_next_digest(
    seeded, slack_settings, fake_slack, caplog
):
    fake_slack.channel_errors["C0DIGEST"] = "not_in_channel"
    with caplog.at_level(logging.ERROR):
        assert run_digest(seeded, slack_settings).status == "failed"
    assert sum("/invite @papers-bot" in r.getMessage() for r in caplog.records) == 1
    run, items = run_and_items(seeded)
    # Nothing reached the channel, so nothing is recorded as planned or posted for it.
    assert run.status == ledger.FAILED and run.lease_owner is None and run.parent_ts is None
    assert items == [] and not run.planned
    with seeded.session_factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(DigestItem)) == 0

    # The admin invites the bot but nobody reruns yesterday: the next day's digest carries those papers.
    del fake_slack.channel_errors["C0DIGEST"]
    next_day = DAY + timedelta(days=1)
    with seeded.session_factory.begin() as session:
        in_window = len(digest.select_digest(session, slack_settings, team_id=TEAM_ID, channel=None,
                                             digest_date=next_day).papers)
    report = run_digest(seeded, slack_settings, day=next_day)
    assert report.status == "posted" and report.papers_posted == in_window > 0
    # A late rerun of the failed day posts only the papers the next day's window left out.
    late = run_digest(seeded, slack_settings)
    assert late.status == "posted" and late.papers_posted == SEED_ON_TOPIC - in_window
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC


def test_not_in_channel_after_the_parent_keeps_what_was_posted_and_resumes_after_the_invite(
    seeded, slack_settings, fake_slack
):
    # The bot is removed from the channel after the parent and one reply went out.
    fake_slack.faults["chat.postMessage"] = ["", "", "not_in_channel"]
    assert run_digest(seeded, slack_settings).status == "failed"
    run, items = run_and_items(seeded)
    assert run.parent_ts and sum(1 for i in items if i.message_ts) == digest.PAPERS_PER_REPLY
    assert len(items) == SEED_ON_TOPIC and all(i.error is None for i in items)
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_each_paper_posted_once(fake_slack)


def test_a_delivered_event_and_slacks_retry_of_it_publish_the_home_once(slack_server, fake_slack):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D1"},
                      event_id="Ev0RETRY")
    first = post(f"{slack_server}/slack/events", body, content_type="application/json")
    assert first.status_code == 200
    assert len(fake_slack.wait_for("views.publish")) == 1
    for attempt in ("1", "2"):
        again = post(f"{slack_server}/slack/events", body, content_type="application/json",
                     extra_headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"})
        assert again.status_code == 200
    assert len(fake_slack.wait_for("views.publish", 2, timeout=1.0)) == 1


def test_a_429_that_outlasts_the_retries_stops_the_run_and_a_rerun_posts_the_rest(seeded, slack_settings,
                                                                                  fake_slack):
    # slack_sdk waits out Retry-After five times; the sixth 429 gives up on that reply.
    fake_slack.faults["chat.postMessage"] = ["", ""] + ["429:0"] * 6
    report = run_digest(seeded, slack_settings)
    assert report.status == "failed" and report.errors == ["ratelimited"]
    _, items = run_and_items(seeded)
    assert sum(1 for i in items if i.message_ts) == digest.PAPERS_PER_REPLY
    assert all(i.error is None for i in items)
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_each_paper_posted_once(fake_slack)


def test_a_scheduled_digest_stopped_by_a_slack_outage_is_retried_later_that_day(seeded, slack_settings,
                                                                                 fake_slack):
    from datetime import UTC, datetime

    from bot.scheduler import DigestJob, build_scheduler

    job = DigestJob(team_id=TEAM_ID, settings=slack_settings, factory=seeded.session_factory,
                    poster=build_digest_poster(slack_settings), arxiv=None, pace_seconds=0,
                    clock=lambda: datetime(2025, 3, 21, 10, 0, tzinfo=UTC))
    build_scheduler(job, blocking=False)
    fake_slack.faults["chat.postMessage"] = ["", "", "503", "503", "503"]
    [report] = job()
    assert report.status == "failed" and report.retry_at is not None
    retry = job.scheduler.get_job(f"digest-retry-{TEAM_ID}-C0DIGEST")
    assert retry is not None and retry.trigger.run_date >= report.retry_at
    [again] = retry.func(*retry.args)  # Slack is back when the retry fires
    assert again.status == "posted"
    assert_each_paper_posted_once(fake_slack)


def test_the_app_home_is_published_through_a_passing_slack_503(slack_server, fake_slack):
    fake_slack.faults["views.publish"] = ["503"]
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D1"})
    assert post(f"{slack_server}/slack/events", body, content_type="application/json").status_code == 200
    assert len(fake_slack.wait_for("views.publish", 1, timeout=15)) == 1
    assert len(fake_slack.calls_to("views.publish", ok=False)) == 1
