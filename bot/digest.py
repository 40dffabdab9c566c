"""The daily digest for (channel, date), run as explicit steps, each recorded in the ledger (db.ledger):

1. choose (bot.digest_choose): the papers in the lookback window on the channel's topic, never planned
   for the channel before, newest first;
2. plan (bot.digest_plan): those papers become the run's ledger rows, once, followed by the papers an
   earlier day's run planned but never posted (that run never finished);
3. post (bot.digest_post): the parent message, then the papers in its thread, each message's ts
   recorded as soon as Slack returns it, and a resumed run first records what an earlier attempt got
   into Slack without recording it (found by the messages' metadata);
4. finish (bot.digest_finish): the run closed, and what happened said in one line; a run Slack or the
   database stopped gets a `retry_at` the scheduler acts on.

A lease (bot.digest_run) makes one process at a time post a run, so a crash, a restart or a second
process never posts a paper twice. The arXiv-unavailable notice is bot.digest_notice; each channel's
topic is bot.channel_topics. This module is the entry point the scheduler, the CLI and tests call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import digest_choose, digest_finish, digest_plan, digest_post
from bot.channel_topics import (
    TopicError,
    channel_topic,
    default_topic,
    digest_channels,
    edit_channel_topic,
    parse_terms,
    reset_channel_topic,
    topic_for_channel,
)
from bot.config import Settings
from bot.digest_choose import best_first, paper_window, refresh_papers, select_digest, today_in
from bot.digest_notice import post_arxiv_unavailable_notice
from bot.digest_post import PAPERS_PER_REPLY
from bot.digest_records import Digest, DigestEntry, PostReport
from bot.digest_run import LEASE, LeaseLost, RunContext, process_owner, utc_now
from bot.message_poster import MessagePoster, PostFailed

__all__ = [
    "LEASE", "PAPERS_PER_REPLY", "Digest", "DigestEntry", "LeaseLost", "MessagePoster", "PostFailed", "PostReport",
    "best_first",
    "TopicError", "channel_topic", "default_topic", "digest_channels", "edit_channel_topic", "paper_window",
    "parse_terms", "post_arxiv_unavailable_notice", "post_digest", "refresh_papers", "reset_channel_topic",
    "select_digest", "today_in", "topic_for_channel",
]


def post_digest(
    factory: sessionmaker[Session],
    poster: MessagePoster,
    settings: Settings,
    *,
    team_id: str,
    channel: str,
    digest_date: date,
    owner: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    pace_seconds: float | None = None,
) -> PostReport:
    """Post the digest for (team, channel, date) through the workspace's `poster` unless the ledger says it is done
    or being posted elsewhere."""
    ctx = RunContext(factory=factory, poster=poster, settings=settings, team_id=team_id, channel=channel,
                     digest_date=digest_date,
                     owner=owner or process_owner(), clock=clock, sleep=sleep,
                     pace_seconds=settings.digest_pace_seconds if pace_seconds is None else pace_seconds)
    run = ctx.claim()
    if run is None:
        return digest_finish.not_claimed(ctx)
    try:
        if not run.planned:
            carried = digest_plan.carry_over(ctx)  # unposted papers of earlier runs that never finished
            digest_plan.plan(ctx, digest_choose.choose(ctx), carried)
        digest, items = digest_plan.planned(ctx)
        if run.planned:  # resumed: an earlier attempt may have got messages into Slack it never recorded
            items = digest_post.reconcile(ctx, items)
        digest_post.post(ctx, digest, items)
    except (PostFailed, LeaseLost) as reason:
        return digest_finish.stopped(ctx, reason)
    except SQLAlchemyError as err:
        return digest_finish.database_failed(ctx, err)
    return digest_finish.done(ctx)
