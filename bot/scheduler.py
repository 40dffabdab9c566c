"""The digest schedule: an APScheduler 3 cron job (fetch, then post to every channel) plus catch-up.

- The trigger takes weekday *names* from DIGEST_DAYS: APScheduler counts `day_of_week` numbers from
  Monday (cron's 0 is Sunday), and names make that off-by-one impossible.
- Catch-up: a process that starts after today's digest time on a digest day, while today's digest is
  not done in the ledger, runs the job within a minute. Restarts never post twice because the ledger,
  not the scheduler, decides what is posted (and several schedulers may fire; see DESIGN.md).
- A run another process still holds (its lease is live) is retried right after that lease expires; a
  run Slack or the database stopped is retried at its `retry_at` (minutes), a crashed one after 2 minutes.
- arXiv down after its last retry: each channel is told once that the digest will follow, and the job
  tries again every ARXIV_RETRY_DELAY; the ledger makes the notice and the digest happen once each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import ArxivSource, ArxivUnavailable
from bot.channel_topics import PausedChannel, digest_channels, note_digest_outcome
from bot.config import WEEKDAYS, Settings
from bot.digest import post_digest
from bot.digest_choose import refresh_papers, today_in
from bot.digest_notice import post_arxiv_unavailable_notice
from bot.digest_records import PostReport
from bot.message_poster import MessagePoster
from bot.metrics import NOT_EXPOSED, Metrics
from db import ledger

log = logging.getLogger(__name__)

JOB_ID = "daily-digest"
# A clock process paused (deploy, sleeping laptop) still runs a missed digest within this long; later
# than that the catch-up on the next start takes over.
MISFIRE_GRACE_SECONDS = 3600
CATCH_UP_DELAY = timedelta(seconds=5)
# A channel's run that crashed (an error nothing expected) is tried again this soon; the ledger resumes it.
CRASH_RETRY_DELAY = timedelta(minutes=2)
# When arXiv is down at digest time: the channel hears so once, then the job retries this often, and
# after this many retries posts from the papers already stored rather than stay silent all day.
ARXIV_RETRY_DELAY = timedelta(minutes=30)
ARXIV_RETRIES = 4


def digest_trigger(settings: Settings) -> CronTrigger:
    return CronTrigger(
        day_of_week=settings.digest_days,
        hour=settings.digest_time.hour,
        minute=settings.digest_time.minute,
        timezone=ZoneInfo(settings.digest_timezone),
    )


def is_digest_day(settings: Settings, day: date) -> bool:
    return WEEKDAYS[day.weekday()] in settings.digest_days.split(",")


@dataclass
class DigestJob:
    """Fetch the window, then post today's digest to every channel; safe to run any number of times."""

    settings: Settings
    factory: sessionmaker[Session]
    poster: MessagePoster
    arxiv: ArxivSource | None  # the process's one arXiv client; None skips fetching (tests, offline)
    pace_seconds: float | None = None  # None: DIGEST_PACE_SECONDS
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    scheduler: BaseScheduler | None = None
    arxiv_failures: dict[date, int] = field(default_factory=dict)
    # Tells the last editor of a channel paused for Slack's refusals (bot.channel_topics); True when it went out.
    notify_paused: Callable[[PausedChannel], bool] | None = None
    # DMs each follower the new papers their follows matched (handlers.dms), right after the channel digests.
    send_alerts: Callable[[], object] | None = None
    metrics: Metrics = NOT_EXPOSED  # digests and papers posted, DMs sent (the process's, when it serves /metrics)

    def channels(self) -> list[str]:
        with self.factory.begin() as session:
            return digest_channels(session, self.settings)

    def __call__(self, channels: list[str] | None = None) -> list[PostReport]:
        channels = channels or self.channels()
        if not channels:
            log.warning("no digest channel: set DIGEST_CHANNEL (or store a channel topic) to post digests")
            return []
        digest_date = today_in(self.settings, self.clock())
        if self.arxiv is not None:
            try:
                refresh_papers(self.factory, self.arxiv, self.settings, channels=channels, digest_date=digest_date)
            except ArxivUnavailable as err:
                if self._wait_for_arxiv(digest_date, channels, err):
                    return []
                log.warning("digest %s: %s; posting from the papers already stored", digest_date, err)
        reports = []
        for channel in channels:
            try:
                report = post_digest(self.factory, self.poster, self.settings, channel=channel,
                                     digest_date=digest_date, clock=self.clock, pace_seconds=self.pace_seconds)
            except Exception:  # noqa: BLE001 - one channel's crash must not starve the others; the ledger resumes it
                retry_at = self.clock() + CRASH_RETRY_DELAY
                log.exception("digest %s to %s stopped; trying again at %s", digest_date, channel,
                              retry_at.isoformat(timespec="minutes"))
                self._retry(channel, retry_at)
                continue
            reports.append(report)
            self.metrics.digest_done(report)
            note_digest_outcome(self.factory, self.settings, report, notify=self.notify_paused, now=self.clock())
            # Another process holds the run (busy), or an outage stopped it (failed): try again later today.
            if report.retry_at:
                self._retry(channel, report.retry_at)
        self._send_alerts()
        return reports

    def _send_alerts(self) -> None:
        if self.send_alerts is None:
            return
        try:
            # idempotent: a paper is sent to a user once, so a retried run sends nothing twice
            self.metrics.dms_done(self.send_alerts())
        except Exception:  # noqa: BLE001 - the digests are out; the DMs go with tomorrow's run
            log.exception("follow alerts failed; the papers stay unsent until the next run")

    def _retry(self, channel: str, when: datetime) -> None:
        if self.scheduler is not None:
            self.scheduler.add_job(self, "date", run_date=when + CATCH_UP_DELAY, args=[[channel]],
                                   id=f"digest-retry-{channel}", replace_existing=True,
                                   misfire_grace_time=MISFIRE_GRACE_SECONDS)

    def _wait_for_arxiv(self, digest_date: date, channels: list[str], err: Exception) -> bool:
        """After arXiv's last retry failed: say so once per channel and try again later (True), or, when
        the retries for today are used up or nothing can schedule them, post from what is stored (False)."""
        # Only today's count matters; keeping earlier days would grow the dict for the life of the process.
        failures = self.arxiv_failures.get(digest_date, 0) + 1
        self.arxiv_failures = {digest_date: failures}
        if self.scheduler is None or failures > ARXIV_RETRIES:
            return False
        for channel in channels:
            post_arxiv_unavailable_notice(self.factory, self.poster, channel=channel, digest_date=digest_date,
                                          clock=self.clock)
        retry_at = self.clock() + ARXIV_RETRY_DELAY
        log.warning("digest %s: %s; trying again at %s (attempt %d of %d)", digest_date, err,
                    retry_at.isoformat(timespec="minutes"), failures, ARXIV_RETRIES + 1)
        self.scheduler.add_job(self, "date", run_date=retry_at, args=[channels], id="digest-arxiv-retry",
                               replace_existing=True, misfire_grace_time=MISFIRE_GRACE_SECONDS)
        return True


def catch_up_due(settings: Settings, factory: sessionmaker[Session], channels: list[str], now: datetime) -> bool:
    """Past today's digest time on a digest day, and some channel's digest for today is not done."""
    local = now.astimezone(ZoneInfo(settings.digest_timezone))
    if not channels or not is_digest_day(settings, local.date()) or local.time() < settings.digest_time:
        return False
    with factory.begin() as session:
        for channel in channels:
            run = ledger.get_run(session, channel=channel, digest_date=local.date())
            if run is None or run.status != ledger.DONE:
                return True
    return False


def build_scheduler(job: DigestJob, *, blocking: bool) -> BaseScheduler:
    """The scheduler with the cron job and, when due, a catch-up run within a minute of start."""
    settings = job.settings
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone=ZoneInfo(settings.digest_timezone),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    job.scheduler = scheduler
    scheduler.add_job(job, digest_trigger(settings), id=JOB_ID, replace_existing=True)
    now = job.clock()
    if catch_up_due(settings, job.factory, job.channels(), now):
        log.info("today's digest is past due and not done: catching up now")
        scheduler.add_job(job, "date", run_date=now + CATCH_UP_DELAY, id="digest-catch-up", replace_existing=True)
    return scheduler


def describe(scheduler: BaseScheduler) -> str:
    job = scheduler.get_job(JOB_ID)
    trigger = job.trigger if job else None
    return f"digest schedule: {trigger}" if trigger else "digest schedule: none"
