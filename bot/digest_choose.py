"""Choosing a digest's papers: first published in the lookback window ending on the digest date, on the
channel's topic (bot.topics), not withdrawn, never planned for that channel before. A selection lists them newest
first (the Markdown digest keeps the seed's order); the Slack run ranks them best first (bot.ranking) before
planning, so the parent leads with the papers that match the topic best. Also the arXiv refresh that runs before a
digest, and what "today" is in DIGEST_TIMEZONE."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot import ingest
from bot.arxiv_source import ArxivQueryRefused
from bot.channel_topics import topic_for_channel
from bot.config import Settings
from bot.digest_records import Digest, DigestEntry
from bot.digest_run import RunContext
from bot.paper_text import is_withdrawn
from bot.ranking import rank, topic_signal
from bot.topics import Topic, matched_keywords, topic_matches
from db import ledger
from db import papers as paper_store
from db.records import PaperRecord

log = logging.getLogger(__name__)


def paper_window(digest_date: date, lookback_days: int) -> tuple[datetime, datetime]:
    """[D - lookback, D + 1 day) in UTC: the same days `fetch` asks arXiv for."""
    start = datetime.combine(digest_date - timedelta(days=lookback_days), dtime(0), tzinfo=UTC)
    return start, datetime.combine(digest_date + timedelta(days=1), dtime(0), tzinfo=UTC)


def entries_for(papers: Sequence[PaperRecord], topic: Topic) -> list[DigestEntry]:
    return [DigestEntry(p, tuple(matched_keywords(p.title, p.abstract, topic.keywords))) for p in papers]


def planned_digest(session: Session, settings: Settings, *, team_id: str, channel: str, digest_date: date,
                   run_id: int) -> Digest:
    """The papers the run planned, in their planned order (a resumed run posts the same digest)."""
    topic, _ = topic_for_channel(session, settings, channel, team_id=team_id)
    items = ledger.run_items(session, run_id=run_id)
    found = paper_store.get_papers(session, [i.arxiv_id for i in items])
    papers = [found[i.arxiv_id] for i in items if i.arxiv_id in found]
    return Digest(channel, digest_date, topic, tuple(entries_for(papers, topic)))


def fresh_selection(session: Session, settings: Settings, *, team_id: str, channel: str | None,
                    digest_date: date) -> Digest:
    """The papers in the window on the workspace channel's topic, leaving out those already planned for it."""
    topic, _ = topic_for_channel(session, settings, channel, team_id=team_id)
    start, end = paper_window(digest_date, settings.digest_lookback_days)
    candidates = [DigestEntry(p, matched) for p in paper_store.papers_published_between(session, start=start, end=end)
                  if (matched := topic_matches(p, topic)) and not is_withdrawn(p)]
    if channel:
        posted = ledger.posted_ids(session, team_id=team_id, channel=channel,
                                   arxiv_ids=[e.paper.arxiv_id for e in candidates])
        candidates = [e for e in candidates if e.paper.arxiv_id not in posted]
    return Digest(channel, digest_date, topic, tuple(candidates))


def select_digest(session: Session, settings: Settings, *, team_id: str, channel: str | None,
                  digest_date: date) -> Digest:
    """What the digest for (team, channel, date) holds: the planned papers if the run was planned, else a
    fresh selection that leaves out papers already posted to the channel."""
    run = ledger.get_run(session, team_id=team_id, channel=channel, digest_date=digest_date) if channel else None
    if run and run.planned:
        return planned_digest(session, settings, team_id=team_id, channel=channel, digest_date=digest_date,
                              run_id=run.id)
    return fresh_selection(session, settings, team_id=team_id, channel=channel, digest_date=digest_date)


def today_in(settings: Settings, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.digest_timezone)).date()


def refresh_papers(factory: sessionmaker[Session], source, settings: Settings, *, team_id: str,
                   channels: Sequence[str | None], digest_date: date,
                   fetched: set[tuple] | None = None) -> list[ingest.FetchReport]:
    """Fetch each distinct topic's window of the workspace's channels from arXiv (idempotent); raises
    ArxivUnavailable. `fetched`, shared by the workspaces of one run, holds the (query, window)s already fetched:
    papers are shared by every workspace, so two labs with the same topic cost arXiv one fetch."""
    with factory.begin() as session:
        topics = list(dict.fromkeys(topic_for_channel(session, settings, c, team_id=team_id)[0]
                                    for c in channels or [None]))
    since, until = ingest.default_window(digest_date, settings.digest_lookback_days)
    fetched = set() if fetched is None else fetched
    reports = []
    for topic in topics:
        asked = (tuple(sorted(topic.keywords)), tuple(sorted(topic.categories)), since, until)
        if asked in fetched:
            continue
        try:
            reports.append(ingest.fetch_window(factory, source, keywords=topic.keywords,
                                               categories=topic.categories, since=since, until=until))
            fetched.add(asked)
        except ArxivQueryRefused as err:
            # One channel's odd topic must not hold back the others' digests, nor read as an outage.
            log.error("arXiv refused the query for topic %s: %s; its digest uses the papers already stored",
                      ", ".join(topic.keywords), err)
    return reports


def best_first(digest: Digest) -> Digest:
    """The digest's papers ranked by how well they match its topic (title hits, distinct keywords, exact phrases),
    ties newest first."""
    entries = rank(digest.entries, paper=lambda entry: entry.paper, signals=[topic_signal(digest.topic.keywords)])
    return replace(digest, entries=tuple(entries))


def choose(ctx: RunContext) -> Digest:
    """The run's step 1: a fresh selection for (channel, date), best first."""
    with ctx.factory.begin() as session:
        return best_first(fresh_selection(session, ctx.settings, team_id=ctx.team_id, channel=ctx.channel,
                                          digest_date=ctx.digest_date))
