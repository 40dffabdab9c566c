"""The daily digest: choose the papers for (channel, date), then post them exactly once through the ledger.

Selection: first published in the lookback window ending on the digest date, on the channel's topic
(bot.topics), not already planned for that channel, newest first. Posting: a parent message, then the
papers in its thread, several to a reply; every message's ts goes into the ledger (db.ledger) as soon
as Slack returns it, so a crash, a restart or a second process never posts a paper twice.

Slack is reached through a `MessagePoster` handed in by the composition root, so this module stays
free of slack_sdk; a failed post surfaces as `PostFailed` carrying Slack's error code.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import ArxivQueryRefused
from bot.config import Settings
from bot.render_blocks import digest as blocks
from bot.topics import Topic, matched_keywords, topic_matches
from db import ledger
from db import papers as paper_store
from db import topics as topic_store
from db.records import PaperRecord

log = logging.getLogger(__name__)

PAPERS_PER_REPLY = 5  # 5 papers x 5 blocks stays far below Slack's 50 blocks a message.
# Renewed after every post, so it only has to outlast one post with its 429 retries (slack_sdk waits
# Retry-After up to 5 times); short enough that a crashed owner's run is resumed within minutes.
LEASE = timedelta(minutes=5)
# Errors that no retry fixes until an admin acts: the run stops and says so.
CHANNEL_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "not_authed",
                  "account_inactive", "token_revoked", "missing_scope"}
# Slack itself failing (after slack_sdk's own retries): the run stops with the rest still to post, and a
# rerun posts it. Marking the papers failed instead would drop them from the channel for good.
TRANSIENT_ERRORS = {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
SLACK_RETRY_DELAY = timedelta(minutes=10)  # when such a stopped run is worth trying again (PostReport.retry_at)


@dataclass(frozen=True)
class DigestEntry:
    paper: PaperRecord
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Digest:
    channel: str | None
    digest_date: date
    topic: Topic
    entries: tuple[DigestEntry, ...]

    @property
    def papers(self) -> list[PaperRecord]:
        return [e.paper for e in self.entries]

    def keyword_counts(self) -> list[tuple[str, int]]:
        """How many papers each keyword matched, in the topic's keyword order, zeros left out."""
        counts = Counter(k for e in self.entries for k in e.matched)
        return [(k, counts[k]) for k in self.topic.keywords if counts[k]]


class PostFailed(Exception):
    """Slack refused a message; `code` is Slack's error string (e.g. `not_in_channel`). `transient` says
    Slack (or the way to it) was failing rather than refusing this message: a 5xx, a 429 or no answer."""

    def __init__(self, code: str, *, transient: bool = False):
        super().__init__(code)
        self.code = code
        self.transient = transient or code in TRANSIENT_ERRORS


class LeaseLost(Exception):
    """Another process took over the run (our lease expired); this one must stop posting."""


class MessagePoster(Protocol):
    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None) -> str:
        """Post one message and return its ts, or raise PostFailed."""


@dataclass
class PostReport:
    channel: str
    digest_date: date
    status: str  # posted | empty | already-done | busy | failed
    papers_posted: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)
    retry_at: datetime | None = None  # busy: when the other lease expires; failed on a Slack outage: try then

    def summary(self) -> str:
        text = f"digest {self.digest_date} to {self.channel}: {self.status}"
        if self.status in ("posted", "empty", "failed"):
            text += f", {self.papers_posted} papers in {self.messages} messages"
        if self.errors:
            text += f", {len(self.errors)} errors"
        return text


# -- topics and selection -----------------------------------------------------------------------------


def default_topic(settings: Settings) -> Topic:
    return Topic(keywords=settings.digest_keywords, exclude=settings.digest_exclude,
                 categories=settings.digest_categories)


def topic_for_channel(session: Session, settings: Settings, channel: str | None) -> tuple[Topic, str]:
    """The channel's stored topic, else the environment's default; and where it came from."""
    stored = topic_store.get_channel_topic(session, channel) if channel else None
    if stored and stored.keywords:
        return Topic(keywords=stored.keywords, exclude=stored.exclude, categories=stored.categories), "channel"
    return default_topic(settings), "environment"


def channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str | None) -> tuple[Topic, str]:
    """For `/papers topic`: the channel's topic and where it comes from (`channel` or `environment`)."""
    with factory.begin() as session:
        return topic_for_channel(session, settings, channel)


MAX_TOPIC_TERMS = 50
MAX_TOPIC_TERM_CHARS = 100


class TopicError(ValueError):
    """A topic edit that cannot be stored; the message is for the user."""


def parse_terms(raw: str) -> tuple[str, ...]:
    """`sparse, KV cache, low-bit` -> the terms, trimmed, blanks and repeats dropped."""
    terms = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if len(terms) > MAX_TOPIC_TERMS:
        raise TopicError(f"At most {MAX_TOPIC_TERMS} terms, please (got {len(terms)}).")
    if any(len(t) > MAX_TOPIC_TERM_CHARS for t in terms):
        raise TopicError(f"Each term must be at most {MAX_TOPIC_TERM_CHARS} characters.")
    return terms


def edit_channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str, *, field_name: str,
                       terms: Sequence[str]) -> Topic:
    """Set the channel's keywords, exclusions or categories (starting from its current topic)."""
    if field_name == "keywords" and not terms:
        raise TopicError("A topic needs at least one keyword.")
    with factory.begin() as session:
        current, _ = topic_for_channel(session, settings, channel)
        values = {"keywords": current.keywords, "exclude": current.exclude, "categories": current.categories,
                  field_name: tuple(terms)}
        topic_store.set_channel_topic(session, channel=channel, updated_at=datetime.now(UTC), **values)
        return Topic(**values)


def reset_channel_topic(factory: sessionmaker[Session], channel: str) -> bool:
    with factory.begin() as session:
        return topic_store.delete_channel_topic(session, channel)


def digest_channels(session: Session, settings: Settings) -> list[str]:
    """DIGEST_CHANNEL, then every channel with a stored topic."""
    channels = [settings.digest_channel] if settings.digest_channel else []
    return list(dict.fromkeys(channels + topic_store.topic_channels(session)))


def paper_window(digest_date: date, lookback_days: int) -> tuple[datetime, datetime]:
    """[D - lookback, D + 1 day) in UTC: the same days `fetch` asks arXiv for."""
    start = datetime.combine(digest_date - timedelta(days=lookback_days), dtime(0), tzinfo=UTC)
    return start, datetime.combine(digest_date + timedelta(days=1), dtime(0), tzinfo=UTC)


def entries_for(papers: Sequence[PaperRecord], topic: Topic) -> list[DigestEntry]:
    return [DigestEntry(p, tuple(matched_keywords(p.title, p.abstract, topic.keywords))) for p in papers]


def select_digest(session: Session, settings: Settings, *, channel: str | None, digest_date: date) -> Digest:
    """What the digest for (channel, date) holds: the planned papers if the run was planned, else a
    fresh selection that leaves out papers already posted to the channel."""
    topic, _ = topic_for_channel(session, settings, channel)
    run = ledger.get_run(session, channel=channel, digest_date=digest_date) if channel else None
    if run and run.planned:
        items = ledger.run_items(session, run_id=run.id)
        found = paper_store.get_papers(session, [i.arxiv_id for i in items])
        papers = [found[i.arxiv_id] for i in items if i.arxiv_id in found]
        return Digest(channel, digest_date, topic, tuple(entries_for(papers, topic)))
    start, end = paper_window(digest_date, settings.digest_lookback_days)
    candidates = [DigestEntry(p, matched) for p in paper_store.papers_published_between(session, start=start, end=end)
                  if (matched := topic_matches(p, topic))]
    if channel:
        posted = ledger.posted_ids(session, channel=channel, arxiv_ids=[e.paper.arxiv_id for e in candidates])
        candidates = [e for e in candidates if e.paper.arxiv_id not in posted]
    return Digest(channel, digest_date, topic, tuple(candidates))


def today_in(settings: Settings, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.digest_timezone)).date()


def refresh_papers(factory: sessionmaker[Session], source, settings: Settings, *, channels: Sequence[str | None],
                   digest_date: date):
    """Fetch each distinct topic's window from arXiv (idempotent); raises ArxivUnavailable."""
    from bot import ingest

    with factory.begin() as session:
        topics = list(dict.fromkeys(topic_for_channel(session, settings, c)[0] for c in channels or [None]))
    since, until = ingest.default_window(digest_date, settings.digest_lookback_days)
    reports = []
    for topic in topics:
        try:
            reports.append(ingest.fetch_window(factory, source, keywords=topic.keywords,
                                               categories=topic.categories, since=since, until=until))
        except ArxivQueryRefused as err:
            # One channel's odd topic must not hold back the others' digests, nor read as an outage.
            log.error("arXiv refused the query for topic %s: %s; its digest uses the papers already stored",
                      ", ".join(topic.keywords), err)
    return reports


# -- posting through the ledger ----------------------------------------------------------------------


def process_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def post_digest(
    factory: sessionmaker[Session],
    poster: MessagePoster,
    settings: Settings,
    *,
    channel: str,
    digest_date: date,
    owner: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    pace_seconds: float | None = None,
) -> PostReport:
    """Post the digest for (channel, date) unless the ledger says it is done or being posted elsewhere."""
    owner = owner or process_owner()
    # chat.postMessage allows about one message per second per channel (DIGEST_PACE_SECONDS).
    pace_seconds = settings.digest_pace_seconds if pace_seconds is None else pace_seconds
    report = PostReport(channel, digest_date, "posted")
    with factory.begin() as session:
        run = ledger.claim_run(session, channel=channel, digest_date=digest_date, owner=owner, now=clock(),
                               lease=LEASE)
        if run is None:
            existing = ledger.get_run(session, channel=channel, digest_date=digest_date)
            if existing and existing.status == ledger.DONE:
                report.status = "already-done"
            else:
                report.status = "busy"
                report.retry_at = existing.lease_expires_at if existing else None
            log.info("%s", report.summary())
            return report
        if not run.planned:
            digest = select_digest(session, settings, channel=channel, digest_date=digest_date)
            ledger.plan_items(session, run_id=run.id, channel=channel, arxiv_ids=[p.arxiv_id for p in digest.papers])
    with factory.begin() as session:
        run = ledger.get_run(session, channel=channel, digest_date=digest_date)
        items = ledger.run_items(session, run_id=run.id)
        digest = select_digest(session, settings, channel=channel, digest_date=digest_date)
    entry_by_id = {e.paper.arxiv_id: e for e in digest.entries}
    report.papers_posted = sum(1 for i in items if i.message_ts)

    def send(message: dict, thread_ts: str | None = None) -> str:
        ts = poster.post(channel=channel, text=message["text"], blocks=message["blocks"], thread_ts=thread_ts)
        report.messages += 1
        return ts

    def keep_lease() -> None:
        with factory.begin() as session:
            if not ledger.renew_lease(session, run_id=run.id, owner=owner, now=clock(), lease=LEASE):
                raise LeaseLost(f"digest {digest_date} for {channel}: another process took the run over")

    def finish(status: str) -> PostReport:
        with factory.begin() as session:
            ledger.finish_run(session, run_id=run.id, owner=owner, status=status, now=clock())
        if status == ledger.FAILED:
            report.status = "failed"
        log.info("%s", report.summary())
        return report

    try:
        if not items:
            report.status = "empty"
            if run.parent_ts is None and not settings.digest_quiet_empty:
                ts = send(blocks.empty_digest_message(digest_date))
                with factory.begin() as session:
                    ledger.set_parent_ts(session, run_id=run.id, ts=ts)
            return finish(ledger.DONE)
        parent_ts = run.parent_ts
        if parent_ts is None:
            parent_ts = send(blocks.digest_parent_message(digest, papers_per_reply=PAPERS_PER_REPLY))
            with factory.begin() as session:
                ledger.set_parent_ts(session, run_id=run.id, ts=parent_ts)
            keep_lease()
            sleep(pace_seconds)
        pending = [i for i in items if i.message_ts is None and i.error is None and i.arxiv_id in entry_by_id]
        for chunk in _chunks(pending, PAPERS_PER_REPLY):
            entries = [entry_by_id[i.arxiv_id] for i in chunk]
            ids = [i.id for i in chunk]
            try:
                ts = send(blocks.digest_reply_message(entries, digest.topic.keywords), thread_ts=parent_ts)
            except PostFailed as failed:
                if failed.code in CHANNEL_ERRORS or failed.transient:
                    raise
                for entry in entries:
                    log.error("digest %s to %s: Slack refused the reply with %s (%s): %s", digest_date, channel,
                              entry.paper.arxiv_id, entry.paper.title[:80], failed.code)
                    report.errors.append(f"{entry.paper.arxiv_id}: {failed.code}")
                with factory.begin() as session:
                    ledger.mark_items_failed(session, item_ids=ids, error=failed.code)
                continue
            # Written at once: a crash after this line never re-posts these papers.
            with factory.begin() as session:
                ledger.mark_items_posted(session, item_ids=ids, ts=ts, now=clock())
            report.papers_posted += len(chunk)
            keep_lease()
            sleep(pace_seconds)
        return finish(ledger.DONE)
    except LeaseLost as lost:
        log.warning("%s; stopping here, the other process posts the rest", lost)
        report.status = "busy"
        return report
    except PostFailed as failed:
        rerun = f"`papers-bot digest --date {digest_date} --channel {channel}`"
        if failed.code == "not_in_channel":
            log.error("digest %s: the bot is not in channel %s (not_in_channel). Invite it there with "
                      "`/invite @papers-bot`, then rerun %s.", digest_date, channel, rerun)
        elif failed.code == "channel_not_found":
            log.error("digest %s: channel %s was not found (channel_not_found): check the channel id "
                      "(DIGEST_CHANNEL or --channel), invite the bot with `/invite @papers-bot` if the channel is "
                      "private, then rerun %s.", digest_date, channel, rerun)
        elif failed.transient:
            with factory.begin() as session:
                still = sum(1 for i in ledger.run_items(session, run_id=run.id)
                            if i.message_ts is None and i.error is None)
            log.error("digest %s to %s: Slack is failing (%s) after its retries; stopped with %d papers still to "
                      "post. Nothing was lost: rerun %s to post the rest.", digest_date, channel, failed.code,
                      still, rerun)
            report.retry_at = clock() + SLACK_RETRY_DELAY
        else:
            log.error("digest %s to %s: Slack refused the message: %s", digest_date, channel, failed.code)
        report.errors.append(failed.code)
        if not report.messages and run.parent_ts is None:
            # Nothing reached the channel: give the papers back, so the next digest (any date) can post
            # them instead of their staying planned for a run that never showed up.
            with factory.begin() as session:
                ledger.unplan_run(session, run_id=run.id, owner=owner)
        return finish(ledger.FAILED)


def post_arxiv_unavailable_notice(
    factory: sessionmaker[Session],
    poster: MessagePoster,
    *,
    channel: str,
    digest_date: date,
    owner: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> bool:
    """Say once per (channel, date) that arXiv is down and the digest will follow; True if posted now.

    Nothing is posted once the digest itself has started (its papers planned) or is done.
    """
    owner = owner or process_owner()
    with factory.begin() as session:
        run = ledger.claim_run(session, channel=channel, digest_date=digest_date, owner=owner, now=clock(),
                               lease=LEASE)
    if run is None:
        return False
    try:
        if run.note is not None:
            return False
        try:
            poster.post(channel=channel, **blocks.arxiv_unavailable_message(digest_date))
        except PostFailed as failed:
            log.error("digest %s: could not tell %s that arXiv is unavailable: %s", digest_date, channel,
                      failed.code)
            return False
        with factory.begin() as session:
            ledger.mark_notice_posted(session, run_id=run.id)
        log.info("digest %s: told %s that arXiv is unavailable and the digest will follow", digest_date, channel)
        return True
    finally:
        with factory.begin() as session:
            ledger.release_lease(session, run_id=run.id, owner=owner)
