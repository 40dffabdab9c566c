"""Posting a planned run: the parent message, then the papers as replies in its thread, several to a
reply. Every message's ts goes into the ledger as soon as Slack returns it, so a crash, a restart or a
second process never posts a paper twice; the lease is renewed after each post and the pace between
posts is DIGEST_PACE_SECONDS."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.digest_records import Digest, DigestEntry
from bot.digest_run import RunContext
from bot.message_poster import PostFailed
from bot.render_blocks import digest as blocks
from bot.slack_errors import SlackErrorEffect
from db import ledger

log = logging.getLogger(__name__)

PAPERS_PER_REPLY = blocks.PAPERS_PER_REPLY


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
    for chunk in chunks(pending, PAPERS_PER_REPLY):
        post_reply(ctx, digest, [entry_by_id[i.arxiv_id] for i in chunk], [i.id for i in chunk], parent_ts)


def chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def send(ctx: RunContext, message: dict, thread_ts: str | None = None) -> str:
    ts = ctx.poster.post(channel=ctx.channel, text=message["text"], blocks=message["blocks"], thread_ts=thread_ts)
    ctx.report.messages += 1
    return ts


def post_empty_note(ctx: RunContext) -> None:
    """A day without papers: a one-line note, once (nothing with DIGEST_QUIET_EMPTY)."""
    if ctx.run.parent_ts is not None or ctx.settings.digest_quiet_empty:
        return
    ts = send(ctx, blocks.empty_digest_message(ctx.digest_date))
    with ctx.factory.begin() as session:
        ledger.set_parent_ts(session, run_id=ctx.run_id, ts=ts)


def post_parent(ctx: RunContext, digest: Digest) -> str:
    ts = send(ctx, blocks.digest_parent_message(digest, papers_per_reply=PAPERS_PER_REPLY))
    with ctx.factory.begin() as session:
        ledger.set_parent_ts(session, run_id=ctx.run_id, ts=ts)
    ctx.keep_lease()
    ctx.sleep(ctx.pace_seconds)
    return ts


def post_reply(ctx: RunContext, digest: Digest, entries: list[DigestEntry], item_ids: list[int],
               parent_ts: str) -> None:
    """One reply of papers. Slack refusing just this message marks its papers failed and the run goes on."""
    try:
        ts = send(ctx, blocks.digest_reply_message(entries, digest.topic.keywords), thread_ts=parent_ts)
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
    ctx.keep_lease()
    ctx.sleep(ctx.pace_seconds)
