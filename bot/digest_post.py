"""Posting a planned run: the parent message, then the papers as replies in its thread, several to a
reply. Every message's ts goes into the ledger as soon as Slack returns it, so a crash, a restart or a
second process never posts a paper twice; the lease is checked and renewed right before each post (a
process that lost it posts nothing more) and the pace between posts is DIGEST_PACE_SECONDS.

Each message carries a mark (its run and part: 0 the parent, n the n-th reply, cut from the planned
positions so a resumed run cuts the same replies). After an unknown outcome -- Slack answering 5xx, the
connection reset or timed out, or a crash before the ts was recorded -- the run looks for the mark in
Slack and records what it finds instead of posting the message again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import timedelta
from itertools import groupby

from bot.digest_records import Digest
from bot.digest_run import RunContext
from bot.message_poster import MessageMark, PostFailed
from bot.render_blocks import digest as blocks
from bot.slack_errors import SlackErrorEffect
from db import ledger

log = logging.getLogger(__name__)

PAPERS_PER_REPLY = blocks.PAPERS_PER_REPLY
PARENT = 0  # the part of the parent message (or the empty-day note); replies are 1, 2, ...
# A 5xx or no answer: the first try and two more, SLACK_RETRY_BACKOFF_SECONDS and twice that apart (what slack_sdk's
# handlers do).
RETRIES_AFTER_A_5XX = 2
# Messages are looked for from a little before the run started: Slack's clock and ours may differ.
LOOKUP_SLACK = timedelta(hours=1)


def part_of(item: ledger.ItemRecord) -> int:
    return 1 + item.position // PAPERS_PER_REPLY


def post(ctx: RunContext, digest: Digest, items: Sequence[ledger.ItemRecord]) -> None:
    """The run's step 3: the parent (or the empty-day note), then every reply still to post.

    Raises PostFailed when Slack stops the run (an admin must act, or Slack is failing), and LeaseLost
    when another process took the run over."""
    ctx.report.papers_posted = sum(1 for i in items if i.message_ts)
    if not items:
        ctx.report.status = "empty"
        post_empty_note(ctx)
        return
    parent_ts = ctx.run.parent_ts or post_parent(ctx, digest)
    entry_by_id = {e.paper.arxiv_id: e for e in digest.entries}
    pending = [i for i in items if i.message_ts is None and i.error is None and i.arxiv_id in entry_by_id]
    for part, chunk in groupby(pending, key=part_of):
        post_reply(ctx, digest, list(chunk), part=part, parent_ts=parent_ts)


def send(ctx: RunContext, message: dict, *, part: int, thread_ts: str | None = None) -> str:
    """Post one marked message; after an unknown outcome, look for it before trying again."""
    mark = MessageMark(ctx.run_id, ctx.digest_date, part)
    attempt = 0
    while True:
        # The fence: only the lease's owner posts, so renew it (or learn it is lost) right before each
        # post, and before each re-send after a 429's wait (which can outlast the lease).
        ctx.keep_lease()
        try:
            ts = ctx.poster.post(channel=ctx.channel, text=message["text"], blocks=message["blocks"],
                                 thread_ts=thread_ts, mark=mark, fence=ctx.keep_lease)
        except PostFailed as failed:
            ts = found_after(ctx, failed, part=part, thread_ts=thread_ts)
            if ts is None:
                if not failed.retry_now or attempt == RETRIES_AFTER_A_5XX:
                    raise
                ctx.sleep(ctx.settings.slack_retry_backoff_seconds * 2**attempt)
                attempt += 1
                continue
        ctx.report.messages += 1
        return ts


def found_after(ctx: RunContext, failed: PostFailed, *, part: int, thread_ts: str | None) -> str | None:
    """The ts of the message Slack took although the post failed, or None if it did not take it."""
    if not failed.maybe_posted:
        return None
    ctx.unconfirmed_post = True  # until Slack says whether it has the message
    ts = find_parts(ctx, thread_ts=thread_ts).get(part)
    ctx.unconfirmed_post = False
    if ts:
        log.warning("digest %s to %s: Slack answered %s but had taken message %d; recorded it, not posted again",
                    ctx.digest_date, ctx.channel, failed.code, part)
    return ts


def find_parts(ctx: RunContext, *, thread_ts: str | None) -> dict[int, str]:
    return ctx.poster.find_marked(channel=ctx.channel, run_id=ctx.run_id, digest_date=ctx.digest_date,
                                  thread_ts=thread_ts, oldest=ctx.run.started_at - LOOKUP_SLACK)


def reconcile(ctx: RunContext, items: Sequence[ledger.ItemRecord]) -> list[ledger.ItemRecord]:
    """A resumed run: record the messages an earlier attempt got into Slack but never recorded (a crash
    between the post and its ts), found by their marks; returns the run's items as the ledger now has them."""
    if ctx.run.parent_ts is None:
        parent_ts = find_parts(ctx, thread_ts=None).get(PARENT)
        if parent_ts is None:
            return list(items)
        with ctx.factory.begin() as session:
            ledger.set_parent_ts(session, run_id=ctx.run_id, ts=parent_ts)
        ctx.run = dataclasses.replace(ctx.run, parent_ts=parent_ts)
    pending = [i for i in items if i.message_ts is None and i.error is None]
    if not pending:
        return list(items)
    found = find_parts(ctx, thread_ts=ctx.run.parent_ts)
    with ctx.factory.begin() as session:
        for part, chunk in groupby(pending, key=part_of):
            if part in found:
                ledger.mark_items_posted(session, item_ids=[i.id for i in chunk], ts=found[part], now=ctx.clock())
        return ledger.run_items(session, run_id=ctx.run_id)


def post_empty_note(ctx: RunContext) -> None:
    """A day without papers: a one-line note, once (nothing with DIGEST_QUIET_EMPTY)."""
    if ctx.run.parent_ts is not None or ctx.settings.digest_quiet_empty:
        return
    ts = send(ctx, blocks.empty_digest_message(ctx.digest_date), part=PARENT)
    with ctx.factory.begin() as session:
        ledger.set_parent_ts(session, run_id=ctx.run_id, ts=ts)


def post_parent(ctx: RunContext, digest: Digest) -> str:
    ts = send(ctx, blocks.digest_parent_message(digest, papers_per_reply=PAPERS_PER_REPLY), part=PARENT)
    with ctx.factory.begin() as session:
        ledger.set_parent_ts(session, run_id=ctx.run_id, ts=ts)
    ctx.sleep(ctx.pace_seconds)
    return ts


def post_reply(ctx: RunContext, digest: Digest, chunk: list[ledger.ItemRecord], *, part: int,
               parent_ts: str) -> None:
    """One reply of papers. Slack refusing just this message marks its papers failed and the run goes on."""
    entry_by_id = {e.paper.arxiv_id: e for e in digest.entries}
    entries = [entry_by_id[i.arxiv_id] for i in chunk]
    item_ids = [i.id for i in chunk]
    try:
        ts = send(ctx, blocks.digest_reply_message(entries, digest.topic.keywords), part=part, thread_ts=parent_ts)
    except PostFailed as failed:
        if failed.effect is not SlackErrorEffect.REFUSE_MESSAGE:
            raise
        for entry in entries:
            log.error("digest %s to %s: Slack refused the reply with %s (%s): %s", ctx.digest_date, ctx.channel,
                      entry.paper.arxiv_id, entry.paper.title[:80], failed.code)
            ctx.report.errors.append(f"{entry.paper.arxiv_id}: {failed.code}")
        with ctx.factory.begin() as session:
            ledger.mark_items_failed(session, item_ids=item_ids, error=failed.code)
        return
    # Written at once: a crash after this line never re-posts these papers.
    with ctx.factory.begin() as session:
        ledger.mark_items_posted(session, item_ids=item_ids, ts=ts, now=ctx.clock())
    ctx.report.papers_posted += len(entries)
    ctx.sleep(ctx.pace_seconds)
