"""The digest schedule: an APScheduler 3 cron job (for every workspace: fetch, then post to every channel, then
the DMs) plus catch-up, and the daily purge of workspaces uninstalled past their retention.

- `DailyDigests` is the cron job and `papers-bot digest --all`: one function, so the shell runs exactly what the
  schedule runs. It asks bot.workspaces for the workspaces (each with its own Web client) and runs one
  `DigestJob` for each; an uninstalled workspace is left out, and a retry of its digest posts nothing.

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

from bot import workspaces
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
PURGE_JOB_ID = "workspace-retention-purge"
# The retention purge runs once a day, away from the digest hour.
PURGE_TIME = (3, 30)
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
# Slack would not say which workspace the token is (auth.test refused or unreachable): the whole job retries this soon.
WORKSPACES_RETRY_DELAY = timedelta(minutes=10)


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
    """One workspace's digests: fetch the window, then post today's digest to every channel of the workspace
    through its own poster, then its DMs; safe to run any number of times."""

    settings: Settings
    factory: sessionmaker[Session]
    poster: MessagePoster  # the workspace's own (its token)
    arxiv: ArxivSource | None  # the process's one arXiv client; None skips fetching (tests, offline)
    team_id: str
    pace_seconds: float | None = None  # None: DIGEST_PACE_SECONDS
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    scheduler: BaseScheduler | None = None
    arxiv_failures: dict[date, int] = field(default_factory=dict)
    # Tells the last editor of a channel paused for Slack's refusals (bot.channel_topics); True when it went out.
    notify_paused: Callable[[PausedChannel], bool] | None = None
    # DMs each follower the new papers their follows matched (handlers.dms), right after the channel digests.
    send_alerts: Callable[[], object] | None = None
    metrics: Metrics = NOT_EXPOSED  # digests and papers posted, DMs sent (the process's, when it serves /metrics)
    with_digest_channel: bool = True  # DIGEST_CHANNEL is this workspace's (bot.workspaces.owns_digest_channel)

    def channels(self) -> list[str]:
        with self.factory.begin() as session:
            return digest_channels(session, self.settings, team_id=self.team_id,
                                   with_digest_channel=self.with_digest_channel)

    def targets(self) -> list[tuple[str, str]]:
        return [(self.team_id, channel) for channel in self.channels()]

    def __call__(self, channels: list[str] | None = None, digest_date: date | None = None,
                 fetched: set[tuple] | None = None) -> list[PostReport]:
        """`fetched`: the arXiv queries other workspaces fetched in the same run (bot.digest_choose.refresh_papers)."""
        if not workspaces.is_served(self.factory, self.team_id):
            log.info("workspace %s is uninstalled: no digest", self.team_id)
            return []
        channels = channels or self.channels()
        if not channels:
            log.warning("workspace %s has no digest channel: set DIGEST_CHANNEL (or store a channel topic) to post "
                        "digests", self.team_id)
            return []
        digest_date = digest_date or today_in(self.settings, self.clock())
        if self.arxiv is not None:
            try:
                refresh_papers(self.factory, self.arxiv, self.settings, team_id=self.team_id, channels=channels,
                               digest_date=digest_date, fetched=fetched)
            except ArxivUnavailable as err:
                if self._wait_for_arxiv(digest_date, channels, err):
                    return []
                log.warning("digest %s: %s; posting from the papers already stored", digest_date, err)
        reports = []
        for channel in channels:
            try:
                report = post_digest(self.factory, self.poster, self.settings, team_id=self.team_id, channel=channel,
                                     digest_date=digest_date, clock=self.clock, pace_seconds=self.pace_seconds)
            except Exception:  # noqa: BLE001 - one channel's crash must not starve the others; the ledger resumes it
                retry_at = self.clock() + CRASH_RETRY_DELAY
                log.exception("digest %s to %s stopped; trying again at %s", digest_date, channel,
                              retry_at.isoformat(timespec="minutes"))
                self._retry(channel, retry_at)
                continue
            reports.append(report)
            self.metrics.digest_done(report)
            note_digest_outcome(self.factory, self.settings, report, team_id=self.team_id, notify=self.notify_paused,
                                now=self.clock())
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
                                   id=f"digest-retry-{self.team_id}-{channel}", replace_existing=True,
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
            post_arxiv_unavailable_notice(self.factory, self.poster, team_id=self.team_id, channel=channel,
                                          digest_date=digest_date, clock=self.clock)
        retry_at = self.clock() + ARXIV_RETRY_DELAY
        log.warning("digest %s: %s; trying again at %s (attempt %d of %d)", digest_date, err,
                    retry_at.isoformat(timespec="minutes"), failures, ARXIV_RETRIES + 1)
        self.scheduler.add_job(self, "date", run_date=retry_at, args=[channels],
                               id=f"digest-arxiv-retry-{self.team_id}",
                               replace_existing=True, misfire_grace_time=MISFIRE_GRACE_SECONDS)
        return True


@dataclass
class DailyDigests:
    """The scheduled job and `papers-bot digest --all`: every served workspace's `DigestJob`, each with that
    workspace's client. `job_for` builds a workspace's job (bot.app wires its poster and DMs); jobs are kept per
    workspace so a workspace's arXiv retries count across the day."""

    settings: Settings
    factory: sessionmaker[Session]
    installations: workspaces.Installations
    job_for: Callable[[workspaces.ServedWorkspace], DigestJob]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    scheduler: BaseScheduler | None = None
    jobs: dict[str, DigestJob] = field(default_factory=dict)

    def workspace_jobs(self) -> list[DigestJob]:
        served = workspaces.workspace_clients(self.factory, self.settings, self.installations, now=self.clock())
        for workspace in served:
            fresh = self.job_for(workspace)
            job = self.jobs.setdefault(workspace.team_id, fresh)
            # Today's client (an installation's token may have rotated); the day's arXiv retry count stays.
            job.poster, job.notify_paused, job.send_alerts = fresh.poster, fresh.notify_paused, fresh.send_alerts
            job.scheduler = self.scheduler
        return [self.jobs[w.team_id] for w in served]

    def targets(self) -> list[tuple[str, str]]:
        """Every (team, channel) due a digest; none when the workspaces cannot be listed (the job retries then)."""
        try:
            return [target for job in self.workspace_jobs() for target in job.targets()]
        except Exception as err:  # noqa: BLE001 - a clock starting while Slack is down must still start
            log.warning("cannot list the workspaces at start (%s); no catch-up now, the digest job tries again", err)
            return []

    def __call__(self, digest_date: date | None = None) -> list[PostReport]:
        try:
            jobs = self.workspace_jobs()
        except Exception as err:
            if self.scheduler is None:
                raise  # `papers-bot digest --all`: the shell says why in one line
            # auth.test refused or unreachable: no workspace is known, so nothing can be posted; try again soon.
            retry_at = self.clock() + WORKSPACES_RETRY_DELAY
            log.error("digest: cannot list the workspaces to post to (%s); trying again at %s", err,
                      retry_at.isoformat(timespec="minutes"))
            self.scheduler.add_job(self, "date", run_date=retry_at, id="digest-workspaces-retry",
                                   replace_existing=True, misfire_grace_time=MISFIRE_GRACE_SECONDS)
            return []
        reports: list[PostReport] = []
        fetched: set[tuple] = set()  # one fetch per arXiv query and window, whichever workspaces share it
        for job in jobs:
            try:
                reports.extend(job(digest_date=digest_date, fetched=fetched))
            except Exception:  # noqa: BLE001 - one workspace's failure must not starve the others
                log.exception("workspace %s: the digest job failed; the other workspaces went on", job.team_id)
        return reports


def catch_up_due(settings: Settings, factory: sessionmaker[Session], targets: list[tuple[str, str]],
                 now: datetime) -> bool:
    """Past today's digest time on a digest day, and some (team, channel)'s digest for today is not done."""
    local = now.astimezone(ZoneInfo(settings.digest_timezone))
    if not targets or not is_digest_day(settings, local.date()) or local.time() < settings.digest_time:
        return False
    with factory.begin() as session:
        for team_id, channel in targets:
            run = ledger.get_run(session, team_id=team_id, channel=channel, digest_date=local.date())
            if run is None or run.status != ledger.DONE:
                return True
    return False


def build_scheduler(job: DigestJob | DailyDigests, *, blocking: bool) -> BaseScheduler:
    """The scheduler with the cron job, the daily retention purge and, when due, a catch-up run within a minute of
    start."""
    settings = job.settings
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone=ZoneInfo(settings.digest_timezone),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    job.scheduler = scheduler
    scheduler.add_job(job, digest_trigger(settings), id=JOB_ID, replace_existing=True)
    scheduler.add_job(purge_job, CronTrigger(hour=PURGE_TIME[0], minute=PURGE_TIME[1],
                                             timezone=ZoneInfo(settings.digest_timezone)),
                      args=[job.factory, settings], id=PURGE_JOB_ID, replace_existing=True)
    now = job.clock()
    if catch_up_due(settings, job.factory, job.targets(), now):
        log.info("today's digest is past due and not done: catching up now")
        scheduler.add_job(job, "date", run_date=now + CATCH_UP_DELAY, id="digest-catch-up", replace_existing=True)
    return scheduler


def purge_job(factory: sessionmaker[Session], settings: Settings) -> list[workspaces.PurgeReport]:
    """The daily retention purge: every workspace uninstalled more than RETENTION_AFTER_UNINSTALL_DAYS ago."""
    reports = workspaces.purge_expired(factory, retention_days=settings.retention_after_uninstall_days)
    for report in reports:
        log.info("retention over: %s", report.summary())
    return reports


def describe(scheduler: BaseScheduler) -> str:
    job = scheduler.get_job(JOB_ID)
    trigger = job.trigger if job else None
    return f"digest schedule: {trigger}" if trigger else "digest schedule: none"
