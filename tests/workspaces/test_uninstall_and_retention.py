"""An uninstalled workspace gets no digest and no DM from that moment; its data is kept
RETENTION_AFTER_UNINSTALL_DAYS, then the scheduler's daily purge deletes it (and nothing of another workspace)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import foryou_dm, ingest, reading, scheduler
from bot.app import build_daily_digests, build_scheduler
from bot.channel_topics import edit_channel_topic
from bot.cli import main
from bot.workspaces import mark_installed, mark_uninstalled, purge_expired, workspace_overview
from handlers.web_client import build_web_client
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID

DAY = date(2025, 3, 21)
OTHER = "T0SISTER"


def installations_of(settings, *teams: str):
    """Two installed workspaces, as the OAuth installation store will feed them (one fake Slack serves both)."""
    client = build_web_client(settings)
    return lambda: [(team, client) for team in teams]


@pytest.fixture
def seeded(store, slack_settings):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    for team in (TEAM_ID, OTHER):
        edit_channel_topic(store.session_factory, slack_settings, "C0KV", team_id=team, field_name="keywords",
                           terms=["KV cache"])
    return store


def daily(store, settings, *teams: str):
    job = build_daily_digests(dataclasses.replace(settings, digest_channel=None, digest_pace_seconds=0), store,
                              installations=installations_of(settings, *teams))
    job.job_for = _without_arxiv(job.job_for)
    return job


def _without_arxiv(job_for):
    def build(workspace):
        job = job_for(workspace)
        job.arxiv, job.pace_seconds = None, 0
        return job
    return build


def parents(fake_slack) -> int:
    return len([c for c in fake_slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")])


def test_an_uninstalled_workspace_gets_no_digest_from_that_moment(seeded, slack_settings, fake_slack):
    job = daily(seeded, slack_settings, TEAM_ID, OTHER)
    mark_uninstalled(seeded.session_factory, OTHER, datetime.now(UTC))

    reports = job(digest_date=DAY)
    assert [(r.team_id, r.channel, r.status) for r in reports] == [(TEAM_ID, "C0KV", "posted")]
    assert parents(fake_slack) == 1


def test_a_queued_retry_of_an_uninstalled_workspace_posts_nothing(seeded, slack_settings, fake_slack):
    job = daily(seeded, slack_settings, OTHER)
    [sister] = job.workspace_jobs()
    mark_uninstalled(seeded.session_factory, OTHER, datetime.now(UTC))
    assert sister(["C0KV"], digest_date=DAY) == []
    assert parents(fake_slack) == 0


def test_an_uninstalled_workspace_gets_no_morning_dm(seeded, slack_settings, fake_slack):
    factory = seeded.session_factory
    reading.mark_read(factory, team_id=OTHER, user_id="U0ANN", arxiv_id="2503.15465", source="button")
    foryou_dm.set_dm(factory, team_id=OTHER, user_id="U0ANN", enabled=True)
    mark_uninstalled(factory, OTHER, datetime.now(UTC))
    daily(seeded, slack_settings, OTHER)(digest_date=DAY)
    assert fake_slack.calls_to("conversations.open") == []

    mark_installed(factory, OTHER, datetime.now(UTC))  # installed again: served again
    daily(seeded, slack_settings, OTHER)(digest_date=DAY)
    assert [c.args["users"] for c in fake_slack.calls_to("conversations.open")] == ["U0ANN"]


def test_the_retention_purge_deletes_a_workspace_only_once_its_days_are_over(seeded, slack_settings):
    factory = seeded.session_factory
    reading.mark_read(factory, team_id=OTHER, user_id="U0ANN", arxiv_id="2503.15465", source="button")
    reading.mark_read(factory, team_id=TEAM_ID, user_id="U0ANN", arxiv_id="2503.15465", source="button")
    gone = datetime(2026, 10, 1, tzinfo=UTC)
    mark_uninstalled(factory, OTHER, gone)

    assert purge_expired(factory, retention_days=30, now=gone + timedelta(days=29)) == []
    assert len(reading.history(factory, team_id=OTHER, user_id="U0ANN").reads) == 1

    [report] = purge_expired(factory, retention_days=30, now=gone + timedelta(days=31))
    assert report.team_id == OTHER and report.deleted == {"channel_topics": 1, "reads": 1, "workspaces": 1}
    assert reading.history(factory, team_id=OTHER, user_id="U0ANN").reads == []
    assert len(reading.history(factory, team_id=TEAM_ID, user_id="U0ANN").reads) == 1
    assert OTHER not in {w.team_id for w in workspace_overview(factory)}


def test_the_scheduler_runs_the_retention_purge_daily_with_the_setting(seeded, slack_settings):
    settings = dataclasses.replace(slack_settings, retention_after_uninstall_days=0)
    sched = build_scheduler(settings, seeded, blocking=False, installations=installations_of(settings, TEAM_ID))
    purge = sched.get_job(scheduler.PURGE_JOB_ID)
    assert purge is not None and "hour='3'" in str(purge.trigger) and "minute='30'" in str(purge.trigger)

    mark_uninstalled(seeded.session_factory, OTHER, datetime.now(UTC) - timedelta(seconds=1))
    [report] = purge.func(*purge.args)
    assert report.team_id == OTHER and report.deleted == {"channel_topics": 1, "workspaces": 1}


def test_a_clock_started_while_slack_refuses_the_token_starts_and_retries_the_job(seeded, slack_settings, fake_slack,
                                                                                   capsys):
    fake_slack.faults["auth.test"] = ["invalid_auth", "invalid_auth"]
    sched = build_scheduler(slack_settings, seeded, blocking=False)  # no workspace known: no catch-up, no crash
    job = sched.get_job(scheduler.JOB_ID).func
    job.clock = lambda: datetime(2025, 3, 21, 10, tzinfo=UTC)
    assert job() == []
    retry = sched.get_job("digest-workspaces-retry")
    assert retry is not None and retry.trigger.run_date == datetime(2025, 3, 21, 10, 10, tzinfo=UTC)
    assert [team for team, _ in job.installations()] == [TEAM_ID]  # Slack answers again: the retry finds it


def test_digest_all_says_in_one_line_when_slack_refuses_the_token(slack_env, fake_slack, capsys):
    fake_slack.faults["auth.test"] = ["invalid_auth"]
    assert main(["digest", "--all"]) == 2
    assert capsys.readouterr().err.strip() == "papers-bot: Slack refused SLACK_BOT_TOKEN (invalid_auth)"
