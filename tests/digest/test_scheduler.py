"""The digest schedule: weekdays and times as configured, catch-up on start, never a double post."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import ingest
from bot import scheduler as scheduler_module
from bot.app import build_digest_poster
from bot.config import Settings
from bot.scheduler import DigestJob, build_scheduler, catch_up_due, digest_trigger
from bot.topics import Topic
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID

# 2025-03-21 is a Friday.
FRIDAY = date(2025, 3, 21)


def fire_times(settings: Settings, start: datetime, count: int) -> list[datetime]:
    trigger = digest_trigger(settings)
    times, previous = [], None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return times


def test_the_default_schedule_is_weekday_mornings_at_nine_utc():
    times = fire_times(Settings(), datetime(2025, 3, 22, tzinfo=UTC), 6)  # from a Saturday
    assert [t.strftime("%a %H:%M") for t in times] == [
        "Mon 09:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00", "Mon 09:00",
    ]


def test_sunday_in_digest_days_means_sunday_not_monday():
    settings = Settings(digest_days="sun,thu", digest_time=time(7, 30))
    times = fire_times(settings, datetime(2025, 3, 17, tzinfo=UTC), 4)  # from a Monday
    assert [t.strftime("%a %d %H:%M") for t in times] == ["Thu 20 07:30", "Sun 23 07:30", "Thu 27 07:30",
                                                          "Sun 30 07:30"]


def test_digest_time_is_read_in_the_digest_timezone():
    settings = Settings(digest_timezone="America/New_York", digest_time=time(9, 0))
    fire = fire_times(settings, datetime(2025, 3, 21, 0, tzinfo=UTC), 1)[0]
    assert fire.astimezone(UTC) == datetime(2025, 3, 21, 13, 0, tzinfo=UTC)  # EDT is UTC-4 in March
    assert fire.astimezone(ZoneInfo("America/New_York")).hour == 9


@pytest.fixture
def job(store, slack_settings, fake_slack):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    settings = dataclasses.replace(slack_settings, digest_keywords=Topic(("KV cache",)).keywords)
    state = {"now": datetime(2025, 3, 21, 10, 0, tzinfo=UTC)}
    digest_job = DigestJob(team_id=TEAM_ID, settings=settings, factory=store.session_factory,
                           poster=build_digest_poster(settings),
                           arxiv=None, pace_seconds=0, clock=lambda: state["now"])
    digest_job.state = state
    return digest_job


def parent_messages(fake_slack) -> list[dict]:
    return [c.args for c in fake_slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]


def test_catch_up_is_due_after_the_digest_time_until_the_digest_is_done(job, fake_slack):
    after = datetime(2025, 3, 21, 10, 0, tzinfo=UTC)
    assert catch_up_due(job.settings, job.factory, [(TEAM_ID, "C0DIGEST")], after)
    assert not catch_up_due(job.settings, job.factory, [(TEAM_ID, "C0DIGEST")], after.replace(hour=8))
    assert not catch_up_due(job.settings, job.factory, [(TEAM_ID, "C0DIGEST")], datetime(2025, 3, 22, 10,
                                                                                         tzinfo=UTC))  # Sat
    job()
    assert not catch_up_due(job.settings, job.factory, [(TEAM_ID, "C0DIGEST")], after)


def test_the_job_posts_todays_digest_once_however_often_it_runs(job, fake_slack):
    first = job()
    assert [r.status for r in first] == ["posted"]
    assert [r.status for r in job()] == ["already-done"]
    parents = parent_messages(fake_slack)
    assert len(parents) == 1 and "2025-03-21" in json.dumps(parents[0]["blocks"])


def test_a_process_started_after_the_digest_time_posts_within_a_minute_and_a_restart_does_not_repeat(
        job, fake_slack, monkeypatch):
    # The catch-up is a job the scheduler runs on its own thread; its 5 s head start is only waited out here.
    monkeypatch.setattr(scheduler_module, "CATCH_UP_DELAY", timedelta(seconds=0.2))
    job.clock = lambda: datetime.now(UTC)
    job.settings = dataclasses.replace(job.settings, digest_time=time(0, 0), digest_days="mon,tue,wed,thu,fri,sat,sun")
    scheduler = build_scheduler(job, blocking=False)
    assert scheduler.get_job("digest-catch-up") is not None
    scheduler.start()
    try:
        # Real time now, so today has no seed papers: the catch-up posts today's one-line note.
        posted = fake_slack.wait_for("chat.postMessage", 1, timeout=30)
        assert len(posted) == 1 and datetime.now(UTC).date().isoformat() in posted[0].args["text"]
    finally:
        scheduler.shutdown(wait=True)
    sent = len(fake_slack.calls_to("chat.postMessage"))
    restarted = build_scheduler(job, blocking=False)
    assert restarted.get_job("digest-catch-up") is None
    assert len(parent_messages(fake_slack)) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == sent


def test_no_catch_up_before_the_digest_time(job):
    job.clock = lambda: datetime(2025, 3, 21, 8, 59, tzinfo=UTC)
    scheduler = build_scheduler(job, blocking=False)
    assert scheduler.get_job("digest-catch-up") is None
    assert scheduler.get_job("daily-digest") is not None


def test_a_run_held_by_another_process_is_retried_when_its_lease_expires(job, fake_slack):
    from bot import digest
    from db import ledger

    with job.factory.begin() as session:
        ledger.claim_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=FRIDAY, owner="other",
                         now=job.state["now"],
                         lease=digest.LEASE)
    scheduler = build_scheduler(job, blocking=False)
    reports = job()
    assert [r.status for r in reports] == ["busy"]
    retry = scheduler.get_job(f"digest-retry-{TEAM_ID}-C0DIGEST")
    assert retry is not None
    assert parent_messages(fake_slack) == []


def arxiv_job(job, fake_arxiv):
    from bot.app import build_arxiv_source

    job.settings = dataclasses.replace(job.settings, arxiv_api_url=fake_arxiv.url, arxiv_max_retries=0,
                                       arxiv_delay_seconds=0.01)
    job.arxiv = build_arxiv_source(job.settings)
    build_scheduler(job, blocking=False)
    return job


def notices(fake_slack) -> list[dict]:
    return [c.args for c in fake_slack.calls_to("chat.postMessage") if "arXiv is unavailable" in c.args["text"]]


def test_arxiv_down_at_digest_time_says_so_once_and_the_next_run_catches_up(job, fake_slack, fake_arxiv):
    arxiv_job(job, fake_arxiv)
    fake_arxiv.faults.extend(["503"] * 20)
    assert job() == []
    assert job.scheduler.get_job(f"digest-arxiv-retry-{TEAM_ID}") is not None
    assert job() == []
    assert len(notices(fake_slack)) == 1 and "2025-03-21 will follow" in notices(fake_slack)[0]["text"]
    assert len(parent_messages(fake_slack)) == 1  # the notice only
    fake_arxiv.faults.clear()
    assert [r.status for r in job()] == ["posted"]
    assert job() and len(notices(fake_slack)) == 1
    assert len(parent_messages(fake_slack)) == 2


def test_arxiv_down_all_day_still_posts_from_the_stored_papers(job, fake_slack, fake_arxiv):
    from bot.scheduler import ARXIV_RETRIES

    arxiv_job(job, fake_arxiv)
    fake_arxiv.faults.extend(["503"] * 50)
    for _ in range(ARXIV_RETRIES):
        assert job() == []
    assert [r.status for r in job()] == ["posted"]
    assert len(notices(fake_slack)) == 1


def test_a_new_day_gets_its_own_arxiv_retries_and_forgets_yesterdays(job, fake_slack, fake_arxiv):
    from bot.scheduler import ARXIV_RETRIES

    arxiv_job(job, fake_arxiv)
    fake_arxiv.faults.extend(["503"] * 100)
    for _ in range(ARXIV_RETRIES):
        assert job() == []
    job.state["now"] += timedelta(days=1)
    assert job() == []  # waits for arXiv again instead of posting at once from the stored papers
    assert "2025-03-22 will follow" in notices(fake_slack)[-1]["text"]
    assert list(job.arxiv_failures) == [date(2025, 3, 22)]  # a long-running clock process does not pile up days
